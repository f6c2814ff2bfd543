"""The run dashboard over HTTP (issue 12 part 2; DESIGN §9, §13): `serve --transport http` as a real subprocess.

The page shell needs no token and carries a strict CSP; its data (`/runs/api/...`) is behind the same bearer
verifier as /mcp, answers exactly what the tools answer for the same run, only the caller's own runs, and hostile
record text comes back as JSON data. The static route is an allow-list: no path from a request reaches a file.
"""

from __future__ import annotations

import hashlib
import http.client
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx2
import pytest

from space_factory.domain import layout
from space_factory.domain.gate_status import CheckStatus, GateStatus
from space_factory.domain.phases import Phase, RunStatus
from space_factory.domain.schemas import Blocker, Gate, GateCheck, RunRequest, RunState
from space_factory.record import RunRecord
from space_factory.server.auth import TOKEN_DIGESTS_ENV
from space_factory.server.dashboard import PAGE_CSP
from space_factory.service import Factory
from space_factory.tools.views import PUBLIC_URL_ENV, run_links
from tests.server.transports import http_server, open_http_client
from tests.support.tokens import fake_token
from tests.tools.helpers import call, make_factory, passed_gate, write_run

pytestmark = pytest.mark.anyio

LISTED = "dashboard-" + fake_token()
SCRIPT = "<script>document.title='pwned'</script>"
IMG = '<img src=x onerror="alert(1)">'
MARKER = "mallory-" + fake_token()[3:15]  # text only the other owner's record holds


@dataclass(frozen=True)
class Served:
    base: str
    factory: Factory
    finished: str  # a finished run with hostile strings everywhere the page shows record text
    running: str
    foreign: str  # a run in the same bucket recorded under another owner


def hostile_gate() -> Gate:
    gate = passed_gate()
    checks = [*gate.checks, GateCheck(name="probe", status=CheckStatus.FAILED, detail=f"model card said {SCRIPT}")]
    return gate.model_copy(update={"status": GateStatus.FULL_INFERENCE_PASSED, "checks": checks, "blockers": [
        Blocker(title=IMG, detail=SCRIPT, evidence=f"</pre>{SCRIPT}", tried=[IMG])]})


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    home = tmp_path_factory.mktemp("dashboard") / "home"
    factory = make_factory(home)
    finished = write_run(factory, status=RunStatus.FINISHED, phase=Phase.DONE, gate=hostile_gate(),
                         space_id="tester/tiny-gpt2-demo-abcdef",
                         logs={"worker": f"start\n{SCRIPT}\n{IMG}\n", "space_run": "Running on local URL\n"},
                         events=[(Phase.QUEUED, f"queued {IMG}"), (Phase.ANALYZING, SCRIPT), (Phase.DONE, "done")])
    record = RunRecord(factory.backend.bucket, finished)
    record.write_text(f"{layout.GENERATED}/app.py", f"# {SCRIPT}\nimport gradio as gr\n")
    record.write_text(f"{layout.GENERATED}/requirements.txt", "gradio\n")
    running = write_run(factory)
    foreign = write_run(factory, status=RunStatus.FINISHED, phase=Phase.DONE, gate=passed_gate(),
                        logs={"worker": f"{MARKER}\n"}, events=[(Phase.QUEUED, MARKER)])
    foreign_record = RunRecord(factory.backend.bucket, foreign)
    foreign_record.write_model(layout.REQUEST,
                               RunRequest(run_id=foreign, model="mallory/secret-model", owner="mallory"))
    state = foreign_record.read_model(layout.STATE, RunState)
    assert state is not None
    foreign_record.write_state(state.model_copy(update={"owner": "mallory", "model": "mallory/secret-model"}))
    env = {"SPACE_FACTORY_HOME": str(home), "SPACE_FACTORY_OWNER": "tester",
           TOKEN_DIGESTS_ENV: hashlib.sha256(LISTED.encode()).hexdigest()}
    with http_server(env=env) as base:
        yield Served(base, factory, finished, running, foreign)


def api_paths(run_id: str) -> list[str]:
    return ["/runs/api/runs", f"/runs/api/runs/{run_id}/status", f"/runs/api/runs/{run_id}/gate",
            f"/runs/api/runs/{run_id}/files", f"/runs/api/runs/{run_id}/trace"]


def raw_get(base: str, path: str, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    """GET `path` exactly as written: HTTP client libraries resolve `..` before sending."""
    host, port = base.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=30)
    try:
        conn.request("GET", path, headers=headers or {})
        response = conn.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        conn.close()


def api(served: Served, url_path: str, **params: Any) -> httpx2.Response:
    return httpx2.get(f"{served.base}{url_path}", params=params, headers={"Authorization": f"Bearer {LISTED}"})


