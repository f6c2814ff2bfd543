"""Property tests of the redactor (DESIGN §9, issue 9 item 4): random secrets in random text and JSON, in the
forms logs and traces put them in, are never in what `redact_text`, `redact_jsonl` or `redact_checked` return.

What is guaranteed, and tested here:
- a *known* secret (the run's token, the agent's key) is hidden raw, JSON-escaped (also inside a JSON string,
  i.e. escaped twice), in a Python repr, URL-encoded, in the base64 of any text holding it (wrapped at 76
  columns too), and split in two by a line break;
- an *unknown* Hub token is hidden by its shape, raw or behind an escape, a `%XX` or base64, when it stands as
  a word (a letter or digit glued before `hf_` makes it another word: `xhf_…` is not a token's shape);
- a secret streamed in pieces over consecutive JSONL lines (`"delta"` strings: Pi's `message_update`
  events, OpenAI chunks) is hidden in every piece it crosses;
- every string of a Pi event is redacted: tool arguments, results, partial results, session entries.

Not guaranteed (no marker says where the secret is): an unknown secret with no known shape; a known secret cut
at arbitrary points with other text between the parts, or cut across JSONL lines outside stream pieces.

Example counts are kept small (`max_examples`), so this file stays fast.
"""

from __future__ import annotations

import base64
import json
import random
import string
from collections.abc import Callable
from urllib.parse import quote, quote_plus

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from space_factory.domain.redaction import REDACTED, WITHHELD_NOTICE, Redactor
from space_factory.domain.redaction.patterns import TOKEN_PATTERNS
from tests.domain import test_redaction

FAST = settings(max_examples=40, deadline=None, database=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow])
_ALNUM = string.ascii_letters + string.digits
# What a secret may hold inside: punctuation that needs escaping or encoding, a space, non-ASCII letters.
# No brackets: `[REDACTED]` is built from them, and a secret made of its letters would "survive" in it.
_INSIDE = _ALNUM + "-_.~+/=%!@#$^&*()\"'\\ :;,?<>|`" + "éß中"
_FILLER = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=60)


def _is_usable(secret: str) -> bool:
    return secret not in REDACTED and secret not in WITHHELD_NOTICE


known_secrets = st.builds(lambda a, mid, b: a + mid + b, st.sampled_from(_ALNUM),
                          st.text(alphabet=_INSIDE, min_size=8, max_size=38), st.sampled_from(_ALNUM)
                          ).filter(_is_usable)
hf_tokens = st.builds(lambda body: "hf_" + body, st.text(alphabet=_ALNUM, min_size=34, max_size=40))
# What may stand right before a token: anything but a letter or digit (`xhf_…` is another word).
_BEFORE_TOKEN = st.sampled_from(["", " ", "\n", "=", ":", '"', "'", "/", "(", "\t", "token=", "Bearer ", "?t=", ","])


def _b64(data: str) -> str:
    return base64.b64encode(data.encode()).decode()


FORMS: dict[str, Callable[[str, str], str]] = {
    "raw": lambda s, _: s,
    "json": lambda s, _: json.dumps(s)[1:-1],
    "json_unicode": lambda s, _: json.dumps(s, ensure_ascii=False)[1:-1],
    "repr": lambda s, _: repr(s)[1:-1],
    "url": lambda s, _: quote(s, safe=""),
    "url_plus": lambda s, _: quote_plus(s),
    "base64": lambda s, prefix: _b64(prefix + s),
    "base64_url": lambda s, prefix: base64.urlsafe_b64encode((prefix + s).encode()).decode(),
    "base64_wrapped": lambda s, prefix: base64.encodebytes((prefix * 8 + s).encode()).decode(),
}


def _absent(secret: str, form: str, out: str) -> None:
    for needle in {secret, form, json.dumps(secret)[1:-1], json.dumps(form)[1:-1]}:
        if len(needle.strip()) >= 8:
            assert needle not in out
    if form.count("\n") or "\n" in secret:
        return
    assert secret not in out.replace("\r", "").replace("\n", "")


@FAST
@given(secret=known_secrets, form=st.sampled_from(sorted(FORMS)), prefix=st.sampled_from(["", "user:", "x" * 7]),
       before=_FILLER, after=_FILLER)
