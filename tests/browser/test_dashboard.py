"""The run dashboard in a real headless Chromium, against the real HTTP server (a subprocess, local backend):
the login refuses without a valid token, a real tiny build is followed live to its gate, the token never leaves
the tab's session storage, hostile record strings render as text only, and the MCP App renders inside a
sandboxed iframe of a fake host that speaks the MCP Apps bridge (issue 12, part 2).

One server serves the whole module; the only build (`followed_build`, e2e) is shared by the tests that need it.
Every other run is written directly with `RunRecord` into the server's factory home.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import anyio
import httpx2
import pytest

from space_factory.domain import layout
from space_factory.domain.gate_status import CheckStatus, GateStatus
from space_factory.domain.ids import mint_run_id
from space_factory.domain.phases import Phase, RunStatus
from space_factory.domain.schemas import Blocker, Gate, GateCheck, GateSpace, HowToCall
from space_factory.record import RunRecord
from space_factory.runs_index import RunsIndex
from space_factory.server.auth import TOKEN_DIGESTS_ENV
from space_factory.service import Factory
from tests.browser.mcp_host import HostedCall, McpWire, fake_host
from tests.conftest import FACTORY_HOME
from tests.server.transports import BEARER, http_server, open_http_client
from tests.support.browser import Browser, Frame, Page
from tests.support.processes import end_factory_processes
from tests.tools.helpers import call, make_factory, passed_gate, write_run

TOKEN_KEY = "space-factory-token"
BUILD_TIMEOUT = 600.0
HOSTILE = [
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(2)>",
    '"><svg onload=alert(3)>',
    "javascript:alert(4)",
    '<iframe srcdoc="<script>parent.alert(5)</script>"></iframe>',
    "</pre><b id=injected>6</b><pre>",
    "${alert(7)} {{constructor.constructor('alert(8)')()}}",
]
HOSTILE_TEXT = " ".join(HOSTILE)
HOSTILE_EVENTS = [(Phase.QUEUED.value, text) for text in HOSTILE] + [(Phase.RECOMMENDING.value, HOSTILE[5])]
# Whatever markup a hostile string could have made: none of it may exist in the page.
INJECTED = ("script:not([src]), img, svg, iframe, object, embed, #injected, [onerror], [onload], "
            "a[href^='javascript:' i], a[href^='data:' i]")


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    """The real HTTP server over the session's factory home, accepting only BEARER (by its digest)."""
    digest = hashlib.sha256(BEARER.encode()).hexdigest()
    try:
        with http_server(env={TOKEN_DIGESTS_ENV: digest}) as base:
            yield base
    finally:
        end_factory_processes(FACTORY_HOME)  # the Space the build left running


@pytest.fixture(scope="module")
def records() -> Factory:
    """A factory over the server's home, to write runs into directly."""
    return make_factory(FACTORY_HOME)


@pytest.fixture(scope="module")
def passed_run(records: Factory) -> str:
    """A finished run with a passed gate, an app and a worker log, written directly (no build)."""
    run_id = write_run(records, status=RunStatus.FINISHED, phase=Phase.DONE, space_id="tester/tiny-gpt2-demo-abcdef",
                       gate=passed_gate(), logs={"worker": "worker started\ngate passed\n"},
                       events=[(Phase.QUEUED, "queued"), (Phase.BUILDING, "building"), (Phase.DONE, "done")])
    record = RunRecord(records.backend.bucket, run_id)
    record.write_text(f"{layout.GENERATED}/app.py", "import gradio as gr\n")
    RunsIndex(records.backend.bucket, records.backend.owner).add(run_id)  # as `Factory.launch` indexes a run
    return run_id


def hostile_gate() -> Gate:
    checks = [GateCheck(name=text, status=CheckStatus.FAILED, detail=text) for text in HOSTILE[:3]]
    checks.append(GateCheck(name="predict", status=CheckStatus.FAILED, detail=HOSTILE_TEXT))
    blocker = Blocker(kind=HOSTILE[0], title=HOSTILE[1], detail=HOSTILE[2], evidence=HOSTILE_TEXT, tried=HOSTILE)
    return Gate(status=GateStatus.TECHNICAL_BLOCKER, summary=HOSTILE_TEXT, checks=checks, blockers=[blocker],
                evidence={"hardware": {"flavor": HOSTILE[0], "outcome": HOSTILE[1], "detail": HOSTILE[2]}},
                space=GateSpace(id="tester/hostile-demo", url=HOSTILE[3]),
                how_to_call=HowToCall(space_id="tester/hostile-demo", url=HOSTILE[3], api_name=HOSTILE[0],
                                      python=HOSTILE_TEXT))


