"""The `space-factory` command (DESIGN §8). `--json` puts only JSON on stdout; everything else goes to stderr."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, get_args

from pydantic import BaseModel

from space_factory.config import Settings
from space_factory.domain.errors import FactoryError
from space_factory.domain.gate_status import GateStatus
from space_factory.domain.hardware import HardwareFlavor, flavor_spec
from space_factory.domain.phases import Phase, RunStatus, phase_step
from space_factory.domain.redaction import Redactor
from space_factory.domain.schemas import AgentName, BuildOptions, RunState
from space_factory.domain.secret_env import secret_values
from space_factory.service import DEFAULT_TRACE_PAGE, Factory

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_NOT_PASSED = 0, 1, 2, 3


def _emit_json(value: Any) -> None:
    if isinstance(value, BaseModel):
        value = value.model_dump(mode="json")
    elif isinstance(value, list):
        value = [v.model_dump(mode="json") if isinstance(v, BaseModel) else v for v in value]
    sys.stdout.write(json.dumps(value, indent=2, default=str) + "\n")


def _console() -> Any:
    from rich.console import Console

    return Console(stderr=False, highlight=False, soft_wrap=True)


def make_factory(args: argparse.Namespace) -> Factory:
    """The local user's factory: the same composition root as the MCP server's, asked with no subject.

    Raises:
        FactoryError: the backend is not available (hf: no token, or the Hub refused it).
    """
    from space_factory.server.provider import provider_for

    settings = Settings(backend=args.backend) if args.backend else Settings()
    return provider_for(settings)(None)


# -- following a run ---------------------------------------------------------------------------


def follow(factory: Factory, run_id: str, *, json_mode: bool, timeout: float | None = None) -> RunState:
    """Follow a run (`Factory.follow`) until it is terminal or `timeout` has passed, showing its phases live on a
    terminal (or as lines elsewhere)."""
    console = None if json_mode else _console()
    live_ok = console is not None and sys.stdout.isatty()
    progress = task = None
    if live_ok:
        from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

        progress = Progress(SpinnerColumn(), TextColumn("[bold]{task.fields[phase]:<20}"), BarColumn(),
                            TextColumn("{task.description}"), TimeElapsedColumn(), console=console, transient=False)
        progress.start()
        task = progress.add_task("queued", total=phase_step(Phase.DONE)[1], phase="queued")
    try:
        for view, wait in factory.follow(run_id, timeout=timeout):
            for event in view.events:
                if progress is not None and task is not None:
                    step, _ = phase_step(event.phase)
                    progress.update(task, completed=step, description=event.message[:90], phase=event.phase.value)
                elif console is not None:
                    console.print(f"[dim]{event.ts:%H:%M:%S}[/dim] {event.phase.value:<20} {event.message}",
                                  markup=True)
            if wait is None:
                if view.terminal and progress is not None and task is not None:
                    progress.update(task, completed=phase_step(Phase.DONE)[1])
                return view.state
            time.sleep(wait)
    finally:
        if progress is not None:
            progress.stop()
    raise AssertionError("Factory.follow ended without its last view")  # it always yields one with wait None


def _print_gate(factory: Factory, state: RunState) -> int:
    console = _console()
    if state.status is RunStatus.FAILED:
        console.print(f"[bold red]failed[/bold red]: {state.error}")
        return EXIT_FAILED
    gate = factory.gate(state.run_id)
    color = "green" if gate.status is GateStatus.FULL_INFERENCE_PASSED else "yellow"
    console.print(f"[bold {color}]{gate.status.value}[/bold {color}] — {gate.summary}")
    for check in gate.checks:
        console.print(f"  {check.name:<13} {check.status.value:<8} {check.detail}")
    for blocker in gate.blockers:
        console.print(f"  blocker ({blocker.source}): {blocker.title}" + (f" — {blocker.detail}" if blocker.detail
                                                                           else ""), markup=False)
    _print_attempts(factory, state)
    if gate.how_to_call and gate.how_to_call.python:
        console.print("\n[bold]Call it:[/bold]")
        console.print(gate.how_to_call.python, markup=False)
    if gate.how_to_call and gate.how_to_call.mcp:
        mcp = gate.how_to_call.mcp
        console.print("\n[bold]As an MCP tool:[/bold]", end=" ")
        console.print(f"{mcp.tool} at {mcp.url}", markup=False, highlight=False)
        console.print(mcp.clients.claude_code, markup=False)
    console.print(f"\nrun: {state.run_id}   space: {state.space.id or '—'}   url: {state.space.url or '—'}")
    return EXIT_OK if gate.status is GateStatus.FULL_INFERENCE_PASSED else EXIT_NOT_PASSED


def _print_attempts(factory: Factory, state: RunState) -> None:
    """The gated attempts, one line each, when the coding agent made one (`space-factory trace RUN_ID --kind agent`)."""
    attempts = factory.attempts(state.run_id) if state.agent != "none" else []
    if all(a.mode == "template" for a in attempts):
        return
    console = _console()
    console.print(f"\n[bold]Attempts[/bold] (agent {state.agent}): {len(attempts)}")
    for a in attempts:
        seconds = (a.ended_at - a.started_at).total_seconds()
        how = "timed out" if a.timed_out else (a.error or a.stop_reason or "—")
        console.print(f"  #{a.n} {a.mode:<7} {seconds:6.0f} s  gate {a.gate_status or '—'}  {len(a.files_changed)} "
                      f"file(s) changed  {how}", markup=False)
    console.print(f"  traces: space-factory trace {state.run_id} --kind agent", markup=False)


def _exit_for(state: RunState) -> int:
    if state.status is RunStatus.FAILED:
        return EXIT_FAILED
    if state.status is RunStatus.FINISHED and state.gate_status is GateStatus.FULL_INFERENCE_PASSED:
        return EXIT_OK
    return EXIT_NOT_PASSED if state.status in (RunStatus.FINISHED, RunStatus.CANCELED) else EXIT_OK


# -- commands ----------------------------------------------------------------------------------


def _launched(factory: Factory, state: RunState, args: argparse.Namespace) -> int:
    """After a build or a revision started: print its state (`--json`), or follow it to its gate (`--wait`)."""
    if not args.wait:
        if args.json:
            _emit_json(state)
        return EXIT_FAILED if state.status is RunStatus.FAILED else EXIT_OK
    state = follow(factory, state.run_id, json_mode=args.json, timeout=args.timeout)
    if args.json:
        _emit_json(state)
        return _exit_for(state)
    return _print_gate(factory, state)


def cmd_build(args: argparse.Namespace) -> int:
    factory = make_factory(args)
    options = BuildOptions(task=args.task, hardware=args.hardware, allow_paid_fallback=args.allow_paid_fallback,
                           space_name=args.space_name, idempotency_key=args.idempotency_key)
    state = factory.launch(args.model, options=options, agent=args.agent)
    if not args.json:
        _console().print(f"run [bold]{state.run_id}[/bold] launched for {state.model}")
    return _launched(factory, state, args)


def cmd_validate(args: argparse.Namespace) -> int:
    factory = make_factory(args)
    state = factory.validate(args.target, task=args.task)
    state = follow(factory, state.run_id, json_mode=args.json, timeout=args.timeout)
    if args.json:
        try:
            _emit_json(factory.gate(state.run_id))
        except FactoryError:
            _emit_json(state)
        return _exit_for(state)
    return _print_gate(factory, state)


def cmd_status(args: argparse.Namespace) -> int:
    view = make_factory(args).run_status(args.run_id, args.since)
    if args.json:
        _emit_json(view)
        return EXIT_OK
    console, s = _console(), view.state
    console.print(f"{s.run_id}  {s.status.value}  phase={s.phase.value}  gate={s.gate_status or '—'}")
    console.print(f"model {s.model}  space {s.space.id or '—'} ({s.space.stage or '—'})  {s.space.url or ''}")
    if s.error:
        console.print(f"[red]error:[/red] {s.error}")
    for event in view.events[-20:]:
        console.print(f"  #{event.seq:<3} {event.ts:%H:%M:%S} {event.phase.value:<20} {event.message}", markup=False)
    return EXIT_OK


def cmd_gate(args: argparse.Namespace) -> int:
    factory = make_factory(args)
    if args.json:
        _emit_json(factory.gate(args.run_id))
        return EXIT_OK
    return _print_gate(factory, factory.state(args.run_id))


def cmd_runs(args: argparse.Namespace) -> int:
    page = make_factory(args).runs_page(limit=args.limit, cursor=args.cursor)
    runs = page.runs
    if args.json:
        _emit_json(runs)
    else:
        console = _console()
        if not runs:
            console.print("no older runs" if args.cursor else "no runs yet: space-factory build MODEL")
        for s in runs:
            revision = f"  (revision {s.revision} of {s.parent_run_id})" if s.parent_run_id else ""
            console.print(f"{s.run_id:<45} {s.status.value:<9} {(s.gate_status or '—'):<40} {s.model}{revision}",
                          markup=False)
    if page.next_cursor:  # on stderr, so that stdout (the table, or --json's list) is the same with or without it
        sys.stderr.write(f"older runs: space-factory runs --limit {args.limit} --cursor {page.next_cursor}\n")
    return EXIT_OK


def cmd_trace(args: argparse.Namespace) -> int:
    factory = make_factory(args)
    cursor = args.cursor
    pages = []
    while True:
        page = factory.trace(args.run_id, args.kind, cursor, args.max_bytes)
        pages.append(page)
        if not args.json:
            sys.stdout.write(page.text)
        if page.next_cursor is None or not args.all:
            break
        cursor = page.next_cursor
    if args.json:
        _emit_json(pages if args.all else pages[0])
    return EXIT_OK


def cmd_cancel(args: argparse.Namespace) -> int:
    state = make_factory(args).cancel(args.run_id)
    if args.json:
        _emit_json(state)
    else:
        _console().print(f"{state.run_id}: {state.status.value}")
    return EXIT_OK


def cmd_analyze(args: argparse.Namespace) -> int:
    view = make_factory(args).analyze(args.model, task=args.task, allow_paid_fallback=args.allow_paid_fallback)
    if args.json:
        _emit_json(view)
        return EXIT_OK
    a, r = view.analysis, view.recommendation
    console = _console()
    console.print(f"[bold]{a.model}[/bold]: task {a.task or 'unknown'} ({a.task_source}), library {a.library}, "
                  f"params {a.params}, dtype {a.dtype}, ~{a.estimated_memory_gb} GB, license {a.license}")
    console.print(f"template: {'yes' if a.has_template else 'no'}  gated: {a.gated}  custom code: {a.custom_code}")
    for w in a.warnings:
        console.print(f"  [yellow]warning:[/yellow] {w}", markup=True)
    console.print(f"hardware: primary {r.primary}, fallback {r.fallback or '—'}")
    for reason in r.reasons:
        console.print(f"  - {reason}", markup=False)
    return EXIT_OK


def cmd_redact(args: argparse.Namespace) -> int:
    source = Path(args.file).read_text(errors="replace") if args.file and args.file != "-" else sys.stdin.read()
    sys.stdout.write(Redactor(secret_values(os.environ)).redact_text(source))
    return EXIT_OK


def cmd_spaces(args: argparse.Namespace) -> int:
    factory = make_factory(args)
    host = factory.backend.spaces
    if not hasattr(host, "list_spaces"):
        raise FactoryError("space-factory spaces manages local Spaces only; see your Hub Spaces at "
                           "https://huggingface.co/spaces")
    if args.action == "stop":
        if not args.all and not args.space_id:
            raise FactoryError("say which Space to stop: space-factory spaces stop SPACE_ID, or --all")
        targets = [str(s["id"]) for s in host.list_spaces()] if args.all else [args.space_id]
        stopped = [sid for sid in targets if host.stop(sid)]
        if args.json:
            _emit_json({"stopped": stopped})
        else:
            _console().print(f"stopped {len(stopped)} Space(s): {', '.join(stopped) or '—'}")
        return EXIT_OK
    spaces = host.list_spaces()
    if args.json:
        _emit_json(spaces)
        return EXIT_OK
    console = _console()
    if not spaces:
        console.print("no local Spaces")
    for s in spaces:
        console.print(f"{s['id']!s:<50} {s['stage']!s:<14} {s['url'] or '—'}  run {s['run_id'] or '—'}", markup=False)
    return EXIT_OK


def cmd_files(args: argparse.Namespace) -> int:
    view = make_factory(args).app_files(args.run_id, args.path)
    if args.json:
        _emit_json(view)
    elif view.file is not None:
        sys.stdout.write(view.file.text)
    else:
        console = _console()
        parent = f" of run {view.parent_run_id}" if view.parent_run_id else ""
        console.print(f"{view.run_id}: revision {view.revision}{parent}, space {view.space_id or '—'}, "
                      f"{len(view.files)} file(s), {view.total_bytes} bytes", markup=False)
        for f in view.files:
            console.print(f"  {f.path:<40} {f.bytes:>9}  r{f.revision:<3} {f.sha256[:12]}", markup=False)
    return EXIT_OK


def _local_text(path: Path) -> str:
    """A local file for a revision, as text: a revision carries UTF-8 text files only."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise FactoryError(f"cannot read {path}: {exc.strerror or exc}; nothing was changed") from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise FactoryError(f"{path} is not UTF-8 text: a revision carries text files only; nothing was changed") \
            from None