def test_a_known_secret_in_any_form_is_never_in_redacted_text(secret: str, form: str, prefix: str, before: str,
                                                              after: str) -> None:
    encoded = FORMS[form](secret, prefix)
    text = f"{before} {encoded} {after}"
    redactor = Redactor([secret])
    for out in (redactor.redact_text(text), redactor.redact_checked(text).text, redactor.redact_jsonl(text)):
        _absent(secret, encoded, out)


@FAST
@given(secret=known_secrets, cut=st.integers(min_value=1, max_value=200), newline=st.sampled_from(["\n", "\r\n"]),
       before=_FILLER, after=_FILLER)
def test_a_known_secret_split_by_a_line_break_is_never_in_redacted_text(secret: str, cut: int, newline: str,
                                                                        before: str, after: str) -> None:
    cut = 1 + cut % (len(secret) - 1)
    text = f"{before} {secret[:cut]}{newline}{secret[cut:]} {after}"
    redactor = Redactor([secret])
    for out in (redactor.redact_text(text), redactor.redact_checked(text).text):
        assert secret not in out.replace("\r", "").replace("\n", "")


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | _FILLER,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_FILLER, inner, max_size=4),
    max_leaves=12,
)


def _plant(value: object, text: str, rng: random.Random) -> object:
    """`value` with `text` put into one of its strings, keys included (or wrapped in a list beside it)."""
    if isinstance(value, str):
        cut = rng.randint(0, len(value))
        return value[:cut] + text + value[cut:]
    if isinstance(value, list) and value:
        i = rng.randrange(len(value))
        return [*value[:i], _plant(value[i], text, rng), *value[i + 1:]]
    if isinstance(value, dict) and value:
        key = rng.choice(list(value))
        if rng.random() < 0.3:
            return {**{k: v for k, v in value.items() if k != key}, _plant(key, text, rng): value[key]}  # type: ignore[dict-item]
        return {**value, key: _plant(value[key], text, rng)}
    return [value, text]


@FAST
@given(secret=known_secrets, form=st.sampled_from(["raw", "json", "url", "base64"]), doc=json_values,
       others=st.lists(json_values, max_size=3), seed=st.integers(0, 2**16))
def test_a_known_secret_anywhere_in_json_lines_is_never_in_redacted_jsonl(secret: str, form: str, doc: object,
                                                                          others: list[object], seed: int) -> None:
    encoded = FORMS[form](secret, "user:")
    rng = random.Random(seed)
    lines = [json.dumps(v) for v in others]
    lines.insert(rng.randint(0, len(lines)), json.dumps(_plant(doc, encoded, rng)))
    text = "\n".join(lines) + "\n"
    redactor = Redactor([secret])
    for out in (redactor.redact_jsonl(text), redactor.redact_checked(text, jsonl=True).text):
        _absent(secret, encoded, out)
        if out != WITHHELD_NOTICE:
            assert len(out.split("\n")) == len(text.split("\n"))


@FAST
@given(token=hf_tokens, before=_BEFORE_TOKEN, wrap=st.sampled_from(["raw", "escaped", "percent", "base64"]),
       filler=_FILLER)
def test_an_unknown_hub_token_standing_as_a_word_is_never_in_redacted_text(token: str, before: str, wrap: str,
                                                                           filler: str) -> None:
    shown = {"raw": before + token, "escaped": "\\n" + token, "percent": "%3D" + token,
             "base64": _b64(before + token)}[wrap]
    text = f"{filler} {shown} {filler}"
    redactor = Redactor()
    for out in (redactor.redact_text(text), redactor.redact_checked(text).text, redactor.redact_jsonl(text)):
        assert token not in out and shown.strip() not in out


def _deltas(pieces: list[str]) -> list[str]:
    return [json.dumps({"type": "message_update", "assistantMessageEvent": {"type": "text_delta", "contentIndex": 0,
                                                                             "delta": piece}}) for piece in pieces]


@FAST
@given(secret=st.one_of(known_secrets, hf_tokens), cuts=st.lists(st.integers(1, 60), min_size=1, max_size=5),
       before=_FILLER, after=_FILLER, known=st.booleans())
