"""Fake Hub tokens, made at run time so that no token-shaped literal sits in the source tree."""

from __future__ import annotations

import secrets
import string


def fake_token() -> str:
    """A fresh Hub-token-shaped secret (`hf_` and 34 letters or digits) that no Hub knows."""
    return "hf_" + "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(34))
