"""`python -m space_factory.backends.local.job_process JOB_DIR`: the local job itself.

It runs the worker command from `command.json` as a child in its own process group, waits, and
records how the worker ended in `exit.json` — including a `kill -9`, which the worker cannot record.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from types import FrameType


def main(job_dir: str) -> int:
    folder = Path(job_dir)
    cmd = json.loads((folder / "command.json").read_text())
    child = subprocess.Popen(cmd, stdin=subprocess.DEVNULL)

    def forward(signum: int, _frame: FrameType | None) -> None:
        # cancel signals the whole group; forwarding covers a signal sent to this process alone.
        if child.poll() is None:
            child.send_signal(signum)

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    code = child.wait()
    tmp = folder / "exit.json.tmp"
    tmp.write_text(json.dumps({"code": code, "pid": child.pid}))
    os.replace(tmp, folder / "exit.json")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
