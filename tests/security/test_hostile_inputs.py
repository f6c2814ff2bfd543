"""Hostile inputs through every tool, in both protocol eras (issue 8, "the suite to keep").

The tools come from the server's own `tools/list`. Each parameter gets a role from its name and JSON type
(`ROLES`), and each role gets every hostile value of the families below, one parameter at a time, the others
valid. A new tool whose parameters all have a role is covered as it is; a parameter without one fails
`test_every_advertised_parameter_has_a_hostile_profile` until it gets one.

Every answer, whatever the input, must hold:
- no crash: no "internal error, reference", no masked "Error executing tool <name>", no traceback;
- no hang: each call ends within `CALL_SECONDS` (`anyio.fail_after`);
- no secret: no 12-character window of a token generated for this run (nor of the encoded form sent) in any
  text or structured content;
- no server path: not the factory home, the test's temp dirs, `/root`, `site-packages`, the venv or the
  repo — unless the input itself held that text.
And it is what the table says for its class:
- refused: `isError`, the text names the parameter or its rule, is under 4,000 characters and carries no
  raw control or format character (ESC, NUL, CR, BEL, RTL override, zero-width) — an echo is escaped;
- normalised: accepted, and what the tool worked on is the clean value named in the table.

| class | answer (values: `string_rows`, `INT_VALUES`, `FLAG_VALUES`) |
|---|---|
| ids | refused (empty, `.`, `..`, `/`, extra or missing segments, upper case, 81 chars, an unknown run id) |
| | — an idempotency key or a Space name takes those its rule admits, as is (a key is kept only as a digest) |
| paths | refused (`../../etc/passwd`, absolute, `~`, `C:\\`, UNC, NUL, `%2e%2e`, `..%2f`, `file://`, `agent:../`) |
| urls | refused (SSRF hosts: metadata, RFC 1918, `[::ffff:…]`, `0.0.0.0`; other schemes; credentials; `?`, `#`; |
| | dot segments; bad ports; look-alike Hub hosts) |
| | — a loopback app URL in any spelling (`127.1`, `0x7f000001`, `2130706433`, `0177.0.0.1`, `[::1]`, |
| | `LOCALHOST`) is a validation target in its canonical spelling |
| | — a huggingface.co / hf.co model URL (also with `/tree/…/../..`) is its `owner/name`; `a/b` is one as is |
| names | refused (`a..b`, `a--b`, 97 / 300 chars, leading `-` `.`, trailing `.` `-` `.git`, space, `/`, `~`) |
| | — an idempotency key takes those its pattern admits |
| keys | refused (over 128 chars, whitespace, shell / SQL / template / JNDI metacharacters, non-ASCII) |
| | — `a:b`, `null`, `0`, 128 chars are valid keys (the names among them valid Space names) |
| | — the text `null` for a nullable parameter is JSON null, its default (the SDK parses JSON-looking text) |
| control | refused (`\\r\\n`, NUL, ESC `[31m`, OSC, BEL, BS, DEL, NEL, U+2028, TAB, alone or around a valid value) |
| | — a model id is stripped of surrounding whitespace (`str.strip`: CR, LF, TAB, NEL, U+2028, NBSP) |
| unicode | refused (fullwidth, Cyrillic homoglyph, RTL override, zero-width space / joiner, BOM, combining accent, |
| | ideographic dot, Kelvin sign) — NBSP around a model id is stripped like other whitespace |
| 10 kB | refused (10,000 `a`; a valid value + 10,000 chars; `../` × 3,334; `é` × 5,000; NUL × 10,000; 270 tokens) |
| tokens | refused without echo (`hf_`, `ghp_`, `api_org_`, `glpat-`, JWT: bare, after `Bearer `, URL-encoded, base64, |
| | split over a line; inside model ids, Space names, kinds, and URL paths, queries, fragments, userinfo) |
| | — an idempotency key may take one (only its digest is kept); a Hub model URL whose query or userinfo holds |
| | one may be reduced to its `owner/name` |
| types | refused (number, float, boolean, null for a required parameter, list, object where a string belongs) |
| integers | the SDK's lax reading: an integral number, a boolean or an ASCII decimal string (trimmed) is that |
| | integer, then the bound applies: refused outside it; a `since_seq` past the last event answers no events, a trace |
| | `cursor` past the end the empty last page; everything else refused (-1, ±2**63, 10**100, 1e308, 1.5, hex, |
| | `1e3`, fullwidth, 10,000 digits, null, list, object). `wait_seconds` gets no value that would really wait |
| flags | `yes` `true` `on` `1` / `no` `off` `0` as text, 1 / 0 as numbers: that boolean; refused: 2, -1, 1.5, |
| | `maybe`, fullwidth, NUL, 10 kB, null, list, object |
| cursors | `list_runs`: refused (padded, hand-made with a negative, huge or non-integer time, a path, a NUL, a token) |
| | — a well-formed cursor only names a position (the page holds the caller's runs older than it), so a real |
| | one truncated, extended or re-cased is refused, or read as the position it now spells |
| extra args | an unknown argument (holding a token) is ignored: the SDK drops unknown arguments |

Jobs are held, not started (`HeldJobs`): what is under test is the edge, and a queued run is what an
accepted launch looks like. The model source is a real cache directory holding one model.
"""

