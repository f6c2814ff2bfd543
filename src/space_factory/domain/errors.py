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
      + SpaceExists
      + HardwareNotAvailable
      + BackendError
        - TokenScopeMissing
        - BillingRequired
        - RateLimited
"""

from __future__ import annotations


class FactoryError(Exception):
    """Base class: an error an agent or a user can act on."""


class InvalidInput(FactoryError, ValueError):
    """An argument broke a rule; the message quotes the value and the rule."""


class InvalidRunId(InvalidInput):
    def __init__(self, run_id: str) -> None:
        super().__init__(
            f"invalid run id: {run_id[:100]!r}. Run ids look like '20261128-171233-tiny-gpt2-4f9a1c' "
            "(lowercase letters, digits and '-', 8-80 characters); use the run_id launch_build returned."
        )
        self.run_id = run_id


class InvalidModelId(InvalidInput):
    def __init__(self, model: str, rule: str) -> None:
        super().__init__(
            f"invalid model id: {model[:200]!r}: {rule}. "
            "Pass 'owner/name' or 'https://huggingface.co/owner/name'."
        )
        self.model = model
        self.rule = rule


class InvalidSpaceId(InvalidInput):
    def __init__(self, space_id: str, rule: str) -> None:
        super().__init__(f"invalid Space id: {space_id[:200]!r}: {rule}. Pass 'owner/name'.")
        self.space_id = space_id
        self.rule = rule


class InvalidTarget(InvalidInput):
    def __init__(self, target: str, rule: str) -> None:
        super().__init__(
            f"invalid validation target: {target[:200]!r}: {rule}. "
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


class HardwareNotAvailable(FactoryError):
    def __init__(self, flavor: str, backend: str) -> None:
        super().__init__(f"hardware {flavor!r} is not available on the {backend!r} backend.")
        self.flavor = flavor
        self.backend = backend


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
