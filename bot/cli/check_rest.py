"""``smtp-bot check`` for an Exchange tenant on ``transport: rest``: the certificate, a token
from Entra ID, ``Get-TransportConfig`` over InvokeCommand, and the app's standing.

Three things must all hold for the bot to work, and each failure names what to fix:
1. the certificate loads and is not expiring (a WARN 30 days ahead);
2. Entra ID issues a token for Exchange Online (a refusal is worded by its AADSTS cause);
3. Exchange Online answers ``Get-TransportConfig`` with that token, which needs BOTH the
   application permission Exchange.ManageAsApp with admin consent (the token's ``roles``)
   AND an Exchange admin role (Exchange Administrator, or a role group) for the app.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

from bot.cli.check_backends import Level, Result, fail, warn
from bot.config.schema import ExchangeTenant
from bot.tenants import build_rest_provider
from providers import TargetResult, deadline
from providers.errors import AuthError, ProviderError
from providers.microsoft.certificate import CertificateProblem, load_certificate
from providers.microsoft.claims import EXCHANGE_MANAGE_AS_APP, app_roles
from providers.microsoft.clouds import exchange_scope
from providers.microsoft.msal_tokens import MsalTokens
from providers.targets import Target

__all__ = ["EXPIRY_WARNING", "check_exchange_rest", "judge_rest"]

EXPIRY_WARNING = timedelta(days=30)
_CONSENT = (
    "add the application permission Exchange.ManageAsApp (API permissions → Add a "
    "permission → APIs my organization uses → Office 365 Exchange Online → Application "
    "permissions) and grant admin consent"
)
_ROLE = (
    "assign the app an Exchange admin role: Exchange Administrator (Entra admin center → "
    "Roles and administrators), or a role group with the Mail Recipients and Transport roles"
)


def judge_rest(roles: frozenset[str] | None, result: TargetResult) -> tuple[Level, str]:
    """Grade the ``Get-TransportConfig`` answer, given the roles the token carried (None: the
    token was not readable), and say which permission is missing when one is."""
    if result.ok:
        consent = (
            f"the token carries {EXCHANGE_MANAGE_AS_APP}"
            if roles is not None and EXCHANGE_MANAGE_AS_APP in roles
            else "the app's permissions were accepted"
        )
        return Level.OK, (
            f"Get-TransportConfig answers ({result.message}); {consent} and the app has an "
            "Exchange role"
        )
    error = result.error
    said = error.user_message if error is not None else result.message
    if isinstance(error, AuthError):
        if roles is not None and EXCHANGE_MANAGE_AS_APP not in roles:
            granted = ", ".join(sorted(roles)) or "none"
            return Level.FAIL, (
                f"Get-TransportConfig refused: the token carries no {EXCHANGE_MANAGE_AS_APP} "
                f"(app roles granted: {granted}): {_CONSENT}"
            )
        if roles is not None:
            return Level.FAIL, (
                f"Get-TransportConfig refused although the token carries "
                f"{EXCHANGE_MANAGE_AS_APP}: the app has no Exchange role: {_ROLE} ({said})"
            )
        return Level.FAIL, f"Get-TransportConfig refused: {said}"
    return Level.FAIL, f"Get-TransportConfig failed: {said}"


def check_exchange_rest(name: str, tenant: ExchangeTenant, *, timeout_s: float) -> Result:
    """Sign in, read the organisation's transport config, and grade the app's standing."""
    label = f"tenant {name} (exchange)"
    app = tenant.microsoft_app()
    assert app is not None  # a REST tenant has certificate_path (schema)
    host = urlsplit(app.exchange_url).netloc
    try:
        certificate = load_certificate(app.certificate_path, app.certificate_password)
    except CertificateProblem as exc:
        return fail(label, f"tenants.{name}.certificate_path: {exc}", setup=True)
    tokens = MsalTokens(
        tenant_id=app.tenant_id,
        app_id=app.app_id,
        certificate=certificate,
        authority_host=app.authority_host,
        verify_tls=app.verify_tls,
        timeout_s=timeout_s,
    )
    try:
        with deadline.budget(timeout_s):
            token = tokens.bearer(exchange_scope(app.exchange_url))
        provider = build_rest_provider(tenant, tokens, timeout_s=timeout_s, retries=0)
    except ProviderError as exc:
        tokens.close()
        where = urlsplit(app.authority_host).netloc
        return fail(label, f"REST via {host}: no token from {where}: {exc.user_message}")
    except ValueError as exc:  # a setting the REST provider refuses
        tokens.close()
        return fail(label, f"tenants.{name}: {exc}", setup=True)
    try:
        with deadline.budget(timeout_s):
            (result,) = provider.status([Target.tenant()])
    finally:
        provider.close()
        tokens.close()
    level, judged = judge_rest(app_roles(token), result)
    message = f"REST via {host}: token acquired; {judged}"
    left = certificate.not_after - datetime.now(UTC)
    if level is Level.OK and left < EXPIRY_WARNING:
        when = certificate.not_after.strftime("%Y-%m-%d")
        return warn(label, f"{message}; but the certificate expires on {when}: renew it")
    return Result(label, level, message)
