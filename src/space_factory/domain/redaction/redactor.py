"""The `Redactor`: the three layers run over a text, its decoded views, and the strings of parsed JSON."""

from __future__ import annotations

import json
import re
from bisect import bisect_left, bisect_right
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from itertools import accumulate

from space_factory.domain.redaction.encodings import base64_payloads, escape_view, percent_view
from space_factory.domain.redaction.key_values import (
    KEY_WORDS_RE,
    MIN_SECRET_LENGTH,
    is_sensitive_key,
    key_value_spans,
    lowercase,
)
from space_factory.domain.redaction.known_values import KnownValues
from space_factory.domain.redaction.patterns import NEEDLES, token_spans

__all__ = ["MAX_JSON_DEPTH", "REDACTED", "WITHHELD_NOTICE", "Finding", "RedactionResult", "Redactor", "redact"]

REDACTED = "[REDACTED]"
WITHHELD_NOTICE = "[withheld: redaction could not clean this content]"
# Deeper JSON than this is replaced whole: failing closed beats a RecursionError mid-trace.
MAX_JSON_DEPTH = 200
# How many encodings deep a secret is looked for: base64 of a URL-encoded value is two.
MAX_DECODE_DEPTH = 2

Span = tuple[int, int]
# Short strings (JSON keys, roles, ids) repeat endlessly in a trace; their redaction is memoised.
_MEMO_MAX_LENGTH = 256
_MEMO_MAX_ENTRIES = 10_000
_CLEAN_RUNS_MAX_CHARS = 4 * 1024 * 1024
# Below this length a text is first checked for anything a layer could match (most JSON strings hold
# nothing); above it the check would cost more than the layers.
_QUICK_CHECK_MAX_LENGTH = 4096
_MAYBE_ENCODED_RE = re.compile(r"[\\\x1b%]|[A-Za-z0-9+/_-]{20}")
# A streamed reply comes in pieces, one per JSONL line (OpenAI chunks' and Pi's `message_update` events'
# `delta`): a secret cut between two pieces is in neither, so the pieces of consecutive lines are also scanned
# joined, and every piece a finding crosses into is hidden whole.
STREAM_PIECE_KEY = "delta"
_NUMBER_RE = re.compile(r"[-+]?[0-9][0-9.eE+-]*")


@dataclass(frozen=True)
class Finding:
    """Something in a text that still looks secret. Holds the place and kind only, never the value."""

    kind: str
    start: int
    end: int


@dataclass(frozen=True)
class RedactionResult:
    """The outcome of `Redactor.redact_checked`.

    Attributes:
        text: the redacted text, or `WITHHELD_NOTICE` when the re-scan still found something.
        withheld: True when `text` is the notice rather than the content.
        findings: how many findings the re-scan of the redacted text reported.
    """

    text: str
    withheld: bool
    findings: int


def _may_hold_secret(text: str, lower: str) -> bool:
    """False only for a short text in which no layer and no decoding could find anything."""
    if len(text) > _QUICK_CHECK_MAX_LENGTH:
        return True
    return (
        any(needle in lower for needle in NEEDLES)
        or KEY_WORDS_RE.search(lower) is not None
        or _MAYBE_ENCODED_RE.search(text) is not None
    )


def _replace_spans(text: str, spans: list[Span]) -> str:
    """Replace each span with `REDACTED`; overlapping or touching spans are merged and hidden whole."""
    if not spans:
        return text
    parts: list[str] = []
    cursor = 0
    merged_start, merged_end = -1, -1
    for start, end in sorted(spans):
        if start <= merged_end:
            merged_end = max(merged_end, end)
            continue
        if merged_end >= 0:
            parts += [text[cursor:merged_start], REDACTED]
            cursor = merged_end
        merged_start, merged_end = start, end
    parts += [text[cursor:merged_start], REDACTED, text[merged_end:]]
    return "".join(parts)


def _dump_compact(value: object) -> str:
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates from `\ud800`-style escapes: keep them escaped
        text = json.dumps(value, ensure_ascii=True, separators=(",", ":"))
    return text


_NOT_JSON = object()


@lru_cache(maxsize=4096)
def _is_sensitive_name(name: str) -> bool:
    """`is_sensitive_key`, memoised: a trace repeats the same few keys on every line."""
    return is_sensitive_key(name)


