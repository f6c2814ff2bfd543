"""Secret redaction (DESIGN §9; reference/peers.md §9 for the layers and the negative cases).

Every fake credential here is built at run time from a seeded RNG, so no token-shaped literal sits in
the source for a secret scanner to trip on.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import io
import json
import logging
import random
import string
import time
import uuid
from urllib.parse import quote, quote_plus

import pytest

from space_factory.domain.redaction import (
    MIN_SECRET_LENGTH,
    REDACTED,
    WITHHELD_NOTICE,
    Finding,
    RedactingFilter,
    RedactionResult,
    Redactor,
    install_redacting_filter,
    is_sensitive_key,
    looks_like_secret,
    redact,
)

_RNG = random.Random(20261128)
_ALNUM = string.ascii_letters + string.digits


def _rand(n: int, chars: str = _ALNUM) -> str:
    # A digit at the end: real keys always carry digits, and some patterns require one.
    return "".join(_RNG.choices(chars, k=n - 1)) + "7"


def _jwt() -> str:
    header = base64.urlsafe_b64encode(b'{"alg":"HS256","typ":"JWT"}').decode().rstrip("=")
    payload = base64.urlsafe_b64encode(b'{"sub":"user-1234567890"}').decode().rstrip("=")
    return f"{header}.{payload}.{_rand(43, _ALNUM + '_-')}"


HF_TOKEN = "hf_" + _rand(34)
KNOWN_SECRET = "hunter2-" + _rand(12) + "-SECRET"

# (kind, token): what each token pattern must catch.
TOKENS = [
    ("hf_token", HF_TOKEN),
    ("hf_token", "hf_" + _rand(30)),
    ("hf_token", "hf_" + _rand(40)),
    ("hf_oauth_token", "hf_oauth_" + _rand(34)),
    ("hf_oauth_token", "hf_oauth_" + _jwt()),
    ("hf_oauth_token", "hf_oauth__refresh_" + _rand(34)),
    ("hf_jwt", "hf_jwt_" + _jwt()),
    ("hf_jwt", "hf_s3_" + _jwt()),
    ("hf_app_secret", "hf_app_" + _rand(32)),
    ("hf_app_secret", "oauth_app_secret_" + _rand(34)),
    ("hf_org_token", "api_org_" + _rand(34)),
    ("anthropic_key", "sk-ant-api03-" + _rand(90, _ALNUM + "_-")),
    ("openai_key", "sk-" + _rand(48)),
    ("openai_key", "sk-proj-" + _rand(120, _ALNUM + "_-")),
    ("stripe_key", "sk_live_" + _rand(24)),
    ("github_token", "ghp_" + _rand(36)),
    ("github_token", "gho_" + _rand(36)),
    ("github_token", "ghu_" + _rand(36)),
    ("github_token", "ghs_" + _rand(36)),
    ("github_token", "github_pat_" + _rand(82, _ALNUM + "_")),
    ("aws_access_key", "AKIA" + _rand(16, string.ascii_uppercase + string.digits)),
    ("google_api_key", "AIza" + _rand(35, _ALNUM + "_-")),
    ("slack_token", "xoxb-" + _rand(12, string.digits) + "-" + _rand(24)),
    ("slack_token", "xoxp-" + _rand(40, _ALNUM + "-")),
    ("jwt", _jwt()),
]


@pytest.mark.parametrize(("kind", "token"), TOKENS, ids=[f"{k}-{i}" for i, (k, _) in enumerate(TOKENS)])
def test_each_token_kind_is_redacted_and_reported_as_a_finding(kind: str, token: str) -> None:
    """Layer 2 of DESIGN §9: every token pattern, in running text."""
    text = f"step 3: using {token} for the call"
    redactor = Redactor()
    assert redactor.redact_text(text) == f"step 3: using {REDACTED} for the call"
    assert [(f.kind, text[f.start : f.end]) for f in redactor.findings(text)] == [(kind, token)]
    assert redactor.findings(redactor.redact_text(text)) == []


BEARERS: list[tuple[str, str]] = [
    (f"Authorization: Bearer {HF_TOKEN}", f"Authorization: Bearer {REDACTED}"),
    ("curl -H 'authorization: bearer sk-scripted-key'", f"curl -H 'authorization: bearer {REDACTED}'"),
    (f"BEARER {_jwt()} and more", f"BEARER {REDACTED} and more"),
    ("token_type=Bearer access=abc.def_ghi-123", "token_type=Bearer access=abc.def_ghi-123"),
]


@pytest.mark.parametrize(("raw", "expected"), BEARERS)
def test_bearer_credentials_are_redacted_and_the_scheme_kept(raw: str, expected: str) -> None:
    """`Bearer <token>` in headers and prose; the scheme word alone is not a secret."""
    assert redact(raw) == expected


URL_CREDENTIALS: list[tuple[str, str]] = [
    ("git clone https://user:pw12345@github.com/o/r.git", f"git clone https://{REDACTED}@github.com/o/r.git"),
    ("https://oauth2:" + _rand(20) + "@gitlab.example/x", f"https://{REDACTED}@gitlab.example/x"),
    ("postgres://admin:p@ss@db.internal:5432/app", f"postgres://{REDACTED}@db.internal:5432/app"),
    ("remote: https://:" + _rand(16) + "@host/path", f"remote: https://{REDACTED}@host/path"),
    (f"https://user:{HF_TOKEN}@huggingface.co/spaces/a/b", f"https://{REDACTED}@huggingface.co/spaces/a/b"),
]


@pytest.mark.parametrize(("raw", "expected"), URL_CREDENTIALS)
def test_basic_auth_credentials_in_urls_are_redacted_and_the_host_kept(raw: str, expected: str) -> None:
    """`scheme://user:pass@host` becomes `scheme://[REDACTED]@host`."""
    assert redact(raw) == expected
    assert Redactor().findings(expected) == []


def test_a_private_key_block_is_redacted_whole() -> None:
    body = "\n".join(_rand(64, _ALNUM + "+/") for _ in range(4))
    text = f"key:\n-----BEGIN OPENSSH PRIVATE KEY-----\n{body}\n-----END OPENSSH PRIVATE KEY-----\ndone"
    assert redact(text) == f"key:\n{REDACTED}\ndone"


def _b64(data: str, urlsafe: bool = False, pad: bool = True) -> str:
    encoded = (base64.urlsafe_b64encode if urlsafe else base64.b64encode)(data.encode()).decode()
    return encoded if pad else encoded.rstrip("=")


# A secret that needs escaping in every encoding: blank, '/', '+', '=', '&', '"', and a non-ASCII letter.
ODD_SECRET = 'pa ss/wo+rd="' + _rand(10) + "&ü"

SECRET_FORMS = [
    ("plain", ODD_SECRET),
    ("url-encoded", quote(ODD_SECRET, safe="")),
    ("url-encoded keeping /", quote(ODD_SECRET)),
    ("form-encoded", quote_plus(ODD_SECRET)),
    ("json-escaped", json.dumps(ODD_SECRET)[1:-1]),
    ("json-escaped ascii", json.dumps(ODD_SECRET, ensure_ascii=False)[1:-1]),
    ("base64", _b64(ODD_SECRET)),
    ("base64 unpadded", _b64(ODD_SECRET, pad=False)),
    ("base64url", _b64(ODD_SECRET, urlsafe=True)),
    ("base64url unpadded", _b64(ODD_SECRET, urlsafe=True, pad=False)),
    *[(f"basic auth, user of {n}", "Basic " + _b64("u" * n + ":" + ODD_SECRET)) for n in range(1, 7)],
    ("base64 env file", _b64("A=1\nSECRET=" + ODD_SECRET + "\nB=2\n")),
    ("base64url env file", _b64("X=" + ODD_SECRET + ";", urlsafe=True, pad=False)),
]


@pytest.mark.parametrize(("name", "form"), SECRET_FORMS, ids=[name for name, _ in SECRET_FORMS])
def test_a_known_secret_is_redacted_in_its_encoded_forms(name: str, form: str) -> None:
    """Layer 1: exact values plus URL/JSON/base64 forms, `user:secret` basic auth for any user name."""
    redactor = Redactor([ODD_SECRET])
    text = f"<<{form}>>"
    redacted = redactor.redact_text(text)
    assert REDACTED in redacted
    assert form.removeprefix("Basic ") not in redacted
    assert redactor.findings(text) != []
    assert redactor.findings(redacted) == []


def test_a_known_secret_without_any_token_shape_is_only_caught_when_known() -> None:
    """The exact-value layer is what catches a secret no pattern knows (pi-offline §9: `echo $SOME_SECRET_ENV`)."""
    line = f"{KNOWN_SECRET}\n"
    assert redact(line) == line
    assert redact(line, [KNOWN_SECRET]) == f"{REDACTED}\n"


def test_short_known_values_are_ignored_and_known_values_are_stripped() -> None:
    short = "x" * (MIN_SECRET_LENGTH - 1)
    redactor = Redactor([short, f"  {KNOWN_SECRET}\n"])
    assert redactor.redact_text(f"{short} {KNOWN_SECRET}") == f"{short} {REDACTED}"


def test_overlapping_known_secrets_are_hidden_whole() -> None:
    """Two known values sharing characters: neither may leak a tail."""
    first, second = "ab" + _rand(14), ""
    second = first[8:] + _rand(8)
    text = f"[{first[:8]}{second}]"
    assert Redactor([first, second]).redact_text(text) == f"[{REDACTED}]"


KEY_VALUES: list[tuple[str, str]] = [
    (f"HF_TOKEN={_rand(12)} python app.py", f"HF_TOKEN={REDACTED} python app.py"),
    ("export OPENAI_API_KEY='sk-test-value'", f"export OPENAI_API_KEY='{REDACTED}'"),
    ('{"token": "abc", "n": 1}', f'{{"token": "{REDACTED}", "n": 1}}'),
    ("{'hf_token': 'abc'}", f"{{'hf_token': '{REDACTED}'}}"),
    ('{\\"token\\": \\"abc\\"}', f'{{\\"token\\": \\"{REDACTED}\\"}}'),
    ("x-api-key: foo12345", f"x-api-key: {REDACTED}"),
    (f"X-API-KEY={_rand(16)}", f"X-API-KEY={REDACTED}"),
    ("apiKey = 'zzz'", f"apiKey = '{REDACTED}'"),
    (f"accessToken: {_rand(24)}", f"accessToken: {REDACTED}"),
    ("Authorization: Basic dXNlcjpwYXNz", f"Authorization: Basic {REDACTED}"),
    ("Authorization: Token abc123", f"Authorization: Token {REDACTED}"),
    ("Cookie: session=abc; theme=dark", f"Cookie: {REDACTED}"),
    ("Set-Cookie: sid=abc; Path=/; HttpOnly", f"Set-Cookie: {REDACTED}"),
    (f"https://example.com/cb?access_token={_rand(20)}&state=1", f"https://example.com/cb?access_token={REDACTED}&state=1"),
    (f"client_secret: {_rand(32)}", f"client_secret: {REDACTED}"),
    ("AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI", f"AWS_SECRET_ACCESS_KEY={REDACTED}"),
    ('PASSWD="x y z"', f'PASSWD="{REDACTED}"'),
    ("db_password := 'x'", f"db_password := '{REDACTED}'"),
    (f"private_key: {_rand(40, _ALNUM + '+/')}", f"private_key: {REDACTED}"),
    (f"SESSION={_rand(16)}", f"SESSION={REDACTED}"),
    (f"credentials=admin:{_rand(12)}", f"credentials={REDACTED}"),
    (f"auth: {_rand(12)}", f"auth: {REDACTED}"),
    ("if token == 'abc':", f"if token == '{REDACTED}':"),
    ("--password hunter22 --verbose", f"--password {REDACTED} --verbose"),
    (f"--hf-token={_rand(12)}", f"--hf-token={REDACTED}"),
    ("--token --verbose", "--token --verbose"),
    ("HF_TOKEN=$HF_TOKEN", f"HF_TOKEN={REDACTED}"),
    (f"HF_TOKEN={HF_TOKEN}", f"HF_TOKEN={REDACTED}"),
]


@pytest.mark.parametrize(("raw", "expected"), KEY_VALUES)
def test_values_of_sensitive_keys_are_redacted_and_keys_kept(raw: str, expected: str) -> None:
    """Layer 3: `KEY=value`, `"key": "value"`, headers and flags whose key names a secret."""
    assert redact(raw) == expected


_SHA256 = hashlib.sha256(b"weights").hexdigest()
_COMMIT = hashlib.sha1(b"commit").hexdigest()
_UUID = str(uuid.UUID(int=_RNG.getrandbits(128)))

MUST_SURVIVE = [
    "hf-internal-testing/tiny-random-gpt2",
    "openai-community/gpt2",
    "sentence-transformers/all-MiniLM-L6-v2",
    "hf_sandbox",
    "hf_hub_download(repo_id, filename)",
    "hf_transfer",
    "hf_oauth_config",
    "hf_jwt_debug",
    "hf_s3_client",
    "HF_HOME=/tmp/x",
    "HF_HUB_OFFLINE=1",
    "HF_TOKEN_PATH=/root/.cache/huggingface/token",
    "token_classification",
    'pipeline("token-classification")',
    "tokenizer.json tokenizer_config.json",
    "max_new_tokens=16",
    '"num_tokens": 5',
    '"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15',
    '"usage":{"input":10,"output":5,"totalTokens":15}',
    "tokens: 5",
    '"pad_token": "<pad>"',
    "tokenizer.pad_token = tokenizer.eos_token",
    '"eos_token_id": 2',
    "use_fast_tokenizer=True",
    "use_auth_token=True",
    "def load(hf_token: str | None = None):",
    f"sha256:{_SHA256}",
    f"commit {_COMMIT}",
    f"run {_UUID}",
    "https://huggingface.co/api/models/gpt2?expand=downloads",
    "http://127.0.0.1:7860/gradio_api/info",
    "ssh://git@github.com/org/repo.git",
    "git@github.com:org/repo.git",
    "mail user@example.com",
    "sk-learn",
    "scikit-learn",
    "task-specific-parameters-are-described-here",
    base64.b64encode(b"hello world, this is not a secret at all").decode(),
    "Bearer tokens are described in RFC 6750",
    "use bearer authentication.",
    "the Authorization header carries the token",
    "x-request-id: 1234",
    '"key": "value"',
    '{"type":"session","version":3,"id":"01a22327"}',
    "password reset instructions were sent",
    "eyJ is how base64-encoded JSON starts",
    "AKIAlowercase",
    "chatcmpl-scripted",
    "Asia/Tokyo",
    "ghp_short",
]


@pytest.mark.parametrize("text", MUST_SURVIVE)
def test_ordinary_text_survives_redaction_untouched(text: str) -> None:
    """The negative cases: model ids, tool names, tokenizer words, hashes, plain URLs (peers.md §9 item 6)."""
    assert redact(text) == text
    assert Redactor().findings(text) == []


@pytest.mark.parametrize(
    ("name", "sensitive"),
    [
        ("HF_TOKEN", True),
        ("hf_token", True),
        ("OPENAI_API_KEY", True),
        ("x-api-key", True),
        ("apiKey", True),
        ("accessToken", True),
        ("Authorization", True),
        ("Set-Cookie", True),
        ("client_secret", True),
        ("DB_PASSWORD", True),
        ("passwd", True),
        ("AWS_SECRET_ACCESS_KEY", True),
        ("private_key", True),
        ("auth", True),
        ("credentials", True),
        ("session", True),
        ("--token", True),
        ('"token"', True),
        ("tokenizer", False),
        ("max_new_tokens", False),
        ("token_classification", False),
        ("num_tokens", False),
        ("totalTokens", False),
        ("pad_token", False),
        ("tokenizer.eos_token", False),
        ("token_type", False),
        ("HF_TOKEN_PATH", False),
        ("session_id", False),
        ("key", False),
        ("author", False),
        ("authentication", False),
    ],
)
def test_sensitive_key_names_are_told_from_ordinary_words(name: str, sensitive: bool) -> None:
    assert is_sensitive_key(name) is sensitive


def test_redact_json_hides_sensitive_values_whatever_their_type_and_depth() -> None:
    """Layer 3 on parsed JSON: the key stays, its value becomes "[REDACTED]"; other strings go through layer 1-2."""
    value = {
        "headers": {"Authorization": "Bearer x", "Accept": "application/json"},
        "env": {"HF_TOKEN": {"nested": [1, 2]}, "HF_HOME": "/tmp/x"},
        "calls": [{"password": 123}, {"api_key": None}, ("tuple", f"t {HF_TOKEN}")],
        "text": f"token {HF_TOKEN}",
        "max_new_tokens": 16,
        "pad_token": "<pad>",
        "ratio": 0.5,
        "ok": True,
    }
    original = json.loads(json.dumps(value))
    assert Redactor().redact_json(value) == {
        "headers": {"Authorization": REDACTED, "Accept": "application/json"},
        "env": {"HF_TOKEN": REDACTED, "HF_HOME": "/tmp/x"},
        "calls": [{"password": REDACTED}, {"api_key": REDACTED}, ["tuple", f"t {REDACTED}"]],
        "text": f"token {REDACTED}",
        "max_new_tokens": 16,
        "pad_token": "<pad>",
        "ratio": 0.5,
        "ok": True,
    }
    assert json.loads(json.dumps(value)) == original  # a copy: the input is untouched


def test_redact_json_hides_the_value_of_a_name_value_pair_that_names_a_secret() -> None:
    env = [{"name": "HF_TOKEN", "value": "abc"}, {"name": "HF_HOME", "value": "/tmp/x"}]
    assert Redactor().redact_json(env) == [
        {"name": "HF_TOKEN", "value": REDACTED},
        {"name": "HF_HOME", "value": "/tmp/x"},
    ]


def test_redact_json_redacts_keys_and_keeps_colliding_keys_apart() -> None:
    other = "hf_" + _rand(34)
    assert Redactor().redact_json({HF_TOKEN: 1, other: 2}) == {REDACTED: 1, f"{REDACTED}#": 2}


def test_redact_json_replaces_json_nested_deeper_than_the_limit_instead_of_crashing() -> None:
    value: object = HF_TOKEN
    for _ in range(1000):
        value = [value]
    out = Redactor().redact_json(value)
    assert HF_TOKEN not in repr(out)


def test_redact_jsonl_redacts_each_line_and_keeps_the_line_structure() -> None:
    """A Pi session trace (pi-offline §8-§9): the secret shows up in toolResult text and in escaped form."""
    escaped = "".join(f"\\u{ord(ch):04x}" for ch in KNOWN_SECRET)
    lines = [
        json.dumps(
            {
                "type": "message",
                "message": {
                    "role": "toolResult",
                    "toolName": "bash",
                    "content": [{"type": "text", "text": f"{KNOWN_SECRET}\n"}],
                },
            }
        ),
        '{"type":"message","message":{"content":"' + escaped + '"}}',
        '{"usage":{"input":10,"output":5,"totalTokens":15},"arguments":{"command":"echo $HF_TOKEN","token":"t"}}',
        "",
        f"not json: HF_TOKEN={_rand(12)}",
        '{"broken": "json", HF_TOKEN=' + _rand(12) + "\r",
        "",
    ]
    redacted = Redactor([KNOWN_SECRET]).redact_jsonl("\n".join(lines))
    assert redacted.split("\n") == [
        '{"type":"message","message":{"role":"toolResult","toolName":"bash",'
        '"content":[{"type":"text","text":"[REDACTED]\\n"}]}}',
        '{"type":"message","message":{"content":"[REDACTED]"}}',
        '{"usage":{"input":10,"output":5,"totalTokens":15},'
        '"arguments":{"command":"echo $HF_TOKEN","token":"[REDACTED]"}}',
        "",
        "not json: HF_TOKEN=[REDACTED]",
        '{"broken": "json", HF_TOKEN=[REDACTED]\r',
        "",
    ]


def test_redact_jsonl_keeps_unicode_line_separators_inside_json_strings() -> None:
    """U+2028 is not a line end in JSONL; splitting on it would break a line into non-JSON halves."""
    line = json.dumps({"text": "a\u2028b", "token": "x"}, ensure_ascii=False)
    assert Redactor().redact_jsonl(line) == '{"text":"a\u2028b","token":"[REDACTED]"}'


def test_findings_give_kind_and_place_but_never_the_value() -> None:
    text = f"a {HF_TOKEN} b {KNOWN_SECRET}"
    findings = Redactor([KNOWN_SECRET]).findings(text)
    assert [f.name for f in dataclasses.fields(Finding)] == ["kind", "start", "end"]
    assert [(f.kind, text[f.start : f.end]) for f in findings] == [
        ("hf_token", HF_TOKEN),
        ("known_secret", KNOWN_SECRET),
    ]
    assert all(KNOWN_SECRET not in repr(f) and HF_TOKEN not in repr(f) for f in findings)


@pytest.mark.parametrize(
    "raw",
    [f"x {token} y" for _, token in TOKENS] + [raw for raw, _ in BEARERS + URL_CREDENTIALS + KEY_VALUES],
)
def test_what_redaction_leaves_passes_the_re_scan(raw: str) -> None:
    """Redacted output must not trip the re-scan, or every page with a secret would be withheld."""
    result = Redactor().redact_checked(raw)
    assert (result.withheld, result.findings) == (False, 0)
    assert result.text == redact(raw)


def test_redact_checked_serves_clean_redacted_text() -> None:
    result = Redactor([KNOWN_SECRET]).redact_checked(f"out: {KNOWN_SECRET}\nHF_TOKEN={HF_TOKEN}\n")
    assert result == RedactionResult(f"out: {REDACTED}\nHF_TOKEN={REDACTED}\n", withheld=False, findings=0)


def test_redact_checked_in_jsonl_mode_redacts_line_by_line() -> None:
    result = Redactor().redact_checked('{"api_key": "abc"}\n', jsonl=True)
    assert result == RedactionResult('{"api_key":"[REDACTED]"}\n', withheld=False, findings=0)


def test_redact_checked_withholds_what_only_looks_secret_after_redaction() -> None:
    """The re-scan catches matches that only appear once other redactions shortened the text.

    A URL's user part longer than the credential pattern's bound (256 characters) holds a token; once
    the token is replaced, the user part fits the bound and the password is exposed as a finding.
    Contrived, but real: the re-scan, not the redactor's passes, decides what is served.
    """
    password = _rand(12)
    text = "https://" + "u" * 236 + "." + HF_TOKEN + ":" + password + "@host/"
    redactor = Redactor()
    assert [f.kind for f in redactor.findings(redactor.redact_text(text))] == ["url_credentials"]
    result = redactor.redact_checked(text)
    assert result == RedactionResult(WITHHELD_NOTICE, withheld=True, findings=1)
    assert password not in result.text


def test_redact_checked_withholds_everything_when_the_redactor_misses_a_secret() -> None:
    """A gap in the redaction passes (simulated by a subclass that redacts nothing) ends in a withheld page."""

    class LeakyRedactor(Redactor):
        def redact_text(self, text: str) -> str:
            return text

    result = LeakyRedactor([KNOWN_SECRET]).redact_checked(f"ok {KNOWN_SECRET} and {HF_TOKEN}")
    assert result == RedactionResult(WITHHELD_NOTICE, withheld=True, findings=2)


def test_redaction_of_ten_megabytes_finishes_and_grows_about_linearly() -> None:
    """Compiled patterns, no quadratic backtracking: 10 MB of trace plus pathological runs stay fast."""
    line = json.dumps(
        {"type": "message", "text": f"max_new_tokens=16 tokenizer {HF_TOKEN} HF_TOKEN={_rand(12)} https://hf.co/x"}
    )
    redactor = Redactor([KNOWN_SECRET])

    def timed(text: str) -> tuple[float, str]:
        start = time.perf_counter()
        out = redactor.redact_text(text)
        return time.perf_counter() - start, out

    small_time, _ = timed((line + "\n") * (1_000_000 // len(line)))
    big_time, big = timed((line + "\n") * (10_000_000 // len(line)))
    assert big.count(REDACTED) == 2 * (10_000_000 // len(line))
    assert big_time < 30
    assert big_time < 30 * small_time + 2
    for pathological in ("a" * 2_000_000, "://a:" * 400_000, "token=" * 300_000, "sk-" * 700_000, "eyJ." * 500_000):
        elapsed, _ = timed(pathological)
        assert elapsed < 30


def test_redact_without_secrets_uses_patterns_only() -> None:
    assert redact(f"{KNOWN_SECRET} {HF_TOKEN}") == f"{KNOWN_SECRET} {REDACTED}"
    assert redact(f"{KNOWN_SECRET} {HF_TOKEN}", [KNOWN_SECRET]) == f"{REDACTED} {REDACTED}"


GARBLED_BEFORE = [
    "invalid model id: '../../etc/passwd': the model id has a slash",
    "cat: /etc/passwd: Permission denied",
    "auth: disabled (anonymous)",
    "session: restored in 0.4 s",
    "    model = AutoModel.from_pretrained(name, token=token)",
    "token=os.environ.get('HF_TOKEN')",
    "session: max_new_tokens=16",
    "bypass: true; compass=north-north-west",
]


@pytest.mark.parametrize("line", GARBLED_BEFORE)
def test_a_key_followed_by_words_code_or_a_setting_is_left_alone(line: str) -> None:
    """Issue 8: key-value rules need a value that looks like a secret, not any word after a colon."""
    assert redact(line) == line


@pytest.mark.parametrize(
    ("value", "secret"),
    [
        ("hunter22", True),
        ("Xk3q8Zrm2L", True),
        ("wJalrXUtnFEMI", True),
        ("$HF_TOKEN", True),
        ("qwhdkslaoeirutyzmxnc", True),
        ("abc123", False),
        ("restored", False),
        ("PermissionDenied", False),
        ("bert-base-uncased", False),
        ("python3.11", False),
        ("/etc/passwd", False),
        ("C:\\Users\\me", False),
        ("2026-11-28T10:00:00", False),
        ("1000:1000", False),
        ("<your-token>", False),
        ("xxxxxxxxxxxx", False),
        ("internationalization", False),
        ("max_new_tokens=16", False),
        ("os.environ.get(", False),
        ("https://example.com/x", False),
    ],
)
def test_looks_like_secret_tells_credentials_from_words_names_numbers_and_paths(value: str, secret: bool) -> None:
    assert looks_like_secret(value) is secret


_WRAPPED = _b64("x" * 40 + " token " + HF_TOKEN + " " + "x" * 80)
ENCODED_TOKENS = [
    ("url-encoded after a blank", f"q=token%20{HF_TOKEN}"),
    ("fully url-encoded", "q=" + "".join(f"%{ord(c):02X}" for c in HF_TOKEN)),
    ("json-escaped after a newline", f'"text": "first\\n{HF_TOKEN}"'),
    ("unicode-escaped", "".join(f"\\u{ord(c):04x}" for c in HF_TOKEN)),
    ("ansi-coloured", f"\x1b[31m{HF_TOKEN}\x1b[0m"),
    ("base64 of an unknown token", base64.b64encode(f"token {HF_TOKEN}".encode()).decode()),
    ("base64 wrapped at 76", "\n".join(_WRAPPED[i : i + 76] for i in range(0, len(_WRAPPED), 76))),
]


@pytest.mark.parametrize(("name", "text"), ENCODED_TOKENS, ids=[n for n, _ in ENCODED_TOKENS])
def test_an_encoded_token_is_found_by_its_shape_without_being_known(name: str, text: str) -> None:
    redactor = Redactor()
    redacted = redactor.redact_text(text)
    assert REDACTED in redacted and HF_TOKEN[3:15] not in redacted
    assert redactor.findings(text) != [] and redactor.findings(redacted) == []


def test_a_known_secret_split_by_a_line_wrap_is_hidden_on_both_lines() -> None:
    text = f"echo {KNOWN_SECRET[:9]}\n{KNOWN_SECRET[9:]} done\n"
    assert Redactor([KNOWN_SECRET]).redact_text(text) == f"echo {REDACTED}\n{REDACTED} done\n"


def test_curl_credentials_hide_the_password_and_ids_stay() -> None:
    password = _rand(16)
    assert redact(f"curl -u admin:{password} https://x") == f"curl -u admin:{REDACTED} https://x"
    assert redact(f"curl --user=admin:{password} x") == f"curl --user=admin:{REDACTED} x"
    assert redact("docker run -u 1000:1000 img; docker run -u root:root img") == (
        "docker run -u 1000:1000 img; docker run -u root:root img"
    )


def _log_to_string(redactor: Redactor | None) -> tuple[logging.Logger, io.StringIO]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(name)s: %(message)s"))
    install_redacting_filter(handler, redactor)
    install_redacting_filter(handler, redactor)  # installing twice adds one filter
    assert sum(isinstance(f, RedactingFilter) for f in handler.filters) == 1
    logger = logging.getLogger(f"test.redaction.{_rand(8)}")
    logger.propagate = False
    logger.addHandler(handler)
    return logger, stream


def test_the_log_filter_redacts_the_message_its_arguments_and_the_traceback() -> None:
    logger, stream = _log_to_string(Redactor([KNOWN_SECRET]))
    try:
        raise RuntimeError(f"boom with {HF_TOKEN}")
    except RuntimeError:
        logger.exception("step failed for %s", KNOWN_SECRET)
    out = stream.getvalue()
    assert KNOWN_SECRET not in out and HF_TOKEN not in out
    assert f"step failed for {REDACTED}" in out and f"RuntimeError: boom with {REDACTED}" in out


def test_the_log_filter_leaves_the_logger_name_out_of_the_key_value_rules() -> None:
    """A logger named `auth` prints `auth: message`; the message's first word is not a value."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(name)s: %(message)s"))
    install_redacting_filter(handler)
    logger = logging.getLogger("auth")
    logger.propagate = False
    logger.addHandler(handler)
    try:
        logger.warning("Xk3q8Zrm2Lp0 is the request id")
    finally:
        logger.removeHandler(handler)
    assert stream.getvalue() == "auth: Xk3q8Zrm2Lp0 is the request id\n"


@pytest.mark.parametrize(("line", "expected"), [
    ("DB_PASSWORD=dragon", "DB_PASSWORD=[REDACTED]"),
    ("mysql --user root --pass=letmein", "mysql --user root --pass=[REDACTED]"),
    ("run --password=hunter2 --verbose", "run --password=[REDACTED] --verbose"),
    ("def connect(password=None):", "def connect(password=None):"),
    ("login(password=password)", "login(password=password)"),
    ("password=<your-password>", "password=<your-password>"),
    ("cat: /etc/passwd: Permission denied", "cat: /etc/passwd: Permission denied"),
])
def test_a_bare_password_assignment_hides_even_a_word_but_not_references_or_code(line: str, expected: str) -> None:
    """People pick passwords that read like words; `password=word` (no blank around `=`) is not prose."""
    assert Redactor().redact_text(line) == expected
