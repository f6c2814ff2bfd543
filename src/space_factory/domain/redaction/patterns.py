"""Layer 2 of redaction: credentials recognisable by their shape, whoever they belong to.

Each pattern carries needles: lowercase literals every match contains. A pattern runs only on a text
whose lowercased form holds one of its needles (a C-speed `in`, half the cost of running the pattern),
so a log that names no provider pays one search per needle. Patterns start with a literal and put their left-boundary
lookbehind *after* it, so the regex engine jumps from literal to literal instead of trying every
position; the lookbehinds keep e.g. `task-…` from matching `sk-…`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["NEEDLES", "TOKEN_PATTERNS", "TokenPattern", "present_needles", "token_spans"]

_A = "A-Za-z0-9"
_JWT_BODY = r"[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}"


@dataclass(frozen=True)
class TokenPattern:
    """One credential shape.

    Attributes:
        kind: the name findings report (`hf_token`, `slack_webhook`, …).
        needles: lowercase literals of which every match contains one.
        regex: the pattern; its `secret` group, when it has one, is the part to hide.
        lowercase: match on the lowercased text (case-insensitive schemes and keys, same offsets).
    """

    kind: str
    needles: tuple[str, ...]
    regex: re.Pattern[str]
    lowercase: bool = False


def _p(kind: str, needles: str | tuple[str, ...], pattern: str, *, lowercase: bool = False) -> TokenPattern:
    return TokenPattern(kind, (needles,) if isinstance(needles, str) else needles, re.compile(pattern), lowercase)


TOKEN_PATTERNS: tuple[TokenPattern, ...] = (
    # A PEM block; unterminated blocks (truncated logs) lose everything base64-looking after the header.
    _p(
        "private_key",
        "-----begin",
        r"-----BEGIN[A-Z ]{0,40}PRIVATE KEY-----"
        r"(?:[\s\S]{0,65536}?-----END[A-Z ]{0,40}PRIVATE KEY-----|[A-Za-z0-9+/=\s\\]*)",
    ),
    # `scheme://user:pass@host`; the password may hold a raw '@', so the greedy part backs off to
    # the last '@' of the authority. Bounded, so a long line full of '://' stays linear.
    _p("url_credentials", "://", r"://(?P<secret>[^\s/?#@:\"'<>]{0,256}:[^\s/?#\"'<>]{1,512})@"),
    # Hugging Face. OAuth access tokens are JWT-shaped after the prefix; refresh and app secrets are alnum runs.
    _p(
        "hf_oauth_token",
        "hf_oauth_",
        rf"hf_oauth_(?<![{_A}]hf_oauth_)(?:{_JWT_BODY}"
        rf"|_refresh_[{_A}]{{20,}}|[{_A}]{{20,}})",
    ),
    _p("hf_jwt", "hf_", rf"hf_(?<![{_A}]hf_)(?:jwt|s3)_{_JWT_BODY}"),
    _p("hf_app_secret", "hf_app_", rf"hf_app_(?<![{_A}]hf_app_)[{_A}]{{30,}}"),
    _p("hf_app_secret", "oauth_app_secret_", rf"oauth_app_secret_(?<![{_A}]oauth_app_secret_)[{_A}]{{30,}}"),
    # hf_ + ≥ 30 alnum: wider than the 34 of today's tokens, narrow enough for hf_hub_download & co.
    _p("hf_token", "hf_", rf"hf_(?<![{_A}]hf_)[{_A}]{{30,}}"),
    _p("hf_org_token", "api_org_", rf"api_org_(?<![{_A}]api_org_)[{_A}]{{30,}}"),
    # Model providers.
    _p("anthropic_key", "sk-ant-", rf"sk-ant-(?<![{_A}_-]sk-ant-)[{_A}_-]{{20,}}"),
    # OpenAI keys always carry digits; requiring one keeps `sk-learn-compatible-wrapper` intact.
    _p(
        "openai_key",
        "sk-",
        rf"sk-(?<![{_A}_-]sk-)(?!ant-)(?:proj-|svcacct-|admin-)?(?=[A-Za-z_-]*[0-9])[{_A}_-]{{20,}}",
    ),
    _p("groq_key", "gsk_", rf"gsk_(?<![{_A}]gsk_)[{_A}]{{40,}}"),
    _p("replicate_token", "r8_", rf"r8_(?<![{_A}]r8_)[{_A}]{{30,}}"),
    _p("perplexity_key", "pplx-", rf"pplx-(?<![{_A}]pplx-)[{_A}]{{40,}}"),
    _p("xai_key", "xai-", rf"xai-(?<![{_A}]xai-)[{_A}]{{40,}}"),
    _p("fireworks_key", "fw_", rf"fw_(?<![{_A}]fw_)[{_A}]{{24,}}"),
    _p("elevenlabs_key", "sk_", rf"sk_(?<![{_A}]sk_)[a-f0-9]{{48}}(?![{_A}])"),
    _p("langsmith_key", "lsv2_", r"lsv2_(?:pt|sk)_[a-f0-9]{32}_[a-f0-9]{10}"),
    _p("pinecone_key", "pcsk_", rf"pcsk_(?<![{_A}]pcsk_)[{_A}_]{{40,}}"),
    # Payments and messaging.
    _p("stripe_key", ("k_live_", "k_test_"), rf"[rs]k_(?<![{_A}][rs]k_)(?:live|test)_[{_A}]{{20,}}"),
    _p("stripe_webhook_secret", "whsec_", rf"whsec_(?<![{_A}]whsec_)[{_A}+/=]{{24,}}"),
    _p("slack_token", "xox", rf"xox(?<![{_A}]xox)[abposre]-[{_A}-]{{10,}}"),
    _p("slack_token", "xapp-", rf"xapp-(?<![{_A}]xapp-)[{_A}-]{{10,}}"),
    _p(
        "slack_webhook",
        "hooks.slack.com/",
        r"hooks\.slack\.com/(?:services|workflows|triggers)/(?P<secret>[A-Za-z0-9_/-]{20,})",
    ),
    _p("discord_webhook", "discord", r"discord(?:app)?\.com/api/webhooks/(?P<secret>[0-9]{5,}/[A-Za-z0-9_-]{20,})"),
    _p("sendgrid_key", "sg.", rf"SG\.(?<![{_A}]SG\.)[{_A}_-]{{16,}}\.[{_A}_-]{{16,}}"),
    # Code hosts and package registries (two-letter needles: common in text, but one search beats five).
    _p("github_token", "gh", rf"gh(?<![{_A}]gh)[pousr]_[{_A}]{{30,}}"),
    _p("github_token", "github_pat_", rf"github_pat_(?<![{_A}]github_pat_)[{_A}_]{{30,}}"),
    _p("gitlab_token", "gl", rf"gl(?<![{_A}]gl)(?:pat|dt|rt|ptt|cbt|soat|ft|imt|oas|agent)-[{_A}_-]{{20,}}"),
    _p("npm_token", "npm_", rf"npm_(?<![{_A}]npm_)[{_A}]{{36,}}"),
    _p("pypi_token", "pypi-age", rf"pypi-(?<![{_A}]pypi-)AgE[{_A}_-]{{50,}}"),
    # Clouds.
    _p(
        "aws_access_key",
        ("akia", "asia", "abia", "acca"),
        rf"A(?<![{_A}]A)(?:KIA|SIA|BIA|CCA)[A-Z0-9]{{16}}(?![{_A}])",
    ),
    _p("google_api_key", "aiza", rf"AIza(?<![{_A}_-]AIza)[{_A}_-]{{35}}"),
    _p("google_oauth_token", "ya29.", rf"ya29\.(?<![{_A}]ya29\.)[{_A}_-]{{20,}}"),
    _p("google_client_secret", "gocspx-", rf"GOCSPX-(?<![{_A}]GOCSPX-)[{_A}_-]{{24,}}"),
    # Azure connection strings (`AccountKey=…;`) and SAS URLs (`…&sig=…`); keys are case-insensitive there.
    _p(
        "azure_account_key",
        "key=",
        r"(?:account|sharedaccess)key=(?P<secret>[a-z0-9+/]{20,}={0,2})",
        lowercase=True,
    ),
    _p("azure_sas_signature", "sig=", r"sig=(?<=[?&;]sig=)(?P<secret>[a-z0-9%+/=_-]{16,})", lowercase=True),
    _p("jwt", "eyj", rf"eyJ(?<![{_A}_-]eyJ)[{_A}_-]{{5,}}\.[{_A}_-]{{5,}}\.[{_A}_-]*"),
    # Matched on the lowercased text, because the scheme is case-insensitive and a case-insensitive
    # regex has no literal to jump to. Real tokens carry a digit, '_' or '-', which keeps
    # "bearer authentication" as it is.
    _p(
        "bearer",
        "bearer",
        r"bearer(?<![a-z0-9]bearer)\s+(?P<secret>(?=[a-z.~+/]*[0-9_-])[a-z0-9._~+/-]{8,}=*)",
        lowercase=True,
    ),
)

# `curl -u user:password`, `--user`, `--proxy-user`: the password part. `-u 1000:1000` (docker's uid:gid)
# and `-u root:root` are ids, not credentials.
_BASIC_CREDENTIALS_RE = re.compile(
    r"-(?<![^\s'\"]-)(?:u|-user|-proxy-user)(?:[ \t]+|=)['\"]?"
    r"(?P<user>[^\s:'\"]{1,256}):(?P<secret>[^\s'\"\[][^\s'\"]{0,511})"
)
_BASIC_CREDENTIALS_NEEDLES = ("-u", "--user")
NEEDLES: tuple[str, ...] = (
    *sorted({n for pattern in TOKEN_PATTERNS for n in pattern.needles}),
    *_BASIC_CREDENTIALS_NEEDLES,
)


def present_needles(lower: str) -> frozenset[str]:
    """The needles that occur in `lower` (a lowercased text).

    One `in` per needle: CPython's substring search beats any single regex over all of them, since a
    regex alternation of literals has no common prefix to jump to.

    Example:
        >>> sorted(present_needles("token hf_x and sk-y, bearer z"))
        ['bearer', 'hf_', 'sk-']
    """
    return frozenset(needle for needle in NEEDLES if needle in lower)


def _secret_span(match: re.Match[str]) -> tuple[int, int]:
    """The part of a match that is the secret (the `secret` group when the pattern has one)."""
    if "secret" in match.re.groupindex:
        return match.span("secret")
    return match.span()


def token_spans(text: str, lower: str) -> list[tuple[str, tuple[int, int]]]:
    """Every credential-shaped span in `text` as (kind, span); `lower` is `text` lowercased, same length.

    Example:
        >>> text = "curl -u admin:Xk39dk2lsP https://hooks.slack.com/services/T0/B0/" + "x" * 24
        >>> [(kind, text[a:b][:12]) for kind, (a, b) in token_spans(text, text.lower())]
        [('slack_webhook', 'T0/B0/xxxxxx'), ('basic_credentials', 'Xk39dk2lsP')]
    """
    found: list[tuple[str, tuple[int, int]]] = []
    present = present_needles(lower)
    if not present:
        return found
    for pattern in TOKEN_PATTERNS:
        if not present.isdisjoint(pattern.needles):
            subject = lower if pattern.lowercase else text
            found += [(pattern.kind, _secret_span(m)) for m in pattern.regex.finditer(subject)]
    if not present.isdisjoint(_BASIC_CREDENTIALS_NEEDLES):
        for m in _BASIC_CREDENTIALS_RE.finditer(text):
            user, password = m["user"], m["secret"]
            if not (user.isdigit() and password.isdigit()) and user != password:
                found.append(("basic_credentials", m.span("secret")))
    return found
