"""The keys of an Exchange tenant's two transports, and what is refused at load.

``transport: winrm`` (the default: every existing config keeps working) runs PowerShell on a
Windows host; ``transport: rest`` talks to Exchange Online over HTTPS with an app-only token
that the bot gets itself, signing in with ``certificate_path``. Each transport's keys are
refused on the other, with words that say what to do, and a REST tenant's certificate is
read here (``providers.microsoft.certificate``) so a missing file, a file without its
private key or a wrong password stops the bot before it starts.

A WinRM tenant may also name ``certificate_path`` (and ``tenant_id``, ``graph_url``…): the
bot then signs in to Microsoft Graph itself (``/smtp usage``); Exchange still goes through
the host. ``MicrosoftApp`` is that sign-in, resolved: the cloud's hosts with any override.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import SecretStr, ValidationInfo

from providers.microsoft.certificate import CertificateProblem, load_certificate
from providers.microsoft.clouds import CLOUDS

__all__ = [
    "GUID_OR_DOMAIN",
    "HTTPS_ROOT",
    "MicrosoftApp",
    "check_certificate",
    "check_cloud",
    "check_organization",
    "check_rest_only",
    "check_winrm_only",
    "microsoft_app",
]

# a tenant ID: its GUID, or its initial domain (contoso.onmicrosoft.com; .us: US Government)
GUID_OR_DOMAIN = (
    r"^(?:[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
    r"|[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.onmicrosoft\.(?:com|us))$"
)
# an override of a cloud's host: https, a host and maybe a port, no path
HTTPS_ROOT = r"^https://[A-Za-z0-9.\-\[\]:]+(?::\d+)?/?$"

_REST_HOW = (
    "a `transport: rest` tenant talks to Exchange Online over HTTPS and signs in with "
    "`certificate_path`"
)


def _transport(info: ValidationInfo) -> str | None:
    """The tenant's transport, or None when that key itself was invalid (said there)."""
    value = info.data.get("transport")
    return value if value in ("winrm", "rest") else None


def check_winrm_only(value: Any, info: ValidationInfo) -> Any:
    """``winrm`` and ``certificate_thumbprint``: required for WinRM, refused for REST."""
    transport, key = _transport(info), info.field_name
    if transport == "rest" and value is not None:
        raise ValueError(f"`{key}` belongs to `transport: winrm`: {_REST_HOW}; remove it")
    if transport == "winrm" and value is None:
        raise ValueError(f"`{key}` is required here")
    return value


def check_rest_only(value: Any, info: ValidationInfo) -> Any:
    """``exchange_url``: the Exchange Online host of a REST tenant; a WinRM tenant's
    Exchange is reached by its Windows host, so the key would be silently ignored."""
    if _transport(info) == "winrm" and value is not None:
        raise ValueError(
            f"`{info.field_name}` belongs to `transport: rest`; a `transport: winrm` tenant "
            "reaches Exchange Online through its Windows host: remove it, or set "
            "`transport: rest`"
        )
    if _transport(info) == "rest" and info.field_name == "tenant_id" and value is None:
        raise ValueError(
            "`tenant_id` is required here: the tenant's ID (a GUID, Entra admin center → "
            "Overview) or its *.onmicrosoft.com domain"
        )
    return value


def check_organization(value: str, info: ValidationInfo) -> str:
    """A *.onmicrosoft.us organisation is a US Government tenant: REST only."""
    if value.lower().endswith(".onmicrosoft.us") and _transport(info) == "winrm":
        raise ValueError(
            f"{value} is a US Government (GCC High or DoD) tenant: use `transport: rest` "
            "with `cloud: gcc-high` or `cloud: dod` (the WinRM script signs in to the "
            "global cloud only)"
        )
    return value


def check_cloud(value: str, info: ValidationInfo) -> str:
    if value != "global" and _transport(info) == "winrm":
        raise ValueError(
            f"`cloud: {value}` needs `transport: rest` (the WinRM script signs in to the "
            "global cloud only)"
        )
    return value


def check_certificate(value: str | None, info: ValidationInfo) -> str | None:
    """Required for REST; read and checked now (file, private key, password)."""
    password: SecretStr | None = info.data.get("certificate_password")
    if value is None:
        if _transport(info) == "rest":
            raise ValueError(
                "`certificate_path` is required here: the app's certificate with its private "
                "key, as PEM or PKCS#12 (.pfx)"
            )
        if password is not None:
            raise ValueError("`certificate_password` is set but `certificate_path` is not")
        return None
    if "certificate_password" in info.data or password is not None:
        try:
            load_certificate(value, password.get_secret_value() if password else None)
        except CertificateProblem as exc:
            raise ValueError(str(exc)) from None
    # else certificate_password itself failed (an unset ${VAR}): said there, once
    return value


@dataclass(frozen=True, slots=True, repr=False)
class MicrosoftApp:
    """One tenant's app-only sign-in and the hosts it talks to, overrides applied."""

    tenant_id: str
    app_id: str
    certificate_path: str
    certificate_password: str | None
    authority_host: str
    exchange_url: str
    graph_url: str
    verify_tls: bool | str

    def __repr__(self) -> str:
        return f"MicrosoftApp(tenant_id={self.tenant_id!r}, app_id={self.app_id!r})"


def microsoft_app(tenant: Any) -> MicrosoftApp | None:
    """The sign-in of an Exchange tenant (``bot.config.schema.ExchangeTenant``), or None
    for a WinRM tenant without ``certificate_path``."""
    if tenant.certificate_path is None:
        return None
    cloud = CLOUDS[tenant.cloud]
    password = tenant.certificate_password
    return MicrosoftApp(
        tenant_id=tenant.tenant_id or tenant.organization,
        app_id=tenant.app_id,
        certificate_path=tenant.certificate_path,
        certificate_password=password.get_secret_value() if password else None,
        authority_host=(tenant.authority_host or cloud.authority_host).rstrip("/"),
        exchange_url=(tenant.exchange_url or cloud.exchange_url).rstrip("/"),
        graph_url=(tenant.graph_url or cloud.graph_url).rstrip("/"),
        verify_tls=tenant.verify_tls,
    )
