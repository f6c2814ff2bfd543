"""The embedded `local` backend: everything on this machine, offline (DESIGN §2)."""

from __future__ import annotations

import getpass
import re

from space_factory.backends.base import Backend
from space_factory.backends.job_settings import AGENT_KEY_ENV, AGENT_SETTINGS, agent_secrets, settings_env
from space_factory.backends.local.bucket import DirectoryBucket
from space_factory.backends.local.jobs import LocalJobRunner
from space_factory.backends.local.models import CacheModelSource
from space_factory.backends.local.spaces import LocalSpaceHost, factory_env
from space_factory.config import Settings


def local_owner(settings: Settings) -> str:
    """The owner name on this machine: `SPACE_FACTORY_OWNER`, else the login name, made id-safe."""
    raw = settings.owner or getpass.getuser() or "local"
    return re.sub(r"[^A-Za-z0-9-]+", "-", raw).strip("-").lower() or "local"


def local_backend(settings: Settings, owner: str | None = None) -> Backend:
    owner = owner or local_owner(settings)
    bucket_dir = settings.bucket_dir(owner)
    # The job's worker builds its own backend from the environment: it must see this factory's home, not
    # whatever SPACE_FACTORY_HOME the calling process happened to have (a Factory may be given another).
    # The coding agent's key is the job's alone (`job_settings`): never in what a Space's supervisor sees.
    env = {k: v for k, v in factory_env().items() if k != AGENT_KEY_ENV} | {"SPACE_FACTORY_HOME": str(settings.home)}
    worker_env = settings_env(settings, (*AGENT_SETTINGS, "agent_tools_dir")) | agent_secrets(settings)
    return Backend(
        name="local",
        owner=owner,
        bucket=DirectoryBucket(bucket_dir),
        jobs=LocalJobRunner(settings.jobs_dir, bucket_dir, env, worker_env),
        spaces=LocalSpaceHost(settings.spaces_dir, settings.venvs_dir, env),
        models=CacheModelSource(),
    )
