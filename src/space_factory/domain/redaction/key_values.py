"""Layer 3 of redaction: values of sensitive keys (`HF_TOKEN=…`, `"api_key": "…"`, `--password …`, `Cookie: …`).

A key names a secret when its name *ends* with a sensitive word, so HF_TOKEN, OPENAI_API_KEY, x-api-key
and accessToken do, while tokenizer, max_new_tokens and token_classification do not.

What follows the key must look like a value, too. A quoted value (`token = "…"`, `{'auth': '…'}`) is a
literal someone assigned and is hidden whatever it says, like a sensitive key's value in parsed JSON. An
unquoted one is hidden only when it `looks_like_secret`: prose puts words after a colon as readily as
config puts values there (`cat: /etc/passwd: Permission denied`, `session: restored in 0.4 s`).
"""

from __future__ import annotations

import math
import re
from collections import Counter

__all__ = ["KEY_WORDS_RE", "MIN_SECRET_LENGTH", "is_sensitive_key", "key_value_spans", "looks_like_secret", "lowercase"]

MIN_SECRET_LENGTH = 8

_WORDS = (
    "token|secrets?|passwords?|passwd|passphrase|{pass_}|api[_.-]?key|access[_.-]?key|private[_.-]?key"
    "|secret[_.-]?key|account[_.-]?key|authorization|auth|credentials?|cookies?|session"
)
# `pass` only as a word of its own (`DB_PASS`, `--pass`), never the end of `bypass` or `compass`. The
# scanning patterns take any `pass` and `key_value_spans` drops the others: a lookbehind there would
# cost the regex engine its quick first-character check.
_KEY_WORDS = "(?:" + _WORDS.format(pass_=r"(?<![a-z0-9])pass") + ")"
_SCAN_WORDS = "(?:" + _WORDS.format(pass_="pass") + ")"
KEY_WORDS_RE = re.compile(_SCAN_WORDS)
_SENSITIVE_KEY_RE = re.compile(rf"[a-z0-9_.-]*?{_KEY_WORDS}")
_KEY_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789_-")
# Tokenizer settings are named like secrets but hold special tokens (`"pad_token": "<pad>"`).
_NOT_SECRET_KEYS = frozenset(
    f"{name}_token" for name in ("pad", "eos", "bos", "unk", "mask", "cls", "sep", "start", "end")
)
# Values that are code or types, not secrets: `token: str = None`, `use_auth_token=True`.
_NOT_SECRET_VALUES = frozenset(
    {"true", "false", "none", "null", "nil", "undefined", "str", "bytes", "int", "bool", "float"}
)
# All of layer 3 finds keys on the lowercased text. A key word, then the separator: `=`, `:`, `==`, `:=`
# or `=>` (key/value); or a command-line flag (`--password value`), separated by blanks.
_KEY_CANDIDATE_RE = re.compile(rf"(?P<word>{_SCAN_WORDS})(?P<kq>\\*[\"'])?(?P<sep>[ \t]*(?:==?|:=?|=>)[ \t]*)")
_FLAG_CANDIDATE_RE = re.compile(rf"-(?<![a-z0-9_.-]-)-?[a-z0-9_.-]*?(?P<word>{_SCAN_WORDS})(?P<kq>)(?P<sep>[ \t]+)")
_VALUE_RE = re.compile(
    r"(?P<vq>\\*[\"'])(?P<qv>(?:\\.|[^\\\n]){0,16384}?)(?P=vq)"
    r"|(?P<scheme>(?:bearer|basic|token|digest|negotiate)\s+)?(?P<uv>\[redacted\]|(?![\[{(])[^\s\"'`,;&<>]{1,4096})"
)
# A cookie header's value runs to the end of the line: `a=1; b=2` is one credential. It holds `name=value`
# pairs; "cookie: not set" holds none.
_COOKIE_RE = re.compile(r"cookie[ \t]*:[ \t]*(?P<secret>[^\r\n\"'=]*=[^\r\n\"']*)")

