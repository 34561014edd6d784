"""Process settings from the environment (the operator contract's variables)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from bot.config.secrets import clean_secret

__all__ = ["DEFAULT_SLACK_API_URL", "Settings", "WorkerSched"]

DEFAULT_SLACK_API_URL = "https://slack.com/api/"

WorkerSched = Literal["idle", "normal"]  # SMTP_BOT_WORKER_SCHED (bot.running.cpu_priority)


class Settings(BaseSettings):
    """Environment: SLACK_BOT_TOKEN, SLACK_SIGNING_SECRET, SLACK_APP_TOKEN, SLACK_API_URL,
    DATABASE_URL, SMTP_BOT_CONFIG. Secrets are SecretStr so they never print."""

    model_config = SettingsConfigDict(env_ignore_empty=True, extra="ignore", populate_by_name=True)

    slack_bot_token: SecretStr | None = Field(default=None, alias="SLACK_BOT_TOKEN")
    slack_signing_secret: SecretStr | None = Field(default=None, alias="SLACK_SIGNING_SECRET")
    slack_app_token: SecretStr | None = Field(default=None, alias="SLACK_APP_TOKEN")
    slack_api_url: str = Field(default=DEFAULT_SLACK_API_URL, alias="SLACK_API_URL")
    database_url: str = Field(default="sqlite:///smtp-bot.db", alias="DATABASE_URL")
    config_path: Path = Field(default=Path("smtp-bot.yml"), alias="SMTP_BOT_CONFIG")
    worker_concurrency: int = Field(default=4, ge=1, le=64, alias="SMTP_BOT_WORKER_THREADS")
    worker_poll_s: float = Field(default=30.0, gt=0, le=3600, alias="SMTP_BOT_WORKER_POLL")
    intake_poll_s: float = Field(default=2.0, gt=0, le=600, alias="SMTP_BOT_INTAKE_POLL")
    background_threads: int = Field(default=32, ge=1, le=256, alias="SMTP_BOT_BACKGROUND_THREADS")
    worker_nice: int = Field(default=10, ge=0, le=19, alias="SMTP_BOT_WORKER_NICE")
    worker_sched: WorkerSched = Field(default="idle", alias="SMTP_BOT_WORKER_SCHED")
    ack_first_max_s: float = Field(default=3.0, ge=0, le=30, alias="SMTP_BOT_ACK_FIRST_MAX")
    job_lease_s: float = Field(default=30.0, ge=1, le=3600, alias="SMTP_BOT_JOB_LEASE")
    housekeeping_interval_s: float = Field(
        default=5.0, gt=0, le=3600, alias="SMTP_BOT_HOUSEKEEPING_INTERVAL"
    )

    @field_validator("slack_bot_token", "slack_signing_secret", "slack_app_token")
    @classmethod
    def _clean(cls, value: SecretStr | None, info: ValidationInfo) -> SecretStr | None:
        """Strip a secret made from a file; refuse an inner newline (bot.config.secrets)."""
        if value is None:
            return None
        alias = cls.model_fields[str(info.field_name)].alias or str(info.field_name)
        clean = clean_secret(alias, value.get_secret_value())
        return SecretStr(clean) if clean else None

    @property
    def slack_base_url(self) -> str:
        """slack_sdk joins method names onto the base URL, which therefore must end in '/'."""
        url = self.slack_api_url
        return url if url.endswith("/") else url + "/"

    def secret_values(self) -> list[str]:
        """Every secret value, for log redaction."""
        secrets = (self.slack_bot_token, self.slack_signing_secret, self.slack_app_token)
        return [s.get_secret_value() for s in secrets if s is not None and s.get_secret_value()]
