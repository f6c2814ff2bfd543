"""Idempotency keys: of the launches that pass one key, one makes a run and every other answers that run.

A key is claimed in the bucket (`idempotency/<sha256(owner, key)[:32]>.json`, create-if-absent) before the
claiming launch writes its run record, so concurrent launches with one key converge on one winner; a loser
waits for the winner's record to appear (`claimed_state`).
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable

from space_factory.backends.base import Bucket
from space_factory.domain.errors import BackendError, RunNotFound
from space_factory.domain.ids import validate_run_id
from space_factory.domain.schemas import RunState

# A launch that lost an idempotency key's claim waits this long for the winner to write its run (milliseconds,
# normally; a few Hub writes on the hf backend).
CLAIMED_RUN_WAIT_SECONDS = 30.0
CLAIM_POLL_SECONDS = 0.05


def claim_path(owner: str, key: str) -> str:
    """The bucket key of `owner`'s claim on idempotency `key`: a digest, so no key ever becomes a path."""
    digest = hashlib.sha256(f"{owner}\0{key}".encode()).hexdigest()[:32]
    return f"idempotency/{digest}.json"


def is_claimed(bucket: Bucket, owner: str, key: str) -> bool:
    """Whether some launch of `owner` already claimed idempotency `key`."""
    return bucket.read(claim_path(owner, key)) is not None


def claim(bucket: Bucket, owner: str, key: str, run_id: str) -> str:
    """Claim idempotency `key` for `run_id` (create-if-absent on the bucket); return the run id that holds it.

    Raises:
        BackendError: the key's claim is unreadable.
    """
    held = bucket.create(claim_path(owner, key), json.dumps({"run_id": run_id}).encode())
    if held is None:
        return run_id
    try:
        return validate_run_id(json.loads(held)["run_id"])
    except (ValueError, KeyError, TypeError):
        raise BackendError("this idempotency key's record in the bucket is unreadable; launch with another "
                           "idempotency_key") from None


def claimed_state(run_id: str, state: Callable[[str], RunState]) -> RunState:
    """The state of the run that holds an idempotency key (read with `state`), once its launch has written it.

    Raises:
        BackendError: the claim's run never appeared (its launch died between the claim and the record).
    """
    deadline = time.monotonic() + CLAIMED_RUN_WAIT_SECONDS
    delay = CLAIM_POLL_SECONDS
    while True:
        try:
            return state(run_id)
        except RunNotFound:
            if time.monotonic() > deadline:
                raise BackendError(f"run {run_id!r} holds this idempotency key, but its launch never wrote it; "
                                   "launch with another idempotency_key") from None
            time.sleep(delay)
            delay = min(delay * 2, 1.0)  # a bucket read is a Hub request on the hf backend
