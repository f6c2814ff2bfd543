"""The environment variables that hold secrets: the one list every redactor and child environment reads.

The worker's redactor and `space-factory redact` add their values to the exact-value layer (a secret
no pattern knows is still caught), and the local backend leaves them out of the environment its jobs
and Spaces see (an app never holds a token). Pure: callers pass the environment in.
"""

from __future__ import annotations

from collections.abc import Mapping

__all__ = ["SECRET_ENV_NAMES", "secret_values", "without_secrets"]

# SPACE_FACTORY_AGENT_API_KEY: the coding agent's provider key (DESIGN §8) reaches the worker only; never an app or Pi.
SECRET_ENV_NAMES: tuple[str, ...] = ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "HF_API_TOKEN", "OPENAI_API_KEY",
                                     "SPACE_FACTORY_AGENT_API_KEY")


def secret_values(environ: Mapping[str, str]) -> list[str]:
    """The non-empty values of the secret variables in `environ`, for a `Redactor`.

    Example:
        >>> secret_values({"HF_TOKEN": "abc", "HF_API_TOKEN": "", "HOME": "/root"})
        ['abc']
    """
    return [environ[name] for name in SECRET_ENV_NAMES if environ.get(name)]


def without_secrets(environ: Mapping[str, str]) -> dict[str, str]:
    """`environ` without the secret variables: what a child process that must not hold a token is given.

    Example:
        >>> without_secrets({"HF_TOKEN": "abc", "HOME": "/root"})
        {'HOME': '/root'}
    """
    return {key: value for key, value in environ.items() if key not in SECRET_ENV_NAMES}