# --- what a secret value looks like ------------------------------------------------------------------
# Trailing punctuation closes the sentence or the call around the value: `(token=abc).`
_TRAILING = ").,;:]}"
_PLACEHOLDER_RE = re.compile(r"<[^<>]*>|\$\{\{.*\}\}|(.)\1*")  # `<your-token>`, `${{ secrets.X }}`, `xxxxxxxx`
# Numbers, versions, ports, uid:gid, dates and ISO timestamps.
_NUMERIC_RE = re.compile(r"[0-9.:,/+_-]*[0-9][0-9.:,/+_-]*|\d{4}-\d\d-\d\dT[0-9:.]+(?:Z|[+-][0-9:]+)?")
_PATH_RE = re.compile(r"(?:~|\.{1,2})?/[A-Za-z0-9_.@~/-]*|[A-Za-z]:\\[^\s]*")
_CODE_RE = re.compile(r"[A-Za-z_][\w.]*[(\[].*")  # a call or a subscript: `os.environ.get(`, `args[0]`
# A compound name's part: a word (lowercase, Capitalised, ACRONYM or CamelCase) with up to four digits.
_PART_RE = re.compile(r"(?P<letters>[A-Za-z]*)[0-9]{0,4}")
_CAMEL_SEGMENT_RE = re.compile(r"[A-Z]{2,}(?![a-z])|[A-Z]?[a-z]{2,}")
_NAME_SEPARATORS_RE = re.compile(r"[-_.]")
# Long single-case letter runs: English words stay under this entropy per character, random letters
# reach about 3.9 bits at 20 characters.
_MIN_ENTROPY_BITS = 3.5
_MIN_SINGLE_CASE_LENGTH = 20


def lowercase(text: str) -> str:
    """`text.lower()` with the same length, so offsets found in it apply to `text`.

    U+0130 (İ) is the one character whose lowercase is two characters long.
    """
    return text.replace("\u0130", "I").lower()


def _reads_as_words(letters: str) -> bool:
    """Letters that read as a word, an ACRONYM or CamelCase words, not a random mix of cases (`wJalrXUtnFEMI`)."""
    return "".join(_CAMEL_SEGMENT_RE.findall(letters)) == letters


def _is_name(value: str) -> bool:
    """A word or a compound name (`restored`, `PermissionDenied`, `bert-base-uncased`, `python3.11`, `self.token`)."""
    parts = [p for p in _NAME_SEPARATORS_RE.split(value) if p]
    if len(parts) == 1 and not value.isalpha():
        return False  # `hunter22`: one word with digits is how passwords are made
    for part in parts:
        match = _PART_RE.fullmatch(part)
        if match is None or not _reads_as_words(match["letters"]):
            return False
    return bool(parts)


def _entropy_bits(value: str) -> float:
    counts = Counter(value)
    return -sum(n / len(value) * math.log2(n / len(value)) for n in counts.values())


def looks_like_secret(value: str) -> bool:
    """Whether an unquoted value could be a credential rather than a word, a name, a number or a path.

    A secret has at least `MIN_SECRET_LENGTH` characters and either mixes character classes (lowercase,
    uppercase, digits, symbols) without reading as a name, or is a long high-entropy run of one case.

    Example:
        >>> [looks_like_secret(v) for v in ("hunter22", "wJalrXUtnFEMI", "$HF_TOKEN", "Xk3q8Zrm2L")]
        [True, True, True, True]
        >>> [looks_like_secret(v) for v in ("Permission", "restored", "/etc/passwd", "2024-01-01", "<token>")]
        [False, False, False, False, False]
    """
    if len(value) < MIN_SECRET_LENGTH or value.lower() in _NOT_SECRET_VALUES or "://" in value:
        return False
    if any(regex.fullmatch(value) for regex in (_PLACEHOLDER_RE, _NUMERIC_RE, _PATH_RE, _CODE_RE)):
        return False
    name, equals, rest = value.partition("=")
    if equals and rest.rstrip("=") and _is_name(name):  # `max_new_tokens=16`: a setting, judged by its value
        value = rest
        if len(value) < MIN_SECRET_LENGTH or any(r.fullmatch(value) for r in (_NUMERIC_RE, _PATH_RE, _CODE_RE)):
            return False
    if len(value) >= _MIN_SINGLE_CASE_LENGTH and value.isalpha() and (value.islower() or value.isupper()):
        return _entropy_bits(value) >= _MIN_ENTROPY_BITS  # random letters, or one long word
    if _is_name(value):
        return False
    classes = (
        any(c.islower() for c in value)
        + any(c.isupper() for c in value)
        + any(c.isdigit() for c in value)
        + any(not c.isalnum() for c in value)
    )
    return classes >= 2


# People choose passwords, so they read like words (`DB_PASSWORD=dragon`) where a generated token never
# does. Prose does not write `password=word` with no blank around the `=` (`cat: /etc/passwd: Permission
# denied` has a colon and a blank), so after a password key and a bare `=` any value is hidden that is not
# a placeholder, a path, a code expression or the key word itself (`password=password` is a test default
# at worst, and hiding it would garble code such as `password=password` keyword arguments).
_PASSWORD_WORDS = frozenset({"password", "passwords", "passwd", "passphrase", "pass"})


