"""Running Pi where it cannot read the worker's secrets (DESIGN §9, issue 9 item 3).

A clean environment is not enough: run as the worker's user, Pi's bash reads the token from the worker's
`/proc/<pid>/environ` (`reference/pi-1.6.md` §9). `sandbox_for` picks the strongest isolation this machine
allows, checks what it blocks by running a probe inside it, and says plainly what stays readable:

- `user` (the worker is root: an HF job, CI): Pi runs as its own unprivileged user (`SANDBOX_UID`, no
  groups, no capabilities, `no_new_privs`), which cannot read a root process's environ. The hidden paths
  (the bucket, the factory's data dir) lose their group and other permissions where the worker owns them,
  and, where mount namespaces work, Pi also gets a private /proc (its own processes only) and an empty
  tmpfs over each hidden path.
- `userns` (not root, unprivileged user namespaces allowed): Pi stays the worker's user but in its own user,
  mount and pid namespaces: a fresh /proc without the worker in it, and an empty tmpfs over each hidden path,
  locked by a second user namespace so that Pi cannot unmount it. Every other file the user can read stays
  readable.
- `none`: nothing works; Pi can read whatever the worker's user can.

The paths Pi writes (workspace, session, agent dir, tmp) are given to `Sandbox.prepare`, which hands them to
the sandbox user and checks that the sandbox can reach them: every parent must be traversable by that user,
and none may lie under a hidden path.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal

import huggingface_hub.constants

from space_factory.domain.errors import AgentUnavailable

__all__ = ["SANDBOX_GID", "SANDBOX_UID", "Sandbox", "SandboxUnusable", "sandbox_for"]

How = Literal["user", "userns", "none"]
# `nobody`: it exists in every Debian-based image (python:3.12 included), so tools that look the user up
# (getpass, pip, torch's caches) work; the worker's files are root's, and the hidden ones are 0700.
SANDBOX_UID = 65534
SANDBOX_GID = 65534
_PROBE_TIMEOUT_S = 30.0
_HIDDEN_TMPFS = "size=16k,mode=0555,nosuid,nodev,noexec"

# Run as (namespace) root inside the new mount namespace: an empty tmpfs over each hidden directory, /dev/null
# over each hidden file, then exec the rest. `sh -c SCRIPT sf-sandbox MOUNT N PATH… CMD…`; 125 = it failed.
_HIDE_SCRIPT = (
    'm=$1; n=$2; shift 2; while [ "$n" -gt 0 ]; do '
    f'if [ -d "$1" ]; then "$m" -t tmpfs -o {_HIDDEN_TMPFS} sf-hidden "$1" || exit 125; '
    'else "$m" --bind /dev/null "$1" || exit 125; fi; n=$((n-1)); shift; done; exec "$@"'
)
# Prints each `KIND:PATH` argument the running user can reach: `r` a file it can read, `l` a directory whose
# listing is not empty (an empty tmpfs over it is), `e` a path that exists (a known child of a hidden directory).
_REACH_SCRIPT = (
    'for a; do k=${a%%:*}; p=${a#*:}; case $k in '
    'r) cat "$p" >/dev/null 2>&1 && printf "%s\\n" "$a";; '
    'l) [ -n "$(ls -A "$p" 2>/dev/null)" ] && printf "%s\\n" "$a";; '
    'e) { [ -e "$p" ] || [ -L "$p" ]; } && printf "%s\\n" "$a";; '
    'esac; done; exit 0'
)
# Prints each argument the running user cannot use as a working directory (enter and write).
_WRITABLE_SCRIPT = 'for p; do { [ -d "$p" ] && [ -x "$p" ] && [ -w "$p" ]; } || printf "%s\\n" "$p"; done; exit 0'


class SandboxUnusable(AgentUnavailable):
    """The sandbox cannot run Pi in a path it was given (unreachable by its user, or under a hidden path)."""


@dataclass(frozen=True)
class Sandbox:
    """How Pi is run: `wrap` its argv and pass `popen_kwargs()` to `subprocess.Popen`; `prepare` its dirs first.

    Attributes:
        how: `user` (its own uid), `userns` (namespaces, the same uid) or `none`.
        uid: the user Pi runs as when `how` is `user`, else None.
        gid: its group, likewise.
        still_readable: what Pi can still read that the worker would rather it did not, in plain words
            (for the event and the README); empty when the probe found nothing.
        hidden: the hidden paths that exist.
        prefix: what `wrap` puts before the command.
    """

    how: How
    uid: int | None
    gid: int | None
    still_readable: tuple[str, ...] = ()
    hidden: tuple[Path, ...] = ()
    prefix: tuple[str, ...] = field(default=(), repr=False)
    switch_in_popen: bool = field(default=False, repr=False)

    def wrap(self, cmd: Sequence[str]) -> list[str]:
        """`cmd` as the sandbox runs it (the same process group: `os.killpg` on the child reaches Pi)."""
        return [*self.prefix, *cmd]

    def popen_kwargs(self) -> dict[str, object]:
        """What `subprocess.Popen` needs besides the wrapped argv (the user switch, when no setpriv does it)."""
        if self.switch_in_popen:
            return {"user": self.uid, "group": self.gid, "extra_groups": []}
        return {}

    def prepare(self, paths_writable: Iterable[Path]) -> None:
        """Give the sandbox user the dirs Pi writes (recursively) and check it can enter and write each of them.

        Raises:
            SandboxUnusable: a path lies under a hidden path, or the sandbox user cannot reach it (a parent
                directory it cannot traverse).
        """
        paths = [Path(p) for p in paths_writable]
        for path in paths:
            under = next((h for h in self.hidden if _is_within(path, h)), None)
            if under is not None:
                raise SandboxUnusable(f"{path} lies under {under}, which is hidden from the agent",
                                      "Keep the agent's workspace and scratch dirs outside the hidden paths.")
        if self.how == "user" and self.uid is not None and self.gid is not None:
            for path in paths:
                _hand_over(path, self.uid, self.gid)
        blocked = _probe(self, _WRITABLE_SCRIPT, [str(p) for p in paths])
        if blocked:
            who = f"uid {self.uid}" if self.uid is not None else "the sandbox"
            raise SandboxUnusable(
                f"{who} cannot enter and write {', '.join(blocked)}",
                "Every parent directory must be traversable by that user (chmod o+x); put the agent's dirs under "
                "a directory made for them.")

    def describe(self) -> str:
        """One sentence on how Pi runs and what it can still read."""
        how = {"user": f"as its own unprivileged user (uid {self.uid})",
               "userns": "as the worker's user inside user, mount and pid namespaces",
               "none": "as the worker's user, without isolation"}[self.how]
        remains = "; ".join(self.still_readable) or "nothing of the worker's beyond public system files"
        return f"Pi runs {how}; still readable to it: {remains}"


def _is_within(path: Path, root: Path) -> bool:
    path, root = Path(os.path.abspath(path)), Path(os.path.abspath(root))
    return path == root or root in path.parents


def _hand_over(path: Path, uid: int, gid: int) -> None:
    """chown -R `path` to uid:gid (symlinks themselves, never their targets) and make its dirs u+rwx."""
    if not path.exists():
        return
    for folder, dirs, files in os.walk(path, followlinks=False):
        os.chown(folder, uid, gid, follow_symlinks=False)
        os.chmod(folder, stat.S_IMODE(os.lstat(folder).st_mode) | stat.S_IRWXU)
        for name in [*dirs, *files]:
            os.chown(os.path.join(folder, name), uid, gid, follow_symlinks=False)


def _probe(sandbox: Sandbox, script: str, args: list[str]) -> list[str]:
    """Run `script` with `args` inside the sandbox, as Pi would run; the lines it printed.

    Raises:
        SandboxUnusable: the sandbox itself did not start.
    """
    shell = shutil.which("sh") or "/bin/sh"
    try:
        done = subprocess.run(sandbox.wrap([shell, "-c", script, "sf-probe", *args]), capture_output=True,
                              timeout=_PROBE_TIMEOUT_S, check=False, stdin=subprocess.DEVNULL, cwd="/",
                              env={"PATH": os.defpath}, **sandbox.popen_kwargs())  # type: ignore[call-overload]
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise SandboxUnusable(f"the {sandbox.how} sandbox did not start ({type(exc).__name__})",
                              "Report this; --agent none builds without the agent.") from exc
    if done.returncode != 0:
        raise SandboxUnusable(f"the {sandbox.how} sandbox did not start (exit {done.returncode})",
                              "Report this; --agent none builds without the agent.")
    return [line for line in done.stdout.decode(errors="replace").splitlines() if line]


def _default_hidden() -> list[Path]:
    """Where a machine keeps credentials the agent has no business reading, whoever the worker is."""
    home = Path.home()
    return [Path(huggingface_hub.constants.HF_TOKEN_PATH), Path(huggingface_hub.constants.HF_STORED_TOKENS_PATH),
            home / ".netrc", home / ".git-credentials", home / ".ssh", home / ".aws", home / ".docker",
            home / ".config" / "gh", home / ".config" / "gcloud", home / ".npmrc", home / ".pypirc"]


def _existing(paths: Iterable[Path]) -> tuple[Path, ...]:
    """The paths that exist, absolute, deduplicated, a path under another one dropped (the outer one hides it)."""
    found = sorted({Path(os.path.abspath(p)) for p in paths if os.path.lexists(p)}, key=lambda p: len(p.parts))
    kept: list[Path] = []
    for path in found:
        if not any(_is_within(path, outer) for outer in kept):
            kept.append(path)
    return tuple(kept)


def _close_permissions(paths: Iterable[Path]) -> None:
    """Drop group and other permissions from the paths the worker owns (the roots only: inside, nothing is reached)."""
    for path in paths:
        try:
            info = os.lstat(path)
            if info.st_uid == os.geteuid() and not stat.S_ISLNK(info.st_mode) and info.st_mode & 0o077:
                os.chmod(path, stat.S_IMODE(info.st_mode) & ~0o077)
        except OSError:
            continue  # a mount that refuses chmod: the probe says whether it stays readable


def _hide_prefix(mount: str, hidden: tuple[Path, ...]) -> list[str]:
    shell = shutil.which("sh") or "/bin/sh"
    return [shell, "-c", _HIDE_SCRIPT, "sf-sandbox", mount, str(len(hidden)), *map(str, hidden)]


def _candidates(hidden: tuple[Path, ...], uid: int, gid: int) -> list[Sandbox]:
    """The sandboxes to try, strongest first, for this worker's privileges and tools."""
    unshare, setpriv, mount = shutil.which("unshare"), shutil.which("setpriv"), shutil.which("mount")
    found: list[Sandbox] = []
    if os.geteuid() == 0:
        drops = [[setpriv, f"--reuid={uid}", f"--regid={gid}", "--clear-groups", "--no-new-privs", "--inh-caps=-all",
                  "--bounding-set=-all", "--"],
                 [setpriv, f"--reuid={uid}", f"--regid={gid}", "--clear-groups", "--no-new-privs", "--"]] \
            if setpriv else []
        if unshare and mount:
            namespaces = [unshare, "--mount", "--pid", "--fork", "--kill-child", "--mount-proc", "--",
                          *_hide_prefix(mount, hidden)]
            found += [Sandbox("user", uid, gid, hidden=hidden, prefix=(*namespaces, *drop)) for drop in drops]
        found += [Sandbox("user", uid, gid, hidden=hidden, prefix=tuple(drop)) for drop in drops]
        found.append(Sandbox("user", uid, gid, hidden=hidden, switch_in_popen=True))
    elif unshare and mount:
        # The second user namespace locks the tmpfs mounts: Pi, root in it, cannot unmount them to look beneath.
        inner = [unshare, "--user", "--mount", "--map-current-user", "--"]
        no_new_privs = [setpriv, "--no-new-privs", "--"] if setpriv else []
        outer = [unshare, "--user", "--map-root-user", "--mount", "--pid", "--fork", "--kill-child", "--mount-proc",
                 "--", *_hide_prefix(mount, hidden)]
        found.append(Sandbox("userns", None, None, hidden=hidden, prefix=(*outer, *inner, *no_new_privs)))
    found.append(Sandbox("none", None, None, hidden=hidden))
    return found