from __future__ import annotations

import base64
import json
import random
import string
import sys
import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client, MCPError

from space_factory.backends.base import JobStatus
from space_factory.backends.local.models import CacheModelSource
from space_factory.domain.stages import JobStage
from space_factory.service import Factory
from tests.support.tokens import fake_token
from tests.tools.helpers import make_app, make_factory, result_text, write_run
from tests.tools.test_files import write_parent

pytestmark = pytest.mark.anyio

ROOT = Path(__file__).resolve().parents[2]
CALL_SECONDS = 20
MAX_REFUSAL_CHARS = 4000
WINDOW = 12  # a leak is any 12-character window of a secret
MODEL = "factory-test/hostile"
TARGET = "http://127.0.0.1:7860/"
SPACE_ID = "tester/hostile-demo-abcdef"
_DIRECT_WORDS = "Error executing tool"

# Parameter (name, JSON type) → role: which families apply and how an accepted value is judged.
ROLES: dict[tuple[str, str], str] = {
    ("run_id", "string"): "run_id",
    ("model", "string"): "model",
    ("space", "string"): "target",
    ("space_name", "string"): "name",
    ("idempotency_key", "string"): "key",
    ("task", "string"): "enum",
    ("hardware", "string"): "enum",
    ("mode", "string"): "enum",
    ("flavor", "string"): "enum",
    ("agent", "string"): "enum",
    ("kind", "string"): "kind",
    ("cursor", "string"): "page",
    ("cursor", "integer"): "offset",
    ("since_seq", "integer"): "seq",
    ("max_bytes", "integer"): "size",
    ("limit", "integer"): "count",
    ("wait_seconds", "integer"): "seconds",
    ("allow_paid_fallback", "boolean"): "flag",
    ("confirm_cost", "boolean"): "flag",
    ("path", "string"): "app_path",
    # A revision's change: its paths, sizes and text are judged by the table tests of domain/revisions.py
    # (tests/domain/test_revisions.py, tests/tools/test_files.py); here they take a valid value.
    ("files", "object"): "revision",
    ("remove", "array"): "revision",
    ("note", "string"): "revision",
}
# What a clear refusal names, per role (besides the parameter's own name).
CLEAR_WORDS: dict[str, tuple[str, ...]] = {
    "run_id": ("run id", "run not found"), "model": ("model",), "target": ("target", "space"),
    "name": ("space name",), "kind": ("log",), "page": ("cursor",), "app_path": ("path",),
}


# -- the server's tools ------------------------------------------------------------------------------


def _advertised() -> dict[str, dict[str, Any]]:
    """Each listed tool's input schema, read with tools/list from the server itself (no factory is needed)."""

    def no_factory(subject: str | None, token: str | None = None) -> Factory:
        raise AssertionError("listing tools needs no factory")

    async def listing() -> dict[str, dict[str, Any]]:
        from space_factory.server.app import create_app

        async with Client(create_app(no_factory)) as client:
            return {tool.name: tool.input_schema for tool in (await client.list_tools()).tools}

    return anyio.run(listing)


TOOLS = _advertised()


def json_type(schema: dict[str, Any], defs: dict[str, Any]) -> str:
    branches = [b for b in schema.get("anyOf", [schema]) if b.get("type") != "null"]
    branch = branches[0] if branches else schema
    if "$ref" in branch:
        branch = defs[branch["$ref"].rsplit("/", 1)[-1]]
    return "string" if "enum" in branch or "const" in branch else str(branch.get("type", "?"))


def enum_values(schema: dict[str, Any], defs: dict[str, Any]) -> list[Any]:
    for branch in schema.get("anyOf", [schema]):
        branch = defs[branch["$ref"].rsplit("/", 1)[-1]] if "$ref" in branch else branch
        if "enum" in branch or "const" in branch:
            return list(branch.get("enum", [branch.get("const")]))
    return []


@dataclass(frozen=True)
class Param:
    tool: str
    name: str
    type: str
    role: str | None
    required: bool
    nullable: bool
    enum: tuple[Any, ...]
    minimum: int | None
    maximum: int | None