def _revision_files(args: argparse.Namespace) -> dict[str, str]:
    """`--file PATH=LOCAL_FILE` (which win) and every file under `--from-dir` (but .git/ and __pycache__/)."""
    files: dict[str, str] = {}
    for spec in args.file or []:
        path, sep, local = spec.partition("=")
        if not sep or not path or not local:
            raise FactoryError(f"--file takes PATH=LOCAL_FILE (e.g. app.py=./fixed_app.py), not {spec[:100]!r}")
        files[path] = _local_text(Path(local))
    if args.from_dir:
        root = Path(args.from_dir)
        if not root.is_dir():
            raise FactoryError(f"--from-dir {root} is not a directory; nothing was changed")
        for found in sorted(root.rglob("*")):
            rel = found.relative_to(root)
            if found.is_file() and not {".git", "__pycache__"} & set(rel.parts):
                files.setdefault(rel.as_posix(), _local_text(found))
    return files


def cmd_revise(args: argparse.Namespace) -> int:
    files = _revision_files(args)
    factory = make_factory(args)
    state = factory.revise(args.run_id, files, args.remove or [], args.note)
    if not args.json:
        _console().print(f"run [bold]{state.run_id}[/bold]: revision {state.revision} of {args.run_id} launched")
    return _launched(factory, state, args)