def _sensitive_keys(value: dict[object, object]) -> set[object]:
    """The keys of a JSON object whose values are hidden whole: sensitive names, and the `value` of a
    `{"name": <sensitive>, "value": …}` pair (env lists)."""
    names_secret = any(isinstance(value.get(k), str) and _is_sensitive_name(str(value.get(k))) for k in ("name", "key"))
    return {key for key in value
            if isinstance(key, str) and (_is_sensitive_name(key) or (names_secret and key == "value"))}


def _stream_pieces(value: object, depth: int = 0) -> list[str]:
    """The stream pieces (`STREAM_PIECE_KEY` strings) in a parsed JSON value, in the order `Redactor._redact_value`
    meets them (values hidden whole are not walked)."""
    if depth >= MAX_JSON_DEPTH:
        return []
    if isinstance(value, dict):
        sensitive = _sensitive_keys(value)
        found: list[str] = []
        for key, item in value.items():
            if key in sensitive:
                continue
            if key == STREAM_PIECE_KEY and isinstance(item, str):
                found.append(item)
            else:
                found += _stream_pieces(item, depth + 1)
        return found
    if isinstance(value, list | tuple):
        return [piece for item in value for piece in _stream_pieces(item, depth + 1)]
    return []


class _Pieces:
    """Counts the stream pieces of a line as it is redacted; `crossed()` says whether the next one is hidden whole."""

    def __init__(self, crossed: set[tuple[int, int]]) -> None:
        self._crossed = crossed
        self._line = 0
        self._next = 0

    @property
    def line(self) -> int:
        return self._line

    @line.setter
    def line(self, number: int) -> None:
        self._line, self._next = number, 0

    def crossed(self) -> bool:
        number, self._next = self._next, self._next + 1
        return (self._line, number) in self._crossed