def _assigned_password(text: str, value: re.Match[str]) -> tuple[int, int] | None:
    start, end = value.span("uv")
    while end > start and text[end - 1] in _TRAILING:
        end -= 1
    plain = text[start:end]
    lower = plain.lower()
    if not plain or lower in _PASSWORD_WORDS or lower in _NOT_SECRET_VALUES:
        return None
    if any(regex.fullmatch(plain) for regex in (_PLACEHOLDER_RE, _PATH_RE, _CODE_RE)):
        return None
    return start, end


# --- keys ---------------------------------------------------------------------------------------------
def _is_tokenizer_setting(key: str) -> bool:
    """`pad_token`, `tokenizer.eos_token`: special-token settings, named like secrets but holding none."""
    return key.rsplit(".", 1)[-1].lstrip("-") in _NOT_SECRET_KEYS


def is_sensitive_key(name: str) -> bool:
    """Whether a key name (JSON key, env var, header, flag) names a secret.

    The name is compared case-insensitively, and it must *end* with a sensitive word.

    Example:
        >>> [is_sensitive_key(k) for k in ("HF_TOKEN", "x-api-key", "DB_PASS", "max_new_tokens", "bypass")]
        [True, True, True, False, False]
    """
    key = lowercase(name.strip().strip("\"'").lstrip("-").replace(" ", "_"))
    return not _is_tokenizer_setting(key) and _SENSITIVE_KEY_RE.fullmatch(key) is not None


def _key_before(lower: str, end: int) -> str:
    """The last dotted part of the key ending at `end` (`tokenizer.pad_token` → `pad_token`)."""
    start = end
    while start > 0 and lower[start - 1] in _KEY_CHARS:
        start -= 1
    return lower[start:end]


def _unquoted_span(text: str, start: int, end: int) -> tuple[int, int] | None:
    """The span of an unquoted value that looks like a secret, without the punctuation closing it."""
    while end > start and text[end - 1] in _TRAILING:
        end -= 1
    return (start, end) if looks_like_secret(text[start:end]) else None


def key_value_spans(text: str, lower: str) -> list[tuple[int, int]]:
    """Spans of the values of sensitive keys in `text`; `lower` is `text` lowercased, same length.

    These are not findings: once hidden, `HF_TOKEN=[REDACTED]` would still match them.

    Example:
        >>> text = "HF_TOKEN=Xk39dk2lsP0q auth: disabled"
        >>> [text[a:b] for a, b in key_value_spans(text, text.lower())]
        ['Xk39dk2lsP0q']
    """
    cookies = [m.span("secret") for m in _COOKIE_RE.finditer(lower) if m["secret"].strip() != "[redacted]"]
    spans: list[tuple[int, int]] = []
    candidates = [*_KEY_CANDIDATE_RE.finditer(lower)]
    if "-" in lower:
        candidates = sorted([*candidates, *_FLAG_CANDIDATE_RE.finditer(lower)], key=lambda m: m.start())
    judged_until = 0  # the end of the last value judged: a key inside a value is part of that value
    for match in candidates:
        if match.start() < judged_until:
            continue
        word, word_start = match["word"], match.start("word")
        before = lower[word_start - 1 : word_start]
        if word == "pass" and before.isalnum():
            continue  # `bypass`, `compass`
        if word == "token" and before == "_" and _is_tokenizer_setting(_key_before(lower, match.end("word"))):
            continue
        value = _VALUE_RE.match(lower, match.end())
        if value is None:
            continue
        judged_until = value.end()
        if value["vq"] is not None:
            if value["qv"] not in ("", "[redacted]"):
                spans.append(value.span("qv"))
            continue
        plain = value["uv"]
        # `--token --verbose`: the flag has no value here.
        next_flag = not match["sep"].strip() and plain.startswith("-")
        if plain == "[redacted]" or plain in _NOT_SECRET_VALUES or next_flag:
            continue
        if value["scheme"] is not None and word == "authorization":
            spans.append(value.span("uv"))  # `Authorization: Basic …`: the header says what follows
        elif (span := _unquoted_span(text, *value.span("uv"))) is not None or (
                word in _PASSWORD_WORDS and match["sep"] == "=" and (span := _assigned_password(text, value))):
            spans.append(span)
    return spans + cookies
