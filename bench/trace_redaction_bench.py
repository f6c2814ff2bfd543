"""The redactor's throughput on a 50 MB Pi trace (MB/s), beside a plain `re` scan of the same bytes (issue 9).

A Pi-shaped JSONL trace is made here (seeded), as Pi 1.6's json stdout looks (`reference/pi-1.6.md` §5, §8):
per attempt a session header, turns of `message_update` deltas (text and tool-call pieces), tool executions
whose bash results are pip logs, tracebacks, listings and app code, a `read` of an image (a base64 blob),
`turn_end` with the tool results, and an `agent_end` carrying the whole conversation again. Fake secrets
are planted (a known agent key, Hub tokens, some JSON-escaped or base64-encoded, one streamed in pieces).

Measured in CPU time, best of `--runs`, on the same text:

- `re` scan: `hf_[A-Za-z0-9]{30,}` over the bytes, the floor of any redaction (one pattern, no decoding);
- `redact_jsonl`, what the worker does to Pi's stdout (`logs/pi_output.txt`);
- `redact_checked(jsonl=True)`, what it does to the session trace (redact, then re-scan, withhold on a finding).

Afterwards it checks that no planted secret is left in either output.

    .venv/bin/python bench/trace_redaction_bench.py [--mb 50] [--runs 2]

Prints a table and writes bench/results/trace_redaction_bench.json.
"""

from __future__ import annotations

import argparse
import base64
import json
import random
import re
import string
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from space_factory.domain.redaction import Redactor

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results" / "trace_redaction_bench.json"
_ALNUM = string.ascii_letters + string.digits
HF_RE = re.compile(rb"hf_[A-Za-z0-9]{30,}")


def _fake(rng: random.Random, prefix: str, n: int) -> str:
    """A fake credential made at run time (no token-shaped literal in the source)."""
    return prefix + "".join(rng.choices(_ALNUM, k=n - 1)) + "7"


