"""The Dockerfile's own steps, run without Docker (there is no engine on these machines; issue 3).

The test parses the Dockerfile and performs its instructions in a fresh venv: ARG/ENV become the
environment, COPY copies the tree minus .dockerignore, each RUN runs as written (paths mapped into a
temporary root), then CMD starts the server and HEALTHCHECK must pass, and an MCP client must get in
with a bearer token. So the image's steps cannot drift from what is tested.

What stands in for the image: the fresh venv has no pip of its own; a `.pth` layers this test
environment's site-packages under it, which provides pip, setuptools and the dependencies the index
would (pip runs with `PIP_NO_INDEX=1` and without build isolation: nothing is downloaded). The
`useradd` line is checked but not run (it would add a user to this machine), and the server runs as
the test's user rather than `USER`.
"""

from __future__ import annotations

import fnmatch
import os
import re
import shlex
import shutil
import site
import subprocess
import venv
from pathlib import Path

import anyio
import httpx2
import pytest

from tests.server.transports import ROOT, free_port, open_http_client, wait_http

pytestmark = pytest.mark.e2e
DOCKERFILE = ROOT / "Dockerfile"


def instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, with line continuations joined and comments dropped."""
    joined = re.sub(r"\\\n\s*", " ", text)
    out = []
    for line in joined.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keyword, _, rest = line.partition(" ")
            out.append((keyword.upper(), rest.strip()))
    return out


def parse_assignments(args: str) -> dict[str, str]:
    return dict(token.split("=", 1) if "=" in token else (token, "") for token in shlex.split(args))


def ignored(rel: str, patterns: list[str]) -> bool:
    name = rel.rsplit("/", 1)[-1]
    return any(fnmatch.fnmatch(rel, p) or (p.startswith("**/") and fnmatch.fnmatch(name, p[3:])) for p in patterns)


def copy_context(dest: Path) -> None:
    patterns = [p.strip() for p in (ROOT / ".dockerignore").read_text().splitlines()
                if p.strip() and not p.startswith("#")]

    def ignore(folder: str, names: list[str]) -> list[str]:
        rel_dir = os.path.relpath(folder, ROOT)
        return [n for n in names if ignored(n if rel_dir == "." else f"{rel_dir}/{n}", patterns)]

    shutil.copytree(ROOT, dest, ignore=ignore)


def fresh_venv(path: Path) -> Path:
    venv.create(path, with_pip=False)
    purelib = Path(subprocess.run([str(path / "bin" / "python"), "-c",
                                   "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                                  capture_output=True, text=True, check=True).stdout.strip())
    (purelib / "_image_layer.pth").write_text(f"import site; site.addsitedir({site.getsitepackages()[0]!r})\n")
    return path / "bin"


def test_the_dockerfile_is_a_slim_non_root_http_server_with_a_healthcheck() -> None:
    steps = instructions(DOCKERFILE.read_text())
    kinds = [k for k, _ in steps]
    assert re.fullmatch(r"python:3\.1[1-9]-slim", dict(steps)["FROM"])
    user = dict(steps)["USER"]
    assert user not in ("root", "0") and f" {user}" in next(a for k, a in steps if k == "RUN" and "useradd" in a)
    assert kinds.index("USER") > max(i for i, k in enumerate(kinds) if k == "RUN")  # installs ran as root, serving not
    env = parse_assignments(" ".join(a for k, a in steps if k == "ENV"))
    assert {"SPACE_FACTORY_HOME", "SPACE_FACTORY_PORT", "SPACE_FACTORY_HOST"} <= set(env)
    assert "HEALTHCHECK" in kinds and "$SPACE_FACTORY_PORT" in dict(steps)["CMD"]
    assert "--transport http" in dict(steps)["CMD"]


def test_the_dockerfile_steps_install_and_start_a_server_that_answers(tmp_path: Path) -> None:
    root = tmp_path / "image"
    bin_dir = fresh_venv(tmp_path / "venv")

    def local(text: str) -> str:  # the image's absolute paths, inside this test's root
        return re.sub(r"(?<![\w/.])/(src|data)\b", lambda m: str(root / m.group(1)), text)

    env = {"PATH": f"{bin_dir}:/usr/bin:/bin", "HOME": str(tmp_path), "PIP_NO_INDEX": "1",
           "PIP_NO_BUILD_ISOLATION": "0", "PIP_FIND_LINKS": "", "HF_HUB_OFFLINE": "1",
           "HF_HOME": os.environ["HF_HOME"]}
    health = cmd = None
    for keyword, args in instructions(DOCKERFILE.read_text()):
        if keyword == "ARG":
            name, _, default = args.partition("=")
            env[name] = shlex.split(default)[0] if default and shlex.split(default) else ""
        elif keyword == "ENV":
            env.update({k: local(v) for k, v in parse_assignments(args).items()})
        elif keyword == "COPY":
            source, target = args.split()
            assert source == "."
            copy_context(Path(local(target)))
        elif keyword == "RUN" and "useradd" not in args:
            done = subprocess.run(["/bin/sh", "-c", local(args)], env=env, cwd=root, capture_output=True, text=True,
                                  timeout=600, check=False)
            assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
        elif keyword == "HEALTHCHECK":
            health = args.split(" CMD ", 1)[1]
        elif keyword == "CMD":
            cmd = args
    assert health and cmd
    assert not (root / "src" / ".git").exists() and not (root / "src" / ".venv").exists()  # .dockerignore applied
    installed = subprocess.run([str(bin_dir / "python"), "-c", "import space_factory; print(space_factory.__file__)"],
                               capture_output=True, text=True, check=True).stdout
    assert installed.startswith(str(tmp_path / "venv")), installed  # the image's own install, not this checkout

    # `docker run -e SPACE_FACTORY_PORT=… -e SPACE_FACTORY_HOST=… -v …:/data`: port, host and data dir configurable
    port = free_port()
    (root / "data").mkdir(parents=True, exist_ok=True)
    env.update(SPACE_FACTORY_PORT=str(port), SPACE_FACTORY_HOST="127.0.0.1")
    proc = subprocess.Popen(["/bin/sh", "-c", cmd], env=env, cwd=tmp_path, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    try:
        wait_http(f"http://127.0.0.1:{port}/health", proc, timeout=60)
        check = subprocess.run(["/bin/sh", "-c", health], env=env, capture_output=True, text=True, timeout=10,
                               check=False)
        assert check.returncode == 0, check.stderr
        denied = httpx2.post(f"http://127.0.0.1:{port}/mcp", json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"},
                             headers={"Accept": "application/json, text/event-stream"})
        assert denied.status_code == 401 and "www-authenticate" in denied.headers
        run_id = anyio.run(_list_tools_and_launch, f"http://127.0.0.1:{port}")
        # SPACE_FACTORY_HOME=/data and SPACE_FACTORY_OWNER from the image: the run record lands in the volume
        assert (root / "data" / "buckets" / "factory" / "space-factory-runs" / "runs" / run_id / "state.json").exists()
    finally:
        proc.terminate()  # `exec` made the server the shell's process: SIGTERM reaches uvicorn directly
        try:
            code = proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            raise
    assert code in (0, -15), proc.stderr.read().decode()[-3000:] if proc.stderr else code


async def _list_tools_and_launch(base: str) -> str:
    async with open_http_client(base, "auto") as client:
        assert len((await client.list_tools()).tools) == 11
        runs = await client.call_tool("list_runs", {})
        assert not runs.is_error and runs.structured_content == {"runs": [], "next_cursor": None}
        launched = await client.call_tool("launch_build", {"model": "factory-test/not-in-the-cache"})
        assert not launched.is_error and launched.structured_content is not None
        return str(launched.structured_content["run_id"])
