"""Why an app-only sign-in to Exchange Online failed, in words an admin can act on.

The host's own reason (the module's or Entra ID's message, with its AADSTS code) stays in the
error's ``detail`` for the log and the audit trail; the message shown in Slack names the cause
and the setting to check. Codes from Microsoft's Entra ID error reference: AADSTS90002 tenant
not found, 700016 application not found in the directory, 700027 assertion signed with a
certificate not registered on the app, 65001 consent missing."""

from __future__ import annotations

import re

__all__ = ["signin_cause"]

_CAUSES: tuple[tuple[re.Pattern[str], str], ...] = (
    (
        re.compile(
            r"no certificate with thumbprint|certificate .*not found|cannot find .*certificate",
            re.I,
        ),
        "the certificate with `certificate_thumbprint` is not in the Windows host's certificate "
        "store (CurrentUser\\My or LocalMachine\\My of the WinRM account)",
    ),
    (
        re.compile(r"AADSTS90002|tenant '.*' not found", re.I),
        "Microsoft does not know the organisation: check `organization` (the tenant's "
        "*.onmicrosoft.com domain)",
    ),
    (
        re.compile(r"AADSTS700016|application with identifier .* was not found", re.I),
        "the tenant does not know the app: check `app_id` and that the app is registered in "
        "this tenant",
    ),
    (
        re.compile(r"AADSTS700027|invalid signature|not registered on (the )?application", re.I),
        "the certificate is not registered on the app: upload its public key to the app "
        "registration (Certificates & secrets)",
    ),
    (
        re.compile(r"AADSTS65001|not consented|consent", re.I),
        "admin consent is missing: grant Exchange.ManageAsApp admin consent on the app",
    ),
    (
        re.compile(r"unauthori[sz]ed|role .*not .*assigned|access is denied", re.I),
        "the app has no Exchange role: assign it Exchange Administrator (or a role group)",
    ),
)


def signin_cause(reason: str) -> str | None:
    """The cause of a failed sign-in from the host's message, or None if it is not known."""
    for pattern, cause in _CAUSES:
        if pattern.search(reason):
            return cause
    return None
