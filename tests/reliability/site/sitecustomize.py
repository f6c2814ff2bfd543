"""For the worker processes of the fault tests (tests/reliability): stop the worker (SIGSTOP) as it enters one
phase, so that the test kills it exactly there.

Active only in a process whose command line is `python -m space_factory worker …` and only when
`SPACE_FACTORY_TEST_FREEZE_PHASE` names a phase; this directory is on PYTHONPATH only in those tests. The
product has no such switch: what runs is the real worker, wrapped from the outside.
"""

import os

_PHASE = os.environ.get("SPACE_FACTORY_TEST_FREEZE_PHASE")


def _is_worker() -> bool:
    try:
        with open("/proc/self/cmdline", "rb") as f:
            argv = f.read().split(b"\0")
    except OSError:
        return False
    return argv[1:4] == [b"-m", b"space_factory", b"worker"]


if _PHASE and _is_worker():
    import signal

    from space_factory.record import RunRecord

    _mark_running = RunRecord.mark_running

    def _freezing_mark_running(self, phase, message, **data):  # type: ignore[no-untyped-def]
        _mark_running(self, phase, message, **data)
        if phase.value == _PHASE:
            os.kill(os.getpid(), signal.SIGSTOP)  # the state and the event of the phase are written: freeze here

    RunRecord.mark_running = _freezing_mark_running  # type: ignore[method-assign]
