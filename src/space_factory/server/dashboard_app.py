"""The run dashboard as an MCP App (issue 12, DESIGN §13): one `ui://` resource through the SDK's `Apps` extension.

A host that renders MCP Apps shows the page in a sandboxed iframe beside the results of the tools that carry
`_meta.ui.resourceUri` (`get_gate`, `launch_build`: `tools.views.DASHBOARD_META`) and pushes their results to it;
the page asks for more through the host (`tools/call` of get_run_status, get_gate, get_app_files,
fetch_trace_redacted, list_runs), so it sees exactly what the caller's tools answer. Every other client gets the
same tool results as before and may ignore the resource.

The host renders the resource's text, with no origin to load files from, so the document is the web page
(`server/static/`) with its script and style sheet inlined, built once at import. It loads nothing from outside
and declares no CSP domains.
"""

from __future__ import annotations

from mcp.server.apps import Apps, ResourceCsp

from space_factory.server.dashboard import page_file
from space_factory.tools.views import DASHBOARD_URI

__all__ = ["DASHBOARD_URI", "app_document", "dashboard_apps"]

_SCRIPT_TAG = '<script src="/runs/static/dashboard.js" defer></script>'
_STYLE_TAG = '<link rel="stylesheet" href="/runs/static/dashboard.css">'
_WEB_MARK = '<html lang="en" data-transport="web">'


def app_document() -> str:
    """The page as one self-contained HTML document that speaks the MCP Apps bridge instead of fetching /runs/api.

    Raises:
        ValueError: the shipped page no longer has the tags this replaces, or its script or style could end the
            element it is inlined into.
    """
    html, script, style = page_file("dashboard.html"), page_file("dashboard.js"), page_file("dashboard.css")
    for tag in (_SCRIPT_TAG + "\n", _STYLE_TAG, _WEB_MARK, "</body>"):
        if html.count(tag) != 1:
            raise ValueError(f"dashboard.html must hold {tag!r} exactly once")
    if "</script" in script.lower() or "</style" in style.lower():
        raise ValueError("the dashboard's script or style would end its inline element early")
    # `defer` has no meaning inline: the script moves to the end of <body>, where the elements it finds exist.
    return (html.replace(_WEB_MARK, '<html lang="en" data-transport="mcp-app">')
                .replace(_STYLE_TAG, f"<style>\n{style}\n</style>")
                .replace(_SCRIPT_TAG + "\n", "")
                .replace("</body>", f"<script>\n{script}\n</script>\n</body>"))


def dashboard_apps() -> Apps:
    """The `Apps` extension holding the dashboard resource, for `MCPServer(extensions=[...])`."""
    apps = Apps()
    apps.add_html_resource(DASHBOARD_URI, app_document(), name="run-dashboard", title="Space Factory run dashboard",
                           description="The caller's runs; a run's timeline, gate and checks, blockers, hardware, "
                                       "how to call its Space, its app files and a live tail of its redacted logs.",
                           csp=ResourceCsp(), prefers_border=True)
    return apps