@pytest.fixture(scope="module")
def hostile_run(records: Factory) -> str:
    """A finished run whose model, events, hardware plan, logs, gate, error, Space URL and file names carry markup
    and script."""
    run_id = mint_run_id("factory-test/hostile")
    write_run(records, run_id=run_id, model=HOSTILE_TEXT, status=RunStatus.FINISHED, phase=Phase.DONE,
              gate=hostile_gate(), error=HOSTILE_TEXT, logs={"worker": "\n".join(HOSTILE) + "\n"},
              events=[(Phase.QUEUED, text) for text in HOSTILE])
    record = RunRecord(records.backend.bucket, run_id)
    # The hardware plan as the recommending phase reports it (from the model card's analysis).
    record.append_event(Phase.RECOMMENDING, HOSTILE[5], data={"primary": HOSTILE[1], "fallback": HOSTILE[2]})
    record.update_state(force=True, space={"id": "tester/hostile-demo", "url": HOSTILE[3]})
    for name in HOSTILE:  # a "/" nests: `<script>alert(1)</script>` is a file `script>` in a folder `<script>alert(1)<`
        record.write_text(f"{layout.GENERATED}/{name}", "x = 1\n")
    RunsIndex(records.backend.bucket, records.backend.owner).add(run_id)
    return run_id


def log_in(page: Page, base: str, token: str = BEARER) -> None:
    """Open /runs, paste the token into the login form and submit it, as a person would."""
    page.navigate(f"{base}/runs")
    page.wait_for("document.body.dataset.state === 'login'", what="the login form")
    page.fill("#token", token)
    page.click("form#login button[type=submit]")


def open_run(page: Page, base: str, run_id: str) -> None:
    """Navigate the logged-in tab to a run's page and wait for its first render."""
    page.navigate(f"{base}/runs/{run_id}")
    page.wait_for(f"document.querySelector('section#run')?.dataset.runId === {json.dumps(run_id)} && "
                  "document.body.dataset.state === 'ready'", what=f"the page of run {run_id}")


def run_facts(page: Frame) -> dict[str, Any]:
    """What the run view shows, read from the DOM contract."""
    return dict(page.evaluate("""(() => {
      const text = (sel, root = document) => root.querySelector(sel)?.textContent ?? null;
      return {
        terminal: document.querySelector('section#run').dataset.terminal,
        status: text('#run-status'), phase: text('#run-phase'), gate: text('#gate-status'),
        seqs: [...document.querySelectorAll('ol#timeline > li[data-seq]')].map(li => Number(li.dataset.seq)),
        timeline: [...document.querySelectorAll('ol#timeline > li')].map(li => li.textContent),
        checks: Object.fromEntries([...document.querySelectorAll('ul#checks > li[data-check]')].map(li =>
          [li.dataset.check, [text('.check-status', li), text('.check-detail', li)]])),
        blockers: [...document.querySelectorAll('ul#blockers > li')].map(li => li.textContent),
        files: [...document.querySelectorAll('ul#files > li[data-path]')].map(li => li.dataset.path),
        log: text('pre#log-tail'), howToCall: text('#how-to-call'), hardware: text('#hardware'),
        model: text('#run-model'), error: text('#run-error'),
      };
    })()"""))


def mcp(base: str, tool: str, args: dict[str, Any]) -> dict[str, Any]:
    """One tool call through a real SDK client over HTTP (bearer token), from synchronous test code."""

    async def called() -> dict[str, Any]:
        async with open_http_client(base, "auto") as client:
            return await call(client, tool, args)

    return anyio.run(called)


def assert_timeline(shown: list[str], events: list[tuple[str, str]]) -> None:
    """One timeline item per event, in order, each reading as its phase then its message."""
    assert len(shown) == len(events), shown
    for text, (phase, message) in zip(shown, events, strict=True):
        assert text.startswith(phase) and text.endswith(message), (text, phase, message)


def assert_clean(page: Frame) -> None:
    """No dialog opened, no uncaught exception, no markup injected."""
    page.wait_for("true")  # one round trip: every event sent before it has been recorded
    assert page.dialogs == [], page.dialogs
    assert page.exceptions == [], page.exceptions
    assert not [m for m in page.console if "Content Security Policy" in m.text], page.console  # nothing blocked
    assert page.evaluate(f"document.querySelectorAll({json.dumps(INJECTED)}).length") == 0, page.evaluate(
        f"[...document.querySelectorAll({json.dumps(INJECTED)})].map(e => e.outerHTML)")


