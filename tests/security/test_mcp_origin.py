"""The gate's `mcp` check talks to the app's one origin only (DESIGN §9, §13): a file URL on another origin is never
fetched, a redirect is never followed, and the token goes to the app alone — tested with a real MCP server on
127.0.0.1 shaped like Gradio's (`/gradio_api/mcp/`, a file output as a URL text block) and the real check."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn
from mcp.server.mcpserver import MCPServer
from starlette.requests import Request
from starlette.responses import Response

from space_factory.domain.mcp_surface import McpFailure
from space_factory.domain.outputs import judge_output
from space_factory.domain.schemas import ApiEndpoint, ApiParameter
from space_factory.domain.targets import parse_app_url
from space_factory.domain.tasks import OutputKind
from space_factory.worker.mcp_check import check_mcp
from space_factory.worker.origin import pin_app
from space_factory.worker.samples import Sample
from tests.security.test_ssrf import Listener, internal, redirector  # noqa: F401 (fixtures)
from tests.support.listening import ListeningServer
from tests.support.media_samples import wav_bytes
from tests.support.ports import free_port
from tests.support.tokens import fake_token

ENDPOINT = ApiEndpoint(api_name="/predict", parameters=[ApiParameter(name="text", component="Textbox")],
                       returns=[ApiParameter(name="output", component="Audio")])
SAMPLE = Sample(text="Hello there.")



def _judge(output: object, files: object) -> object:
    return judge_output(OutputKind.AUDIO, output, files=files)  # type: ignore[arg-type]


class FakeGradio:
    """An MCP server at /gradio_api/mcp/ whose one tool answers `answer` (a file's URL, as Gradio writes audio)."""

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.answer = ""
        self.seen_auth: list[str] = []
        server = MCPServer("Gradio")

        @server.tool()
        def app_predict(text: str) -> str:
            """Say a text."""
            return self.answer

        @server.custom_route("/gradio_api/file=audio.wav", methods=["GET"])
        async def audio(request: Request) -> Response:
            self.seen_auth.append(request.headers.get("authorization", ""))
            return Response(wav_bytes(), media_type="audio/wav")

        app = server.streamable_http_app(streamable_http_path="/gradio_api/mcp/", stateless_http=True)
        self.server = ListeningServer(uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        assert self.server.listening.wait(20)

    def close(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)


@pytest.fixture
def fake_gradio() -> Iterator[FakeGradio]:
    app = FakeGradio()
    yield app
    app.close()


def test_a_file_on_the_apps_origin_is_fetched_with_the_apps_headers_and_judged(fake_gradio: FakeGradio) -> None:
    """Gradio writes an audio output as its URL; the check reads it from the app, with the app's headers only."""
    token = fake_token()
    fake_gradio.answer = fake_gradio.url + "/gradio_api/file=audio.wav"
    pinned = pin_app(parse_app_url(fake_gradio.url), loopback_only=True, headers={"Authorization": f"Bearer {token}"})
    check = check_mcp(pinned, ENDPOINT, {}, SAMPLE, judge=_judge, call_timeout=10)  # type: ignore[arg-type]
    assert check.ok, check
    assert check.tool == "app_predict" and check.verdict is not None and check.verdict.kind == "audio"
    assert fake_gradio.seen_auth == [f"Bearer {token}"]


def test_a_file_url_on_another_origin_is_never_fetched_and_the_output_is_refused(
        fake_gradio: FakeGradio, internal: Listener) -> None:  # noqa: F811
    """The app's words may name any URL: another origin gets no request (and so no token); the judge has no bytes."""
    fake_gradio.answer = internal.url + "/gradio_api/file=audio.wav"
    pinned = pin_app(parse_app_url(fake_gradio.url), loopback_only=True,
                     headers={"Authorization": f"Bearer {fake_token()}"})
    check = check_mcp(pinned, ENDPOINT, {}, SAMPLE, judge=_judge, call_timeout=10)  # type: ignore[arg-type]
    assert check.failure is McpFailure.OUTPUT_REFUSED and "no file bytes" in check.detail, check
    assert internal.untouched


def test_an_app_that_redirects_its_mcp_endpoint_elsewhere_gets_no_request_through(
        redirector: Listener, internal: Listener) -> None:  # noqa: F811
    """No redirect is followed: the session fails at the app, and the other origin is never reached."""
    pinned = pin_app(parse_app_url(redirector.url), loopback_only=True,
                     headers={"Authorization": f"Bearer {fake_token()}"})
    check = check_mcp(pinned, ENDPOINT, {}, SAMPLE, judge=_judge, call_timeout=5)  # type: ignore[arg-type]
    assert check.failure is McpFailure.TOOLS_LIST_FAILED and not check.ok, check
    assert internal.untouched


def test_an_app_without_the_endpoint_is_not_served(internal: Listener, tmp_path: Path) -> None:  # noqa: F811
    """A 404 at /gradio_api/mcp/ (an app without mcp_server=True) ends the check at once: not served."""
    internal.route = lambda path: (404, {}, b"Not Found")
    check = check_mcp(pin_app(parse_app_url(internal.url), loopback_only=True), ENDPOINT, {}, SAMPLE, judge=_judge,
                      call_timeout=5)  # type: ignore[arg-type]
    assert check.failure is McpFailure.NOT_SERVED and "404" in check.detail
    assert [seen.path for seen in internal.requests] == ["/gradio_api/mcp/"]
