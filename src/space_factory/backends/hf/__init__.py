"""The `hf` backend: run records in a private HF bucket, workers in HF Jobs, private Gradio Spaces (DESIGN §2).

Every part is bound to one caller's token, passed to each Hub call and never kept in a global.
"""

from __future__ import annotations

from huggingface_hub import HfApi

from space_factory.backends.base import Backend
from space_factory.backends.hf import budget
from space_factory.backends.hf.auth import HubIdentity, resolve_token, whoami
from space_factory.backends.hf.bucket import HfBucket
from space_factory.backends.hf.jobs import HfJobRunner
from space_factory.backends.hf.models import HubModelSource
from space_factory.backends.hf.plans import HfHostingPlan
from space_factory.backends.hf.spaces import HfSpaceHost
from space_factory.config import DEFAULT_BUCKET_NAME, Settings
from space_factory.domain.errors import BackendError

__all__ = ["HubIdentity", "hf_backend", "hf_worker_backend", "resolve_token", "token_owner"]


def token_owner(token: str) -> str:
    """The Hub user (namespace) `token` belongs to: one `whoami` call, nothing else built.

    Raises:
        TokenRefused: the Hub refused the token (401).
        TokenScopeMissing: the Hub refused the call.
    """
    budget.install()
    return whoami(HfApi(), token).namespace


def hf_backend(settings: Settings, token: str | None = None) -> Backend:
    """The backend of the token's user: `whoami` names the namespace; the run bucket is created on first use.

    `zerogpu_allowed` is what the plan allows (a free account in good standing or PRO may host ZeroGPU Spaces);
    the slots left are counted at each launch (`hosting`), where a build that needs one and finds none is refused.

    Raises:
        TokenRefused: the Hub refused the token (401).
        TokenScopeMissing: no token, or the Hub refused a call.
    """
    token = resolve_token(token)
    budget.install()  # every Hub request counted per token; refused reads retried (budget.py)
    api = HfApi()
    identity = whoami(api, token)
    bucket = HfBucket(api, settings.bucket or f"{identity.namespace}/{DEFAULT_BUCKET_NAME}", token)
    bucket.ensure()
    hosting = HfHostingPlan(api, token, identity)
    return Backend(name="hf", owner=identity.namespace, bucket=bucket,
                   jobs=HfJobRunner(api, token, identity.namespace, bucket, settings),
                   spaces=HfSpaceHost(api, token), models=HubModelSource(api, token),
                   zerogpu_allowed=hosting.plan_allows_zerogpu, hosting=hosting)


def hf_worker_backend(settings: Settings, owner: str, token: str | None = None) -> Backend:
    """What the worker uses inside a job: Spaces and models on the Hub; the bucket is the mounted directory.

    The caller replaces `bucket` with the mounted one; `jobs` is not used by a worker. `zerogpu_allowed` says
    whether the owner has a ZeroGPU slot left now (the job token's `whoami` and its Spaces, `HfHostingPlan`), so
    a build that lost its slot since the launch plans without ZeroGPU (a paid fallback, when allowed).
    """
    token = resolve_token(token)
    budget.install()
    api = HfApi()
    bucket = HfBucket(api, settings.bucket or f"{owner}/{DEFAULT_BUCKET_NAME}", token)
    hosting = HfHostingPlan(api, token, whoami(api, token))
    try:
        zerogpu = hosting.zerogpu_slots().allows_zerogpu
    except BackendError:  # the Spaces could not be listed: the plan's word alone (the gate sees what the Space got)
        zerogpu = hosting.plan_allows_zerogpu
    return Backend(name="hf", owner=owner, bucket=bucket, jobs=HfJobRunner(api, token, owner, bucket, settings),
                   spaces=HfSpaceHost(api, token), models=HubModelSource(api, token),
                   zerogpu_allowed=zerogpu, hosting=hosting)