# -- (a) no token, a wrong token ----------------------------------------------------------------------------------


def test_without_a_token_the_page_asks_for_one_and_shows_nothing_of_a_run(page: Page, server: str,
                                                                          passed_run: str) -> None:
    page.navigate(f"{server}/runs/{passed_run}")
    page.wait_for("document.body.dataset.state === 'login'", what="the login form")
    assert page.evaluate("document.querySelector('input#token').type") == "password"
    assert page.evaluate("document.getElementById('run').hidden && document.getElementById('list').hidden")
    assert page.evaluate("document.querySelectorAll('ol#timeline > li, ul#checks > li, ul#runs > li').length") == 0
    for path in ("/runs/api/runs", f"/runs/api/runs/{passed_run}/status", f"/runs/api/runs/{passed_run}/gate"):
        refused = httpx2.get(f"{server}{path}", timeout=10)
        assert refused.status_code == 401, (path, refused.status_code)
        assert refused.headers["cache-control"] == "no-store"
        assert refused.headers["www-authenticate"].startswith("Bearer")
        assert "passed" not in refused.text and "tiny-gpt2" not in refused.text
    shell = httpx2.get(f"{server}/runs/{passed_run}", timeout=10)
    assert "script-src 'self'" in shell.headers["content-security-policy"]
    assert "unsafe-inline" not in shell.headers["content-security-policy"].split("script-src", 1)[1].split(";")[0]
    assert shell.headers["x-content-type-options"] == "nosniff" and shell.headers["referrer-policy"] == "no-referrer"
    assert passed_run not in shell.text.replace(f"/runs/{passed_run}", "")  # the shell holds nothing of the run
    assert_clean(page)


def test_a_wrong_token_is_refused_and_forgotten(page: Page, server: str, passed_run: str) -> None:
    log_in(page, server, token="not-the-token-0123456789")
    page.wait_for("document.body.dataset.state === 'login' && !document.getElementById('login-error').hidden && "
                  "document.getElementById('login-error').textContent",
                  what="the refusal")
    assert page.evaluate("document.querySelectorAll('ul#runs > li').length") == 0
    assert passed_run not in str(page.evaluate("document.body.innerText"))
    assert page.evaluate(f"sessionStorage.getItem({json.dumps(TOKEN_KEY)})") is None
    assert_clean(page)


# -- (c) where the token goes -------------------------------------------------------------------------------------


def test_the_token_lives_only_in_the_tabs_session_storage(page: Page, server: str, passed_run: str) -> None:
    log_in(page, server)
    page.wait_for(f"document.querySelector('ul#runs > li[data-run-id={json.dumps(passed_run)}]')",
                  what="the run in the list")
    page.click(f"ul#runs > li[data-run-id={json.dumps(passed_run)}] a")  # follow the list's link, as a person does
    page.wait_for(f"document.querySelector('section#run')?.dataset.runId === {json.dumps(passed_run)} && "
                  "document.querySelector('section#run').dataset.terminal === 'true'", what="the run page")
    page.reload()  # the session survives a reload: the token is read back from sessionStorage
    page.wait_for("document.querySelector('section#run')?.dataset.terminal === 'true'", what="the reloaded run page")

    assert page.evaluate(f"sessionStorage.getItem({json.dumps(TOKEN_KEY)})") == BEARER
    assert BEARER not in page.evaluate("location.href")
    assert all(BEARER not in url for url in page.history_urls())
    assert BEARER not in page.evaluate("document.cookie")
    assert page.cookies() == [] and page.network_cookies() == []
    assert page.evaluate("localStorage.length") == 0
    assert BEARER not in page.evaluate("document.documentElement.outerHTML")
    assert page.evaluate("document.getElementById('token').value") == ""
    assert all(BEARER not in entry["name"] for entry in page.performance_entries("resource"))
    assert all(BEARER not in m.text for m in page.console)
    assert_clean(page)


# -- (d) hostile strings --------------------------------------------------------------------------------------------


