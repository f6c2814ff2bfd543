# Space Factory: the MCP server over streamable HTTP (http://HOST:PORT/mcp, bearer token required).
#
#   docker build -t space-factory .                                  # server only (validate, status, gates, traces)
#   docker build -t space-factory --build-arg EXTRAS="[local]" .     # + gradio/torch/transformers: local builds
#   docker run -p 8000:8000 -v sf-data:/data space-factory
#   docker run -p 9000:9000 -e SPACE_FACTORY_PORT=9000 -v /srv/sf:/data space-factory
#
# The server listens on 0.0.0.0 inside the container. On the local backend it then refuses to start unless
# -e SPACE_FACTORY_HTTP_TOKEN_SHA256=<sha256 hex of each accepted token, comma-separated> lists its callers
# (on the hf backend each token is checked with the Hub); set -e SPACE_FACTORY_PUBLIC_URL=https://your.host
# when it is reached through a proxy.
#
# There is no Docker engine on CI machines: tests/server/test_dockerfile.py parses this file and runs its
# ENV, RUN, CMD and HEALTHCHECK lines in a fresh venv, so keep each of them a plain shell command.
FROM python:3.11-slim

ARG EXTRAS=""
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    SPACE_FACTORY_HOME=/data \
    SPACE_FACTORY_OWNER=factory \
    SPACE_FACTORY_HOST=0.0.0.0 \
    SPACE_FACTORY_PORT=8000

RUN useradd --create-home --uid 10001 --user-group --shell /usr/sbin/nologin factory && mkdir -p /data && chown factory:factory /data
COPY . /src
RUN python -m pip install --no-cache-dir "/src${EXTRAS}"

USER factory
WORKDIR /home/factory
VOLUME ["/data"]
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD python -c "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/health' % os.environ['SPACE_FACTORY_PORT'], timeout=4)"
# Shell form so the port and host come from the environment; exec makes the server PID 1 (it gets SIGTERM).
CMD exec space-factory serve --transport http --host "$SPACE_FACTORY_HOST" --port "$SPACE_FACTORY_PORT"
