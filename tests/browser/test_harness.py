"""The CDP harness itself, on a trivial page served here: what the dashboard tests rely on really works."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from tests.browser.mcp_host import HostedCall, fake_host
from tests.browser.pages import Served, serve_pages
from tests.support.browser import Browser, CdpError, Page
from tests.support.processes import group_members

FORM_PAGE = b"""<!doctype html><meta charset=utf-8><title>harness</title>
<form id=f><input id=name><button id=go type=submit>go</button></form><p id=out></p>
<script src=/page.js></script>
<iframe id=inner sandbox=allow-scripts srcdoc="<p id=p>inside</p><script>console.log('from the frame')</script>">
</iframe>"""
FORM_SCRIPT = b"""console.log('loaded', 42);
document.getElementById('f').addEventListener('submit', event => {
  event.preventDefault();
  document.getElementById('out').textContent = document.getElementById('name').value;
  sessionStorage.setItem('k', 'v');
  alert('submitted');
});
performance.mark('harness-ready');
setTimeout(() => { throw new Error('late failure'); }, 0);
"""


@pytest.fixture(scope="module")
def site() -> Iterator[str]:
    with serve_pages({"/": Served(FORM_PAGE), "/page.js": Served(FORM_SCRIPT, "text/javascript")}) as base:
        yield base


def test_a_page_loads_types_clicks_and_reports_console_exceptions_and_dialogs(page: Page, site: str) -> None:
    page.navigate(f"{site}/")
    page.fill("#name", "<b>typed</b>")
    page.click("#go")
    assert page.wait_for("document.getElementById('out').textContent") == "<b>typed</b>"
    page.wait_for("true", what="the dialog to be seen")  # one round trip: events before it have arrived
    assert page.dialogs == ["alert: submitted"]  # recorded and dismissed: the page did not block
    assert any(m.level == "log" and m.text == "loaded 42" for m in page.console)
    assert any("late failure" in e for e in page.exceptions)
    assert page.evaluate("sessionStorage.getItem('k')") == "v" and page.cookies() == []
    assert [m["name"] for m in page.performance_entries("mark")] == ["harness-ready"]
    assert "first-contentful-paint" in {p["name"] for p in page.performance_entries("paint")}
    assert page.history_urls()[-1] == f"{site}/"


def test_evaluate_awaits_promises_and_raises_the_pages_error(page: Page, site: str) -> None:
    page.navigate(f"{site}/")
    assert page.evaluate("new Promise(r => setTimeout(() => r({a: [1, 'x']}), 20))") == {"a": [1, "x"]}
    with pytest.raises(CdpError, match="nope"):
        page.evaluate("(() => { throw new Error('nope') })()")
    with pytest.raises(AssertionError, match="never true"):
        page.wait_for("false", timeout=0.3, what="never true")


def test_a_sandboxed_iframe_is_reached_as_a_frame_of_its_own(page: Page, site: str) -> None:
    page.navigate(f"{site}/")
    frame = page.frame(lambda url: url == "about:srcdoc")
    assert frame.wait_for("document.getElementById('p')?.textContent") == "inside"
    assert frame.evaluate("origin") == "null"  # opaque: the page cannot reach into it, nor it into the page
    assert frame.wait_for(json.dumps(True)) and any(m.text == "from the frame" for m in frame.console)


def test_pages_do_not_share_storage(browser: Browser, site: str) -> None:
    with browser.page() as first, browser.page() as second:
        first.navigate(f"{site}/")
        second.navigate(f"{site}/")
        first.evaluate("sessionStorage.setItem('only', 'first'); localStorage.setItem('only', 'first')")
        assert second.evaluate("[sessionStorage.getItem('only'), localStorage.getItem('only')]") == [None, None]


def test_closing_the_browser_ends_its_whole_process_group(tmp_path_factory: pytest.TempPathFactory) -> None:
    own = Browser.start(workdir=tmp_path_factory.mktemp("own-chromium"))
    with own.page() as tab:
        tab.navigate("data:text/html,<p>hi")
    assert len(group_members(own.pid)) > 1  # the browser, its zygote, a renderer…
    own.close()
    assert group_members(own.pid) == [] and not own.profile.exists()


BRIDGE_VIEW = """<!doctype html><meta charset=utf-8><p id=got></p><p id=called></p><script>
let next = 1; const waiting = new Map();
const request = (method, params) => new Promise(resolve => {
  const id = next++; waiting.set(id, resolve); parent.postMessage({jsonrpc: '2.0', id, method, params}, '*'); });
addEventListener('message', async (event) => {
  const m = event.data;
  if (m.id !== undefined && waiting.has(m.id)) { waiting.get(m.id)(m); waiting.delete(m.id); return; }
  if (m.method === 'ui/notifications/tool-result') {
    document.getElementById('got').textContent = m.params.structuredContent.answer;
    const called = await request('tools/call', {name: 'echo', arguments: {x: 'y'}});
    document.getElementById('called').textContent = JSON.stringify(called.result);
  }
});
request('ui/initialize', {protocolVersion: '2026-01-26', appInfo: {name: 'v', version: '1'}, appCapabilities: {}})
  .then(() => parent.postMessage({jsonrpc: '2.0', method: 'ui/notifications/initialized'}, '*'));
</script>"""


class EchoWire:
    def answer(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        return {"result": {"method": method, "arguments": params.get("arguments")}}


def test_the_fake_mcp_host_initializes_a_view_pushes_the_result_and_proxies_its_calls(page: Page) -> None:
    call = HostedCall(tool={"name": "get_gate"}, arguments={"run_id": "r"},
                      result={"content": [], "structuredContent": {"answer": "<b>42</b>"}})
    with fake_host(BRIDGE_VIEW, call, EchoWire()) as url:
        page.navigate(url)
        view = page.frame(lambda u: u == "about:srcdoc")
        assert view.wait_for("document.getElementById('called').textContent") == json.dumps(
            {"method": "tools/call", "arguments": {"x": "y"}}, separators=(",", ":"))
    assert view.text("#got") == "<b>42</b>"
    assert call.proxied == [("tools/call", {"name": "echo", "arguments": {"x": "y"}})]
    assert [m.get("method") for m in page.evaluate("fakeHost.seen")] == [
        "ui/initialize", "ui/notifications/initialized", "tools/call"]