def test_hostile_strings_in_a_record_render_as_text_and_never_run(page: Page, server: str, hostile_run: str) -> None:
    log_in(page, server)
    page.wait_for(f"document.querySelector('ul#runs > li[data-run-id={json.dumps(hostile_run)}]')",
                  what="the hostile run in the list")
    assert page.text(f"ul#runs > li[data-run-id={json.dumps(hostile_run)}] .run-model") == HOSTILE_TEXT
    assert_clean(page)

    open_run(page, server, hostile_run)
    page.wait_for("document.querySelector('section#run').dataset.terminal === 'true' && "
                  "document.querySelector('pre#log-tail').textContent.includes('alert(8)')", what="the whole run")
    facts = run_facts(page)
    assert_timeline(facts["timeline"], HOSTILE_EVENTS)
    assert all(text in facts["hardware"] for text in HOSTILE[:3])
    assert facts["model"] == HOSTILE_TEXT and facts["error"] == HOSTILE_TEXT
    assert facts["log"] == "\n".join(HOSTILE) + "\n"
    assert sorted(facts["files"]) == sorted(HOSTILE)
    assert facts["checks"][HOSTILE[0]] == ["failed", HOSTILE[0]] and facts["checks"]["predict"][1] == HOSTILE_TEXT
    assert all(text in facts["blockers"][0] for text in HOSTILE)
    assert HOSTILE_TEXT in facts["howToCall"] and HOSTILE[3] in facts["howToCall"]
    page.click("ul#files > li:first-child button")  # a hostile file name opened as a file
    page.wait_for("document.getElementById('file-text').textContent === 'x = 1\\n'", what="the file's text")
    assert_clean(page)


# -- (e) the MCP App in a fake host ---------------------------------------------------------------------------------


def hosted_get_gate(wire: McpWire, run_id: str) -> tuple[str, HostedCall]:
    """What a host does before it renders the view: get_gate's UI resource and the tool call it renders for."""
    tool = wire.tool("get_gate")
    uri = tool["_meta"]["ui"]["resourceUri"]
    contents = wire.read_resource(uri)["contents"]
    assert contents[0]["mimeType"] == "text/html;profile=mcp-app"
    result = wire.call_tool("get_gate", {"run_id": run_id})
    assert not result.get("isError"), result
    return str(contents[0]["text"]), HostedCall(tool=tool, arguments={"run_id": run_id}, result=result)


@pytest.mark.parametrize("which", ["passed", "hostile"])
def test_the_mcp_app_renders_the_gate_inside_a_sandboxed_host_iframe(page: Page, server: str, passed_run: str,
                                                                     hostile_run: str, which: str) -> None:
    run_id = passed_run if which == "passed" else hostile_run
    wire = McpWire(server, BEARER)
    view_html, hosted = hosted_get_gate(wire, run_id)
    with fake_host(view_html, hosted, wire) as url:
        page.navigate(url)
        view = page.frame(lambda u: u == "about:srcdoc")
        view.wait_for(f"document.querySelector('section#run')?.dataset.runId === {json.dumps(run_id)} && "
                      "document.querySelector('section#run').dataset.terminal === 'true' && "
                      "document.querySelector('ul#checks > li')", timeout=20, what="the gate in the view")
        facts = run_facts(view)
    gate = hosted.result["structuredContent"]
    assert gate["ready"] and facts["gate"] == gate["gate_status"]
    assert set(facts["checks"]) == {check["name"] for check in gate["gate"]["checks"]}
    assert {name: status for name, (status, _) in facts["checks"].items()} == {
        check["name"]: check["status"] for check in gate["gate"]["checks"]}
    seen = [m.get("method") for m in page.evaluate("fakeHost.seen")]
    assert seen[:2] == ["ui/initialize", "ui/notifications/initialized"]
    assert {name for method, params in hosted.proxied if method == "tools/call"
            for name in [params["name"]]} >= {"get_run_status", "get_gate"}
    assert view.evaluate("origin") == "null" and view.performance_entries("resource") == []  # no fetch of its own
    assert view.dialogs == [] and page.dialogs == [] and view.exceptions == []
    # alert() is ignored in a sandbox without allow-modals, but Chromium says so: a script that ran would show here.
    blocked = [m for m in view.console if "Content Security Policy" in m.text or "Ignored call" in m.text]
    assert blocked == [], blocked
    markup = INJECTED.removeprefix("script:not([src]), ")  # the view's own code is inline: count scripts instead
    assert view.evaluate(f"document.querySelectorAll({json.dumps(markup)}).length") == 0
    assert view.evaluate("document.scripts.length") == view_html.lower().count("<script")
    if which == "passed":  # a link in the view asks the host to open it (ui/open-link); the iframe stays put
        view.evaluate("document.querySelector('#run-space a').click()")
        page.wait_for("fakeHost.seen.some(m => m.method === 'ui/open-link')", what="ui/open-link")
        opened = [m for m in page.evaluate("fakeHost.seen") if m.get("method") == "ui/open-link"]
        assert opened[0]["params"] == {"url": "http://127.0.0.1:7860/"}
        assert view.evaluate("location.href") == "about:srcdoc"
    if which == "hostile":
        assert_timeline(facts["timeline"], HOSTILE_EVENTS)