def params_of(tool: str) -> list[Param]:
    schema = TOOLS[tool]
    defs = schema.get("$defs", {})
    out = []
    for name, prop in schema.get("properties", {}).items():
        kind = json_type(prop, defs)
        nullable = any(branch.get("type") == "null" for branch in prop.get("anyOf", []))
        out.append(Param(tool, name, kind, ROLES.get((name, kind)), name in schema.get("required", []), nullable,
                         tuple(enum_values(prop, defs)), prop.get("minimum"), prop.get("maximum")))
    return out


# -- what an answer must be --------------------------------------------------------------------------


@dataclass(frozen=True)
class Accepted:
    """A documented harmless normalisation: the call succeeds, and `check` says what it made of the input."""

    rule: str
    check: Callable[[str, dict[str, Any]], bool] = lambda tool, out: True


@dataclass(frozen=True)
class Expect:
    refuse: bool = True  # a clear refusal is a right answer
    accept: Accepted | None = None  # so is this normalisation (both set: either is right)


REFUSED = Expect()


def accepted(rule: str, check: Callable[[str, dict[str, Any]], bool] | None = None) -> Expect:
    return Expect(refuse=False, accept=Accepted(rule, check or (lambda tool, out: True)))


def either(rule: str, check: Callable[[str, dict[str, Any]], bool] | None = None) -> Expect:
    return Expect(refuse=True, accept=Accepted(rule, check or (lambda tool, out: True)))


def _worked_on(tool: str, out: dict[str, Any]) -> str | None:
    if tool == "analyze_model":
        return str(out["analysis"]["model"])
    return str(out["state"]["model"]) if "state" in out else None


def as_model(tool: str, out: dict[str, Any]) -> bool:
    return _worked_on(tool, out) == MODEL


def as_target(canonical: str) -> Callable[[str, dict[str, Any]], bool]:
    return lambda tool, out: _worked_on(tool, out) == canonical


@dataclass(frozen=True)
class Case:
    cls: str
    param: Param
    value: Any
    expect: Expect
    secrets: tuple[str, ...] = ()

    def label(self) -> str:
        shown = repr(self.value)
        return f"{self.param.tool}.{self.param.name} [{self.cls}] {shown[:70]}{'…' if len(shown) > 70 else ''}"


# -- secrets, made at run time -------------------------------------------------------------------------


def _letters(k: int, alphabet: str = string.ascii_letters + string.digits) -> str:
    return "".join(random.choices(alphabet, k=k))


def _b64url(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


@dataclass(frozen=True)
class Secrets:
    """Obviously fake token-shaped strings, fresh for each test (none is a literal in this file)."""

    hf: str = field(default_factory=fake_token)
    github: str = field(default_factory=lambda: "ghp_" + _letters(36))
    org: str = field(default_factory=lambda: "api_org_" + _letters(34, string.ascii_letters))
    gitlab: str = field(default_factory=lambda: "glpat-" + _letters(20))
    jwt: str = field(default_factory=lambda: ".".join([_b64url(json.dumps({"alg": "HS256", "typ": "JWT"})),
                                                       _b64url(json.dumps({"sub": _letters(16)})), _letters(43)]))

    def all(self) -> tuple[str, ...]:
        return self.hf, self.github, self.org, self.gitlab, self.jwt


# -- the families ------------------------------------------------------------------------------------

STRING_ROLES = {"run_id", "model", "target", "name", "key", "enum", "kind", "page", "app_path"}
NAME_OK = "a valid Space name: used as is"
KEY_OK = "a valid idempotency key: only its salted digest is kept"
NULL_OK = "the text 'null' for a nullable parameter is JSON null, its default"
Row = tuple[str, Any, dict[str, Expect]]  # (class, value, role → expectation; default refused)


def _fullwidth(text: str) -> str:
    return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in text)


def _homoglyph(text: str) -> str:
    twins = {"a": "\u0430", "e": "\u0435", "o": "\u043e", "p": "\u0440", "c": "\u0441", "x": "\u0445"}
    for i, c in enumerate(text):
        if c in twins:
            return text[:i] + twins[c] + text[i + 1:]
    return text + "\u0430"


