"""Layer 1 of redaction: the exact secret values a run knows (the user's token, provider keys), in every form.

A known value is found as itself, URL-encoded, JSON-escaped and in a Python repr; inside the base64 of any
text that contains it; and split over two lines by a wrap. This is the layer that catches a secret no
pattern knows (`echo $SOME_SECRET_ENV`).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable
from urllib.parse import quote, quote_plus

from space_factory.domain.redaction.encodings import line_joined_view
from space_factory.domain.redaction.key_values import MIN_SECRET_LENGTH

__all__ = ["KnownValues"]

Span = tuple[int, int]
_BASE64_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/_-")


def _encoded_forms(secret: str) -> set[str]:
    """The text forms a secret takes in logs: itself, URL-encoded (both ways), JSON-escaped and repr'd."""
    forms = {
        secret,
        quote(secret, safe=""),
        quote(secret),
        quote_plus(secret),
        json.dumps(secret)[1:-1],
        json.dumps(secret, ensure_ascii=False)[1:-1],
        repr(secret)[1:-1],
        repr(secret + "'")[1:-2],  # the other quote style, escaped as repr escapes it
    }
    return {form for form in forms if len(form) >= MIN_SECRET_LENGTH}


def _base64_cores(secret: str) -> set[str]:
    """Base64 substrings present in the encoding of *any* data that contains `secret`.

    Base64 maps 3-byte groups to 4 characters, so the groups made only of the secret's bytes encode
    the same way wherever the secret sits, given its offset modulo 3. Taking those groups for each
    offset and both alphabets covers `base64(secret)`, `base64("user:" + secret)` for every user
    name, and a secret inside a base64-encoded env file alike.
    """
    raw = secret.encode()
    cores: set[str] = set()
    for offset in range(3):
        first = 0 if offset == 0 else 1
        last = (offset + len(raw)) // 3
        for encode in (base64.b64encode, base64.urlsafe_b64encode):
            core = encode(b"\0" * offset + raw).decode("ascii")[4 * first : 4 * last]
            if len(core) >= MIN_SECRET_LENGTH:
                cores.add(core)
    return cores


def _find_all(text: str, needles: Iterable[str]) -> list[Span]:
    """Every occurrence of every needle, overlapping ones included (str.find is a fast C loop)."""
    spans: list[Span] = []
    for needle in needles:
        start = text.find(needle)
        while start != -1:
            spans.append((start, start + len(needle)))
            start = text.find(needle, start + 1)
    return spans


def _widen_to_base64_run(text: str, span: Span) -> Span:
    """Grow a base64 core to the whole base64 word around it, padding included."""
    start, end = span
    while start > 0 and text[start - 1] in _BASE64_CHARS:
        start -= 1
    while end < len(text) and text[end] in _BASE64_CHARS:
        end += 1
    while end < len(text) and text[end] == "=":
        end += 1
    return start, end


class KnownValues:
    """The known secret values of a run and the forms they are searched in.

    Args:
        secrets: the values. Each is stripped of surrounding whitespace; values shorter than
            `MIN_SECRET_LENGTH` characters are ignored, since hiding every "abc" would shred the text
            and protect nothing.

    Example:
        >>> known = KnownValues(["s3cr3t-value-123"])
        >>> [(kind, span) for kind, span in known.spans("x s3cr3t-val\\nue-123")]
        [('known_secret', (2, 12)), ('known_secret', (13, 19))]
    """

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        values = {value.strip() for value in secrets if isinstance(value, str)}
        values = {value for value in values if len(value) >= MIN_SECRET_LENGTH}
        self._forms: tuple[str, ...] = tuple(sorted({f for s in values for f in _encoded_forms(s)}))
        self._cores: tuple[str, ...] = tuple(sorted({c for s in values for c in _base64_cores(s)}))

    def __bool__(self) -> bool:
        return bool(self._forms)

    def spans(self, text: str) -> list[tuple[str, Span]]:
        """Every known value, form and base64 core in `text`, also across line breaks, as (kind, span)."""
        if not self._forms:
            return []
        forms = _find_all(text, self._forms)
        cores = _find_all(text, self._cores)
        found = [("known_secret", span) for span in forms]
        found += [("known_secret_base64", _widen_to_base64_run(text, span)) for span in cores]
        if "\n" in text or "\r" in text:
            found += self._split_spans(text, len(forms) + len(cores))
        return found

    def _split_spans(self, text: str, unsplit: int) -> list[tuple[str, Span]]:
        """Known values and cores found once the line breaks are removed, hidden on each line they span.

        Removing line breaks keeps every occurrence a value already has (`unsplit` of them): only more
        occurrences mean a split one, and only then is the offset map built.
        """
        joined = text.replace("\r", "").replace("\n", "")
        forms = _find_all(joined, self._forms)
        cores = _find_all(joined, self._cores)
        if len(forms) + len(cores) <= unsplit:
            return []
        view = line_joined_view(text)
        if view is None:
            return []
        wide_cores = [_widen_to_base64_run(joined, span) for span in cores]
        return [
            (kind, part)
            for kind, spans in (("known_secret", forms), ("known_secret_base64", wide_cores))
            for span in spans
            for part in view.source_spans(*span)
        ]
