"""The factory's error tree.

Every message names the value involved and the next step, and never holds a token, a header or a
server path.

    FactoryError
      + InvalidInput
        - InvalidRunId
        - InvalidModelId
        - InvalidSpaceId
        - InvalidTarget
      + RunNotFound
      + RunNotFinished
      + ModelNotFound
      + ModelGated
      + NoTemplate
      + SpaceExists
      + CostNotConfirmed
      + NoZeroGpuSlot
      + AgentUnavailable
      + BackendError
        - TokenScopeMissing
          - TokenRefused
        - BillingRequired
        - RateLimited
        - SpaceCardRejected
"""

from __future__ import annotations

import unicodedata

from space_factory.domain.tasks import TEMPLATE_TASKS


def shown(value: str, limit: int = 200) -> str:
    """How a message quotes an untrusted input: control and format characters dropped, cut to `limit`, quoted.

    Dropping them (rather than escaping them as `repr` does) keeps a token that a line break or a
    zero-width character split into pieces whole, so the redactor every message passes through sees it.

    Example:
        >>> shown("owner/na\\nme")
        "'owner/name'"
    """
    clean = "".join(ch for ch in value if unicodedata.category(ch)[0] != "C")
    return repr(clean[:limit])


class FactoryError(Exception):
    """Base class: an error an agent or a user can act on."""


class InvalidInput(FactoryError, ValueError):
    """An argument broke a rule; the message quotes the value and the rule."""


class InvalidRunId(InvalidInput):
    """A run id that breaks the run id rule (DESIGN §4).

    Only its part up to the first character a run id never holds is quoted: a token pasted onto a run id
    (`…-4f9a1c` + `hf_…`) is cut at its `_` or first capital, so no message can carry its body.

        >>> str(InvalidRunId("20261128-171233-tiny-gpt2-4f9a1chf_Secret"))[:101]
        "invalid run id: '20261128-171233-tiny-gpt2-4f9a1chf' and then a character run ids never hold (at 35)."
    """

    def __init__(self, run_id: str) -> None:
        allowed = len(run_id) - len(run_id.lstrip(_RUN_ID_CHARS))
        quoted = shown(run_id[:allowed], 100)
        if allowed < len(run_id):
            quoted += f" and then a character run ids never hold (at {allowed + 1})"
        super().__init__(
            f"invalid run id: {quoted}. Run ids look like '20261128-171233-tiny-gpt2-4f9a1c' "
            "(lowercase letters, digits and '-', 8-80 characters); use the run_id launch_build returned."
        )
        self.run_id = run_id


_RUN_ID_CHARS = "abcdefghijklmnopqrstuvwxyz0123456789-"


class InvalidModelId(InvalidInput):
    def __init__(self, model: str, rule: str) -> None:
        super().__init__(
            f"invalid model id: {shown(model)}: {rule}. "
            "Pass 'owner/name' or 'https://huggingface.co/owner/name'."
        )
        self.model = model
        self.rule = rule


class InvalidSpaceId(InvalidInput):
    def __init__(self, space_id: str, rule: str) -> None:
        super().__init__(f"invalid Space id: {shown(space_id)}: {rule}. Pass 'owner/name'.")
        self.space_id = space_id
        self.rule = rule


class InvalidTarget(InvalidInput):
    def __init__(self, target: str, rule: str) -> None:
        super().__init__(
            f"invalid validation target: {shown(target)}: {rule}. "
            "Pass an app URL (http://127.0.0.1:7860/) or a Space id ('owner/name')."
        )
        self.target = target
        self.rule = rule


class RunNotFound(FactoryError):
    def __init__(self, run_id: str) -> None:
        super().__init__(f"run not found: {run_id!r}. Call list_runs (CLI: space-factory runs) to see your runs.")
        self.run_id = run_id


class RunNotFinished(FactoryError):
    def __init__(self, run_id: str, phase: str) -> None:
        super().__init__(
            f"run {run_id!r} has no gate yet: it is in phase {phase!r}. "
            "Poll get_run_status until terminal is true, then ask again."
        )
        self.run_id = run_id
        self.phase = phase


class ModelNotFound(FactoryError):
    def __init__(self, model: str, where: str) -> None:
        super().__init__(f"model not found: {model!r} is not in {where}. Check the id, or download it first.")
        self.model = model


class ModelGated(FactoryError):
    def __init__(self, model: str) -> None:
        super().__init__(
            f"model {model!r} is gated: accept its conditions at https://huggingface.co/{model} "
            "with the account whose token the factory uses, then launch again."
        )
        self.model = model


class SpaceExists(FactoryError):
    def __init__(self, space_id: str) -> None:
        super().__init__(
            f"Space {space_id!r} already exists and the factory never overwrites a Space. "
            "Pass another space_name, or omit it to get a fresh name."
        )
        self.space_id = space_id


class NoTemplate(FactoryError):
    """The task has no Gradio template, so the factory cannot generate an app for it.

    The pipeline turns it into a `technical_blocker` gate rather than a failed run.
    """

    def __init__(self, task: str | None) -> None:
        super().__init__(f"no template for task {task!r}; templates exist for: {', '.join(sorted(TEMPLATE_TASKS))}")
        self.task = task


