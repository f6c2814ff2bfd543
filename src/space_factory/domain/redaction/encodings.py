"""Decoded views of a text, so that the other layers see secrets through the encodings logs put them in.

A secret may reach a log JSON-escaped or in a Python repr (`\\nhf_…`), coloured (`\\x1b[31mhf_…`),
URL-encoded (`%20hf_…`), base64-encoded, or wrapped over two lines. Each view decodes one of these and
maps what is found in it back to the source text:

- `escape_view`: backslash escapes decoded and ANSI colour sequences removed;
- `percent_view`: `%XX` and `+` decoded, one character per byte;
- `line_joined_view`: line breaks removed (for known values split by a wrap);
- `base64_payloads`: every base64 run decoded at each of its four alignments, kept where it reads as text.

The views only read; what they find is hidden in the source, encoding included.
"""

from __future__ import annotations

import binascii
import re
import sys
from bisect import bisect_right
from collections.abc import Callable, Container, Iterable
from dataclasses import dataclass

__all__ = ["Base64Payloads", "DecodedView", "base64_payloads", "escape_view", "line_joined_view", "percent_view"]

Span = tuple[int, int]


class DecodedView:
    """The decoded lines of a text that hold encoded units, and the map from their offsets back to the source's.

    Only the *regions* of the source that hold a unit (an escape sequence, a `%XX`, a line break) are
    decoded: a line without one has nothing new to show, and skipping it keeps the view of a long log
    as cheap as its few encoded lines. Regions are joined by one line break, so no match runs from one
    region into the next. The offset map is built on the first `source_spans` call: most views find
    nothing.

    Args:
        source: the text.
        regions: sorted, disjoint spans of `source` to decode.
        units: what to decode inside them.
        decode: the decoded text of one unit.
        keep_removed: map spans around the units that decode to nothing, not over them (line breaks:
            a secret wrapped over two lines is hidden on each line, and the line break stays).
    """

    def __init__(self, source: str, regions: list[Span], units: re.Pattern[str],
                 decode: Callable[[re.Match[str]], str], *, keep_removed: bool = False) -> None:
        self._source = source
        self._regions = regions
        self._units = units
        self._decode = decode
        self.keep_removed = keep_removed
        self.text = _REGION_SEPARATOR.join(units.sub(decode, source[a:b]) for a, b in regions)
        self._dec_starts: list[int] = []
        self._dec_ends: list[int] = []
        self._src_starts: list[int] = []
        self._src_ends: list[int] = []

    def _build_map(self) -> None:
        """Record every unit (and every skipped stretch between regions) with its source and decoded span."""
        decoded = 0
        previous_end = 0
        for index, (start, end) in enumerate(self._regions):
            gap = _REGION_SEPARATOR if index else ""
            self._add((previous_end, start), (decoded, decoded + len(gap)))
            decoded += len(gap)
            cursor = start
            for match in self._units.finditer(self._source, start, end):
                decoded += match.start() - cursor
                piece = self._decode(match)
                self._add(match.span(), (decoded, decoded + len(piece)))
                decoded += len(piece)
                cursor = match.end()
            decoded += end - cursor
            previous_end = end

    def _add(self, source: Span, decoded: Span) -> None:
        self._src_starts.append(source[0])
        self._src_ends.append(source[1])
        self._dec_starts.append(decoded[0])
        self._dec_ends.append(decoded[1])

    def _source_start(self, position: int) -> int:
        i = bisect_right(self._dec_starts, position) - 1
        if position < self._dec_ends[i]:
            return self._src_starts[i]
        return self._src_ends[i] + position - self._dec_ends[i]

    def _source_end(self, end: int) -> int:
        i = bisect_right(self._dec_starts, end - 1) - 1
        if end - 1 < self._dec_ends[i]:
            return self._src_ends[i]
        return self._src_ends[i] + end - self._dec_ends[i]

    def source_spans(self, start: int, end: int) -> list[Span]:
        """The source spans that a non-empty span of `text` came from (several when `keep_removed`).

        Example:
            >>> view = line_joined_view("ab\\ncd")
            >>> view.text, view.source_spans(1, 3)
            ('abcd', [(1, 2), (3, 4)])
        """
        if not self._src_starts:
            self._build_map()
        source = (self._source_start(start), self._source_end(end))
        if not self.keep_removed:
            return [source]
        spans: list[Span] = []
        cursor = source[0]
        for i in range(bisect_right(self._src_starts, source[0] - 1), len(self._src_starts)):
            if self._src_starts[i] >= source[1]:
                break
            if self._dec_starts[i] == self._dec_ends[i] and self._src_starts[i] < self._src_ends[i]:
                if self._src_starts[i] > cursor:  # a removed unit: cut the span around it
                    spans.append((cursor, self._src_starts[i]))
                cursor = self._src_ends[i]
        if source[1] > cursor:
            spans.append((cursor, source[1]))
        return spans