def test_a_secret_streamed_in_pieces_over_jsonl_lines_is_in_no_piece(secret: str, cuts: list[int], before: str,
                                                                     after: str, known: bool) -> None:
    assume(known or secret.startswith("hf_"))
    whole = f"{before} {secret} {after}"
    points = sorted({len(before) + 1 + c % len(secret) for c in cuts})
    pieces = [whole[a:b] for a, b in zip([0, *points], [*points, len(whole)], strict=True)]
    text = "\n".join([json.dumps({"type": "message_start"}), *_deltas(pieces), json.dumps({"type": "turn_end"})])
    redactor = Redactor([secret] if known else [])
    out = redactor.redact_jsonl(text)
    shown = [json.loads(line)["assistantMessageEvent"]["delta"] for line in out.split("\n")[1:-1]]
    assert secret not in "".join(shown)
    start = len(before) + 1
    offsets = [0, *points]
    for piece, at, got in zip(pieces, offsets, shown, strict=True):  # pieces the secret does not reach stay
        if (at + len(piece) <= start or at >= start + len(secret)) and redactor.redact_text(piece) == piece:
            assert got == piece


def test_stream_pieces_on_lines_apart_are_not_joined() -> None:
    """Only consecutive lines with pieces form a stream: a line without one ends it."""
    token = "hf_" + "Ab3dE" * 7
    lines = [*_deltas([token[:10]]), json.dumps({"type": "message_end"}), *_deltas([token[10:]])]
    out = Redactor().redact_jsonl("\n".join(lines))
    assert [json.loads(line) for line in out.split("\n")] == [json.loads(line) for line in lines]


def test_a_piece_whose_key_is_written_escaped_still_counts_in_its_own_line() -> None:
    """Pieces are counted per line, so a `\\u0064elta` key (not seen by the quick text check) shifts nothing."""
    token = "hf_" + "Ab3dE" * 7
    escaped = '{"assistantMessageEvent": {"\\u0064elta": "ok ' + token[:12] + '"}}'
    lines = [escaped, *_deltas([token[:10], token[10:]])]
    out = [json.loads(line) for line in Redactor().redact_jsonl("\n".join(lines)).split("\n")]
    assert [line["assistantMessageEvent"]["delta"] for line in out[1:]] == [REDACTED, REDACTED]


# -- every string of Pi's events (reference/pi-1.6.md §8: where a secret printed by bash lands) -----------------

def _pi_events(out: str, command: str) -> list[dict[str, object]]:
    tool_result = {"role": "toolResult", "toolCallId": "call_1", "toolName": "bash",
                   "content": [{"type": "text", "text": out}], "isError": False, "durationMs": 17}
    call = {"type": "toolCall", "id": "call_1", "name": "bash", "arguments": {"command": command}}
    assistant = {"role": "assistant", "content": [call], "stopReason": "toolUse", "api": "openai-completions"}
    return [
        {"type": "message_update", "assistantMessageEvent": {"type": "toolcall_delta", "contentIndex": 0,
                                                             "delta": json.dumps({"command": command})}},
        {"type": "message_update", "assistantMessageEvent": {"type": "toolcall_end", "contentIndex": 0,
                                                             "toolCall": call}},
        {"type": "message_end", "message": assistant},
        {"type": "tool_execution_start", "toolCallId": "call_1", "toolName": "bash", "args": {"command": command}},
        {"type": "tool_execution_update", "toolCallId": "call_1", "toolName": "bash", "args": {"command": command},
         "partialResult": {"content": [{"type": "text", "text": out}], "details": {}}},
        {"type": "tool_execution_end", "toolCallId": "call_1", "toolName": "bash",
         "result": {"content": [{"type": "text", "text": out}],
                    "structuredContent": {"output": out, "truncated": False, "exit_code": 0}}, "isError": False},
        {"type": "message_start", "message": tool_result},
        {"type": "message_end", "message": tool_result},
        {"type": "turn_end", "message": assistant, "toolResults": [tool_result]},
        {"type": "agent_end", "messages": [assistant, tool_result], "willRetry": False},
        # the session file's entry for the same result
        {"type": "message", "id": "48e1f96d", "parentId": "819c46d6", "timestamp": "2026-12-01T16:33:43.473Z",
         "message": tool_result},
    ]