def _works(sandbox: Sandbox) -> bool:
    try:
        _probe(sandbox, "exit 0", [])
    except SandboxUnusable:
        return False
    return True


def _reach_checks(path: Path) -> list[str]:
    """The probe arguments that tell whether `path`'s content is visible (`_REACH_SCRIPT`)."""
    if not path.is_dir() or path.is_symlink():
        return [f"r:{path}"]
    try:
        child = next(iter(sorted(os.listdir(path))), None)
    except OSError:
        child = None
    return [f"l:{path}"] + ([f"e:{path / child}"] if child is not None else [])


def _still_readable(sandbox: Sandbox, hidden: tuple[Path, ...]) -> tuple[str, ...]:
    """What the probe, run inside the sandbox, could still read: of the hidden paths, and of this process."""
    environ = f"r:/proc/{os.getpid()}/environ"
    checks = {path: _reach_checks(path) for path in hidden}
    reached = set(_probe(sandbox, _REACH_SCRIPT, [environ, *(c for cs in checks.values() for c in cs)]))
    remains = []
    if environ in reached:
        remains.append(f"the worker's environment ({environ[2:]})")
    remains += [str(path) for path, cs in checks.items() if reached.intersection(cs)]
    if sandbox.how == "userns":
        remains.append("every other file the worker's user can read (its home directory apart from the hidden paths)")
    elif sandbox.how == "none":
        remains.append("every file the worker's user can read")
    return tuple(remains)


def sandbox_for(*, hidden: Sequence[Path], uid: int = SANDBOX_UID, gid: int = SANDBOX_GID) -> Sandbox:
    """The strongest sandbox that works here, with what it leaves readable found by a probe run inside it.

    Args:
        hidden: what Pi must not read: the bucket (the run record), the factory's data dir. Credential files
            (the Hub token file, ~/.netrc, ~/.ssh, ~/.aws, …) are hidden too. As root, the worker's own
            hidden paths lose their group and other permissions.
        uid: the sandbox user's uid, when the worker is root.
        gid: its gid.

    Example:
        >>> sandbox = sandbox_for(hidden=[])
        >>> sandbox.how in ("user", "userns", "none"), isinstance(sandbox.still_readable, tuple)
        (True, True)
    """
    asked = _existing(hidden)
    every = _existing([*asked, *_default_hidden()])
    if os.geteuid() == 0:
        _close_permissions(asked)
    chosen = next(s for s in _candidates(every, uid, gid) if s.how == "none" or _works(s))
    return replace(chosen, still_readable=_still_readable(chosen, every))
