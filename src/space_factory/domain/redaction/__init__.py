"""Secret redaction for everything the factory serves (DESIGN §9): traces, logs, events, tool results.

Redaction runs in layers, as `reference/peers.md` §9 recommends, one module each:

1. `known_values`: the exact secret values a run knows, with their URL-encoded, JSON-escaped and repr
   forms, the base64 of any text that contains them (so `user:secret` basic-auth blobs are caught for
   every user name), and their halves when a line wrap splits them;
2. `patterns`: credential shapes: `hf_…`, `hf_oauth_…`, `api_org_…`, `Bearer …`, JWTs, credentials in
   URLs and `curl -u`, webhook URLs, some thirty providers' keys, private key blocks;
3. `key_values`: values of sensitive keys (`HF_TOKEN=…`, `"api_key": "…"`, `Authorization: …`,
   `--password …`) when they look like secrets; in parsed JSON the value of a sensitive key is replaced
   whatever its type.

`encodings` gives the layers decoded views of a text (escapes and ANSI colours, URL encoding, base64
runs), so an encoded secret is found and hidden in its encoded form. `redactor.Redactor` runs it all;
`Redactor.redact_checked` re-scans the result with layers 1-2 and withholds the whole content when
anything is still found, so a gap in the redactor shows up as a withheld trace instead of a leak.
`log_filter.RedactingFilter` puts a redactor under every log handler.

Everything but the log filter is pure: no I/O, no logging, compiled patterns only.
"""

from __future__ import annotations

from space_factory.domain.redaction.key_values import MIN_SECRET_LENGTH, is_sensitive_key, looks_like_secret
from space_factory.domain.redaction.log_filter import RedactingFilter, install_redacting_filter
from space_factory.domain.redaction.redactor import (
    REDACTED,
    WITHHELD_NOTICE,
    Finding,
    RedactionResult,
    Redactor,
    redact,
)

__all__ = [
    "MIN_SECRET_LENGTH",
    "REDACTED",
    "WITHHELD_NOTICE",
    "Finding",
    "RedactingFilter",
    "RedactionResult",
    "Redactor",
    "install_redacting_filter",
    "is_sensitive_key",
    "looks_like_secret",
    "redact",
]
