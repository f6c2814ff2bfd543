"""What redaction costs on a trace page, as a ratio to a plain `str.replace` pass over the same text (issue 8).

A 256 KiB build/worker log is made here (seeded): pip output, Gradio and uvicorn lines, tracebacks,
tokenizer settings, JSONL agent-trace lines with escapes, ANSI colours, percent-encoded URLs, a base64
image and a few fake secrets. Measured in CPU time, best of `--runs` (the machines are shared: the best
run is the one least disturbed), implementations interleaved run by run:

- `str.replace`: one known value replaced, the floor any redaction pays (one C scan of the text);
- `redact_text` with one known secret (the worker's log handler), and without (the server);
- `redact_checked` (what `fetch_trace_redacted` does to every page: redact, then re-scan);
- `redact_jsonl` on a JSONL trace of the same size.

    .venv/bin/python bench/redaction_bench.py [--runs 15] [--kib 256] [--compare OLD_REDACTION.py]

`--compare` loads another implementation of `space_factory.domain.redaction` from one file and times
it beside the current one: e.g. the single-module redactor before issue 8, saved with
`git show <commit>:src/space_factory/domain/redaction.py > /tmp/old_redaction.py`. Prints a table and
writes bench/results/redaction_bench.json.
"""

from __future__ import annotations

import argparse
import base64
import importlib.util
import json
import random
import string
import sys
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

from space_factory.domain import redaction

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results" / "redaction_bench.json"
_ALNUM = string.ascii_letters + string.digits


def _fake(rng: random.Random, prefix: str, n: int) -> str:
    """A fake credential made at run time (no token-shaped literal in the source)."""
    return prefix + "".join(rng.choices(_ALNUM, k=n - 1)) + "7"


def make_log(kib: int, seed: int = 8) -> tuple[str, str, str]:
    """(free-text log, JSONL trace, the known secret): realistic lines up to `kib` KiB each."""
    rng = random.Random(seed)
    known = _fake(rng, "known-", 24)
    image = base64.b64encode(rng.randbytes(6_000)).decode()
    gradio = "* Running on local URL:  http://0.0.0.0:7860, with SSR \u26a1 (to disable set `ssr_mode=False`)"
    lines: list[Callable[[int], str]] = [
        lambda i: f"Collecting package-{i}==1.{i % 30}.0 (from -r requirements.txt (line {i % 40}))",
        lambda i: f"  Downloading package_{i}-1.0-py3-none-any.whl ({i % 900} kB)",
        lambda i: "Requirement already satisfied: tokenizers>=0.21 in /usr/local/lib/python3.11/site-packages",
        lambda i: f'INFO:     127.0.0.1:{40000 + i} - "GET /gradio_api/queue/data?session_hash=abc{i}&fn=0" 200',
        lambda i: f'INFO:     10.0.0.{i % 250}:5000 - "POST /run/predict?q=hello%20world%21&n={i} HTTP/1.1" 200 OK',
        lambda i: gradio,
        lambda i: f'  File "/home/user/app/app.py", line {i % 300}, in predict\n    out = pipe(x, max_new_tokens=16)',
        lambda i: "tokenizer.pad_token = tokenizer.eos_token  # use_fast=True, padding_side='left'",
        lambda i: json.dumps({"pad_token": "<pad>", "eos_token": "</s>", "model_max_length": 512, "step": i}),
        lambda i: f"\x1b[32mINFO\x1b[0m step {i}: loaded in {i % 9}.{i % 7} s ({rng.getrandbits(256):064x})",
        lambda i: f"commit {rng.getrandbits(160):040x} run {rng.getrandbits(128):032x}",
        lambda i: f"Traceback (most recent call last):\nValueError: invalid model id '../../etc/x{i}': it has a slash",
        lambda i: f"fetch https://huggingface.co/api/models/org/m{i}?expand%5B%5D=downloads&token=%20{i}",
    ]
    secrets = [
        lambda: f"using token {_fake(rng, 'hf_', 34)} for the Hub",
        lambda: f"Authorization: Bearer {_fake(rng, 'eyJhbGciOiJIUzI1NiJ9.', 30)}.{_fake(rng, '', 20)}",
        lambda: f"export OPENAI_API_KEY={_fake(rng, 'sk-proj-', 40)}",
        lambda: f"echo {known}",
    ]
    text_rows: list[str] = []
    size, i = 0, 0
    while size < kib * 1024:
        if i % 97 == 0:
            row = secrets[(i // 97) % len(secrets)]()
        elif i == 500:
            row = f'<img src="data:image/png;base64,{image}">'
        else:
            row = lines[i % len(lines)](i)
        text_rows.append(row)
        size += len(row) + 1
        i += 1
    text = "\n".join(text_rows)[: kib * 1024]
    jsonl_rows = [json.dumps({"type": "message", "role": "toolResult", "content": [{"type": "text", "text": row}]})
                  for row in text_rows]
    jsonl, total = [], 0
    for row in jsonl_rows:
        if total + len(row) > kib * 1024:
            break
        jsonl.append(row)
        total += len(row) + 1
    return text, "\n".join(jsonl) + "\n", known


def _once_ms(fn: Callable[[], object]) -> float:
    """CPU time of one call: other jobs on a shared machine do not count, waiting for the CPU does not either."""
    start = time.process_time()
    fn()
    return (time.process_time() - start) * 1000


def _load(path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location("redaction_compared", path)
    if spec is None or spec.loader is None:
        raise SystemExit(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def _measures(module: Any, text: str, jsonl: str, known: str) -> dict[str, Callable[[], object]]:
    """Each call on a new `Redactor`: the first read of a page, with no memo or cache warmed by the last."""
    return {
        "redact_text_known": lambda: module.Redactor([known]).redact_text(text),
        "redact_text_patterns": lambda: module.Redactor().redact_text(text),
        "redact_checked": lambda: module.Redactor().redact_checked(text),
        "redact_jsonl": lambda: module.Redactor([known]).redact_jsonl(jsonl),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--kib", type=int, default=256)
    parser.add_argument("--compare", type=Path, help="another redaction.py to time beside the current one")
    args = parser.parse_args()
    text, jsonl, known = make_log(args.kib)
    implementations: dict[str, Any] = {"current": redaction}
    if args.compare:
        implementations["compared"] = _load(args.compare)
    calls = {"str_replace": {"floor": lambda: text.replace(known, "[REDACTED]")}}
    calls.update({name: _measures(module, text, jsonl, known) for name, module in implementations.items()})
    best: dict[str, dict[str, float]] = {name: dict.fromkeys(fns, float("inf")) for name, fns in calls.items()}
    for _ in range(args.runs):
        for name, fns in calls.items():
            for measure, fn in fns.items():
                best[name][measure] = min(best[name][measure], _once_ms(fn))
    floor = best.pop("str_replace")["floor"]
    results: dict[str, Any] = {"kib": args.kib, "runs": args.runs, "str_replace_ms": round(floor, 3)}
    print(f"{args.kib} KiB log, best of {args.runs}; str.replace floor {floor:.3f} ms")
    print(f"{'implementation':<12} {'measure':<22} {'ms':>9} {'× replace':>10}")
    for name, measured in best.items():
        results[name] = {k: {"ms": round(v, 2), "x_str_replace": round(v / floor, 1)} for k, v in measured.items()}
        for measure, ms in measured.items():
            print(f"{name:<12} {measure:<22} {ms:>9.2f} {ms / floor:>10.1f}")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