def string_rows(base: str, role: str, s: Secrets, cursor: str) -> list[Row]:
    """Every hostile string for a parameter whose valid value is `base`."""
    name_or_key = {"name": accepted(NAME_OK), "key": accepted(KEY_OK)}
    key = {"key": accepted(KEY_OK)}
    token = {"key": either(KEY_OK)}  # a key is never stored or shown, only its digest: taking one is harmless too
    model = {"model": accepted("surrounding whitespace is stripped", as_model)}
    rows: list[Row] = [
        # ids
        ("ids", "", {}), ("ids", " ", {}), ("ids", ".", key), ("ids", "..", key), ("ids", "/", {}), ("ids", "-", key),
        ("ids", "a", name_or_key), ("ids", "owner/name/extra", {}), ("ids", "owner//name", {}),
        ("ids", "/owner/name", {}), ("ids", "owner/", {}), ("ids", "UPPER-CASE-RUN-ID-0000", name_or_key),
        ("ids", "20261128-000000-nothing-abcdef", name_or_key), ("ids", "x" * 81, name_or_key),
        ("ids", "20261128-000000-x-abcdef/../../etc", {}),
        # paths
        *[("paths", v, {}) for v in (
            "../../etc/passwd", "/etc/passwd", "/root/.cache/huggingface/token", "..%2f..%2fetc%2fpasswd",
            "%2e%2e/%2e%2e/etc/passwd", "%2e%2e%2f%2e%2e%2fetc%2fpasswd", "a\x00b", "C:\\Windows\\win.ini",
            "\\\\server\\share\\x", "~/.ssh/id_rsa", "file:///etc/passwd", "owner/../../etc/passwd", "./owner/name",
            "runs/../../../etc/passwd", "agent:../../etc/passwd", "agent:..%2f..%2fsecret", "traces/raw/worker",
            base + "/../../../etc/passwd", base + "\x00.json")],
        # urls: SSRF and oddities (refused everywhere), loopback spellings (a local target), Hub URLs (a model)
        *[("urls", url, {}) for url in (
            "http://169.254.169.254/latest/meta-data/", "http://10.0.0.1/", "http://192.168.0.1:8080/",
            "http://172.16.0.1/", "http://metadata.google.internal/computeMetadata/v1/",
            "http://[::ffff:169.254.169.254]/", "http://[fd00::1]/", "http://0.0.0.0:7860/", "http://example.com/",
            "https://evil.example/owner/name", "https://huggingface.co.evil.example/factory-test/hostile",
            "https://huggingface.co:443@evil.example/factory-test/hostile", "ftp://127.0.0.1/",
            "gopher://127.0.0.1:6379/_FLUSHALL", "javascript:alert(1)", "data:text/html,<script>x</script>",
            "http://127.0.0.1:7860/#", "http://127.0.0.1:7860/?x=", "http://127.0.0.1:7860/health?",
            "http://user:pass@127.0.0.1:7860/", "http://127.0.0.1:7860/a/../../b", "http://127.0.0.1:7860/%2e%2e/",
            "http://127.0.0.1:7860/%2f", "http://127.0.0.1:99999/", "http://127.0.0.1:0/", "http://127.0.0.1:-1/",
            "http:/127.0.0.1:7860/", "http://127.0.0.1:7860:7861/", "//127.0.0.1:7860/", "http://[::1",
            "http://127.0.0.1 :7860/", "http://%31%32%37.0.0.1:7860/", "https://owner-name.hf.space/",
            "https://huggingface.co/spaces/factory-test/hostile", "https://huggingface.co/datasets/factory-test/x",
            "https://huggingface.co/factory-test", "ftp://huggingface.co/factory-test/hostile")],
        *[("urls", url, {"target": accepted(f"a loopback app, spelled {canonical}", as_target(canonical))})
          for url, canonical in (
              ("http://127.1:7860/", TARGET), ("http://0x7f000001:7860/", TARGET),
              ("http://2130706433:7860/", TARGET), ("http://0177.0.0.1:7860/", TARGET),
              ("http://[::1]:7860/", "http://[::1]:7860/"), ("HTTP://LOCALHOST:7860/", "http://localhost:7860/"))],
        *[("urls", url, {"model": accepted("a Hub model URL is its owner/name", as_model)}) for url in (
            f"https://huggingface.co/{MODEL}", f"https://huggingface.co/{MODEL}/tree/main/../../x",
            f"hf.co/{MODEL}", f"https://huggingface.co/models/{MODEL}", f"HTTPS://HUGGINGFACE.CO/{MODEL}",
            f"http://huggingface.co/{MODEL}")],
        # names
        *[("names", v, key) for v in ("a..b", "a--b", "x" * 97, "-a", ".a", "a.", "a-", "a.git")],
        *[("names", v, {}) for v in ("x" * 300, "a b", "a~b", "owner/a..b", "owner/a--b", "owner/" + "x" * 300)],
        ("names", "a/b", {"model": either("a valid model id: used as is (a tool that reads it: not found)")}),
        # keys
        *[("keys", v, {}) for v in ("k" * 129, "a b", "a\nb", "a\tb", "key;rm -rf /", "'; DROP TABLE runs; --",
                                     "{{7*7}}", "${jndi:ldap://127.0.0.1/a}", "$(id)", "`id`",
                                     "<script>alert(1)</script>", "key\\x", "*", "%", "\u043a\u043b\u044e\u0447")],
        ("keys", "k" * 128, key), ("keys", "a:b", key),
        *[("keys", v, name_or_key) for v in ("null", "None", "true", "0")],
        # control characters, alone and around the valid value
        *[("control", v, {}) for v in ("\r\n", "\x00", "\x1b[31mred\x1b[0m", "\x07", "\x08", "\x7f", "\x00" * 10,
                                        "%00", "%0d%0a")],
        *[("control", v, model) for v in (base + "\r\n", "\r\n" + base, base + "\t", base + "\u0085", base + "\u2028")],
        *[("control", v, {}) for v in (base + "\x00", base + "\r\nX-Injected: 1", "\x1b[31m" + base,
                                        base + "\x1b]0;title\x07", base + "\x08\x08\x08", base + "\x7f",
                                        base[:3] + "\x00" + base[3:], base + "%0d%0aX:%20y")],
        # unicode look-alikes
        *[("unicode", v, {}) for v in (_fullwidth(base), _homoglyph(base), base[:3] + "\u202e" + base[3:],
                                        base + "\u200b", base[:3] + "\u200d" + base[3:], "\ufeff" + base,
                                        base + "\u0301", base.replace(".", "\u3002").replace("/", "\u2215"),
                                        base.replace("-", "\u2010"), "\u212a" + base) if v != base],
        ("unicode", base + "\u00a0", model),
        # 10 kB strings
        *[("10 kB", v, {}) for v in ("a" * 10_000, base + "a" * 10_000, "../" * 3_334, "\u00e9" * 5_000,
                                      "\x00" * 10_000, s.hf * 270)],
        # token-shaped strings, and values that carry one
        *[("tokens", v, token) for v in (s.hf, s.github, s.org, s.gitlab, s.jwt, "Bearer " + s.hf, "hf%5F" + s.hf[3:],
                                          _b64url(s.hf), s.hf[:18] + "\n" + s.hf[18:], f"token={s.hf}",
                                          f"{base}-{s.hf}", f"{base}/{s.hf}")],
        *[("tokens", v, token) for v in (f"factory-test/{s.hf}", f"{s.hf}/hostile", f"factory-test/{s.github}",
                                       f"factory-test/{s.org}", f"factory-test/{s.gitlab}", f"factory-test/{s.jwt}",
                                       f"{s.hf}/app", f"app-{s.hf}", f"agent:{s.hf}", f"agent:{s.github}",
                                       f"http://127.0.0.1:7860/?token={s.hf}", f"http://127.0.0.1:7860/#access_token={s.hf}",
                                       f"http://user:{s.hf}@127.0.0.1:7860/", f"http://{s.hf}@127.0.0.1:7860/",
                                       f"http://127.0.0.1:7860/{s.hf}", f"http://127.0.0.1:7860/api/{s.github}/x")],
        *[("tokens", v, {**token, "model": either("the Hub URL is reduced to its owner/name", as_model)})
          for v in (f"https://huggingface.co/{MODEL}?token={s.hf}", f"https://user:{s.hf}@huggingface.co/{MODEL}")],
        # wrong JSON types
        *[("types", v, {}) for v in (123, 1.5, True, [], {}, ["a"], {"$ne": 1})],
        # list_runs cursors: a real one altered, and hand-made payloads
        # an altered cursor that still decodes to a well-formed position only names that position
        *[("cursors", v, {"page": either("a well-formed cursor only names a position", only_mine)})
          for v in (cursor[:-1], cursor[:-4], cursor + "A", _swap_first(cursor), cursor.upper(), cursor[::-1])],
        *[("cursors", v, {}) for v in (cursor + "=", _b64url("20261128-000000-x-abcdef~-1"),
                                        _b64url("20261128-000000-x-abcdef~" + "9" * 30),
                                        _b64url("20261128-000000-x-abcdef~abc"), _b64url("../../etc/passwd~1"),
                                        _b64url("20261128-000000-x-abcdef\x00~1"), _b64url(f"{s.hf}~1"),
                                        _b64url("20261128-000000-x-abcdef~1") + "==", "-1", "9" * 200)],
        *[("cursors", _b64url(payload), {"page": accepted("a well-formed cursor only names a position", only_mine)})
          for payload in ("20991231-235959-future-abcdef~4102444799000000", "19700101-000000-past-abcdef~0")],
    ]
    return rows


