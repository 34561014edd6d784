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
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
)

from approvals.policy import TenantPolicy
from bot.config.approvers import unreachable_approvals
from bot.config.durations import parse_duration
from bot.config.exchange_rest import (
    GUID_OR_DOMAIN,
    HTTPS_ROOT,
    MicrosoftApp,
    check_certificate,
    check_cloud,
    check_organization,
    check_rest_only,
    check_winrm_only,
    microsoft_app,
)
from bot.config.problems import describe
from bot.config.secrets import clean_secret
from bot.config.tls import check_verify_tls
from bot.config.yaml_file import load_yaml
from bot.errors import ConfigError

__all__ = ["AppConfig", "ExchangeTenant", "TenantConfig", "WhmTenant", "load_config"]

TENANT_NAME_RE = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,62})$")
_PRINCIPAL = Annotated[str, Field(pattern=r"^[UWS][A-Z0-9]{2,}$")]
_CHANNEL = Annotated[str, Field(pattern=r"^[CGD][A-Z0-9]{2,}$")]
# true, false, or a CA bundle that exists and loads (checked at load: bot.config.tls)
VerifyTls = Annotated[bool | str, AfterValidator(check_verify_tls)]
_DOMAIN = Annotated[str, Field(pattern=r"^[a-z0-9.-]+\.[a-z]{2,63}$")]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _TenantBase(_Strict):
    approvers: list[_PRINCIPAL] = Field(min_length=1)
    approvals_required: int = Field(default=1, ge=1, le=10)
    approvals_required_tenant_wide: int = Field(default=2, ge=1, le=10)
    request_ttl: str = "1h"
    remind_after: str = "10m"  # DM approvers who have not acted; then 2x, 4x that; at most 3
    requesters: list[_PRINCIPAL] | None = None
    notify_approvers: bool = True
    cli_can_approve: bool = False
    channel: _CHANNEL | None = None
    channels: list[_CHANNEL] | None = None  # where commands for this tenant are accepted
    domains: list[_DOMAIN] | None = None
    dry_run: bool = False
    max_concurrency: int | None = Field(default=None, ge=1, le=64)
    allow_plaintext: bool = False  # http:// back ends: refused unless this is set
    # deadlines (issue 13): wall-clock seconds one back-end call may take, connect and every
    # read together; None is the provider's default (WHM 30, Exchange 60 per WS-Man operation)
    timeout: int | None = Field(default=None, ge=5, le=3600)

    @field_validator("request_ttl", "remind_after")
    @classmethod
    def _ttl(cls, value: str) -> str:
        parse_duration(value)
        return value

    @property
    def ttl(self) -> timedelta:
        return parse_duration(self.request_ttl)

    @property
    def reminder_wait(self) -> timedelta | None:
        """The wait before the first reminder; None when approvers get no messages."""
        return parse_duration(self.remind_after) if self.notify_approvers else None

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
    verify_tls: VerifyTls = True

    @field_validator("url")
    @classmethod
    def _https(cls, value: str, info: ValidationInfo) -> str:
        if value.lower().startswith("http://") and not info.data.get("allow_plaintext"):
            raise ValueError(
                "`http://` would send the WHM token unencrypted: use https:// (WHM listens "
                "on 2087), or set `allow_plaintext: true` on the tenant if you must"
            )
        return value

    @property
    def plaintext_url(self) -> str | None:
        """The URL that carries the secret unencrypted (allowed by ``allow_plaintext``)."""
        return self.url if self.url.lower().startswith("http://") else None

    @field_validator("token")
    @classmethod
    def _token(cls, value: SecretStr) -> SecretStr:
        return SecretStr(clean_secret("the token", value.get_secret_value()))


class WinRMConfig(_Strict):
    url: Annotated[str, Field(pattern=r"^https?://")]
    transport: Literal["ntlm", "kerberos", "credssp", "ssl", "basic"] = "ntlm"
    username: str
    password: SecretStr
    verify_tls: VerifyTls = True

    @property
    def plaintext_url(self) -> str | None:
        """The URL over which the password travels unencrypted: ``ssl`` or ``basic`` on
        ``http://`` (NTLM, Kerberos and CredSSP encrypt the messages themselves)."""
        clear = self.transport in ("ssl", "basic") and self.url.lower().startswith("http://")
        return self.url if clear else None

    @field_validator("password")
    @classmethod
    def _password(cls, value: SecretStr) -> SecretStr:
        return SecretStr(clean_secret("the password", value.get_secret_value()))


