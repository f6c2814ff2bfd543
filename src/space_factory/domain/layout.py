"""Where each part of a run record lives (DESIGN §4), as paths relative to the bucket root.

Paths are built only from a validated run id and fixed names, and `safe_child` refuses anything that
would climb out of its base, so no agent-supplied value can name a file outside the run directory.
"""

from __future__ import annotations

from pathlib import PurePosixPath

from space_factory.domain.errors import InvalidInput
from space_factory.domain.ids import validate_run_id

RUNS_PREFIX = "runs"

REQUEST = "request.json"
STATE = "state.json"
EVENTS = "events.jsonl"
ANALYSIS = "model_card_analysis.json"
RECOMMENDATION = "runtime_recommendation.json"
TARGET_SPACE = "target_space.json"
GENERATED = "generated"
APP_FILES = "app_files.json"  # the files of generated/, with the revision that last changed each
REVISION = "revision.json"  # a revision run only: the change it applies to its parent's app
HEALTH = "tests/health.json"
API_SCHEMA = "tests/api_schema.json"
TEST_RESULT = "tests/test_result.json"
GATE = "inference_gate.json"
BLOCKERS = "TECHNICAL_BLOCKERS.json"
HARDWARE_REQUESTS = "hardware_requests.jsonl"
LOGS = "logs"
WORKER_LOG = "logs/worker.log"
SPACE_BUILD_LOG = "logs/space_build.log"
SPACE_RUN_LOG = "logs/space_run.log"
PI_OUTPUT = "logs/pi_output.txt"
RAW_TRACES = "traces/raw"
REDACTED_TRACES = "traces/redacted"
REPORT = "report.md"
AGENT_PROMPT = "agent/prompt.md"
AGENT_ATTEMPTS = "agent/attempts.jsonl"
JOB_EXIT = "job_exit.json"  # written by the local job launcher when the worker process ends
TASK_HANDLES = "tasks"  # MCP task handles of the run: `tasks/<sha256 of the handle's secret>.json`

# What `fetch_trace_redacted` may serve, by kind. Raw traces are never in this table.
TRACE_KINDS: dict[str, str] = {
    "worker": WORKER_LOG,
    "space_build": SPACE_BUILD_LOG,
    "space_run": SPACE_RUN_LOG,
    "pi_output": PI_OUTPUT,
}


def safe_child(base: str, relative: str) -> str:
    """Join `relative` under `base` (both POSIX, relative to the bucket), refusing any escape.

    Raises:
        InvalidInput: `relative` is absolute, empty, or climbs out with `..`.
    """
    rel = PurePosixPath(relative)
    # Split the raw text: PurePosixPath drops empty segments ('a//b', 'a/'), so its parts never hold "".
    segments = relative.split("/")
    if not relative or rel.is_absolute() or any(part in ("..", "") for part in segments) or "\\" in relative:
        raise InvalidInput(f"path {relative[:200]!r} is not a plain relative path inside the run directory")
    return str(PurePosixPath(base) / rel)


def run_dir(run_id: str) -> str:
    """`runs/<run_id>`, for a validated run id."""
    return f"{RUNS_PREFIX}/{validate_run_id(run_id)}"


def task_handle(digest: str) -> str:
    """The record of one MCP task handle of a run, named by the SHA-256 hex digest of the handle's secret."""
    if len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
        raise InvalidInput("a task handle is named by a SHA-256 hex digest")
    return f"{TASK_HANDLES}/{digest}.json"


def run_path(run_id: str, relative: str) -> str:
    """A file of a run's record, e.g. `run_path(rid, STATE)` → `runs/<rid>/state.json`."""
    return safe_child(run_dir(run_id), relative)
