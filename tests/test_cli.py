"""The `space-factory` command, run as `python -m space_factory` in subprocesses (DESIGN §8: `--json` puts only
JSON on stdout; STYLE R13). Each test has its own factory home; the rest of the environment is the session's."""

from __future__ import annotations

import argparse
import json
import os
import secrets
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from space_factory.cli import build_parser
from space_factory.domain import layout
from space_factory.domain.gate_status import GateStatus
from space_factory.domain.phases import Phase, RunStatus
from space_factory.domain.schemas import AttemptRecord, Blocker, Gate
from space_factory.record import RunRecord
from tests.support.processes import end_factory_processes
from tests.support.tokens import fake_token
from tests.tools.helpers import make_factory, write_run

MISSING = "nobody/not-in-the-cache"


@pytest.fixture
def env(tmp_path: Path) -> Iterator[dict[str, str]]:
    """The session's environment with the test's own factory home; its jobs and Spaces are ended afterwards."""
    home = tmp_path / "home"
    yield {**os.environ, "SPACE_FACTORY_HOME": str(home)}
    end_factory_processes(home)


def cli(env: dict[str, str], *args: str, stdin: str | None = None, timeout: float = 120) -> tuple[int, str, str]:
    done = subprocess.run([sys.executable, "-m", "space_factory", *args], env=env, input=stdin, capture_output=True,
                          text=True, timeout=timeout, check=False)
    return done.returncode, done.stdout, done.stderr


def cli_json(env: dict[str, str], *args: str) -> tuple[int, Any]:
    """Run with --json; stdout must be exactly one JSON document."""
    code, out, err = cli(env, *args, "--json")
    try:
        return code, json.loads(out)
    except json.JSONDecodeError:
        pytest.fail(f"stdout is not only JSON: {out!r} (stderr: {err[-500:]!r})")


def _subcommands() -> list[str]:
    parser = build_parser()
    [sub] = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return sorted(sub.choices)


def test_runs_json_prints_only_a_json_list(env: dict[str, str]) -> None:
    """`space-factory runs --json`: machine-readable output on stdout, nothing else (DESIGN §8)."""
    assert cli_json(env, "runs") == (0, [])


def test_build_json_prints_the_run_state_and_runs_lists_it(env: dict[str, str]) -> None:
    """`build --json` prints the run's state object with run_id (DESIGN §8); `runs` then lists it."""
    code, state = cli_json(env, "build", MISSING)
    assert code == 0
    assert state["model"] == MISSING and state["owner"] == "tester" and state["run_id"]
    assert set(state) >= {"run_id", "status", "phase", "model", "mode", "agent", "backend", "owner", "created_at",
                          "updated_at", "job", "space", "gate_status", "error"}
    code, runs = cli_json(env, "runs")
    assert code == 0 and [r["run_id"] for r in runs] == [state["run_id"]]
    code, view = cli_json(env, "status", state["run_id"])
    assert code == 0 and view["state"]["run_id"] == state["run_id"] and view["events"][0]["seq"] == 1


def test_build_wait_json_follows_a_failing_run_to_its_end_and_exits_one(env: dict[str, str]) -> None:
    """`build --wait --json`: the final state; a failed run exits 1 (DESIGN §8; cli exit codes)."""
    code, state = cli_json(env, "build", MISSING, "--wait", "--timeout", "90")
    assert code == 1
    assert state["status"] == "failed" and MISSING in state["error"]
    code, error = cli_json(env, "gate", state["run_id"])
    assert code == 1 and error["type"] == "FactoryError"
    code, page = cli_json(env, "trace", state["run_id"])
    assert code == 0 and page["kind"] == "worker" and page["cursor"] == 0 and page["text"]


def test_status_of_an_unknown_run_exits_one_with_a_typed_error(env: dict[str, str]) -> None:
    """Errors under --json are JSON too: {"error", "type"} (DESIGN §8; STYLE R6)."""
    code, error = cli_json(env, "status", "20261128-171233-nothing-here-abcdef")
    assert code == 1
    assert set(error) == {"error", "type"} and error["type"] == "RunNotFound"


@pytest.mark.parametrize(("args", "kind"), [(("build", "../x"), "InvalidModelId"),
                                            (("build", "https://huggingface.co/spaces/a/b"), "InvalidModelId"),
                                            (("status", "../x"), "InvalidRunId"),
                                            (("validate", "http://user:pw@127.0.0.1:9/"), "InvalidTarget")])
def test_bad_arguments_exit_one_with_the_error_type(env: dict[str, str], args: tuple[str, ...], kind: str) -> None:
    """Invalid ids and targets are refused before anything runs (DESIGN §9)."""
    code, error = cli_json(env, *args)
    assert code == 1 and error["type"] == kind
    assert cli_json(env, "runs") == (0, [])


def test_redact_removes_token_patterns_and_the_known_token_from_stdin(env: dict[str, str]) -> None:
    """`space-factory redact` (stdin → stdout) cleans tokens by pattern and the environment's token by value."""
    pattern_token = fake_token()
    known = "plain-" + secrets.token_hex(12)  # no token shape: only its exact value can catch it
    text = f"first {pattern_token} line\nsecond uses {known}\nthird is clean\n"
    code, out, _ = cli({**env, "HF_TOKEN": known}, "redact", stdin=text)
    assert code == 0
    assert pattern_token not in out and known not in out
    assert out.splitlines()[2] == "third is clean" and out.count("[REDACTED]") == 2