def test_the_page_shell_needs_no_token_holds_no_data_and_has_a_strict_csp(served: Served) -> None:
    """DESIGN §13: a static page; everything it shows comes from /runs/api behind the token."""
    for path in ("/runs", f"/runs/{served.finished}"):
        response = httpx2.get(f"{served.base}{path}")
        assert response.status_code == 200 and response.headers["content-type"].startswith("text/html")
        assert response.headers["content-security-policy"] == PAGE_CSP
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["referrer-policy"] == "no-referrer"
        assert served.finished not in response.text and "tester" not in response.text
        assert '<script src="/runs/static/dashboard.js" defer></script>' in response.text
        assert response.text.count("<script") == 1  # no inline script: the CSP would refuse one anyway
    for name, media in (("dashboard.js", "text/javascript"), ("dashboard.css", "text/css")):
        response = httpx2.get(f"{served.base}/runs/static/{name}")
        assert response.status_code == 200 and response.headers["content-type"].startswith(media)
        assert response.headers["x-content-type-options"] == "nosniff"
    assert httpx2.get(f"{served.base}/runs/not_a_run_id").status_code == 404


@pytest.mark.parametrize("path", [
    "/runs/static/../pyproject.toml", "/runs/static/..%2fpyproject.toml", "/runs/static/%2e%2e%2fpyproject.toml",
    "/runs/static/%2e%2e/%2e%2e/pyproject.toml", "/runs/static/..%5cpyproject.toml", "/runs/static/dashboard.html",
    "/runs/static/dashboard.py", "/runs/static/DASHBOARD.JS", "/runs/static/dashboard.js%00",
    "/runs/static/%20", "/runs/static/%2fetc%2fpasswd", "/runs/..%2f..%2fpyproject.toml", "/runs/static/__init__.py"])
def test_the_static_route_serves_only_its_allow_list(served: Served, path: str) -> None:
    status, _, body = raw_get(served.base, path)
    assert status == 404, (path, status)
    assert b"[project]" not in body and b"root:" not in body and b"import" not in body


@pytest.mark.parametrize("headers", [
    {}, {"Authorization": ""}, {"Authorization": "Bearer "}, {"Authorization": "Basic dXNlcjpwYXNz"},
    {"Authorization": f"Token {LISTED}"}, {"Authorization": f"Bearer {LISTED}x"},
    {"Authorization": f"Bearer {fake_token()}"}, {"Cookie": f"space-factory-token={LISTED}"}],
    ids=["none", "empty", "bearer-empty", "basic", "other-scheme", "listed-plus-junk", "unknown", "cookie"])
def test_the_api_refuses_a_missing_or_wrong_token_with_401(served: Served, headers: dict[str, str]) -> None:
    """DESIGN §9: the same verifier as /mcp, the same 401 with WWW-Authenticate; nothing of a run leaks."""
    for path in api_paths(served.finished):
        status, got, body = raw_get(served.base, path, headers)
        assert status == 401, (path, status)
        assert got["www-authenticate"].startswith("Bearer ") and "resource_metadata=" in got["www-authenticate"]
        assert got["cache-control"] == "no-store" and got["x-content-type-options"] == "nosniff"
        assert served.finished.encode() not in body and LISTED.encode() not in body


@pytest.mark.parametrize("query", ["access_token", "token", "bearer", "authorization"])
def test_a_token_in_the_query_string_is_never_accepted(served: Served, query: str) -> None:
    for path in api_paths(served.finished):
        for value in (LISTED, f"Bearer {LISTED}"):
            response = httpx2.get(f"{served.base}{path}", params={query: value})
            assert response.status_code == 401, (path, query)


async def test_the_api_answers_what_the_tools_answer_for_the_same_run(served: Served) -> None:
    """The page sees what an agent sees: the same view builders, the same redaction, key for key."""
    run_id = served.finished
    pairs = [("/runs/api/runs", {}, "list_runs", {}),
             ("/runs/api/runs", {"limit": 1}, "list_runs", {"limit": 1}),
             (f"/runs/api/runs/{run_id}/status", {}, "get_run_status", {"run_id": run_id}),
             (f"/runs/api/runs/{run_id}/status", {"since_seq": 2}, "get_run_status",
              {"run_id": run_id, "since_seq": 2}),
             (f"/runs/api/runs/{run_id}/gate", {}, "get_gate", {"run_id": run_id}),
             (f"/runs/api/runs/{served.running}/gate", {}, "get_gate", {"run_id": served.running}),
             (f"/runs/api/runs/{run_id}/files", {}, "get_app_files", {"run_id": run_id}),
             (f"/runs/api/runs/{run_id}/files", {"path": "app.py"}, "get_app_files",
              {"run_id": run_id, "path": "app.py"}),
             (f"/runs/api/runs/{run_id}/trace", {}, "fetch_trace_redacted", {"run_id": run_id}),
             (f"/runs/api/runs/{run_id}/trace", {"kind": "space_run", "cursor": 3, "max_bytes": 256},
              "fetch_trace_redacted", {"run_id": run_id, "kind": "space_run", "cursor": 3, "max_bytes": 256})]
    async with open_http_client(served.base, "auto", token=LISTED) as client:
        for path, params, tool, args in pairs:
            response = api(served, path, **params)
            assert response.status_code == 200, (path, response.text[:300])
            assert response.headers["cache-control"] == "no-store"
            assert response.json() == await call(client, tool, args), (path, params)