def _swap_first(text: str) -> str:
    return ("B" if text[0] != "B" else "C") + text[1:]


def only_mine(tool: str, out: dict[str, Any]) -> bool:
    return all(run["owner"] == "tester" for run in out["runs"])


def _lax_int(value: Any) -> int | None:
    """The integer the SDK's lax validation reads from `value`, or None where it refuses it."""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value) if value.is_integer() and abs(value) < 2**63 else None
    if isinstance(value, str):
        text = value.strip()
        digits = text.removeprefix("-")
        return int(text) if digits.isascii() and digits.isdigit() and len(digits) < 4000 else None
    return None


INT_VALUES: list[Any] = [-1, 0, 1, 2**31, 2**63, -(2**63), 2**64, 10**100, 1e308, 1.5, 2.0, "1", " 1 ", "-1", "abc",
                         "0x10", "1e3", "\uff11", "", "9" * 10_000, True, False, None, [], {}]
FLAG_TRUE, FLAG_FALSE = {"yes", "true", "on", "1"}, {"no", "false", "off", "0"}
FLAG_VALUES: list[Any] = ["yes", "true", "on", "1", "no", "off", "0", 1, 0, 2, -1, 1.5, "maybe", "", "\uff54rue",
                          "tru\x00e", "t" * 10_000, None, [], {}]