@FAST
@given(secret=known_secrets, form=st.sampled_from(["raw", "json", "base64", "url"]))
def test_every_string_of_pi_events_is_redacted_tool_arguments_and_results_included(secret: str, form: str) -> None:
    encoded = FORMS[form](secret, "")
    events = _pi_events(f"value: {encoded}\n", f"echo {encoded} | base64 -d")
    text = "\n".join(json.dumps(e) for e in events) + "\n"
    result = Redactor([secret]).redact_checked(text, jsonl=True)
    assert not result.withheld
    _absent(secret, encoded, result.text)
    redacted = [json.loads(line) for line in result.text.splitlines()]
    assert [e["type"] for e in redacted] == [e["type"] for e in events]
    assert redacted[5]["result"]["structuredContent"]["output"] == f"value: {REDACTED}\n"
    assert redacted[3]["args"]["command"] == f"echo {REDACTED} | base64 -d"


def test_a_hub_token_in_every_place_of_pi_events_is_hidden_by_its_shape() -> None:
    token = "hf_" + "Ab3dE" * 7
    text = "\n".join(json.dumps(e) for e in _pi_events(f"HF_TOKEN={token}\n", f"curl -H 'Authorization: {token}'"))
    result = Redactor().redact_checked(text, jsonl=True)
    assert not result.withheld and token not in result.text and "hf_Ab3" not in result.text


# -- a table case for every token pattern ------------------------------------------------------------------------

_RNG = random.Random(20261201)


def _rand(n: int, chars: str = _ALNUM) -> str:
    return "".join(_RNG.choices(chars, k=n - 1)) + "7"


_HEX = "0123456789abcdef"
MORE_TOKENS = [
    ("groq_key", "gsk_" + _rand(52)),
    ("replicate_token", "r8_" + _rand(37)),
    ("perplexity_key", "pplx-" + _rand(48)),
    ("xai_key", "xai-" + _rand(80)),
    ("fireworks_key", "fw_" + _rand(24)),
    ("elevenlabs_key", "sk_" + _rand(48, _HEX)),
    ("langsmith_key", f"lsv2_pt_{_rand(32, _HEX)}_{_rand(10, _HEX)}"),
    ("pinecone_key", "pcsk_" + _rand(60, _ALNUM + "_")),
    ("stripe_webhook_secret", "whsec_" + _rand(32)),
    ("gitlab_token", "glpat-" + _rand(20, _ALNUM + "_-")),
    ("npm_token", "npm_" + _rand(36)),
    ("pypi_token", "pypi-AgE" + _rand(60, _ALNUM + "_-")),
    ("google_oauth_token", "ya29." + _rand(60, _ALNUM + "_-")),
    ("google_client_secret", "GOCSPX-" + _rand(28, _ALNUM + "_-")),
    ("sendgrid_key", f"SG.{_rand(22, _ALNUM + '_-')}.{_rand(43, _ALNUM + '_-')}"),
]
# Kinds whose match is only part of the text around them (a URL's password, a webhook's path, an Azure key
# after its name, a PEM block): tested with their context in test_redaction.py and tests/security.
_TESTED_IN_CONTEXT = {"url_credentials", "slack_webhook", "discord_webhook", "azure_account_key",
                      "azure_sas_signature", "private_key", "bearer"}


@pytest.mark.parametrize(("kind", "token"), MORE_TOKENS, ids=[k for k, _ in MORE_TOKENS])
def test_each_remaining_token_kind_is_redacted_and_reported_as_a_finding(kind: str, token: str) -> None:
    text = f"step 3: using {token} for the call"
    redactor = Redactor()
    assert redactor.redact_text(text) == f"step 3: using {REDACTED} for the call"
    assert [(f.kind, text[f.start : f.end]) for f in redactor.findings(text)] == [(kind, token)]


def test_every_token_pattern_has_a_table_case() -> None:
    kinds = {pattern.kind for pattern in TOKEN_PATTERNS}
    tabled = {kind for kind, _ in [*test_redaction.TOKENS, *MORE_TOKENS]}
    assert kinds - tabled - _TESTED_IN_CONTEXT == set()


@pytest.mark.parametrize("text", [
    "hf_hub_download(repo_id, filename) and hf_transfer", "from huggingface_hub import HfApi; api.whoami()",
    "task-specific sk-learn-compatible-wrapper", "the SG.model and gsk_ratio", "xhf_" + "a1" * 20,
    "sha256:" + "ab12" * 16, "ya29.short", "AKIAshort", "pypi-AgEshort", "npm_install_flags",
    '{"type":"text_delta","delta":"hello world"}',
])
def test_ordinary_text_near_token_shapes_survives(text: str) -> None:
    assert Redactor().redact_text(text) == text
    assert Redactor().redact_jsonl(text) == text