async def test_another_owners_run_is_not_found_and_never_listed(served: Served) -> None:
    """DESIGN §9: a caller sees only their own runs; another owner's run answers as a missing one does."""
    listed = api(served, "/runs/api/runs", limit=200).json()
    assert served.foreign not in [r["run_id"] for r in listed["runs"]]
    assert {served.finished, served.running} <= {r["run_id"] for r in listed["runs"]}
    seen = json.dumps(listed)
    for path in api_paths(served.foreign)[1:]:
        response = api(served, path)
        assert response.status_code == 404, (path, response.status_code)
        assert "run not found" in response.json()["error"]
        seen += response.text
    missing = api(served, "/runs/api/runs/20261128-171233-tiny-gpt2-4f9a1c/gate")
    assert missing.status_code == 404
    assert MARKER not in seen and "mallory" not in seen


def test_hostile_record_text_comes_back_as_json_data(served: Served) -> None:
    """Model-card and log text is data: JSON with nosniff, exactly as stored; the page renders it as text."""
    gate = api(served, f"/runs/api/runs/{served.finished}/gate")
    assert gate.headers["content-type"] == "application/json" and gate.headers["x-content-type-options"] == "nosniff"
    body = gate.json()["gate"]
    assert body["checks"][-1]["detail"] == f"model card said {SCRIPT}"
    assert body["blockers"][0]["title"] == IMG and body["blockers"][0]["evidence"] == f"</pre>{SCRIPT}"
    events = api(served, f"/runs/api/runs/{served.finished}/status").json()["events"]
    assert [e["message"] for e in events][:2] == [f"queued {IMG}", SCRIPT]
    assert SCRIPT in api(served, f"/runs/api/runs/{served.finished}/trace").json()["text"]
    assert SCRIPT in api(served, f"/runs/api/runs/{served.finished}/files", path="app.py").json()["file"]["text"]


@pytest.mark.parametrize(("path", "params"), [
    ("status", {"since_seq": "-1"}), ("status", {"since_seq": "x"}), ("trace", {"kind": "../../etc/passwd"}),
    ("trace", {"max_bytes": "1"}), ("status", {"run_id": "20261128-171233-tiny-gpt2-4f9a1c"}),
    ("gate", {"unknown": "1"}), ("files", {"path": "../../../pyproject.toml"})])
def test_bad_parameters_are_400(served: Served, path: str, params: dict[str, str]) -> None:
    """The tools' own parameter types bound the API: same patterns, same ranges, no extra parameters."""
    response = api(served, f"/runs/api/runs/{served.finished}/{path}", **params)
    assert response.status_code == 400, (path, params, response.text)
    assert response.json()["error"]


def test_an_error_never_echoes_a_secret_shaped_value(served: Served) -> None:
    """Error texts pass through the redactor, as the tools' do (DESIGN §9)."""
    secretish = fake_token()
    refused = api(served, f"/runs/api/runs/{served.finished}/trace", kind=f"agent:{secretish}")
    assert refused.status_code == 400 and secretish not in refused.text


def test_the_dashboard_link_is_given_only_with_a_public_url(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tool results link the run's page when the operator set SPACE_FACTORY_PUBLIC_URL; stdio has no page."""
    state = RunState(run_id="20261128-171233-tiny-gpt2-4f9a1c", model="m", owner="tester")
    monkeypatch.delenv(PUBLIC_URL_ENV, raising=False)
    assert run_links(state).dashboard is None
    monkeypatch.setenv(PUBLIC_URL_ENV, "https://factory.example.org/")
    assert run_links(state).dashboard == "https://factory.example.org/runs/20261128-171233-tiny-gpt2-4f9a1c"
    monkeypatch.setenv(PUBLIC_URL_ENV, "javascript:alert(1)")
    assert run_links(state).dashboard is None
