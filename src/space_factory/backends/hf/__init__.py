"""The `hf` backend: run records in a private HF bucket, workers in HF Jobs, private Gradio Spaces (DESIGN §2).

Every part is bound to one caller's token, passed to each Hub call and never kept in a global.
"""

from __future__ import annotations

from huggingface_hub import HfApi

from space_factory.backends.base import Backend
from space_factory.backends.hf.auth import HubIdentity, resolve_token, whoami
from space_factory.backends.hf.bucket import HfBucket
from space_factory.backends.hf.jobs import HfJobRunner
from space_factory.backends.hf.models import HubModelSource
from space_factory.backends.hf.spaces import HfSpaceHost
from space_factory.config import DEFAULT_BUCKET_NAME, Settings

__all__ = ["HubIdentity", "hf_backend", "hf_worker_backend", "resolve_token"]


def hf_backend(settings: Settings, token: str | None = None) -> Backend:
    """The backend of the token's user: `whoami` names the namespace; the run bucket is created on first use.

    Raises:
        TokenScopeMissing: no token, or the Hub refused it.
    """
    token = resolve_token(token)
    api = HfApi()
    identity = whoami(api, token)
    bucket = HfBucket(api, settings.bucket or f"{identity.namespace}/{DEFAULT_BUCKET_NAME}", token)
    bucket.ensure()
    return Backend(name="hf", owner=identity.namespace, bucket=bucket,
                   jobs=HfJobRunner(api, token, identity.namespace, bucket, settings),
                   spaces=HfSpaceHost(api, token), models=HubModelSource(api, token),
                   zerogpu_allowed=identity.is_pro)


def hf_worker_backend(settings: Settings, owner: str, token: str | None = None) -> Backend:
    """What the worker uses inside a job: Spaces and models on the Hub; the bucket is the mounted directory.

    The caller replaces `bucket` with the mounted one; `jobs` is not used by a worker. `zerogpu_allowed` comes
    from the job token's `whoami` (a PRO account).
    """
    token = resolve_token(token)
    api = HfApi()
    bucket = HfBucket(api, settings.bucket or f"{owner}/{DEFAULT_BUCKET_NAME}", token)
    return Backend(name="hf", owner=owner, bucket=bucket, jobs=HfJobRunner(api, token, owner, bucket, settings),
                   spaces=HfSpaceHost(api, token), models=HubModelSource(api, token),
                   zerogpu_allowed=whoami(api, token).is_pro)