def int_expect(param: Param, value: Any) -> Expect | None:
    """The expectation for an integer parameter, or None to skip the value (a wait that would really wait)."""
    number = _lax_int(value)
    low = param.minimum if param.minimum is not None else -(2**63)
    high = param.maximum if param.maximum is not None else float("inf")
    if number is None or not low <= number <= high:
        return REFUSED
    if param.role == "seconds" and number > 0:
        return None
    if param.role == "seq" and number > 1000:
        return accepted("a since_seq past the last event answers no events", lambda tool, out: out["events"] == [])
    if param.role == "offset" and number > 1000:
        return accepted("a cursor past the end answers the empty last page",
                        lambda tool, out: out["text"] == "" and out["next_cursor"] is None)
    return accepted("an integral number, a boolean or a decimal string is read as that integer")


def flag_expect(value: Any) -> Expect:
    if (isinstance(value, str) and value.lower() in FLAG_TRUE | FLAG_FALSE) or (type(value) is int and value in (0, 1)):
        return accepted("'yes'/'true'/'on'/'1' and 'no'/'false'/'off'/'0', or 1 and 0, are read as booleans")
    return REFUSED


def base_value(param: Param, run_id: str) -> Any:
    """A valid value for `param`: the others' value while one parameter is hostile."""
    role = param.role
    if role == "enum":
        return "cpu-basic" if "cpu-basic" in param.enum else param.enum[0]
    if param.name == "files":
        return {"app.py": "print('hostile inputs')\n"}
    return {"run_id": run_id, "model": MODEL, "target": TARGET, "name": "hostile-name", "key": "hostile-key",
            "kind": "worker", "app_path": "app.py"}.get(role or "", "")


def cases_for(tool: str, run_id: str, s: Secrets, cursor: str) -> Iterator[Case]:
    for param in params_of(tool):
        if param.role in STRING_ROLES:
            for cls, value, by_role in string_rows(str(base_value(param, run_id)), str(param.role), s, cursor):
                if isinstance(value, str) and cls == "cursors" and param.role != "page":
                    continue  # cursors are for the cursor parameter; other values reach every string
                expect = by_role.get(str(param.role), REFUSED)
                if value == "null" and param.nullable:
                    expect = accepted(NULL_OK)  # the SDK reads JSON-looking text for a non-str type: null
                yield Case(cls, param, value, expect, _secrets_in(value, s))
            if param.required:
                yield Case("types", param, None, REFUSED)
        elif param.type == "integer":
            for value in [*INT_VALUES, s.hf]:
                expect = int_expect(param, value)
                if expect is not None:
                    yield Case("integers" if param.role != "offset" else "cursors", param, value, expect,
                               _secrets_in(value, s))
        elif param.type == "boolean":
            for value in [*FLAG_VALUES, s.hf]:
                yield Case("flags", param, value, flag_expect(value), _secrets_in(value, s))
    extra = Param(tool, "unexpected_argument", "string", "extra", False, False, (), None, None)
    yield Case("extra args", extra, s.hf, accepted("unknown arguments are ignored"), (s.hf,))


def _secrets_in(value: Any, s: Secrets) -> tuple[str, ...]:
    if not isinstance(value, str):
        return ()
    found = [t for t in s.all() if t in value or t[:18] in value or t[18:] in value]
    if "hf%5F" + s.hf[3:] in value:
        found.append(s.hf[3:])
    if _b64url(s.hf) in value:
        found.append(_b64url(s.hf))
    return tuple(found)


