"""report.md: the human-readable summary of a run (DESIGN §4). Card and app text in it is untrusted
(DESIGN §9; STYLE R14), so it is kept on one line and out of Markdown tables and HTML."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest

from space_factory.domain.gate_status import CheckStatus, GateStatus
from space_factory.domain.phases import Phase, RunStatus
from space_factory.domain.schemas import (
    Blocker,
    Gate,
    GateCheck,
    HowToCall,
    ModelCardAnalysis,
    RunState,
    RuntimeRecommendation,
    SpaceRef,
    TargetSpace,
)
from space_factory.worker.report import render_report

RUN_ID = "20261128-171233-tiny-gpt2-4f9a1c"
NOW = datetime(2026, 11, 28, 17, 12, 33, tzinfo=UTC)
HOSTILE = ["line one\nline two", "cr\rbreak", "crlf\r\n| injected | row |", "<script>alert(1)</script>",
           "a | b | c", "<img src=x onerror=alert(1)>", "\n\n# Fake heading\n\n- fake item"]
UNESCAPED_PIPE = re.compile(r"(?<!\\)\|")


def _lines(markdown: str) -> list[str]:
    """Lines as a Markdown renderer sees them: CommonMark ends a line at LF, CR or CRLF."""
    return re.split(r"\r\n|\r|\n", markdown)


def _render(value: str) -> str:
    state = RunState(run_id=RUN_ID, model="sshleifer/tiny-gpt2", owner="tester", status=RunStatus.FINISHED,
                     phase=Phase.DONE, error=value, gate_status=GateStatus.HEALTH_ONLY, created_at=NOW, updated_at=NOW,
                     space=SpaceRef(id="tester/app", url="http://127.0.0.1:7860/", hardware="cpu-basic"))
    gate = Gate(status=GateStatus.HEALTH_ONLY, summary=value,
                checks=[GateCheck(name="health", status=CheckStatus.PASSED, detail="ok", duration_ms=12),
                        GateCheck(name="output_valid", status=CheckStatus.FAILED, detail=value)],
                blockers=[Blocker(title=value, detail=value, source="agent")],
                how_to_call=HowToCall(api_name="/predict", python="from gradio_client import Client\nprint(1)"))
    analysis = ModelCardAnalysis(model="sshleifer/tiny-gpt2", task=value, library=value, dtype=value, license=value,
                                 warnings=[value])
    recommendation = RuntimeRecommendation(primary="cpu-basic", reasons=[value])
    target = TargetSpace(space_id="tester/app", hardware_requested="cpu-basic")
    return render_report(state, analysis=analysis, recommendation=recommendation, target=target, gate=gate)


def test_a_report_has_the_verdict_table_space_analysis_and_call_snippet() -> None:
    """report.md: a summary with the verdict, the checks, the Space and how to call it (DESIGN §4)."""
    report = _render("plain words")
    assert report.startswith(f"# Space Factory run `{RUN_ID}`\n")
    assert "**health_only** — plain words" in report
    assert "| health | passed | ok | 12 |" in report
    assert "| output_valid | failed | plain words |  |" in report
    assert "- **Blocker (agent):** plain words — plain words" in report
    assert "```python\nfrom gradio_client import Client\nprint(1)\n```" in report
    assert "- **URL:** http://127.0.0.1:7860/" in report
    assert "- **Primary:** cpu-basic" in report


@pytest.mark.parametrize("value", HOSTILE)
def test_hostile_text_cannot_add_lines_rows_or_html_to_the_report(value: str) -> None:
    """Untrusted text stays on its own line, cannot split a table cell and cannot open an HTML tag (DESIGN §9)."""
    benign = _lines(_render("plain words"))
    report = _render(value)
    lines = _lines(report)
    assert len(lines) == len(benign), report
    assert "<" not in report
    for line, expected in zip(lines, benign, strict=True):
        # each line keeps the text before its first value, so nothing was injected into the structure
        assert line.startswith(expected.split("plain words")[0]), (line, expected)
        if line.startswith("|"):
            assert len(UNESCAPED_PIPE.findall(line)) == 5, line


def test_long_untrusted_text_is_cut() -> None:
    """A card cannot flood the report: each value is cut to a bounded length."""
    report = _render("x" * 5000)
    assert max(len(run) for run in re.findall("x+", report)) == 500


def test_a_report_without_gate_analysis_or_space_still_renders() -> None:
    """A run that failed early has only its state (DESIGN §5 `failed`)."""
    state = RunState(run_id=RUN_ID, model="m/m", owner="tester", status=RunStatus.FAILED, error="model not found")
    report = render_report(state, analysis=None, recommendation=None, target=None, gate=None)
    assert "- **Status:** failed (phase queued)" in report
    assert "- **Error:** model not found" in report
    assert "## Verdict" not in report and "## Space" not in report