_REGION_SEPARATOR = "\n"


def _regions(text: str, units: re.Pattern[str], starts: str) -> list[Span]:
    """The spans of the lines that hold a unit (line breaks excluded), adjacent lines merged.

    `starts` holds every character a unit can start with: `str.find` jumps from one to the next, and
    the unit pattern only runs on the lines they are on.
    """
    regions: list[Span] = []
    position = 0
    upcoming = {c: text.find(c) for c in starts}  # where each start character occurs next
    while True:
        for c, at in upcoming.items():
            if -1 < at < position:
                upcoming[c] = text.find(c, position)
        hits = [at for at in upcoming.values() if at != -1]
        if not hits:
            return regions
        hit = min(hits)
        start = text.rfind("\n", 0, hit) + 1
        end = text.find("\n", hit)
        end = len(text) if end == -1 else end
        if units.search(text, hit, end) is not None:
            if regions and start <= regions[-1][1] + 1:
                regions[-1] = (regions[-1][0], end)
            else:
                regions.append((start, end))
        position = end + 1


# --- escapes and colours -----------------------------------------------------------------------------
_ANSI = r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b[@-Z\\-_]"
_ESCAPED_ANSI = r"\\(?:u001[bB]|x1[bB]|033|e)\[[0-?]*[ -/]*[@-~]"
_ESCAPE_UNITS = re.compile(
    rf"(?P<ansi>{_ANSI}|{_ESCAPED_ANSI})"
    r"|\\(?:u(?P<u4>[0-9a-fA-F]{4})|x(?P<x2>[0-9a-fA-F]{2})|U(?P<u8>[0-9a-fA-F]{8}))"
    r"|\\(?P<simple>[nrtbfv0\\/\"'`])"
)
_SIMPLE_ESCAPES = {"n": "\n", "r": "\r", "t": "\t", "b": "\b", "f": "\f", "v": "\v", "0": "\0"}


def _unescape(match: re.Match[str]) -> str:
    if match["ansi"] is not None:
        return ""
    code = match["u4"] or match["x2"] or match["u8"]
    if code is not None:
        number = int(code, 16)
        return chr(number) if number <= 0x10FFFF else "\ufffd"
    simple = match["simple"]
    return _SIMPLE_ESCAPES.get(simple, simple)


def escape_view(text: str) -> DecodedView | None:
    r"""The lines of `text` with JSON / Python string escapes decoded and ANSI sequences removed; None without any.

    Example:
        >>> escape_view('say \\"hi\\"\\n\x1b[31mred\x1b[0m').text
        'say "hi"\nred'
    """
    if "\\" not in text and "\x1b" not in text:
        return None
    regions = _regions(text, _ESCAPE_UNITS, "\\\x1b")
    return DecodedView(text, regions, _ESCAPE_UNITS, _unescape) if regions else None


# --- URL encoding ------------------------------------------------------------------------------------
_PERCENT_RE = re.compile(r"%[0-9A-Fa-f]{2}")
_PERCENT_UNITS = re.compile(r"%[0-9A-Fa-f]{2}|\+")


def _unquote(match: re.Match[str]) -> str:
    unit = match.group()
    return " " if unit == "+" else chr(int(unit[1:], 16))


def percent_view(text: str) -> DecodedView | None:
    """The lines of `text` that hold a `%XX`, with `%XX` and `+` decoded (one character per byte); else None.

    Example:
        >>> percent_view("q=token%20hf%5Fx+y").text
        'q=token hf_x y'
    """
    if "%" not in text:
        return None
    regions = _regions(text, _PERCENT_RE, "%")
    return DecodedView(text, regions, _PERCENT_UNITS, _unquote) if regions else None


# --- line wraps --------------------------------------------------------------------------------------
_LINE_BREAKS = re.compile(r"[\r\n]+")


def line_joined_view(text: str) -> DecodedView | None:
    """`text` with its line breaks removed; spans found in it map to each line's part. None without breaks."""
    if "\n" not in text and "\r" not in text:
        return None
    return DecodedView(text, [(0, len(text))], _LINE_BREAKS, lambda _: "", keep_removed=True)


# --- base64 ------------------------------------------------------------------------------------------
# A run of base64 characters, either alphabet. Runs are maximal without a lookbehind: the engine tries
# each run from its first character (a lookbehind would cost the quick first-character check).
_BASE64_RUN = re.compile(r"[A-Za-z0-9+/_-]{20,}={0,2}")
# `base64` wraps its output at 76 columns: a run that long followed by a line break goes on below.
_WRAPPED_LINE = 60
_TO_STANDARD_ALPHABET = str.maketrans("-_", "+/", "=\r\n")
# What separates the payloads: a line break ends every pattern's match and every key's value.
_PAYLOAD_SEPARATOR = "\n"