# -- the checks --------------------------------------------------------------------------------------


def leaked_window(secret: str, text: str) -> str | None:
    for i in range(len(secret) - WINDOW + 1):
        if secret[i:i + WINDOW] in text:
            return secret[i:i + WINDOW]
    return None


def raw_control(text: str) -> str | None:
    for c in text:
        if c not in "\n\t" and unicodedata.category(c) in ("Cc", "Cf"):
            return f"U+{ord(c):04X}"
    return None


@dataclass
class Outcome:
    case: Case
    refused: bool
    problem: str | None


async def judge(client: Client, case: Case, args: dict[str, Any], markers: list[str]) -> Outcome:
    tool = case.param.tool
    try:
        with anyio.fail_after(CALL_SECONDS):
            result = await client.call_tool(tool, args)
    except TimeoutError:
        return Outcome(case, False, f"no answer within {CALL_SECONDS} s")
    except MCPError as exc:  # a JSON-RPC error instead of a tool result: judged as a refusal
        is_error, text, structured = True, str(exc), None
    else:
        is_error, text, structured = bool(result.is_error), result_text(result), result.structured_content
    seen = text + "\n" + json.dumps(structured, ensure_ascii=False)
    if "internal error, reference" in seen or text.strip() == f"{_DIRECT_WORDS} {tool}" or "Traceback" in seen:
        return Outcome(case, is_error, f"crash: {text[:200]!r}")
    for secret in case.secrets:
        if window := leaked_window(secret, seen):
            return Outcome(case, is_error, f"echoes a secret (window {window[:4]}…)")
    sent = json.dumps(args, ensure_ascii=False)
    for marker in markers:
        if marker in seen and marker not in sent:
            return Outcome(case, is_error, f"echoes a server path ({marker})")
    expect = case.expect
    if is_error:
        if not expect.refuse:
            return Outcome(case, True, f"refused, but the table says accepted ({expect.accept and expect.accept.rule})"
                                       f": {text[:300]!r}")
        words = (case.param.name.lower(), *CLEAR_WORDS.get(str(case.param.role), ()))
        if not any(word in text.lower() for word in words):
            return Outcome(case, True, f"refusal names neither {case.param.name} nor its rule: {text[:300]!r}")
        if len(text) > MAX_REFUSAL_CHARS:
            return Outcome(case, True, f"refusal is {len(text)} characters long")
        if char := raw_control(text):
            return Outcome(case, True, f"refusal carries a raw {char}")
        return Outcome(case, True, None)
    if expect.accept is None:
        return Outcome(case, False, f"accepted, but the table says refused: {text[:200]!r}")
    if structured is None or not expect.accept.check(tool, structured):
        return Outcome(case, False, f"accepted, but not as the table says ({expect.accept.rule}): {text[:300]!r}")
    return Outcome(case, False, None)


# -- the factory the tools run on -------------------------------------------------------------------


class HeldJobs:
    """A job runner that records launches and starts nothing: every accepted launch stays queued."""

    def __init__(self) -> None:
        self.launched: list[str] = []

    def launch(self, run_id: str) -> JobStatus:
        self.launched.append(run_id)
        return JobStatus(id=f"held-{run_id[-6:]}", stage=JobStage.SCHEDULING)

    def status(self, job_id: str) -> JobStatus:
        return JobStatus(id=job_id, stage=JobStage.SCHEDULING)

    def cancel(self, job_id: str) -> JobStatus:
        return JobStatus(id=job_id, stage=JobStage.CANCELED)


def one_model_cache(cache: Path) -> Path:
    """A Hugging Face cache holding `MODEL` (card and config, no weights), as `hf_hub_download` lays it out."""
    repo = cache / f"models--{MODEL.replace('/', '--')}"
    snapshot = repo / "snapshots" / ("0" * 40)
    snapshot.mkdir(parents=True)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text("0" * 40)
    (snapshot / "README.md").write_text("---\npipeline_tag: text-generation\nlicense: mit\n---\n# hostile\n")
    (snapshot / "config.json").write_text(json.dumps({"architectures": ["GPT2LMHeadModel"], "model_type": "gpt2"}))
    return cache


def held_factory(tmp_path: Path) -> Factory:
    factory = make_factory(tmp_path / "home")
    models = CacheModelSource(one_model_cache(tmp_path / "hub"))
    factory.backend = replace(factory.backend, jobs=HeldJobs(), models=models)
    return factory


def server_markers(factory: Factory, tmp_path: Path) -> list[str]:
    """Text that would show a server path: the factory home, the test's temp dirs, the interpreter, the repo."""
    import os

    markers = {str(factory.settings.home), str(tmp_path), "/root", "site-packages", sys.prefix, str(ROOT)}
    markers |= {os.environ[v] for v in ("HF_HOME", "SPACE_FACTORY_HOME") if os.environ.get(v)}
    return sorted(markers)


