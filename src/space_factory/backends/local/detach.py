"""`python -m space_factory.backends.local.detach PIDFILE LOGFILE -- CMD...`: fork, `setsid`, exec.

The first process exits as soon as the command has been exec'd (it never waits for it), so the
launcher can wait for the first process without leaving a zombie; the command is re-parented to
init and leads its own process group.
"""

from __future__ import annotations

import json
import os
import sys

from space_factory.backends.local.process import process_start_time


def main(argv: list[str]) -> int:
    if len(argv) < 4 or argv[2] != "--":
        sys.stderr.write("usage: detach PIDFILE LOGFILE -- CMD...\n")
        return 2
    pid_path, log_path, cmd = argv[0], argv[1], argv[3:]
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid:
        os.close(write_end)
        # EOF arrives when the child execs (the write end is close-on-exec) or dies.
        message = os.read(read_end, 4096)
        if message:
            sys.stderr.write(message.decode(errors="replace"))
            return 1
        return 0
    os.close(read_end)
    os.set_inheritable(write_end, False)
    try:
        os.setsid()
        # Stay a session leader: the command is this process after exec, with pid == pgid.
        me = os.getpid()
        with open(pid_path + ".tmp", "w") as f:
            json.dump({"pid": me, "start_time": process_start_time(me)}, f)
        os.replace(pid_path + ".tmp", pid_path)
        log_fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        null_fd = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null_fd, 0)
        os.dup2(log_fd, 1)
        os.dup2(log_fd, 2)
        os.execvp(cmd[0], cmd)
    except OSError as exc:
        os.write(write_end, f"exec failed: {exc}\n".encode())
        os._exit(127)
    return 0  # not reached


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
