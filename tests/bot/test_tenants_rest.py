"""The wiring of a ``transport: rest`` tenant (bot/tenants.py): the registry builds the REST
provider with the tenant's one token source, reaching both loopback fakes through the
tenant's own config keys, and closes both."""

from __future__ import annotations

from bot.config.schema import load_config
from bot.tenants import TenantRegistry, build_provider, tenant_secrets
from providers.exchange_rest.provider import ExchangeRestProvider
from providers.microsoft.msal_tokens import MsalTokens
from providers.targets import Scope, Target, Verb
from tests.bot.test_check_rest import PASSWORD, World, app_cert, ca, world  # noqa: F401, F811


def test_the_registry_builds_the_rest_provider_with_the_tenants_tokens(
    world: World,  # noqa: F811
) -> None:
    world.trust_each_other()
    world.exchange.org.add_mailbox("bob@contoso.com")
    config = load_config(world.write())
    registry = TenantRegistry(config)
    try:
        provider = registry.provider("contoso")
        tokens = registry.tokens("contoso")
        assert isinstance(provider, ExchangeRestProvider) and isinstance(tokens, MsalTokens)
        assert tokens is registry.tokens("contoso")  # one per tenant: Exchange and Graph share it
        assert tokens.authority == f"{world.login.url}/{world.exchange.tenant_id}"
        assert (Scope.MAILBOX, Verb.RESET) in provider.capabilities()
        assert world.login.token_requests == 0  # building touches nothing
        org, bob = provider.status([Target.tenant(), Target.parse("bob@contoso.com")])
        assert org.ok and bob.ok, (org.message, bob.message)
        (done,) = provider.apply(Verb.DISABLE, [Target.parse("bob@contoso.com")])
        assert done.ok and done.state is not None
        assert world.login.token_requests == 1  # every call on the one cached token
    finally:
        registry.close()
    assert PASSWORD in tenant_secrets(config.tenants["contoso"])


def test_a_winrm_tenant_is_still_built_on_winrm() -> None:
    from bot.config.schema import ExchangeTenant
    from providers.exchange import ExchangeProvider

    tenant = ExchangeTenant.model_validate(
        {
            "provider": "exchange",
            "organization": "contoso.onmicrosoft.com",
            "app_id": "11111111-2222-3333-4444-555555555555",
            "certificate_thumbprint": "0123456789ABCDEF0123456789ABCDEF01234567",
            "winrm": {"url": "https://h.example:5986/wsman", "username": "u", "password": "p"},
            "approvers": ["U0APPROVER"],
        }
    )
    provider = build_provider(tenant)
    try:
        assert isinstance(provider, ExchangeProvider)
    finally:
        provider.close()
