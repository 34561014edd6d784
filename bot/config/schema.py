"""The config file's schema: tenants, their back ends and their approval policies.

Keys are pinned by the operator contract; unknown keys are errors, so a typo does not
silently fall back to a default.
"""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
)

from approvals.policy import TenantPolicy
from bot.config.durations import parse_duration
from bot.config.yaml_file import load_yaml
from bot.errors import ConfigError

__all__ = ["AppConfig", "ExchangeTenant", "TenantConfig", "WhmTenant", "load_config"]

TENANT_NAME_RE = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,62})$")
_PRINCIPAL = Annotated[str, Field(pattern=r"^[UWS][A-Z0-9]{2,}$")]
_CHANNEL = Annotated[str, Field(pattern=r"^[CGD][A-Z0-9]{2,}$")]
_DOMAIN = Annotated[str, Field(pattern=r"^[a-z0-9.-]+\.[a-z]{2,63}$")]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _TenantBase(_Strict):
    approvers: list[_PRINCIPAL] = Field(min_length=1)
    approvals_required: int = Field(default=1, ge=1, le=10)
    approvals_required_tenant_wide: int = Field(default=2, ge=1, le=10)
    request_ttl: str = "1h"
    requesters: list[_PRINCIPAL] | None = None
    notify_approvers: bool = True
    cli_can_approve: bool = False
    channel: _CHANNEL | None = None
    channels: list[_CHANNEL] | None = None  # where commands for this tenant are accepted
    domains: list[_DOMAIN] | None = None
    dry_run: bool = False
    max_concurrency: int | None = Field(default=None, ge=1, le=64)
    # deadlines (issue 13): wall-clock seconds one back-end call may take, connect and every
    # read together; None is the provider's default (WHM 30, Exchange 60 per WS-Man operation)
    timeout: int | None = Field(default=None, ge=5, le=3600)

    @field_validator("request_ttl")
    @classmethod
    def _ttl(cls, value: str) -> str:
        parse_duration(value)
        return value

    @property
    def ttl(self) -> timedelta:
        return parse_duration(self.request_ttl)

    def policy(self) -> TenantPolicy:
        return TenantPolicy(
            approvers=frozenset(self.approvers),
            approvals_required=self.approvals_required,
            approvals_required_tenant_wide=self.approvals_required_tenant_wide,
            request_ttl=self.ttl,
            requesters=frozenset(self.requesters) if self.requesters is not None else None,
            cli_can_approve=self.cli_can_approve,
        )

    def serves(self, domain: str) -> bool:
        """True if ``domains`` is unset or lists the domain or one of its parents."""
        if self.domains is None:
            return True
        return any(domain == d or domain.endswith("." + d) for d in self.domains)


class WhmTenant(_TenantBase):
    provider: Literal["whm"]
    url: Annotated[str, Field(pattern=r"^https?://[A-Za-z0-9.\-\[\]:]+(?::\d+)?/?$")]
    username: Annotated[str, Field(pattern=r"^[a-z_][a-z0-9_-]{0,31}$")]
    token: SecretStr
    verify_tls: bool | str = True


class WinRMConfig(_Strict):
    url: Annotated[str, Field(pattern=r"^https?://")]
    transport: Literal["ntlm", "kerberos", "credssp", "ssl", "basic"] = "ntlm"
    username: str
    password: SecretStr
    verify_tls: bool | str = True


class ExchangeTenant(_TenantBase):
    provider: Literal["exchange"]
    organization: Annotated[str, Field(pattern=r"^[A-Za-z0-9-]+\.onmicrosoft\.com$")]
    app_id: Annotated[str, Field(pattern=r"^[0-9a-fA-F-]{36}$")]
    certificate_thumbprint: Annotated[str, Field(pattern=r"^[0-9A-Fa-f]{40}$")]
    winrm: WinRMConfig


TenantConfig = Annotated[WhmTenant | ExchangeTenant, Field(discriminator="provider")]


class SlackConfig(_Strict):
    allowed_team_ids: list[Annotated[str, Field(pattern=r"^[TE][A-Z0-9]{2,}$")]] | None = None


class LimitsConfig(_Strict):
    change_requests_per_user: int = Field(default=20, ge=1, le=10_000)
    change_requests_window: str = "10m"

    @field_validator("change_requests_window")
    @classmethod
    def _window(cls, value: str) -> str:
        parse_duration(value)
        return value

    @property
    def window(self) -> timedelta:
        return parse_duration(self.change_requests_window)


class AppConfig(_Strict):
    tenants: dict[str, TenantConfig]
    slack: SlackConfig = SlackConfig()
    limits: LimitsConfig = LimitsConfig()

    @field_validator("tenants")
    @classmethod
    def _names(cls, tenants: dict[str, TenantConfig]) -> dict[str, TenantConfig]:
        for name in tenants:
            if not TENANT_NAME_RE.match(name):
                raise ValueError(f"tenant name {name!r} must be lowercase letters, digits and '-'")
        return tenants

    def secret_values(self) -> list[str]:
        """Every secret in the config, for log redaction."""
        values: list[str] = []
        for tenant in self.tenants.values():
            if isinstance(tenant, WhmTenant):
                values.append(tenant.token.get_secret_value())
            else:
                values.append(tenant.winrm.password.get_secret_value())
        return [v for v in values if v]


def load_config(path: Path) -> AppConfig:
    """Load and validate the config; ConfigError names the key and line of any problem."""
    loaded = load_yaml(path)
    if not isinstance(loaded.data, dict):
        raise ConfigError(f"{path.name}: the top level must be a mapping with a 'tenants' key")
    try:
        return AppConfig.model_validate(loaded.data)
    except ValidationError as exc:
        problems = []
        for err in exc.errors(include_url=False, include_input=False):
            loc = tuple(p for p in err["loc"] if p not in ("whm", "exchange"))
            problems.append(f"{loaded.where(loc)}: {err['msg']}")
        raise ConfigError("invalid config:\n  " + "\n  ".join(problems)) from None