def fixture_runs(factory: Factory) -> tuple[str, str]:
    """A run with a Space and a worker log (the base of every run tool), and a real `list_runs` cursor."""
    write_run(factory, run_id="20261127-000000-older-abcdef")
    run_id = write_run(factory, space_id=SPACE_ID, logs={"worker": "line one\nline two\n"})
    cursor = factory.runs_page(limit=1).next_cursor
    assert cursor is not None
    return run_id, cursor


def args_for(case: Case, factory: Factory, run_id: str) -> dict[str, Any]:
    """The case's value for its parameter; a valid value for every other required one."""
    args: dict[str, Any] = {}
    for param in params_of(case.param.tool):
        if param.required:
            args[param.name] = base_value(param, run_id)
    if case.param.tool == "cancel_run":  # each cancel gets its own run, so an accepted one stops nothing shared
        args["run_id"] = write_run(factory)
    if case.param.tool == "revise_build":  # a run it may revise: ended, analysed, with an app and no Space
        args["run_id"] = write_parent(factory, space=False)
    args[case.param.name] = case.value
    return args


# -- the tests -----------------------------------------------------------------------------------------


async def test_every_advertised_parameter_has_a_hostile_profile(mode: str, tmp_path: Path) -> None:
    """tools/list in this era is the list the suite covers, every parameter has a role, and every tool gets
    dozens of hostile inputs: a new tool or parameter fails here until the suite knows how to judge it."""
    async with Client(make_app(held_factory(tmp_path)), mode=mode) as client:  # type: ignore[arg-type]
        listed = {tool.name for tool in (await client.list_tools()).tools}
    assert listed == set(TOOLS)
    missing = [f"{p.tool}.{p.name} ({p.type})" for tool in TOOLS for p in params_of(tool) if p.role is None]
    assert not missing, f"parameters without a hostile-input role (add them to ROLES): {missing}"
    s = Secrets()
    per_tool = {tool: list(cases_for(tool, "20261128-000000-tiny-gpt2-abcdef", s, _b64url("x~1"))) for tool in TOOLS}
    assert all(len(cases) >= 100 for cases in per_tool.values()), {t: len(c) for t, c in per_tool.items()}
    distinct = {(case.cls, repr(case.value)) for cases in per_tool.values() for case in cases}
    assert len(distinct) >= 150


@pytest.mark.parametrize("tool", sorted(TOOLS))
async def test_every_hostile_input_is_refused_clearly_or_normalised_harmlessly(tool: str, mode: str,
                                                                               tmp_path: Path) -> None:
    """Each hostile input is a clear tool error or the normalisation the module docstring's table names, and
    none crashes, hangs, echoes a secret or shows a server path."""
    factory = held_factory(tmp_path)
    run_id, cursor = fixture_runs(factory)
    markers = server_markers(factory, tmp_path)
    problems: list[str] = []
    async with Client(make_app(factory), mode=mode) as client:  # type: ignore[arg-type]
        for case in cases_for(tool, run_id, Secrets(), cursor):
            outcome = await judge(client, case, args_for(case, factory, run_id), markers)
            if outcome.problem:
                problems.append(f"{case.label()}: {outcome.problem}")
    assert not problems, f"{len(problems)} hostile inputs answered wrongly:\n" + "\n".join(problems)


async def test_a_list_runs_cursor_pages_through_every_run_once_even_within_one_second(mode: str,
                                                                                   tmp_path: Path) -> None:
    """The valid cursor the hostile ones are made from: pages of 2 over 7 runs (4 minted in one second) give
    each run once, newest first, and the last page has no next_cursor."""
    factory = held_factory(tmp_path)
    made = [write_run(factory, run_id=f"20261128-00000{i}-run-abcdef") for i in range(3)]
    made += [write_run(factory, run_id=f"20261128-000009-run-{suffix}") for suffix in ("ffffff", "000000", "cccccc",
                                                                                          "aaaaaa")]
    seen: list[str] = []
    async with Client(make_app(factory), mode=mode) as client:  # type: ignore[arg-type]
        args: dict[str, Any] = {"limit": 2}
        with anyio.fail_after(CALL_SECONDS):
            while True:
                out = (await client.call_tool("list_runs", args)).structured_content
                assert out is not None
                seen += [run["run_id"] for run in out["runs"]]
                if out["next_cursor"] is None:
                    break
                args = {"limit": 2, "cursor": out["next_cursor"]}
    assert seen == made[::-1]