class ExchangeTenant(_TenantBase):
    """Exchange Online over ``transport: winrm`` (a Windows host, the default) or ``rest``
    (HTTPS with the bot's own token); bot/config/exchange_rest.py says which key goes with
    which. Field order matters: each check sees the keys declared above it."""

    provider: Literal["exchange"]
    transport: Literal["winrm", "rest"] = "winrm"
    organization: Annotated[str, Field(pattern=r"^[A-Za-z0-9-]+\.onmicrosoft\.(?:com|us)$")]
    app_id: Annotated[str, Field(pattern=r"^[0-9a-fA-F-]{36}$")]
    # transport: winrm
    certificate_thumbprint: Annotated[
        str | None, Field(default=None, pattern=r"^[0-9A-Fa-f]{40}$", validate_default=True)
    ]
    winrm: Annotated[WinRMConfig | None, Field(default=None, validate_default=True)]
    # transport: rest (and, on a WinRM tenant, Microsoft Graph for /smtp usage)
    tenant_id: Annotated[
        str | None, Field(default=None, pattern=GUID_OR_DOMAIN, validate_default=True)
    ]
    cloud: Literal["global", "gcc-high", "dod"] = "global"
    authority_host: Annotated[str | None, Field(default=None, pattern=HTTPS_ROOT)]
    exchange_url: Annotated[str | None, Field(default=None, pattern=HTTPS_ROOT)]
    graph_url: Annotated[str | None, Field(default=None, pattern=HTTPS_ROOT)]
    verify_tls: VerifyTls = True
    certificate_password: SecretStr | None = None
    certificate_path: Annotated[str | None, Field(default=None, validate_default=True)]

    _winrm_only = field_validator("certificate_thumbprint", "winrm")(check_winrm_only)
    _rest_only = field_validator("tenant_id", "exchange_url")(check_rest_only)
    _organization = field_validator("organization")(check_organization)
    _cloud = field_validator("cloud")(check_cloud)
    _certificate = field_validator("certificate_path")(check_certificate)

    @field_validator("winrm")
    @classmethod
    def _encrypted(cls, value: WinRMConfig | None, info: ValidationInfo) -> WinRMConfig | None:
        if value is not None and value.plaintext_url and not info.data.get("allow_plaintext"):
            raise ValueError(
                f"`transport: {value.transport}` on `http://` would send the WinRM password "
                "unencrypted: use an https:// URL (port 5986), or set `allow_plaintext: true` "
                "on the tenant if you must"
            )
        return value

    @field_validator("certificate_password")
    @classmethod
    def _password(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None:
            return None
        clean = clean_secret("certificate_password", value.get_secret_value())
        if not clean:
            raise ValueError(
                "`certificate_password` is empty: leave the key out if the "
                "certificate has no password"
            )
        return SecretStr(clean)

    @property
    def plaintext_url(self) -> str | None:
        return self.winrm.plaintext_url if self.winrm is not None else None

    def microsoft_app(self) -> MicrosoftApp | None:
        """The app-only sign-in (REST, or Graph on a WinRM tenant); None without one."""
        return microsoft_app(self)


TenantConfig = Annotated[WhmTenant | ExchangeTenant, Field(discriminator="provider")]


class SlackConfig(_Strict):
    allowed_team_ids: list[Annotated[str, Field(pattern=r"^[TE][A-Z0-9]{2,}$")]] | None = None


class LimitsConfig(_Strict):
    change_requests_per_user: int = Field(default=20, ge=1, le=10_000)
    change_requests_window: str = "10m"
    status_reads_per_user: int = Field(default=10, ge=1, le=10_000)
    status_reads_window: str = "1m"
    status_targets_max: int = Field(default=100, ge=1, le=1000)

    @field_validator("change_requests_window", "status_reads_window")
    @classmethod
    def _window(cls, value: str) -> str:
        parse_duration(value)
        return value

    @property
    def window(self) -> timedelta:
        return parse_duration(self.change_requests_window)

    @property
    def reads_window(self) -> timedelta:
        return parse_duration(self.status_reads_window)


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

    def plaintext_tenants(self) -> dict[str, str]:
        """Tenant name → the URL its secret travels over unencrypted (allow_plaintext)."""
        found = {name: t.plaintext_url for name, t in self.tenants.items()}
        return {name: url for name, url in found.items() if url}

    def secret_values(self) -> list[str]:
        """Every secret in the config, for log redaction."""
        values: list[str] = []
        for tenant in self.tenants.values():
            if isinstance(tenant, WhmTenant):
                values.append(tenant.token.get_secret_value())
                continue
            if tenant.winrm is not None:
                values.append(tenant.winrm.password.get_secret_value())
            if tenant.certificate_password is not None:
                values.append(tenant.certificate_password.get_secret_value())
        return [v for v in values if v]


def load_config(path: Path) -> AppConfig:
    """Load and validate the config; ConfigError lists every problem, each with its key and
    line, in plain words (bot.config.problems)."""
    loaded = load_yaml(path)
    problems = [f"{loaded.where(p)}: {what}" for p, what in loaded.problems.items()]
    if not isinstance(loaded.data, dict):
        raise ConfigError.listing(
            [*problems, f"{path.name}: the top level must be a mapping with a `tenants:` key"]
        )
    try:
        config = AppConfig.model_validate(loaded.data)
    except ValidationError as exc:
        for err in exc.errors(include_url=False, include_input=False):
            loc = tuple(p for p in err["loc"] if p not in ("whm", "exchange"))
            if any(loc[: len(p)] == p for p in loaded.problems):
                continue  # an unset ${VAR}: said once, above
            problems.append(f"{loaded.where(loc)}: {describe(err, AppConfig)}")
        raise ConfigError.listing(problems) from None
    problems += [f"{loaded.where(p)}: {what}" for p, what in unreachable_approvals(config)]
    if problems:
        raise ConfigError.listing(problems)
    return config
