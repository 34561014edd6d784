"""Why an app-only sign-in to Exchange Online failed, in words an admin can act on.

Both transports sign in as the same app with the same certificate, so they share Entra ID's
causes (``entra_cause``); the WinRM host adds its own (the certificate missing from the
Windows store). The host's or Entra ID's own reason, with its AADSTS code, stays in the
error's ``detail`` for the log and the audit trail; the message shown in Slack names the
cause and the setting to check. Codes from Microsoft's Entra ID error reference
(learn.microsoft.com/entra/identity-platform/reference-error-codes): AADSTS90002 tenant not
found, 90038 the tenant is in another (national) cloud, 700016 application not found in the
directory, 7000229 the app has no service principal in the tenant, 7000112 application
disabled, 700027 assertion failed signature validation (a certificate not registered on the
app, or expired), 700024 assertion outside its valid time range, 65001 consent missing,
500011 resource principal (Exchange Online) not found in the tenant, 53003 blocked by
Conditional Access."""

from __future__ import annotations

import re

__all__ = ["entra_cause", "signin_cause"]

# {tenant} is the config key that names the tenant: `organization` (WinRM) or `tenant_id`.
_ENTRA_CAUSES: tuple[tuple[re.Pattern[str], str], ...] = (
    (
        re.compile(r"AADSTS90002\b|tenant '.*' not found", re.I),
        "Microsoft does not know the organisation: check `{tenant}` ({hint})",
    ),
    (
        re.compile(r"AADSTS90038\b", re.I),
        "the tenant is in another Microsoft cloud: set `cloud` (global, gcc-high or dod)",
    ),
    (
        re.compile(r"AADSTS700016\b|application with identifier .* was not found", re.I),
        "the tenant does not know the app: check `app_id` and that the app is registered in "
        "this tenant",
    ),
    (
        re.compile(r"AADSTS7000229\b|missing service principal", re.I),
        "the app has no enterprise application in this tenant: an admin of the tenant must "
        "grant it admin consent (that creates it)",
    ),
    (
        re.compile(r"AADSTS7000112\b", re.I),
        "the app is disabled in this tenant: enable it (Enterprise applications, Properties)",
    ),
    (
        re.compile(r"AADSTS700027\b|invalid signature|not registered on (the )?application", re.I),
        "the certificate is not registered on the app: upload its public key to the app "
        "registration (Certificates & secrets)",
    ),
    (
        re.compile(r"AADSTS700024\b", re.I),
        "the sign-in was outside its valid time: check this machine's clock (NTP)",
    ),
    (
        re.compile(r"AADSTS500011\b", re.I),
        "the tenant has no Exchange Online (no Exchange licence), or `cloud` names the "
        "wrong Microsoft cloud",
    ),
    (
        re.compile(r"AADSTS53003\b", re.I),
        "a Conditional Access policy blocks the app's sign-in: exclude the app (workload "
        "identity) from it",
    ),
    (
        re.compile(r"AADSTS65001\b|not consented|consent", re.I),
        "admin consent is missing: grant Exchange.ManageAsApp admin consent on the app",
    ),
)

_TENANT_HINTS = {
    "organization": "the tenant's *.onmicrosoft.com domain",
    "tenant_id": "the tenant's GUID or its *.onmicrosoft.com domain; a GCC High or DoD "
    "tenant also needs `cloud`",
}

_HOST_STORE = (
    re.compile(
        r"no certificate with thumbprint|certificate .*not found|cannot find .*certificate",
        re.I,
    ),
    "the certificate with `certificate_thumbprint` is not in the Windows host's certificate "
    "store (CurrentUser\\My or LocalMachine\\My of the WinRM account)",
)

_NO_ROLE = (
    re.compile(r"unauthori[sz]ed|role .*not .*assigned|access is denied", re.I),
    "the app has no Exchange role: assign it Exchange Administrator (or a role group)",
)


def entra_cause(reason: str, *, tenant_key: str = "organization") -> str | None:
    """The Entra ID cause of a failed app-only token request, or None if it is not known."""
    for pattern, cause in _ENTRA_CAUSES:
        if pattern.search(reason):
            return cause.format(tenant=tenant_key, hint=_TENANT_HINTS.get(tenant_key, ""))
    return None


def signin_cause(reason: str) -> str | None:
    """The cause of a failed WinRM-host sign-in from the host's message, or None."""
    if _HOST_STORE[0].search(reason):
        return _HOST_STORE[1]
    cause = entra_cause(reason)
    if cause is not None:
        return cause
    return _NO_ROLE[1] if _NO_ROLE[0].search(reason) else None