def test_redact_reads_a_file_argument(env: dict[str, str], tmp_path: Path) -> None:
    """`space-factory redact FILE` (DESIGN §8)."""
    token = fake_token()
    path = tmp_path / "log.txt"
    path.write_text(f"Authorization: Bearer {token}\n")
    code, out, _ = cli(env, "redact", str(path))
    assert code == 0 and token not in out and out.startswith("Authorization:")


def test_spaces_json_is_a_json_list(env: dict[str, str]) -> None:
    """`space-factory spaces --json` lists local Spaces (DESIGN §8)."""
    assert cli_json(env, "spaces") == (0, [])
    assert cli_json(env, "spaces", "stop", "--all") == (0, {"stopped": []})


def test_spaces_stop_without_a_target_is_a_typed_error(env: dict[str, str]) -> None:
    """`spaces stop` needs SPACE_ID or --all."""
    code, error = cli_json(env, "spaces", "stop")
    assert code == 1 and error["type"] == "FactoryError"


def test_every_subcommand_has_help(env: dict[str, str]) -> None:
    """Every command of DESIGN §8 exists and answers --help."""
    commands = _subcommands()
    assert set(commands) >= {"serve", "build", "status", "gate", "runs", "trace", "cancel", "analyze", "validate",
                             "redact", "spaces", "worker"}
    invocations = {name: [name, "--help"] for name in commands} | {"(top level)": ["--help"]}
    running = {name: subprocess.Popen([sys.executable, "-m", "space_factory", *args], env=env, text=True,
                                      stdout=subprocess.PIPE, stderr=subprocess.PIPE)
               for name, args in invocations.items()}
    for name, process in running.items():
        out, err = process.communicate(timeout=60)
        assert process.returncode == 0, (name, err)
        assert "usage: space-factory" in out, name
        if name in commands:
            assert "--json" in out and "--backend" in out, name


def test_error_messages_never_carry_a_secret_from_the_environment_or_the_arguments(env: dict[str, str]) -> None:
    """The CLI's error line goes through the redactor: a known secret value and any token shape are hidden."""
    token = fake_token()
    known = "s3cr3t-" + secrets.token_hex(12)
    for argument in (token, f"{token[:20]}\n{token[20:]}", known):
        code, out, err = cli({**env, "HF_TOKEN": token, "OPENAI_API_KEY": known}, "status", argument)
        assert code == 1 and ("invalid run id" in err or "run not found" in err)
        for secret in (token, known):
            for start in range(0, len(secret) - 12):
                assert secret[start:start + 12] not in out + err


@pytest.mark.parametrize(("args", "recorded"), [((), "auto"), (("--agent", "pi"), "pi"),
                                                (("--agent", "pi-deploy"), "pi-deploy"), (("--agent", "none"), "none")])
def test_build_agent_is_recorded_as_asked_and_json_keeps_its_shape(env: dict[str, str], args: tuple[str, ...],
                                                                   recorded: str) -> None:
    """`build --agent none|pi|pi-deploy|auto` (default auto, DESIGN §8): the state says what was asked."""
    code, state = cli_json(env, "build", MISSING, *args)
    assert code == 0 and state["agent"] == recorded and "attempts" not in state


def test_build_refuses_an_unknown_agent_as_a_usage_error(env: dict[str, str]) -> None:
    code, _, err = cli(env, "build", MISSING, "--agent", "claude")
    assert code == 2 and "--agent" in err
    assert cli_json(env, "runs") == (0, [])


def test_gate_shows_the_agents_attempts_and_blockers_and_trace_pages_every_attempt(env: dict[str, str]) -> None:
    """`gate` lists the coding agent's attempts and declared blockers; `trace --kind agent --all` prints every
    attempt's redacted trace in order, `--kind agent:attempt-N` one (issue 9)."""
    factory = make_factory(Path(env["SPACE_FACTORY_HOME"]))
    gate = Gate(status=GateStatus.TECHNICAL_BLOCKER, summary="the agent declared blockers",
                blockers=[Blocker(title="needs flash-attn 3", detail="FA3 only", source="agent")])
    run_id = write_run(factory, status=RunStatus.FINISHED, phase=Phase.DONE, gate=gate)
    record = RunRecord(factory.backend.bucket, run_id)
    record.write_state(record.state().model_copy(update={"agent": "pi"}))  # type: ignore[union-attr]
    start = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
    attempts = [AttemptRecord(n=n, mode=mode, started_at=start, ended_at=start + timedelta(seconds=61),
                              stop_reason="stop", gate_status=status, files_changed=["app.py"])
                for n, mode, status in ((1, "write", GateStatus.HEALTH_ONLY),
                                        (2, "repair", GateStatus.TECHNICAL_BLOCKER))]
    record.write_text(layout.AGENT_ATTEMPTS, "".join(a.model_dump_json() + "\n" for a in attempts))
    traces = {n: "".join(f'{{"attempt": {n}, "i": {i}}}\n' for i in range(40)) for n in (1, 2)}
    for n, text in traces.items():
        record.write_text(f"traces/redacted/attempt-{n}.jsonl", text)

    code, out, _ = cli(env, "gate", run_id)
    assert code == 3 and "technical_blocker" in out and "blocker (agent): needs flash-attn 3" in out
    assert "Attempts (agent pi): 2" in out and "#1 write" in out and "#2 repair" in out and "--kind agent" in out
    code, out, _ = cli(env, "trace", run_id, "--kind", "agent", "--all", "--max-bytes", "300")
    assert code == 0 and out == traces[1] + traces[2]
    code, page = cli_json(env, "trace", run_id, "--kind", "agent:attempt-2")
    assert code == 0 and page["text"] == traces[2] and page["available_kinds"][-3:] == [
        "agent", "agent:attempt-1", "agent:attempt-2"]
