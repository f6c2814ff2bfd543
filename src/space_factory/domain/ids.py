"""Identifiers: run ids (minted here), model ids and Space ids (validated here).

Everything that comes in from an agent is untrusted: ids are matched against strict patterns so that
they can never name a path outside the run directory or smuggle text into generated code.
"""

from __future__ import annotations

import re
import secrets
from datetime import UTC, datetime
from urllib.parse import urlsplit

from space_factory.domain.errors import InvalidModelId, InvalidRunId, InvalidSpaceId
from space_factory.domain.redaction import REDACTED, Redactor

RUN_ID_PATTERN = r"^[a-z0-9][a-z0-9-]{7,79}$"
_RUN_ID_RE = re.compile(RUN_ID_PATTERN)

# The Hub's own rule for repo names: letters, digits, '-', '_', '.', no '--' or '..', at most 96 chars.
_REPO_PART_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,95}$")
HUB_HOSTS = frozenset({"huggingface.co", "www.huggingface.co", "hf.co"})
# The Hub's client also refuses a name that ends in '-' or '.', or in '.git' (huggingface_hub's repo id check).
_BAD_NAME_ENDS = ("-", ".", ".git")
_SECRET_SHAPE = "it looks like an access token or another secret, and a secret never names a run, a model or a Space"

_secrets = Redactor()


def looks_secret(text: str) -> bool:
    """Whether the redactor would hide something in `text`: such a text never becomes an id, a slug or a name.

    Example:
        >>> looks_secret("sshleifer/tiny-gpt2"), looks_secret("owner/hf_" + "a1B2c3D4e5" * 4)
        (False, True)
    """
    return _secrets.redact_text(text) != text


def _slug(name: str, pattern: str, length: int) -> str:
    """A readable slug of `name`, or "" when the name looks secret (then the caller's fallback is used)."""
    if looks_secret(name):
        return ""
    return re.sub(pattern, "-", name.lower()).strip("-")[:length].strip("-")


def mint_run_id(model: str, now: datetime | None = None) -> str:
    """Mint a fresh, URL-safe run id: `<utc date>-<utc time>-<model slug>-<6 hex>`.

    Example:
        >>> mint_run_id("sshleifer/tiny-gpt2", datetime(2026, 11, 28, 17, 12, 33, tzinfo=UTC))[:26]
        '20261128-171233-tiny-gpt2-'
    """
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%d-%H%M%S")
    slug = _slug(model.rsplit("/", 1)[-1], r"[^a-z0-9]+", 40) or "model"
    return f"{stamp}-{slug}-{secrets.token_hex(3)}"


def validate_run_id(run_id: str) -> str:
    """Return `run_id` unchanged, or raise `InvalidRunId`."""
    if not isinstance(run_id, str) or not _RUN_ID_RE.fullmatch(run_id):
        raise InvalidRunId(str(run_id))
    return run_id


def _validate_repo_id(repo_id: str, kind: str) -> tuple[str, str] | str:
    parts = repo_id.split("/")
    if len(parts) != 2:
        return f"a {kind} id has exactly one '/' between owner and name"
    for part in parts:
        if not _REPO_PART_RE.fullmatch(part):
            return "owner and name use letters, digits, '-', '_' and '.', start with a letter or digit, ≤ 96 chars"
        if "--" in part or ".." in part or part.endswith("."):
            return "'--' and '..' are not allowed, nor a trailing '.'"
    return parts[0], parts[1]


def parse_model_id(model: str) -> str:
    """Normalise a model id or a Hub model URL to `owner/name`.

    Args:
        model: `owner/name`, `https://huggingface.co/owner/name` (optionally with `/tree/main…`), or `hf.co/owner/name`.

    Returns:
        The canonical `owner/name`.

    Raises:
        InvalidModelId: the value is not a model id; the message says which rule it broke.

    Example:
        >>> parse_model_id("https://huggingface.co/sshleifer/tiny-gpt2/tree/main")
        'sshleifer/tiny-gpt2'
    """
    if not isinstance(model, str) or not model.strip():
        raise InvalidModelId(str(model), "it is empty")
    value = model.strip()
    if len(value) > 300:
        raise InvalidModelId(value, "it is longer than 300 characters")
    if "://" in value or value.split("/", 1)[0].lower() in HUB_HOSTS:
        try:
            url = urlsplit(value if "://" in value else f"https://{value}")
        except ValueError:  # e.g. an unclosed '[' of an IPv6 host
            raise InvalidModelId(value, "it is not a well-formed URL") from None
        if url.scheme not in ("http", "https") or (url.hostname or "").lower() not in HUB_HOSTS:
            raise InvalidModelId(value, "URLs must point at huggingface.co")
        segments = [s for s in url.path.split("/") if s]
        if segments and segments[0] in ("spaces", "datasets", "buckets"):
            raise InvalidModelId(value, f"this URL names a {segments[0][:-1]}, not a model")
        if segments and segments[0] == "models":
            segments = segments[1:]
        if len(segments) < 2:
            raise InvalidModelId(value, "the URL has no owner/name")
        value = "/".join(segments[:2])
    result = _validate_repo_id(value, "model")
    if isinstance(result, str):
        raise InvalidModelId(value, result)
    if looks_secret(value):
        raise InvalidModelId(REDACTED, _SECRET_SHAPE)  # the message must not carry the secret either
    return value


def validate_space_id(space_id: str) -> str:
    """Return `space_id` (`owner/name`) unchanged, or raise `InvalidSpaceId`."""
    if not isinstance(space_id, str):
        raise InvalidSpaceId(str(space_id), "it is not a string")
    result = _validate_repo_id(space_id, "Space")
    if isinstance(result, str):
        raise InvalidSpaceId(space_id, result)
    return space_id


SPACE_NAME_RULE = ("a Space name uses letters, digits, '-', '_' and '.', starts with a letter or digit, has no "
                   "'--' or '..', does not end in '-', '.' or '.git', ≤ 96 chars")


def space_name_problem(name: object) -> str | None:
    """The rule a Space name (the part after the owner) breaks, or None: the one rule every edge and the worker use."""
    if not isinstance(name, str) or not _REPO_PART_RE.fullmatch(name) or "--" in name or ".." in name \
            or name.endswith(_BAD_NAME_ENDS):
        return SPACE_NAME_RULE
    if looks_secret(name):
        return _SECRET_SHAPE
    return None


def validate_space_name(name: str) -> str:
    """Return a Space name (the part after the owner) unchanged, or raise `InvalidSpaceId`.

    A name that looks like a secret is refused, and the error then quotes a placeholder instead of it.
    """
    problem = space_name_problem(name)
    if problem is not None:
        raise InvalidSpaceId(REDACTED if problem is _SECRET_SHAPE else str(name), problem)
    return name


def default_space_name(model: str, run_id: str) -> str:
    """A fresh Space name for a run: the model's name plus the run's random suffix, so it never collides."""
    name = _slug(model.rsplit("/", 1)[-1], r"[^A-Za-z0-9-]+", 60) or "model"
    name = re.sub(r"-{2,}", "-", name)
    return f"{name}-demo-{run_id.rsplit('-', 1)[-1]}"
