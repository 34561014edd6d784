"""Tenants at run time: their config, policy and (lazily built) provider."""

from __future__ import annotations

import threading
from collections.abc import Callable

from approvals import TenantPolicy
from bot.config.schema import AppConfig, ExchangeTenant, TenantConfig, WhmTenant
from bot.errors import CommandError
from providers import Provider

__all__ = ["ProviderWrapper", "TenantRegistry", "build_provider", "tenant_secrets"]

# what the wiring puts around each provider it builds (the runtime: a secret scrubber)
ProviderWrapper = Callable[[Provider, TenantConfig], Provider]


def build_provider(tenant: TenantConfig) -> Provider:
    """Construct the provider a tenant's config names."""
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
    from providers.exchange import ExchangeProvider, ExchangeSettings, WinRMSettings

    kwargs = {"max_concurrency": tenant.max_concurrency} if tenant.max_concurrency else {}
    winrm = tenant.winrm
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
    """The secret a tenant's provider holds (its WHM token or WinRM password)."""
    if isinstance(tenant, WhmTenant):
        return [tenant.token.get_secret_value()]
    assert isinstance(tenant, ExchangeTenant)
    return [tenant.winrm.password.get_secret_value()]


class TenantRegistry:
    """Looks tenants up by name and keeps one provider per tenant."""

    def __init__(self, config: AppConfig, wrap: ProviderWrapper | None = None) -> None:
        self.config = config
        self._wrap = wrap
        self._providers: dict[str, Provider] = {}
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

    def provider(self, name: str) -> Provider:
        tenant = self.get(name)
        with self._lock:
            if name not in self._providers:
                provider = build_provider(tenant)
                self._providers[name] = self._wrap(provider, tenant) if self._wrap else provider
            return self._providers[name]

    def close(self) -> None:
        with self._lock:
            for provider in self._providers.values():
                provider.close()
            self._providers.clear()
