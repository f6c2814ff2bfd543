"""The tool annotations, as a few named constants (STYLE R5): tool metadata, kept with the tools.

Every constant sets all four hints: under the MCP spec an absent `destructiveHint` reads as "may
destroy" and an absent `openWorldHint` as "open world", so leaving one out would tell a client
something untrue. "Open world" here means the tool reaches things outside the run record: the Hub
(models, Spaces, hardware, jobs) or an arbitrary app URL.
"""

from __future__ import annotations

from mcp.types import ToolAnnotations

__all__ = ["APP_FILES", "DESTRUCTIVE", "HARDWARE", "LAUNCH", "READ_ONLY", "READ_ONLY_OPEN", "REVISE", "VALIDATE"]

# Reads the caller's own run records only.
READ_ONLY = ToolAnnotations(read_only_hint=True, destructive_hint=False, idempotent_hint=True, open_world_hint=False)

# Reads a model from the model source (the Hub on the hf backend), changes nothing.
READ_ONLY_OPEN = ToolAnnotations(
    read_only_hint=True, destructive_hint=False, idempotent_hint=True, open_world_hint=True
)

# Starts a run: a job and a new private Space. Never overwrites anything; a second call without an
# idempotency key starts a second run, so it is not idempotent.
LAUNCH = ToolAnnotations(read_only_hint=False, destructive_hint=False, idempotent_hint=False, open_world_hint=True)

# Starts a validation-only run that calls an app the caller names; nothing of theirs is changed.
VALIDATE = ToolAnnotations(read_only_hint=False, destructive_hint=False, idempotent_hint=False, open_world_hint=True)

# Changes a Space's hardware (it restarts on the new flavor, maybe billed): not destructive of data,
# and asking twice for the same flavor answers `already_set`.
HARDWARE = ToolAnnotations(read_only_hint=False, destructive_hint=False, idempotent_hint=True, open_world_hint=True)

# Stops a run's job (and a Space still being built): work is lost, so destructive. Canceling an
# ended run changes nothing. It touches only the run's own job and Space, hence a closed world.
DESTRUCTIVE = ToolAnnotations(read_only_hint=False, destructive_hint=True, idempotent_hint=True, open_world_hint=False)

# Reads the files of an app a run deployed, from the caller's run record only (never the Space itself).
APP_FILES = ToolAnnotations(read_only_hint=True, destructive_hint=False, idempotent_hint=True, open_world_hint=False)

# Starts a revision run that commits to the run's own Space (the factory made it): a new commit, never a rewrite
# of history or of somebody else's Space (a head moved by another writer is refused). Each call is a new run.
REVISE = ToolAnnotations(read_only_hint=False, destructive_hint=False, idempotent_hint=False, open_world_hint=True)
