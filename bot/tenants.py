"""Tenants at run time: their config, policy and (lazily built) provider."""

from __future__ import annotations

import threading
from collections.abc import Callable

from approvals import TenantPolicy
from bot.config.schema import AppConfig, ExchangeTenant, TenantConfig, WhmTenant
from bot.errors import CommandError
from providers import Provider
from providers.microsoft import AccessTokens

__all__ = [
    "ProviderWrapper",
    "TenantRegistry",
    "build_provider",
    "build_rest_provider",
    "build_tokens",
    "tenant_secrets",
]

# what the wiring puts around each provider it builds (the runtime: a secret scrubber)
ProviderWrapper = Callable[[Provider, TenantConfig], Provider]


def build_tokens(tenant: TenantConfig) -> AccessTokens | None:
    """The app-only token source of an Exchange tenant with ``certificate_path`` (every REST
    tenant; a WinRM tenant that signs in to Graph), else None. Nothing is read or sent until
    the first token is asked for."""
    app = tenant.microsoft_app() if isinstance(tenant, ExchangeTenant) else None
    if app is None:
        return None
    from functools import partial

    from providers.microsoft.certificate import load_certificate
    from providers.microsoft.msal_tokens import MsalTokens

    assert isinstance(tenant, ExchangeTenant)
    return MsalTokens(
        tenant_id=app.tenant_id,
        app_id=app.app_id,
        certificate=partial(load_certificate, app.certificate_path, app.certificate_password),
        authority_host=app.authority_host,
        verify_tls=app.verify_tls,
        timeout_s=float(tenant.timeout or 30),
        tenant_key="tenant_id" if tenant.tenant_id else "organization",
    )


def build_rest_provider(
    tenant: ExchangeTenant, tokens: AccessTokens | None = None, **overrides: object
) -> Provider:
    """The REST transport's provider: Exchange Online over HTTPS with the bot's own token
    (``overrides``: ExchangeRestProvider keywords, e.g. ``check``'s timeout and retries)."""
    from providers.exchange_rest.provider import ExchangeRestProvider

    app = tenant.microsoft_app()
    source = tokens if tokens is not None else build_tokens(tenant)
    assert app is not None and tenant.tenant_id is not None and source is not None  # schema
    kwargs: dict[str, object] = {}
    if tenant.max_concurrency:
        kwargs["max_concurrency"] = tenant.max_concurrency
    if tenant.timeout:
        kwargs["timeout_s"] = float(tenant.timeout)
    kwargs.update(overrides)
    return ExchangeRestProvider(
        tenant_id=tenant.tenant_id.lower(),  # domains are case-insensitive; GUIDs too
        organization=tenant.organization.lower(),
        exchange_url=app.exchange_url,
        tokens=source,
        dry_run=tenant.dry_run,
        verify_tls=app.verify_tls,
        **kwargs,
    )


def build_provider(tenant: TenantConfig, tokens: AccessTokens | None = None) -> Provider:
    """Construct the provider a tenant's config names (``tokens``: the tenant's shared token
    source for a REST tenant, so Exchange and Graph calls share one msal cache)."""
    if isinstance(tenant, WhmTenant):
        from providers.whm import WhmProvider, WhmSettings

        kwargs = {"max_concurrency": tenant.max_concurrency} if tenant.max_concurrency else {}
        return WhmProvider(
            WhmSettings(
                url=tenant.url,
                username=tenant.username,
                token=tenant.token.get_secret_value(),
                verify_tls=tenant.verify_tls,
                dry_run=tenant.dry_run,
                timeout_s=float(tenant.timeout or WhmSettings.timeout_s),
                **kwargs,
            )
        )
    assert isinstance(tenant, ExchangeTenant)
    if tenant.transport == "rest":
        return build_rest_provider(tenant, tokens)
    from providers.exchange import ExchangeProvider, ExchangeSettings, WinRMSettings

    kwargs = {"max_concurrency": tenant.max_concurrency} if tenant.max_concurrency else {}
    winrm = tenant.winrm
    assert winrm is not None and tenant.certificate_thumbprint is not None  # schema: winrm
    timeouts: dict[str, int] = {}
    if tenant.timeout:  # the host answers an operation by its operation timeout, a bit sooner
        timeouts = {
            "read_timeout_s": tenant.timeout,
            "operation_timeout_s": max(1, tenant.timeout * 5 // 6),
        }
    return ExchangeProvider(
        ExchangeSettings(
            organization=tenant.organization,
            app_id=tenant.app_id,
            certificate_thumbprint=tenant.certificate_thumbprint,
            winrm=WinRMSettings(
                url=winrm.url,
                transport=winrm.transport,
                username=winrm.username,
                password=winrm.password.get_secret_value(),
                verify_tls=winrm.verify_tls,
                **timeouts,
            ),
            dry_run=tenant.dry_run,
            **kwargs,
        )
    )


def tenant_secrets(tenant: TenantConfig) -> list[str]:
    """The secrets a tenant's provider holds (WHM token, WinRM password, certificate
    password)."""
    if isinstance(tenant, WhmTenant):
        return [tenant.token.get_secret_value()]
    assert isinstance(tenant, ExchangeTenant)
    found = [tenant.winrm.password.get_secret_value()] if tenant.winrm is not None else []
    if tenant.certificate_password is not None:
        found.append(tenant.certificate_password.get_secret_value())
    return found


class TenantRegistry:
    """Looks tenants up by name and keeps one provider per tenant."""

    def __init__(self, config: AppConfig, wrap: ProviderWrapper | None = None) -> None:
        self.config = config
        self._wrap = wrap
        self._providers: dict[str, Provider] = {}
        self._tokens: dict[str, AccessTokens | None] = {}
        self._lock = threading.Lock()

    @property
    def names(self) -> list[str]:
        return sorted(self.config.tenants)

    def get(self, name: str) -> TenantConfig:
        try:
            return self.config.tenants[name]
        except KeyError:
            known = ", ".join(f"`{n}`" for n in self.names) or "none"
            raise CommandError(f"There is no tenant “{name}”. Known tenants: {known}.") from None

    def policy(self, name: str) -> TenantPolicy:
        return self.get(name).policy()

    def tokens(self, name: str) -> AccessTokens | None:
        """The tenant's app-only token source (one per tenant, shared by its REST provider
        and its Graph reads), or None when the tenant has no ``certificate_path``."""
        tenant = self.get(name)
        with self._lock:
            return self._tokens_locked(name, tenant)

    def _tokens_locked(self, name: str, tenant: TenantConfig) -> AccessTokens | None:
        if name not in self._tokens:
            self._tokens[name] = build_tokens(tenant)
        return self._tokens[name]

    def provider(self, name: str) -> Provider:
        tenant = self.get(name)
        with self._lock:
            if name not in self._providers:
                provider = build_provider(tenant, self._tokens_locked(name, tenant))
                self._providers[name] = self._wrap(provider, tenant) if self._wrap else provider
            return self._providers[name]

    def close(self) -> None:
        with self._lock:
            for provider in self._providers.values():
                provider.close()
            self._providers.clear()
            for tokens in self._tokens.values():
                close = getattr(tokens, "close", None)
                if close is not None:
                    close()
            self._tokens.clear()