class TraceMaker:
    """Makes Pi json-mode lines; `secrets` collects every planted secret, `known` is the run's agent key."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.known = _fake(self.rng, "sk-agent-", 40)
        self.secrets: set[str] = {self.known}
        self.image = base64.b64encode(self.rng.randbytes(24_000)).decode()
        self.usage = {"input": 1200, "output": 85, "cacheRead": 0, "cacheWrite": 0, "reasoning": 0,
                      "totalTokens": 1285, "cost": {"input": 0, "output": 0, "cacheRead": 0, "cacheWrite": 0,
                                                    "total": 0, "totalFromProvider": False}}

    def _token(self) -> str:
        token = _fake(self.rng, "hf_", 34)
        self.secrets.add(token)
        return token

    def _bash_output(self) -> str:
        rng, kind = self.rng, self.rng.randrange(10)
        if kind < 4:
            return "\n".join(f"Collecting package-{i}==1.{i % 30}.0\n  Downloading package_{i}-1.0-py3-none-any.whl "
                             f"({rng.randrange(900)} kB)" for i in range(rng.randrange(20, 120)))
        if kind < 6:
            frames = "\n".join(f'  File "/home/user/app/mod_{i}.py", line {rng.randrange(400)}, in call_{i}\n'
                               f"    out = model(**inputs, max_new_tokens={rng.randrange(64)})" for i in range(12))
            return f"Traceback (most recent call last):\n{frames}\nRuntimeError: CUDA out of memory (tried 2.00 GiB)"
        if kind < 8:
            return "\n".join(f"-rw-r--r-- 1 user user {rng.randrange(99999):>6} Dec  1 12:{i % 60:02d} file_{i}.py"
                             for i in range(rng.randrange(10, 60)))
        if kind == 8:  # an env dump or a curl with a token: what the sandbox is there to prevent
            return f"HF_HOME=/data/hf\nHF_TOKEN={self._token()}\nAGENT_KEY={self.known}\nPATH=/usr/bin:/bin"
        code = "\n".join(f"def step_{i}(x):\n    return pipe(x, max_new_tokens={i})  # tokenizer.pad_token ok"
                         for i in range(rng.randrange(10, 40)))
        return f"import gradio as gr\nfrom transformers import pipeline\n{code}\ndemo.launch()"

    def _deltas(self, text: str, kind: str) -> list[dict[str, Any]]:
        cuts = sorted({self.rng.randrange(1, max(2, len(text))) for _ in range(max(1, len(text) // 40))})
        pieces = [text[a:b] for a, b in zip([0, *cuts], [*cuts, len(text)], strict=False)]
        return [{"type": "message_update", "usage": self.usage,
                 "assistantMessageEvent": {"type": kind, "contentIndex": 0, "delta": piece}} for piece in pieces]

    def attempt(self, turns: int) -> list[dict[str, Any]]:
        rng = self.rng
        session = f"{rng.getrandbits(64):016x}"
        events: list[dict[str, Any]] = [{"type": "session", "version": 3, "id": session, "cwd": "/tmp/ws"},
                                        {"type": "agent_start"}]
        messages: list[dict[str, Any]] = []
        for n in range(turns):
            events.append({"type": "turn_start"})
            tool = "read" if rng.random() < 0.1 else "bash"
            args = {"path": "example.png"} if tool == "read" else {
                "command": f"pip install -r requirements.txt && python app.py --port {7860 + n}"}
            call = {"type": "toolCall", "id": f"call_{n}", "name": tool, "arguments": args}
            assistant = {"role": "assistant", "content": [call], "stopReason": "toolUse", "usage": self.usage,
                         "api": "openai-completions", "provider": "factory", "model": "scripted-model"}
            events.append({"type": "message_start", "message": {**assistant, "content": []}})
            events += self._deltas(json.dumps(args), "toolcall_delta")
            events += [{"type": "message_update", "usage": self.usage,
                        "assistantMessageEvent": {"type": "toolcall_end", "contentIndex": 0, "toolCall": call}},
                       {"type": "message_end", "message": assistant},
                       {"type": "tool_execution_start", "toolCallId": f"call_{n}", "toolName": tool, "args": args}]
            if tool == "read":
                content = [{"type": "text", "text": "Read image file [image/png]"},
                           {"type": "image", "data": self.image, "mimeType": "image/png"}]
            else:
                out = self._bash_output()
                content = [{"type": "text", "text": out}]
                events.append({"type": "tool_execution_update", "toolCallId": f"call_{n}", "toolName": tool,
                               "args": args, "partialResult": {"content": [{"type": "text", "text": out[:2000]}]}})
            result = {"content": content, **({} if tool == "read" else {"structuredContent": {
                "output": content[0]["text"], "truncated": False, "exit_code": 0, "wall_time_seconds": 1.2}})}
            tool_message = {"role": "toolResult", "toolCallId": f"call_{n}", "toolName": tool, "content": content,
                            "isError": False, "durationMs": rng.randrange(5, 9000)}
            events += [{"type": "tool_execution_end", "toolCallId": f"call_{n}", "toolName": tool, "result": result,
                        "isError": False, "durationMs": tool_message["durationMs"]},
                       {"type": "message_start", "message": tool_message},
                       {"type": "message_end", "message": tool_message},
                       {"type": "turn_end", "message": assistant, "toolResults": [tool_message]}]
            messages += [assistant, tool_message]
        final = f"The app is wired to real inference. Token check: {self._token()} was not used."
        events += self._deltas(final, "text_delta")
        events += [{"type": "agent_end", "messages": messages, "willRetry": False},
                   {"type": "agent_settled", "aborted": False}]
        return events

    def trace(self, size: int) -> str:
        lines: list[str] = []
        total = 0
        while total < size:
            for event in self.attempt(self.rng.randrange(8, 25)):
                line = json.dumps(event)
                lines.append(line)
                total += len(line) + 1
        return "\n".join(lines) + "\n"


def _best_s(fn: Callable[[], object], runs: int) -> tuple[float, object]:
    best, result = float("inf"), None
    for _ in range(runs):
        start = time.process_time()
        result = fn()
        best = min(best, time.process_time() - start)
    return best, result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--mb", type=float, default=50.0, help="trace size in MB (10^6 bytes)")
    parser.add_argument("--runs", type=int, default=2, help="best of this many runs per measure")
    parser.add_argument("--seed", type=int, default=9)
    args = parser.parse_args()

    maker = TraceMaker(args.seed)
    text = maker.trace(int(args.mb * 1_000_000))
    data = text.encode()
    mb = len(data) / 1_000_000
    redactor = Redactor([maker.known])

    scan_s, found = _best_s(lambda: sum(1 for _ in HF_RE.finditer(data)), args.runs)
    jsonl_s, jsonl_out = _best_s(lambda: redactor.redact_jsonl(text), args.runs)
    checked_s, checked = _best_s(lambda: redactor.redact_checked(text, jsonl=True), args.runs)
    leaks = sum(secret in out for secret in maker.secrets for out in (str(jsonl_out), getattr(checked, "text", "")))

    rows = {"re_scan_hf": scan_s, "redact_jsonl": jsonl_s, "redact_checked_jsonl": checked_s}
    report = {"mb": round(mb, 2), "lines": text.count("\n"), "runs": args.runs, "planted_secrets": len(maker.secrets),
              "re_scan_hf_matches": found, "withheld": getattr(checked, "withheld", None), "secrets_left": leaks,
              "measures": {name: {"cpu_s": round(s, 3), "mb_per_s": round(mb / s, 1),
                                  "x_re_scan": round(s / scan_s, 1)} for name, s in rows.items()}}
    print(f"{mb:.1f} MB Pi trace ({report['lines']} lines, {len(maker.secrets)} planted secrets), "
          f"CPU time, best of {args.runs}")
    print(f"{'measure':24} {'s':>8} {'MB/s':>8} {'x re scan':>10}")
    for name, row in report["measures"].items():
        print(f"{name:24} {row['cpu_s']:>8.3f} {row['mb_per_s']:>8.1f} {row['x_re_scan']:>10.1f}")
    print(f"secrets left in the outputs: {leaks}; redact_checked withheld: {report['withheld']}")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(report, indent=2) + "\n")
    return 0 if leaks == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
