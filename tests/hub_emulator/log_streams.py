"""A running job's log as the Hub streams it (`HubRules.stream_job_logs`): the lines so far, then each new one as
it is written, the stream held open (a keep-alive comment every 30 s) until the job ends.

huggingface_hub's `fetch_job_logs(follow=False)` stops reading after a 5 s pause (`_stream_sse_events`), so a
caller that does not follow gets what is there without waiting for the job; one that waits for the stream's end
waits for the job.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from pathlib import Path

from fastapi.responses import StreamingResponse

from space_factory.domain.stages import TERMINAL_JOB_STAGES
from tests.hub_emulator.jobs import EmulatedJob

KEEP_ALIVE_SECONDS = 30.0
_POLL_SECONDS = 0.2
_STAMP = "2026-01-01T00:00:00.000Z"  # in the past, like `answers.event_stream`: the client drops later stamps


def _event(line: str) -> bytes:
    return f"data: {json.dumps({'data': line, 'timestamp': _STAMP})}\n\n".encode()


def live_job_log(job: EmulatedJob, log: Path) -> StreamingResponse:
    async def stream() -> AsyncIterator[bytes]:
        sent = 0
        alive_at = time.monotonic()
        while True:
            ended = job.stage in TERMINAL_JOB_STAGES
            text = log.read_text(errors="replace") if log.exists() else ""
            complete = text if ended else text[: text.rfind("\n") + 1]  # a line still being written waits
            for line in complete[sent:].splitlines():
                yield _event(line)
            sent = len(complete)
            if ended:
                return
            if time.monotonic() - alive_at >= KEEP_ALIVE_SECONDS:
                alive_at = time.monotonic()
                yield b": keep-alive\n\n"
            await asyncio.sleep(_POLL_SECONDS)

    return StreamingResponse(stream(), media_type="text/event-stream")
