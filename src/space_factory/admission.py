"""What a launch is held to before any run or job exists (`Factory.launch`, `Factory.validate`).

A validation target is parsed once, held to the backend's address rule and resolved to the one URL the run
will check; a build that needs a ZeroGPU slot is refused when the owner has none left. A refusal here leaves
nothing behind: no record, no index entry, no job.
"""

from __future__ import annotations

import logging

from space_factory.backends.base import Backend, SpaceRuntime
from space_factory.domain.analysis import analyze_card
from space_factory.domain.errors import (
    BackendError,
    FactoryError,
    InvalidTarget,
    NoZeroGpuSlot,
    RateLimited,
    TokenScopeMissing,
)
from space_factory.domain.hardware import ZEROGPU_FLAVOR, flavor_spec
from space_factory.domain.recommend import recommend_runtime
from space_factory.domain.schemas import BuildOptions
from space_factory.domain.targets import (
    AppUrl,
    SpaceTarget,
    Target,
    admit,
    loopback_only,
    parse_app_url,
    parse_target,
    space_id_candidates,
)

logger = logging.getLogger(__name__)


def validate_target(target: str, backend: str) -> Target:
    """A validation target, parsed once (`domain.targets.parse_target`) and held to `backend`'s address rule.

    Nothing has connected anywhere yet when this refuses a target.

    Raises:
        InvalidTarget: not an http(s) app URL or a Space id, or not one this backend may check.
    """
    return admit(parse_target(target), backend)


def resolve_target(backend: Backend, target: str) -> tuple[str, str]:
    """The validation run's model text (its run id is made from it) and the app URL it checks, for `target`.

    On the hf backend a `*.hf.space` URL becomes its Space's id, and the URL checked is the one the Hub gives
    for it; a Space id is checked at the URL its host gives (held to loopback on the local backend).

    Raises:
        InvalidTarget: the target is refused (`validate_target`), names no one Space, or its Space has no URL.
    """
    parsed = validate_target(target, backend.name)
    runtime = None
    if isinstance(parsed, AppUrl) and backend.name == "hf":
        found: list[SpaceRuntime] = []
        for candidate in space_id_candidates(parsed):
            try:
                found.append(backend.spaces.runtime(candidate))
            except (RateLimited, TokenScopeMissing):
                raise
            except BackendError:  # no such Space, or not one the token sees
                continue
        own = [rt for rt in found if rt.url and parse_app_url(rt.url).same_origin(parsed)]
        matches = own or found
        if len(matches) != 1:
            raise InvalidTarget(parsed.url, "several Spaces could have this URL; pass the Space id" if matches
                                else "no Space the token can see has this URL; pass the Space id")
        runtime = matches[0]
        parsed = SpaceTarget(runtime.space_id)
    if isinstance(parsed, SpaceTarget):
        runtime = runtime or backend.spaces.runtime(parsed.space_id)
        if not runtime.url:
            raise InvalidTarget(parsed.space_id,
                                f"the Space is {runtime.stage}, not running, so it has no URL to check")
        app = parse_app_url(runtime.url)  # the Space host's word, read with the same parser
        return parsed.text, (loopback_only(app) if backend.name == "local" else app).url
    return parsed.text, parsed.url


def admit_zerogpu(backend: Backend, model: str, options: BuildOptions) -> None:
    """Refuse, before any run or job exists, a build that needs a ZeroGPU slot the owner no longer has.

    Slots are counted first (one Hub request); the model is read only when none is left, to tell whether the
    build would run on ZeroGPU. A count or a model the Hub cannot give lets the launch go on: the worker
    reports the model, and the gate the hardware the Space actually got.

    Raises:
        NoZeroGpuSlot: every slot is taken and the build would need one.
    """
    if backend.hosting is None:
        return
    try:
        reason = backend.hosting.zerogpu_slots().refusal()
    except BackendError:
        logger.warning("could not count the ZeroGPU Spaces of %s; launching anyway", backend.owner)
        return
    if reason is not None and _needs_zerogpu(backend, model, options):
        raise NoZeroGpuSlot(reason)


def _needs_zerogpu(backend: Backend, model: str, options: BuildOptions) -> bool:
    """Whether the build would run on ZeroGPU: asked for, or planned with no other GPU to fall back on."""
    if options.hardware is not None:  # a requested flavor is the plan's primary
        return options.hardware == ZEROGPU_FLAVOR
    try:
        analysis = analyze_card(backend.models.model_facts(model), task_override=options.task)
    except FactoryError:
        return False
    with_slot, without_slot = (
        recommend_runtime(analysis, allow_paid_fallback=options.allow_paid_fallback, zerogpu_allowed=allowed,
                          backend=backend.name) for allowed in (True, False))
    fallback = flavor_spec(without_slot.chosen)
    return with_slot.chosen == ZEROGPU_FLAVOR and (fallback is None or not fallback.is_gpu)