@dataclass(frozen=True)
class Base64Payloads:
    """The decoded payloads of a text's base64 runs, one after another, and where each run sits.

    Attributes:
        text: the payloads (each run decoded at the alignments that read as text), joined by line breaks.
        runs: the source span of each run.
        starts: where the payloads of each run begin in `text`.
    """

    text: str
    runs: list[Span]
    starts: list[int]

    def runs_in(self, start: int, end: int) -> list[Span]:
        """The source spans of the runs whose payloads a span of `text` touches."""
        first = bisect_right(self.starts, start) - 1
        last = bisect_right(self.starts, max(start, end - 1)) - 1
        return self.runs[max(first, 0) : last + 1]


def _payloads(run: str) -> list[str]:
    """The run decoded at each of its four alignments, bytes as Latin-1 (the patterns are ASCII)."""
    core = run.translate(_TO_STANDARD_ALPHABET)
    out: list[str] = []
    for skip in range(4):
        chunk = core[skip:]
        rest = len(chunk) % 4
        chunk = chunk[: len(chunk) - 1] if rest == 1 else chunk + "=" * ((4 - rest) % 4)
        try:
            out.append(binascii.a2b_base64(chunk).decode("latin-1"))
        except (binascii.Error, ValueError):
            continue
    return out


def _covered(span: Span, covered: list[Span]) -> bool:
    """Whether `span` lies inside one of the sorted, merged spans of `covered`."""
    i = bisect_right(covered, (span[0], sys.maxsize)) - 1
    return i >= 0 and covered[i][0] <= span[0] and span[1] <= covered[i][1]


def _merged(spans: list[Span]) -> list[Span]:
    merged: list[Span] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def base64_payloads(text: str, found: Iterable[Span] = (), clean: Container[str] = (),
                    binary: Callable[[str], None] | None = None) -> Base64Payloads | None:
    """The payloads that read as text of the base64 runs in `text` outside `found`; None when there are none.

    A run that holds no uppercase or no lowercase letter is a word, a path or a hex digest, not base64 of
    anything a log would hide. The lines of a wrapped encoding count as one run. A payload that does not
    read as text (an image, or a text decoded at the wrong alignment) is dropped: a secret is text. Runs
    in `clean` (already decoded and found to hold nothing) are skipped; each run that decodes to no text at any
    alignment (an image) is passed to `binary`, so that the caller can skip it next time.

    Example:
        >>> payloads = base64_payloads("auth dXNlcjpYazM5ZGsybHNQMHE= ok")
        >>> payloads.runs, payloads.text
        ([(5, 29)], 'user:Xk39dk2lsP0q\\n')
    """
    covered = _merged(list(found))
    runs: list[Span] = []
    for match in _BASE64_RUN.finditer(text):
        start, end = match.span()
        if runs and start - runs[-1][1] <= 2 and _continues(text, runs[-1], start):
            runs[-1] = (runs[-1][0], end)
        else:
            runs.append((start, end))
    kept: list[Span] = []
    starts: list[int] = []
    pieces: list[str] = []
    offset = 0
    for span in runs:
        run = text[span[0] : span[1]]
        if run.islower() or run.isupper() or (covered and _covered(span, covered)) or run in clean:
            continue
        payloads = [payload for payload in _payloads(run) if _reads_as_text(payload)]
        if not payloads:
            if binary is not None:
                binary(run)
            continue
        kept.append(span)
        starts.append(offset)
        body = _PAYLOAD_SEPARATOR.join(payloads) + _PAYLOAD_SEPARATOR
        pieces.append(body)
        offset += len(body)
    if not kept:
        return None
    return Base64Payloads("".join(pieces), kept, starts)


_PRINTABLE = str.maketrans(dict.fromkeys([*range(32, 127), 9, 10, 13]))
# Random bytes are about 63 % unprintable; text (even with some binary framing around it) far less.
_MAX_BINARY_SHARE = 0.3


def _reads_as_text(payload: str) -> bool:
    """Whether a payload is mostly printable ASCII (at most 30 % anything else)."""
    return len(payload.translate(_PRINTABLE)) <= _MAX_BINARY_SHARE * len(payload)


def _continues(text: str, previous: Span, start: int) -> bool:
    """Whether a run starting at `start` is the next line of a wrapped encoding ending at `previous`."""
    between = text[previous[1] : start]
    return between in ("\n", "\r\n") and previous[1] - text.rfind("\n", 0, previous[1]) - 1 >= _WRAPPED_LINE