def cmd_worker(args: argparse.Namespace) -> int:
    from space_factory.worker.main import run_worker

    return run_worker(args.run_id, Path(args.bucket_dir))


def cmd_serve(args: argparse.Namespace) -> int:
    from space_factory.server.run import serve

    return serve(args)


# -- parser ------------------------------------------------------------------------------------


def _flavor(value: str) -> HardwareFlavor:
    """`--hardware`: a Space flavor name (case and surrounding spaces ignored), parsed here, at the edge."""
    spec = flavor_spec(value)
    if spec is None:
        raise argparse.ArgumentTypeError(
            f"{value[:60]!r} is not a Space flavor; known: {', '.join(f.value for f in HardwareFlavor)}")
    return spec.flavor


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--backend", choices=["local", "hf"], default=None,
                        help="where runs execute (default: $SPACE_FACTORY_BACKEND or local)")
    common.add_argument("--json", action="store_true", help="print machine-readable JSON on stdout, nothing else")
    common.add_argument("-v", "--verbose", action="store_true", help="log progress details to stderr")

    parser = argparse.ArgumentParser(prog="space-factory", description=(
        "Turn a Hugging Face model into a private, running, verified Gradio Space, and prove whether real "
        "inference works."))
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(name: str, func: Callable[[argparse.Namespace], int], help_text: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, parents=[common], help=help_text, description=help_text)
        p.set_defaults(func=func)
        return p

    p = add("build", cmd_build, "build a private Space for a model and gate it")
    p.add_argument("model", help="model id (owner/name) or https://huggingface.co/owner/name")
    p.add_argument("--wait", action="store_true", help="follow the run to its gate")
    p.add_argument("--timeout", type=float, default=None, help="with --wait: stop following after this many seconds")
    p.add_argument("--task", help="override the task read from the model card")
    p.add_argument("--hardware", type=_flavor, help="Space hardware flavor (default: the recommendation)")
    p.add_argument("--allow-paid-fallback", action="store_true", help="allow a paid fixed-GPU fallback")
    p.add_argument("--space-name", help="name of the new Space (never an existing one)")
    p.add_argument("--idempotency-key", help="the same key returns the same run instead of a second build")
    p.add_argument("--agent", choices=list(get_args(AgentName)), default="auto", help=(
        "who writes the app: auto (default: the template when one fits, the Pi coding agent when none fits, the "
        "card needs custom code or the template's gate failed), pi (always Pi), pi-deploy (Pi also pushes the "
        "app itself), none (the template only)"))

    p = add("validate", cmd_validate, "gate a running Gradio app: a URL, or a Space id")
    p.add_argument("target", help="app URL (http://127.0.0.1:7860/) or Space id (owner/name)")
    p.add_argument("--task", help="the task the app serves (chooses the input and the output check)")
    p.add_argument("--timeout", type=float, default=None, help="stop following after this many seconds")

    p = add("status", cmd_status, "a run's state and events")
    p.add_argument("run_id")
    p.add_argument("--since", type=int, default=0, help="only events after this seq")
    p = add("gate", cmd_gate, "a run's full-inference gate")
    p.add_argument("run_id")
    p = add("runs", cmd_runs, "your runs, newest first")
    p.add_argument("--limit", type=int, default=50)
    p.add_argument("--cursor", default=None, help="continue after the page that printed this cursor")
    p = add("trace", cmd_trace, "a run's redacted logs and traces")
    p.add_argument("run_id")
    p.add_argument("--kind", default="worker", help=(
        "worker, space_build, space_run, pi_output, agent (every coding-agent attempt, in order) or agent:attempt-N"))
    p.add_argument("--cursor", type=int, default=0)
    p.add_argument("--max-bytes", type=int, default=DEFAULT_TRACE_PAGE)
    p.add_argument("--all", action="store_true", help="print every page")
    p = add("cancel", cmd_cancel, "stop a run; it ends canceled")
    p.add_argument("run_id")
    p = add("analyze", cmd_analyze, "model-card analysis and hardware recommendation, no build")
    p.add_argument("model")
    p.add_argument("--task")
    p.add_argument("--allow-paid-fallback", action="store_true")
    p = add("redact", cmd_redact, "redact secrets from a file or stdin to stdout")
    p.add_argument("file", nargs="?", default="-")
    p = add("spaces", cmd_spaces, "local Spaces: list, or stop SPACE_ID | --all")
    p.add_argument("action", nargs="?", choices=["list", "stop"], default="list")
    p.add_argument("space_id", nargs="?")
    p.add_argument("--all", action="store_true", help="with stop: every local Space")
    p = add("files", cmd_files, "the app a run deployed: its files, or one file's text")
    p.add_argument("run_id")
    p.add_argument("path", nargs="?", default=None, help="a file of the app (e.g. app.py): print its text")
    p = add("revise", cmd_revise, "a new revision of a run's app on the same Space, rebuilt and gated")
    p.add_argument("run_id")
    p.add_argument("--file", action="append", metavar="PATH=LOCAL_FILE",
                   help="write the app's PATH with the content of LOCAL_FILE (repeatable)")
    p.add_argument("--from-dir", metavar="DIR", help="write every file under DIR (but .git/, __pycache__/)")
    p.add_argument("--remove", action="append", metavar="PATH", help="delete PATH from the app (repeatable)")
    p.add_argument("--note", help="what the revision does: the commit message")
    p.add_argument("--wait", action="store_true", help="follow the revision to its gate")
    p.add_argument("--timeout", type=float, default=None, help="with --wait: stop following after this many seconds")
    p = add("worker", cmd_worker, "run a job's worker (what a job executes)")
    p.add_argument("run_id")
    p.add_argument("--bucket-dir", required=True, help="the bucket root holding runs/<run_id>/")
    p = add("serve", cmd_serve, "run the MCP server")
    p.add_argument("--transport", choices=["stdio", "http"], default="stdio")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, stream=sys.stderr,
                        format="%(levelname)s %(name)s: %(message)s")
    for noisy in ("httpx", "httpcore", "huggingface_hub"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    try:
        return int(args.func(args))
    except FactoryError as exc:
        # The same last net as the server's: no secret (a known value from the environment, or any token
        # shape) leaves in an error message, whatever the message was built from.
        text = Redactor(secret_values(os.environ)).redact_text(str(exc))
        if args.json:
            _emit_json({"error": text, "type": type(exc).__name__})
        else:
            sys.stderr.write(f"error: {text}\n")
        return EXIT_FAILED
    except KeyboardInterrupt:
        return 130
