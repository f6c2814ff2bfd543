"""Configuration from the environment (`SPACE_FACTORY_*`, DESIGN §8)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from space_factory.domain.schemas import BackendName

DEFAULT_JOB_TIMEOUT = "45m"
DEFAULT_BUCKET_NAME = "space-factory-runs"


def _default_home() -> Path:
    return Path.home() / ".space-factory"


class Settings(BaseSettings):
    """Factory settings. Every field reads `SPACE_FACTORY_<NAME>` from the environment.

    Example:
        >>> Settings(backend="local", home=Path("/tmp/sf")).bucket_dir("alice")
        PosixPath('/tmp/sf/buckets/alice/space-factory-runs')
    """

    model_config = SettingsConfigDict(env_prefix="SPACE_FACTORY_", extra="ignore")

    backend: BackendName = "local"
    home: Path = Field(default_factory=_default_home, description="Local data directory.")
    bucket: str | None = Field(None, description="Bucket id `owner/name`; default `<user>/space-factory-runs`.")
    job_flavor: str = "cpu-basic"
    job_timeout: str = DEFAULT_JOB_TIMEOUT
    job_image: str = "python:3.12"
    job_settle_seconds: float = Field(
        45.0, description="hf backend: seconds after a job ended before its run is reconciled, for what it wrote "
                          "through the mounted bucket to arrive (hf-mount flushes at most 30 s after a close).")
    agent_model: str = "Qwen/Qwen3-Coder-Next"
    agent_base_url: str = Field(
        "https://router.huggingface.co/v1", description="The coding agent's OpenAI-compatible endpoint (DESIGN §11).")
    agent_api_key: SecretStr | None = Field(
        None, description="Key for agent_base_url when it is not the Hugging Face router; default: the caller's "
                          "HF token. Reaches only the worker's loopback proxy, never the agent.")
    agent_attempts: int = Field(3, ge=1, description="Coding-agent attempts per run: the first try plus repairs.")
    agent_timeout: float = Field(900.0, gt=0, description="Seconds one coding-agent attempt may take.")
    agent_tools_dir: Path | None = Field(
        None, description="Where Pi is installed (once, reused by every run); default <home>/agent-tools.")
    space_startup_timeout: float = Field(600.0, description="Seconds to wait for a Space to build and answer /health.")
    predict_timeout: float = Field(300.0, description="Seconds to wait for one inference call.")
    validate_timeout: float = Field(
        60.0, description="Seconds a validation run waits for an already running app to answer GET /health."
    )
    owner: str | None = Field(None, description="Local backend: the owner name runs are recorded under.")

    def bucket_dir(self, owner: str) -> Path:
        """Local backend: the directory that plays the bucket for `owner`."""
        name = self.bucket or f"{owner}/{DEFAULT_BUCKET_NAME}"
        return self.home / "buckets" / name

    @property
    def spaces_dir(self) -> Path:
        return self.home / "spaces"

    @property
    def jobs_dir(self) -> Path:
        return self.home / "jobs"

    @property
    def venvs_dir(self) -> Path:
        return self.home / "venvs"

    @property
    def pi_tools_dir(self) -> Path:
        """Where the coding agent is installed: `agent_tools_dir`, else `<home>/agent-tools`."""
        return self.agent_tools_dir or self.home / "agent-tools"


def parse_duration(value: str | float) -> float:
    """Seconds in a duration like `45m`, `2h`, `90s` or `300`.

    Example:
        >>> parse_duration("45m")
        2700.0
    """
    if isinstance(value, int | float):
        return float(value)
    text = value.strip().lower()
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    if text and text[-1] in units:
        return float(text[:-1]) * units[text[-1]]
    return float(text)