# -- (b) one real build, followed live -----------------------------------------------------------------------------


@dataclass(frozen=True)
class FollowedBuild:
    """What the page showed while it followed a real build, and what the MCP tools say of the same run."""

    run_id: str
    samples: list[tuple[int, str]]  # (timeline length, data-terminal) each time either changed
    facts: dict[str, Any]
    api_requests_after_end: tuple[int, int]  # /runs/api requests at the end, and a few seconds later
    gate: dict[str, Any]
    events: int
    files: list[str]
    dialogs: list[str]
    exceptions: list[str]


def api_requests(page: Page) -> int:
    return sum("/runs/api/" in entry["name"] for entry in page.performance_entries("resource"))


@pytest.fixture(scope="module")
def followed_build(browser: Browser, server: str, tiny_models: dict[str, str]) -> FollowedBuild:
    """The module's one real build: launched over MCP, its page opened at once and followed to its end."""
    launched = mcp(server, "launch_build", {"model": tiny_models["tiny-gpt2"], "idempotency_key": "browser-e2e",
                                           "wait_seconds": 0})
    run_id = str(launched["run_id"])
    with browser.page() as page:
        log_in(page, server)
        open_run(page, server, run_id)
        page.evaluate("performance.setResourceTimingBufferSize(100000)")
        samples: list[tuple[int, str]] = []
        deadline = time.monotonic() + BUILD_TIMEOUT
        while time.monotonic() < deadline:
            sample = page.evaluate("[document.querySelectorAll('ol#timeline > li').length, "
                                   "document.querySelector('section#run').dataset.terminal]")
            if not samples or tuple(sample) != samples[-1]:
                samples.append((int(sample[0]), str(sample[1])))
            if sample[1] == "true":
                break
            time.sleep(0.25)
        page.wait_for("document.querySelector('pre#log-tail').textContent.trim()", what="the log tail")
        ended = api_requests(page)
        time.sleep(3)  # longer than any poll interval: a page that stopped polling makes no request
        facts = run_facts(page)
        after = api_requests(page)
        page.wait_for("true")
        dialogs, exceptions = page.dialogs, page.exceptions
    gate = mcp(server, "get_gate", {"run_id": run_id})
    status = mcp(server, "get_run_status", {"run_id": run_id, "since_seq": 0})
    files = [f["path"] for f in mcp(server, "get_app_files", {"run_id": run_id})["files"]]
    return FollowedBuild(run_id, samples, facts, (ended, after), gate, int(status["last_seq"]), files, dialogs,
                         exceptions)


@pytest.mark.e2e
def test_the_run_page_follows_a_running_build_to_its_end(followed_build: FollowedBuild) -> None:
    samples = followed_build.samples
    assert samples[0][1] == "false" and samples[-1][1] == "true", samples  # opened while it ran, followed to the end
    lengths = [length for length, _ in samples]
    assert lengths == sorted(lengths) and lengths[0] < lengths[-1], samples  # the timeline grew while watched
    assert followed_build.facts["seqs"] == list(range(1, followed_build.events + 1))  # every event, once, in order
    assert followed_build.api_requests_after_end[1] == followed_build.api_requests_after_end[0]  # polling stopped
    assert followed_build.dialogs == [] and followed_build.exceptions == []


@pytest.mark.e2e
def test_the_finished_build_shows_its_gate_every_check_its_files_and_its_log(followed_build: FollowedBuild) -> None:
    facts, gate = followed_build.facts, followed_build.gate
    assert gate["gate_status"] == "full_inference_passed", gate["message"]
    assert facts["gate"] == "full_inference_passed" and facts["status"] == "finished"
    assert {name: status for name, (status, _) in facts["checks"].items()} == {
        check["name"]: check["status"] for check in gate["gate"]["checks"]}
    assert sorted(facts["files"]) == sorted(followed_build.files) and "app.py" in facts["files"]
    assert facts["log"].strip()
    assert gate["gate"]["how_to_call"]["api_name"] in facts["howToCall"]
