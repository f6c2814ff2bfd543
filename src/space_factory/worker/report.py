"""`report.md`: the human-readable summary of a run, with links. Pure rendering."""

from __future__ import annotations

from space_factory.domain.schemas import (
    Gate,
    ModelCardAnalysis,
    RunState,
    RuntimeRecommendation,
    TargetSpace,
)


def _md(text: object) -> str:
    # Card and app text is untrusted: keep it on one line and out of Markdown/HTML syntax.
    # CommonMark also ends a line at a lone CR, so "\r" goes too.
    # Brackets are escaped so card text cannot make links or images ("![x](http://…)") in the report.
    text = str(text).replace("\r", " ").replace("\n", " ").replace("<", "&lt;").replace("|", "\\|")
    return text.replace("[", "\\[").replace("]", "\\]")[:500]


def render_report(state: RunState, *, analysis: ModelCardAnalysis | None, recommendation: RuntimeRecommendation | None,
                  target: TargetSpace | None, gate: Gate | None) -> str:
    """The report of a run, as Markdown."""
    lines = [f"# Space Factory run `{state.run_id}`", ""]
    lines += [f"- **Model:** `{_md(state.model)}`", f"- **Mode:** {state.mode} · **backend:** {state.backend}",
              f"- **Status:** {state.status.value} (phase {state.phase.value})",
              f"- **Created:** {state.created_at.isoformat()} · **updated:** {state.updated_at.isoformat()}"]
    if state.parent_run_id:
        parent = state.parent_run_id
        lines.append(f"- **Revision:** {state.revision} of run [`{parent}`](factory://runs/{parent}/report.md) "
                     f"(its files: get_app_files, or space-factory files {parent})")
    if state.error:
        lines.append(f"- **Error:** {_md(state.error)}")
    if gate is not None:
        lines += ["", "## Verdict", "", f"**{gate.status.value}** — {_md(gate.summary)}", "",
                  "| check | status | detail | ms |", "|---|---|---|---|"]
        lines += [f"| {c.name} | {c.status.value} | {_md(c.detail)} | {c.duration_ms or ''} |" for c in gate.checks]
        for blocker in gate.blockers:
            lines.append(f"- **Blocker ({blocker.source}):** {_md(blocker.title)} — {_md(blocker.detail)}")
        if gate.how_to_call and gate.how_to_call.python:
            lines += ["", "### Call it", "", "```python", gate.how_to_call.python, "```"]
        mcp = gate.how_to_call.mcp if gate.how_to_call else None
        if mcp is not None:  # the tool name is a plain name and the URL ours (domain.mcp_surface)
            lines += ["", "### Call it as an MCP tool", "", f"Tool `{mcp.tool}` at {mcp.url}"
                      + (" (header `Authorization: Bearer <your HF token>`)" if mcp.headers else ""), "",
                      "```bash", mcp.clients.claude_code, "```"]
    if target is not None:
        lines += ["", "## Space", "", f"- **Id:** `{target.space_id}` (private: {str(target.private).lower()})"]
        if state.space.url:
            lines.append(f"- **URL:** {state.space.url}")
        lines.append(f"- **Hardware:** requested {target.hardware_requested or '—'}, current "
                     f"{state.space.hardware or target.hardware_current or '—'}")
    if analysis is not None:
        lines += ["", "## Model card analysis", "",
                  f"- **Task:** {_md(analysis.task or 'unknown')} ({analysis.task_source})",
                  f"- **Library:** {_md(analysis.library or 'unknown')}",
                  f"- **Parameters:** {analysis.params if analysis.params is not None else 'unknown'}"
                  f" · **dtype:** {_md(analysis.dtype or 'unknown')}",
                  f"- **License:** {_md(analysis.license or 'unknown')} · **gated:** {analysis.gated}"
                  f" · **custom code:** {analysis.custom_code}"]
        lines += [f"- ⚠ {_md(w)}" for w in analysis.warnings]
    if recommendation is not None:
        lines += ["", "## Hardware recommendation", "", f"- **Primary:** {recommendation.primary}"
                  f" · **fallback:** {recommendation.fallback or '—'} (used: {recommendation.use_fallback})"]
        lines += [f"- {_md(r)}" for r in recommendation.reasons]
    lines += ["", "## Files", "", "`state.json`, `events.jsonl`, `model_card_analysis.json`, "
              "`runtime_recommendation.json`, `target_space.json`, `generated/`, `tests/`, `inference_gate.json`, "
              "`logs/` (redacted)", ""]
    return "\n".join(lines)
