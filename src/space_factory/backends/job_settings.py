"""What a run's job is handed of the server's settings (DESIGN §8, §9): plain settings, and the agent's key apart.

The worker builds its own `Settings` from its environment, so a setting the server was configured with reaches
it only when forwarded as `SPACE_FACTORY_<NAME>`. The coding agent's key is a secret: the hf backend sends it as
a job secret, the local backend puts it in the job process's environment only — never on a command line, in a
file, a label or a Space's environment.
"""

from __future__ import annotations

from collections.abc import Iterable

from space_factory.config import Settings

__all__ = ["AGENT_KEY_ENV", "AGENT_SETTINGS", "WORKER_SETTINGS", "agent_secrets", "settings_env"]

# The coding agent's settings (DESIGN §8); `agent_api_key` is not one of them: it goes by `agent_secrets`.
AGENT_SETTINGS = ("agent_model", "agent_base_url", "agent_attempts", "agent_timeout")
# Everything the worker of an hf job reads from the server's settings (never a secret). The local backend's job
# inherits the server's environment, so it needs only what a caller may have set in `Settings` itself.
WORKER_SETTINGS = ("space_startup_timeout", "predict_timeout", "validate_timeout", *AGENT_SETTINGS)
AGENT_KEY_ENV = "SPACE_FACTORY_AGENT_API_KEY"


def settings_env(settings: Settings, names: Iterable[str]) -> dict[str, str]:
    """`names` of `settings` as the environment variables the worker's `Settings` reads; unset ones left out.

    Example:
        >>> settings_env(Settings(agent_attempts=2), ["agent_attempts", "agent_tools_dir"])
        {'SPACE_FACTORY_AGENT_ATTEMPTS': '2'}
    """
    values = ((name, getattr(settings, name)) for name in names)
    return {f"SPACE_FACTORY_{name.upper()}": str(value) for name, value in values if value is not None}


def agent_secrets(settings: Settings) -> dict[str, str]:
    """The coding agent's key, named as the worker reads it, when one is configured (else the worker uses the
    caller's HF token); to be passed as a secret only.

    Example:
        >>> agent_secrets(Settings(agent_api_key=None))
        {}
    """
    key = settings.agent_api_key.get_secret_value() if settings.agent_api_key is not None else ""
    return {AGENT_KEY_ENV: key} if key else {}