class Redactor:
    """Redacts known secret values and anything that looks like a credential, in plain sight or encoded.

    Args:
        secrets: exact secret values known to the run (the user's token, provider keys). Each is
            stripped of surrounding whitespace; values shorter than `MIN_SECRET_LENGTH` characters
            are ignored, since hiding every "abc" would shred the text and protect nothing.

    Example:
        >>> r = Redactor(["s3cr3t-value-123"])
        >>> r.redact_text("echo s3cr3t-value-123; HF_TOKEN=Xk39dk2lsP0q python app.py; auth: disabled")
        'echo [REDACTED]; HF_TOKEN=[REDACTED] python app.py; auth: disabled'
    """

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        secrets = tuple(secrets)
        self._known = KnownValues(secrets)
        # A secret made only of digits (a PIN, an account number) is also hidden where JSON holds it as a number.
        self._numeric_secrets = tuple(sorted({
            value.strip() for value in secrets if isinstance(value, str) and len(value.strip()) >= MIN_SECRET_LENGTH
            and _NUMBER_RE.fullmatch(value.strip())}))
        self._memo: dict[str, str] = {}
        # Base64 runs decoded and found to hold nothing (an image is re-read with every page, and again
        # by the re-scan of `redact_checked`): they are not decoded twice.
        self._clean_runs: set[str] = set()
        self._clean_chars = 0

    def _scan(self, text: str, depth: int, key_values: bool) -> list[tuple[str, Span]]:
        """Layers 1 and 2 on `text` and, with `key_values`, all three layers on its decoded views.

        Layer 3 stays out of the scan of `text` itself: `redact_text` runs it on the result, so that a
        value already hidden stays `[REDACTED]` once, and `findings` leaves it out.
        """
        lower = lowercase(text)
        found = self._known.spans(text)
        if not _may_hold_secret(text, lower):
            return found
        found += token_spans(text, lower)
        if depth > 0 and key_values:
            found += [("key_value", span) for span in key_value_spans(text, lower)]
        if depth >= MAX_DECODE_DEPTH:
            return found
        for view in (escape_view(text), percent_view(text)):
            if view is not None:
                for kind, span in self._scan(view.text, depth + 1, key_values):
                    found += [(kind, part) for part in view.source_spans(*span)]
        payloads = base64_payloads(text, [span for _, span in found], self._clean_runs, self._remember_binary)
        if payloads is not None:
            hits = [(f"{kind}_base64", run) for kind, span in self._scan(payloads.text, depth + 1, key_values)
                    for run in payloads.runs_in(*span)]
            found += hits
            if key_values and depth == 0:  # clean with layer 3 and every view is clean for any later scan
                self._remember_clean(text, set(payloads.runs) - {run for _, run in hits})
        return found

    def _remember_binary(self, run: str) -> None:
        """A run that decodes to no text (an image a `read` tool returned, shown again in every later event)
        can hold no secret: it is not decoded again."""
        if self._clean_chars > _CLEAN_RUNS_MAX_CHARS:
            self._clean_runs.clear()
            self._clean_chars = 0
        self._clean_runs.add(run)
        self._clean_chars += len(run)

    def _remember_clean(self, text: str, runs: set[Span]) -> None:
        if self._clean_chars > _CLEAN_RUNS_MAX_CHARS:
            self._clean_runs.clear()
            self._clean_chars = 0
        for start, end in runs:
            self._clean_runs.add(text[start:end])
            self._clean_chars += end - start

    def redact_text(self, text: str) -> str:
        """Redact secrets in free text (logs, stdout, a JSONL line that does not parse).

        Layers 1-2 (and all three layers on the decoded views) are found on the input and replaced in
        one go; then layer 3 runs on the result, so a value already hidden stays `[REDACTED]` once.

        Example:
            >>> Redactor().redact_text("git clone https://user:pw12345@example.com/repo.git")
            'git clone https://[REDACTED]@example.com/repo.git'
        """
        memo = len(text) <= _MEMO_MAX_LENGTH
        if memo and text in self._memo:
            return self._memo[text]
        redacted = _replace_spans(text, [span for _, span in self._scan(text, 0, key_values=True)])
        redacted = _replace_spans(redacted, key_value_spans(redacted, lowercase(redacted)))
        if memo:
            if len(self._memo) >= _MEMO_MAX_ENTRIES:
                self._memo.clear()
            self._memo[text] = redacted
        return redacted

    def redact_json(self, value: object) -> object:
        """A redacted deep copy of a parsed JSON value.

        The value of a sensitive key becomes `"[REDACTED]"` whatever its type (a nested object too);
        so does the `value` of a `{"name": <sensitive>, "value": …}` pair (env lists). Every string,
        keys included, goes through `redact_text`. Tuples come back as lists.

        Example:
            >>> Redactor().redact_json({"env": {"HF_TOKEN": {"v": 1}}, "max_new_tokens": 16})
            {'env': {'HF_TOKEN': '[REDACTED]'}, 'max_new_tokens': 16}
        """
        return self._redact_value(value, 0)

    def _redact_value(self, value: object, depth: int, pieces: _Pieces | None = None) -> object:
        if isinstance(value, str):
            return self.redact_text(value)
        if value is None or isinstance(value, bool):
            return value
        if isinstance(value, int | float):
            shown = json.dumps(value)
            return REDACTED if any(secret in shown for secret in self._numeric_secrets) else value
        if depth >= MAX_JSON_DEPTH:
            return REDACTED
        if isinstance(value, dict):
            return self._redact_dict(value, depth, pieces)
        if isinstance(value, list | tuple):
            return [self._redact_value(item, depth + 1, pieces) for item in value]
        # Not JSON: keep its text, redacted, rather than an object that may print the secret later.
        return self.redact_text(str(value))

    def _redact_dict(self, value: dict[object, object], depth: int, pieces: _Pieces | None) -> dict[object, object]:
        sensitive = _sensitive_keys(value)
        out: dict[object, object] = {}
        for key, item in value.items():
            new_key = self.redact_text(key) if isinstance(key, str) else key
            while new_key in out:  # two keys redacted to the same text: keep both values
                new_key = f"{new_key}#"
            if key in sensitive or (pieces is not None and key == STREAM_PIECE_KEY and isinstance(item, str)
                                    and pieces.crossed()):
                out[new_key] = REDACTED
            else:
                out[new_key] = self._redact_value(item, depth + 1, pieces)
        return out

    def _crossed_pieces(self, lines: list[list[str]]) -> set[tuple[int, int]]:
        """The stream pieces, as (line, piece on that line), that a finding in their joined run crosses into.

        A run is the pieces of consecutive lines that each hold at least one; only findings spanning two
        pieces or more count (one inside a piece is that piece's own redaction's business).
        """
        crossed: set[tuple[int, int]] = set()
        run: list[tuple[int, int, str]] = []
        for number, line_pieces in enumerate([*lines, []]):
            if line_pieces:
                run += [(number, k, piece) for k, piece in enumerate(line_pieces)]
                continue
            if len(run) > 1:
                joined = "".join(piece for _, _, piece in run)
                ends = list(accumulate(len(piece) for _, _, piece in run))
                spans = [span for _, span in self._scan(joined, 0, key_values=True)]
                spans += key_value_spans(joined, lowercase(joined))
                for start, end in spans:
                    first, last = bisect_right(ends, start), bisect_left(ends, end)
                    if last > first:
                        crossed.update((line, k) for line, k, _ in run[first : last + 1])
            run = []
        return crossed

    def redact_jsonl(self, text: str) -> str:
        """Redact a JSONL document line by line; line endings are kept.

        A line that parses as JSON is redacted with `redact_json` and re-serialised compactly (which
        also decodes `\\uXXXX` escapes that could hide a token); consecutive other lines go through
        `redact_text` together. `delta` strings of consecutive lines (a streamed reply) are also scanned
        joined: every piece a secret cut between lines crosses into is hidden whole.

        Example:
            >>> Redactor().redact_jsonl('{"token": "abc", "n": 1}\\nnot json: password=Xk39dk2l\\n')
            '{"token":"[REDACTED]","n":1}\\nnot json: password=[REDACTED]\\n'
        """
        # split("\n"), not splitlines(): JSON strings may hold U+2028 and friends, which are not line ends here.
        lines: list[tuple[str, str, object]] = []
        for line in text.split("\n"):
            body, ending = (line[:-1], "\r") if line.endswith("\r") else (line, "")
            parsed: object = _NOT_JSON
            if body.strip():
                try:
                    parsed = json.loads(body)
                except (ValueError, RecursionError):
                    parsed = _NOT_JSON
            lines.append((body, ending, parsed))
        pieces = _Pieces(self._crossed_pieces([
            _stream_pieces(parsed) if f'"{STREAM_PIECE_KEY}"' in body else [] for body, _, parsed in lines]))
        out: list[str] = []
        # Consecutive lines that are not JSON are redacted as one text: a secret wrapped over two of them (a
        # base64 block, a PEM key) is found whole.
        text_block: list[str] = []
        for number, (body, ending, parsed) in enumerate(lines):
            if parsed is _NOT_JSON:
                text_block.append(body + ending)
                continue
            pieces.line = number
            if text_block:
                out.append(self.redact_text("\n".join(text_block)))
                text_block = []
            out.append(_dump_compact(self._redact_value(parsed, 0, pieces)) + ending)
        if text_block:
            out.append(self.redact_text("\n".join(text_block)))
        return "\n".join(out)

    def findings(self, text: str) -> list[Finding]:
        """What in `text` still looks secret: known values and their forms, and token patterns, also encoded.

        Key-name rules are not part of the scan: a redacted `HF_TOKEN=[REDACTED]` would match them forever.

        Example:
            >>> Redactor().findings("Authorization: Bearer abc.def-123456")
            [Finding(kind='bearer', start=22, end=36)]
        """
        # One finding per place: the first (most specific) kind to claim a span names it.
        by_span: dict[Span, str] = {}
        for kind, span in self._scan(text, 0, key_values=False):
            by_span.setdefault(span, kind)
        return [Finding(kind, start, end) for (start, end), kind in sorted(by_span.items())]

    def redact_checked(self, text: str, *, jsonl: bool = False) -> RedactionResult:
        """Redact, then re-scan the result; withhold the whole content if anything remains (DESIGN §9).

        Args:
            text: the content to serve.
            jsonl: redact line by line as JSONL (`redact_jsonl`) instead of as free text.

        Example:
            >>> Redactor(["s3cr3t-value-123"]).redact_checked("x=s3cr3t-value-123")
            RedactionResult(text='x=[REDACTED]', withheld=False, findings=0)
        """
        redacted = self.redact_jsonl(text) if jsonl else self.redact_text(text)
        remaining = self.findings(redacted)
        if remaining:
            return RedactionResult(WITHHELD_NOTICE, True, len(remaining))
        return RedactionResult(redacted, False, 0)


_DEFAULT = Redactor()


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """Redact `text` with a one-off `Redactor(secrets)`; patterns only when no secrets are given.

    Example:
        >>> redact("HF_HOME=/tmp/x HF_TOKEN=Xk39dk2lsP0q")
        'HF_HOME=/tmp/x HF_TOKEN=[REDACTED]'
    """
    secrets = tuple(secrets)
    return (Redactor(secrets) if secrets else _DEFAULT).redact_text(text)
