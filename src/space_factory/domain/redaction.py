"""Secret redaction for everything the factory serves (DESIGN §9): traces, logs, events, tool results.

Redaction runs in layers, as `reference/peers.md` §9 recommends:

1. exact known secret values, with their URL-encoded and JSON-escaped forms, and the base64 of any
   text that contains them (so `user:secret` basic-auth blobs are caught for every user name);
2. token patterns: `hf_…`, `hf_oauth_…`, `api_org_…`, `Bearer …`, JWTs, credentials in URLs,
   common provider keys, private key blocks;
3. sensitive key names: `HF_TOKEN=…`, `"api_key": "…"`, `Authorization: …`, `--password …`;
   in parsed JSON the value of a sensitive key is replaced whatever its type.

`redact_checked` re-scans the result with layers 1-2 and withholds the whole content when anything
is still found, so a gap in the redactor shows up as a withheld trace instead of a leak.

Everything here is pure: no I/O, no logging, compiled patterns only.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import quote, quote_plus

REDACTED = "[REDACTED]"
WITHHELD_NOTICE = "[withheld: redaction could not clean this content]"
MIN_SECRET_LENGTH = 8
# Deeper JSON than this is replaced whole: failing closed beats a RecursionError mid-trace.
MAX_JSON_DEPTH = 200

__all__ = [
    "MIN_SECRET_LENGTH",
    "REDACTED",
    "WITHHELD_NOTICE",
    "Finding",
    "RedactionResult",
    "Redactor",
    "is_sensitive_key",
    "redact",
]


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


# --- layer 2: token patterns ------------------------------------------------------------------------
# Patterns start with a literal, and their left-boundary lookbehinds come *after* it: the regex engine
# then jumps from literal to literal instead of trying every position, which is what keeps a 10 MB
# trace under a second. The lookbehinds keep e.g. `task-…` from matching `sk-…`.
_A = "A-Za-z0-9"
_TOKEN_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (kind, re.compile(pattern))
    for kind, pattern in (
        # A PEM block; unterminated blocks (truncated logs) lose everything base64-looking after the header.
        (
            "private_key",
            r"-----BEGIN[A-Z ]{0,40}PRIVATE KEY-----"
            r"(?:[\s\S]{0,65536}?-----END[A-Z ]{0,40}PRIVATE KEY-----|[A-Za-z0-9+/=\s\\]*)",
        ),
        # `scheme://user:pass@host`; the password may hold a raw '@', so the greedy part backs off to
        # the last '@' of the authority. Bounded, so a long line full of '://' stays linear.
        ("url_credentials", r"://(?P<secret>[^\s/?#@:\"'<>]{0,256}:[^\s/?#\"'<>]{1,512})@"),
        # HF OAuth access tokens are JWT-shaped after the prefix; refresh and app secrets are alnum runs.
        (
            "hf_oauth_token",
            rf"hf_oauth_(?<![{_A}]hf_oauth_)(?:[A-Za-z0-9_-]{{10,}}\.[A-Za-z0-9_-]{{10,}}\.[A-Za-z0-9_-]{{10,}}"
            rf"|_refresh_[{_A}]{{20,}}|[{_A}]{{20,}})",
        ),
        ("hf_jwt", rf"hf_(?<![{_A}]hf_)(?:jwt|s3)_[A-Za-z0-9_-]{{10,}}\.[A-Za-z0-9_-]{{10,}}\.[A-Za-z0-9_-]{{10,}}"),
        ("hf_app_secret", rf"hf_app_(?<![{_A}]hf_app_)[{_A}]{{30,}}"),
        ("hf_app_secret", rf"oauth_app_secret_(?<![{_A}]oauth_app_secret_)[{_A}]{{30,}}"),
        # hf_ + ≥ 30 alnum: wider than the 34 of today's tokens, narrow enough for hf_hub_download & co.
        ("hf_token", rf"hf_(?<![{_A}]hf_)[{_A}]{{30,}}"),
        ("hf_org_token", rf"api_org_(?<![{_A}]api_org_)[{_A}]{{30,}}"),
        ("anthropic_key", rf"sk-ant-(?<![{_A}_-]sk-ant-)[{_A}_-]{{20,}}"),
        # OpenAI keys always carry digits; requiring one keeps `sk-learn-compatible-wrapper` intact.
        (
            "openai_key",
            rf"sk-(?<![{_A}_-]sk-)(?!ant-)(?:proj-|svcacct-|admin-)?(?=[A-Za-z_-]*[0-9])[{_A}_-]{{20,}}",
        ),
        ("stripe_key", rf"(?:sk|rk)_live_(?<![{_A}][rs]k_live_)[{_A}]{{20,}}"),
        ("github_token", rf"gh(?<![{_A}]gh)[pousr]_[{_A}]{{30,}}"),
        ("github_token", rf"github_pat_(?<![{_A}]github_pat_)[{_A}_]{{30,}}"),
        ("aws_access_key", rf"A(?<![{_A}]A)(?:KIA|SIA|BIA|CCA)[A-Z0-9]{{16}}(?![{_A}])"),
        ("google_api_key", rf"AIza(?<![{_A}_-]AIza)[{_A}_-]{{35}}"),
        ("slack_token", rf"xox(?<![{_A}]xox)[abposr]-[{_A}-]{{10,}}"),
        ("jwt", rf"eyJ(?<![{_A}_-]eyJ)[{_A}_-]{{5,}}\.[{_A}_-]{{5,}}\.[{_A}_-]*"),
    )
)
# Matched on the lowercased text (same offsets), because the scheme is case-insensitive and a
# case-insensitive regex has no literal to jump to. Real tokens carry a digit, '_' or '-', which keeps
# "bearer authentication" as it is.
_BEARER_RE = re.compile(r"bearer(?<![a-z0-9]bearer)\s+(?P<secret>(?=[a-z.~+/]*[0-9_-])[a-z0-9._~+/-]{8,}=*)")

# --- layer 3: sensitive key names -------------------------------------------------------------------
# A key is sensitive when its name *ends* with one of these words, so HF_TOKEN, OPENAI_API_KEY,
# x-api-key and accessToken are, while tokenizer, max_new_tokens and token_classification are not.
_KEY_WORDS = (
    r"(?:token|secrets?|passwords?|passwd|passphrase|api[_.-]?key|access[_.-]?key|private[_.-]?key"
    r"|secret[_.-]?key|authorization|auth|credentials?|cookies?|session)"
)
_SENSITIVE_KEY_RE = re.compile(rf"[a-z0-9_.-]*?{_KEY_WORDS}")
_KEY_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789_.-")
# Tokenizer settings are named like secrets but hold special tokens (`"pad_token": "<pad>"`).
_NOT_SECRET_KEYS = frozenset(
    f"{name}_token" for name in ("pad", "eos", "bos", "unk", "mask", "cls", "sep", "start", "end")
)
# Unquoted values that are code or types, not secrets: `token: str = None`, `use_auth_token=True`.
_NOT_SECRET_VALUES = frozenset(
    {"true", "false", "none", "null", "nil", "undefined", "str", "bytes", "int", "bool", "float"}
)
# All of layer 3 runs on the lowercased text. A key word, then the separator: `=`, `:`, `==`, `:=`,
# `=>` (key/value) or plain blanks (a `--flag value`, checked to start with '-' below).
_KEY_CANDIDATE_RE = re.compile(rf"{_KEY_WORDS}(?P<kq>\\*[\"'])?(?P<sep>[ \t]*(?:==?|:=?|=>)[ \t]*|[ \t]+)")
_VALUE_RE = re.compile(
    r"(?P<vq>\\*[\"'])(?P<qv>(?:\\.|[^\\\n]){0,16384}?)(?P=vq)"
    r"|(?P<scheme>(?:bearer|basic|token|digest|negotiate)\s+)?(?P<uv>\[redacted\]|(?![\[{(])[^\s\"'`,;&<>]{1,4096})"
)
# A cookie header's value runs to the end of the line: `a=1; b=2` is one credential.
_COOKIE_RE = re.compile(r"cookie[ \t]*:[ \t]*(?P<secret>[^\r\n\"']+)")


# Every match of layers 2-3 contains one of these (lowercased): a short text without any skips them,
# which is what keeps redacting a JSONL trace string by string cheap. Long texts skip the check, since
# this alternation has no literal to jump to and would cost more than the patterns themselves.
_TRIGGER_RE = re.compile(
    r"://|-----begin|hf_|api_org_|oauth_app_secret_|sk-|k_live_|gh[pousr]_|github_pat_|akia|asia|abia"
    rf"|acca|aiza|xox|eyj|bearer|cookie|{_KEY_WORDS}"
)
# Short strings (JSON keys, roles, ids) repeat endlessly in a trace; their redaction is memoised.
_MEMO_MAX_LENGTH = 256
_MEMO_MAX_ENTRIES = 10_000
_TRIGGER_MAX_LENGTH = 4096


def _may_hold_secret(lower: str) -> bool:
    return len(lower) > _TRIGGER_MAX_LENGTH or _TRIGGER_RE.search(lower) is not None


def _lowercase(text: str) -> str:
    """`text.lower()` with the same length, so offsets found in it apply to `text`.

    U+0130 (İ) is the one character whose lowercase is two characters long.
    """
    return text.replace("\u0130", "I").lower()


def is_sensitive_key(name: str) -> bool:
    """Whether a key name (JSON key, env var, header, flag) names a secret.

    The name is compared case-insensitively, and it must *end* with a sensitive word.

    Example:
        >>> [is_sensitive_key(k) for k in ("HF_TOKEN", "x-api-key", "max_new_tokens", "tokenizer")]
        [True, True, False, False]
    """
    key = _lowercase(name.strip().strip("\"'").lstrip("-").replace(" ", "_"))
    return not _is_tokenizer_setting(key) and _SENSITIVE_KEY_RE.fullmatch(key) is not None


def _is_tokenizer_setting(key: str) -> bool:
    """`pad_token`, `tokenizer.eos_token`: special-token settings, named like secrets but holding none."""
    return key.rsplit(".", 1)[-1].lstrip("-") in _NOT_SECRET_KEYS


def _key_value_spans(lower: str) -> list[tuple[int, int]]:
    """Spans of the values of sensitive keys (`HF_TOKEN=…`, `"api_key": "…"`, `--password …`) in lowercased text.

    These are not findings: once hidden, `HF_TOKEN=[REDACTED]` would still match them.
    """
    cookies = [m.span("secret") for m in _COOKIE_RE.finditer(lower) if m["secret"].strip() != "[redacted]"]
    spans: list[tuple[int, int]] = []
    for match in _KEY_CANDIDATE_RE.finditer(lower):
        if spans and match.start() < spans[-1][1]:  # inside the value just hidden
            continue
        key_start = match.start()
        while key_start > 0 and lower[key_start - 1] in _KEY_CHARS:
            key_start -= 1
        key = lower[key_start : match.start("kq") if match["kq"] is not None else match.start("sep")]
        # Blanks alone separate a value only after a command-line flag.
        if not match["sep"].strip() and not key.startswith("-"):
            continue
        if _is_tokenizer_setting(key):
            continue
        value = _VALUE_RE.match(lower, match.end())
        if value is None:
            continue
        if value["vq"] is not None:
            if value["qv"] not in ("", "[redacted]"):
                spans.append(value.span("qv"))
            continue
        plain = value["uv"]
        # `--token --verbose`: the flag has no value here.
        next_flag = not match["sep"].strip() and plain.startswith("-")
        if plain != "[redacted]" and plain not in _NOT_SECRET_VALUES and not next_flag:
            spans.append(value.span("uv"))
    return spans + cookies


def _encoded_forms(secret: str) -> set[str]:
    """The text forms a secret takes in logs: itself, URL-encoded (both ways) and JSON-escaped."""
    forms = {
        secret,
        quote(secret, safe=""),
        quote(secret),
        quote_plus(secret),
        json.dumps(secret)[1:-1],
        json.dumps(secret, ensure_ascii=False)[1:-1],
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


_BASE64_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/_-")


def _find_all(text: str, needles: Iterable[str]) -> list[tuple[int, int]]:
    """Every occurrence of every needle, overlapping ones included (str.find is a fast C loop)."""
    spans: list[tuple[int, int]] = []
    for needle in needles:
        start = text.find(needle)
        while start != -1:
            spans.append((start, start + len(needle)))
            start = text.find(needle, start + 1)
    return spans


def _widen_to_base64_run(text: str, span: tuple[int, int]) -> tuple[int, int]:
    """Grow a base64 core to the whole base64 word around it, padding included."""
    start, end = span
    while start > 0 and text[start - 1] in _BASE64_CHARS:
        start -= 1
    while end < len(text) and text[end] in _BASE64_CHARS:
        end += 1
    while end < len(text) and text[end] == "=":
        end += 1
    return start, end


def _replace_spans(text: str, spans: list[tuple[int, int]]) -> str:
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


def _secret_span(match: re.Match[str]) -> tuple[int, int]:
    """The part of a pattern match that is the secret (the `secret` group when the pattern has one)."""
    if "secret" in match.re.groupindex:
        return match.span("secret")
    return match.span()


class Redactor:
    """Redacts known secret values and anything that looks like a credential.

    Args:
        secrets: exact secret values known to the run (the user's token, provider keys). Each is
            stripped of surrounding whitespace; values shorter than `MIN_SECRET_LENGTH` characters
            are ignored, since hiding every "abc" would shred the text and protect nothing.

    Example:
        >>> r = Redactor(["s3cr3t-value-123"])
        >>> r.redact_text("echo s3cr3t-value-123; HF_TOKEN=abc python app.py")
        'echo [REDACTED]; HF_TOKEN=[REDACTED] python app.py'
    """

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        known = {value.strip() for value in secrets if isinstance(value, str)}
        known = {value for value in known if len(value) >= MIN_SECRET_LENGTH}
        self._forms: tuple[str, ...] = tuple(sorted({f for s in known for f in _encoded_forms(s)}))
        self._cores: tuple[str, ...] = tuple(sorted({c for s in known for c in _base64_cores(s)}))
        self._memo: dict[str, str] = {}

    def _spans(self, text: str, lower: str) -> list[tuple[str, tuple[int, int]]]:
        """Layers 1 and 2: every known value, form and token pattern in `text`, as (kind, span)."""
        found = [("known_secret", span) for span in _find_all(text, self._forms)]
        found += [("known_secret_base64", _widen_to_base64_run(text, span)) for span in _find_all(text, self._cores)]
        if _may_hold_secret(lower):
            for kind, pattern in _TOKEN_PATTERNS:
                found += [(kind, _secret_span(m)) for m in pattern.finditer(text)]
            found += [("bearer", m.span("secret")) for m in _BEARER_RE.finditer(lower)]
        return found

    def redact_text(self, text: str) -> str:
        """Redact secrets in free text (logs, stdout, a JSONL line that does not parse).

        Layers 1-2 are found on the input and replaced in one go; then layer 3 runs on the result,
        so a value already hidden stays `[REDACTED]` once.

        Example:
            >>> Redactor().redact_text("git clone https://user:pw12345@example.com/repo.git")
            'git clone https://[REDACTED]@example.com/repo.git'
        """
        memo = len(text) <= _MEMO_MAX_LENGTH
        if memo and text in self._memo:
            return self._memo[text]
        lower = _lowercase(text)
        redacted = _replace_spans(text, [span for _, span in self._spans(text, lower)])
        if _may_hold_secret(lower):
            redacted = _replace_spans(redacted, _key_value_spans(_lowercase(redacted)))
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

    def _redact_value(self, value: object, depth: int) -> object:
        if isinstance(value, str):
            return self.redact_text(value)
        if value is None or isinstance(value, bool | int | float):
            return value
        if depth >= MAX_JSON_DEPTH:
            return REDACTED
        if isinstance(value, dict):
            return self._redact_dict(value, depth)
        if isinstance(value, list | tuple):
            return [self._redact_value(item, depth + 1) for item in value]
        # Not JSON: keep its text, redacted, rather than an object that may print the secret later.
        return self.redact_text(str(value))

    def _redact_dict(self, value: dict[object, object], depth: int) -> dict[object, object]:
        names_secret = any(
            isinstance(value.get(k), str) and is_sensitive_key(str(value.get(k))) for k in ("name", "key")
        )
        out: dict[object, object] = {}
        for key, item in value.items():
            new_key = self.redact_text(key) if isinstance(key, str) else key
            while new_key in out:  # two keys redacted to the same text: keep both values
                new_key = f"{new_key}#"
            sensitive = isinstance(key, str) and (is_sensitive_key(key) or (names_secret and key == "value"))
            out[new_key] = REDACTED if sensitive else self._redact_value(item, depth + 1)
        return out

    def redact_jsonl(self, text: str) -> str:
        """Redact a JSONL document line by line; line endings are kept.

        A line that parses as JSON is redacted with `redact_json` and re-serialised compactly (which
        also decodes `\\uXXXX` escapes that could hide a token); any other line goes through `redact_text`.

        Example:
            >>> Redactor().redact_jsonl('{"token": "abc", "n": 1}\\nnot json: password=x\\n')
            '{"token":"[REDACTED]","n":1}\\nnot json: password=[REDACTED]\\n'
        """
        out: list[str] = []
        # split("\n"), not splitlines(): JSON strings may hold U+2028 and friends, which are not line ends here.
        for line in text.split("\n"):
            body, ending = (line[:-1], "\r") if line.endswith("\r") else (line, "")
            if not body.strip():
                out.append(line)
                continue
            try:
                parsed = json.loads(body)
            except (ValueError, RecursionError):
                out.append(self.redact_text(body) + ending)
                continue
            out.append(_dump_compact(self.redact_json(parsed)) + ending)
        return "\n".join(out)

    def findings(self, text: str) -> list[Finding]:
        """What in `text` still looks secret: known values and their forms, and token patterns.

        Key-name rules are not part of the scan: a redacted `HF_TOKEN=[REDACTED]` would match them forever.

        Example:
            >>> Redactor().findings("Authorization: Bearer abc.def-123456")
            [Finding(kind='bearer', start=22, end=36)]
        """
        # One finding per place: the first (most specific) kind to claim a span names it.
        by_span: dict[tuple[int, int], str] = {}
        for kind, span in self._spans(text, _lowercase(text)):
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


def _dump_compact(value: object) -> str:
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates from `\ud800`-style escapes: keep them escaped
        text = json.dumps(value, ensure_ascii=True, separators=(",", ":"))
    return text


_DEFAULT = Redactor()


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """Redact `text` with a one-off `Redactor(secrets)`; patterns only when no secrets are given.

    Example:
        >>> redact("HF_HOME=/tmp/x HF_TOKEN=abc")
        'HF_HOME=/tmp/x HF_TOKEN=[REDACTED]'
    """
    secrets = tuple(secrets)
    return (Redactor(secrets) if secrets else _DEFAULT).redact_text(text)