class CostNotConfirmed(FactoryError):
    """A paid hardware flavor was requested without the user's consent to its hourly price.

    Raised by `Factory.request_hardware` on a billed backend; the agent asks the user, then calls again with
    `confirm_cost=true`.
    """

    def __init__(self, flavor: str, hourly_usd: float | None) -> None:
        cost = f"${hourly_usd:.2f}/hour" if hourly_usd is not None else "a paid hourly rate"
        super().__init__(f"{flavor!r} costs {cost} while the Space runs. Ask the user, then call again with "
                         "confirm_cost=true.")
        self.flavor = flavor
        self.hourly_usd = hourly_usd


class BackendError(FactoryError):
    """A backend could not do what was asked (job launch, Space host, bucket)."""


class TokenScopeMissing(BackendError):
    """The Hub refused the token (401/403) for an action; the message names the scope or permission needed."""

    def __init__(self, action: str, scope: str) -> None:
        super().__init__(
            f"the Hugging Face token may not {action}: it needs the {scope!r} permission. Create a token with it "
            "at https://huggingface.co/settings/tokens and log in again (hf auth login)."
        )
        self.action = action
        self.scope = scope


class BillingRequired(BackendError):
    """The Hub answered 402: the action needs a PRO plan or a payment method."""

    def __init__(self, action: str) -> None:
        super().__init__(
            f"{action} needs a paid Hugging Face plan (PRO) or a payment method on the account: "
            "see https://huggingface.co/settings/billing, then try again."
        )
        self.action = action


class RateLimited(BackendError):
    """The Hub answered 429 (after the client's own retries)."""

    def __init__(self, action: str) -> None:
        super().__init__(f"the Hugging Face Hub rate-limited {action}; wait a minute, then try again.")
        self.action = action


class TokenRefused(TokenScopeMissing):
    """The Hub refused the token itself (401 on `whoami`): mistyped, revoked or expired, not short of a scope."""

    def __init__(self) -> None:
        BackendError.__init__(
            self,
            "the Hugging Face Hub refused the token (HTTP 401): it is mistyped, revoked or expired. Create a new "
            "one at https://huggingface.co/settings/tokens, then log in again (hf auth login) or set HF_TOKEN.",
        )
        self.action = "identify the token's user (whoami)"
        self.scope = "read"


class SpaceCardRejected(BackendError):
    """The Hub's `validate-yaml` refused the front matter of the README.md the factory generated (a factory bug)."""

    def __init__(self, space_id: str, fields: tuple[str, ...]) -> None:
        named = "the fields " + ", ".join(fields) if fields else "fields it did not name"
        super().__init__(
            f"the Hub refused the README.md front matter generated for {space_id!r} ({named}): a bug in the "
            "factory, not a problem with the model. Nothing was uploaded; report it with the run id."
        )
        self.space_id = space_id
        self.fields = fields


class NoZeroGpuSlot(FactoryError):
    """The build needs a ZeroGPU slot and the owner has none left; refused before any job starts.

    The message (`domain.plans.ZeroGpuSlots.refusal`) names the Spaces that hold the slots and what to do.
    """

    def __init__(self, reason: str) -> None:
        super().__init__(reason)


class InvalidRevision(InvalidInput):
    """A revision broke a rule of `domain.revisions` (a path, a size, its text, or it changes nothing)."""


class RunStillGoing(FactoryError):
    """A revision of a run that has not ended yet: its app may still change."""

    def __init__(self, run_id: str, phase: str) -> None:
        super().__init__(
            f"run {run_id!r} is still going (phase {phase!r}): wait for it to end (poll get_run_status until "
            f"terminal is true), then revise it; nothing was changed"
        )
        self.run_id = run_id


class SpaceMoved(FactoryError):
    """The Space's head is not the commit the parent run made: someone else wrote to it since."""

    def __init__(self, space_id: str, expected: str | None, head: str | None = None, run_id: str | None = None) -> None:
        since = f"run {run_id!r} deployed it" if run_id else "the revised run deployed it"
        now = f"its head is {head[:12]}, not {(expected or '?')[:12]}" if head else \
            f"its head is no longer {(expected or '?')[:12]}"
        super().__init__(
            f"the Space {space_id!r} changed since {since} ({now}): someone else wrote to it, or a later revision "
            "did. Refusing to overwrite it: revise the run that made its latest commit (list_runs shows revisions), "
            "or build a new Space; nothing was changed"
        )
        self.space_id = space_id
        self.head = head


class AgentUnavailable(FactoryError):
    """The coding agent (Pi) cannot run: Node or Pi could not be found, installed or started.

    `reason` says what failed (with a redacted tail of the installer's output when there is one), `remedy`
    what to do about it.
    """

    def __init__(self, reason: str, remedy: str) -> None:
        super().__init__(f"the coding agent is unavailable: {reason}. {remedy}")
        self.reason = reason
        self.remedy = remedy
