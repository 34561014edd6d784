"""Microsoft Graph's refusals of a sign-in log read, worded by cause for the person asking.

Graph answers ``{"error": {"code": …, "message": …}}``. The causes that matter here: the app
lacks ``AuditLog.Read.All`` (403 ``Authorization_RequestDenied``, "Calling principal does not
have required MSGraph permissions AuditLog.Read.All"), the tenant has no Entra ID P1/P2
licence (403 ``Authentication_RequestFromNonPremiumTenantOrB2CTenant``, "Neither tenant is B2C
or tenant doesn't have premium license"), and the licence check itself failing without
``Directory.Read.All`` (403 ``Authentication_ApplicationHasNoDirectoryReadAccess``).
Sources in docs/configuration.md.
"""

from __future__ import annotations

import random

import httpx

from providers.errors import AuthError, ProviderError, Rejected

__all__ = ["AUDIT_PERMISSION", "MISSING_PERMISSION", "graph_error", "retry_after"]

AUDIT_PERMISSION = "AuditLog.Read.All"
MISSING_PERMISSION = (
    f"The app registration lacks the Microsoft Graph application permission "
    f"{AUDIT_PERMISSION} (with admin consent), so the sign-in logs cannot be read. Add it "
    "under Entra ID › App registrations › API permissions, grant admin consent, and try again."
)
NO_PREMIUM = (
    "Microsoft Graph refused to read the sign-in logs: the tenant has no Microsoft Entra ID P1 "
    "or P2 licence, which sign-in logs through Graph need. Without one, the Exchange admin "
    "centre's report (Reports › Mail flow › SMTP AUTH clients) shows who sends with SMTP AUTH."
)
NO_DIRECTORY_READ = (
    "Microsoft Graph could not check the tenant's licence for the sign-in logs: grant the app "
    "the application permission Directory.Read.All as well (with admin consent)."
)


def _error_of(response: httpx.Response) -> tuple[str, str]:
    """Graph's ``error.code`` and ``error.message``, or empty strings."""
    try:
        error = response.json().get("error")
    except (ValueError, AttributeError):
        return "", ""
    if not isinstance(error, dict):
        return "", ""
    return str(error.get("code") or ""), str(error.get("message") or "")


def graph_error(response: httpx.Response) -> ProviderError:
    """The typed error for a non-200 answer (not throttling: the caller retries that). The
    user message names the cause; Graph's own code and message go to ``detail``."""
    status = response.status_code
    code, message = _error_of(response)
    detail = f"HTTP {status} {code}: {message[:300]}".strip()
    if status == 401:
        return AuthError(
            "Microsoft Graph rejected the app's access token; check the tenant's app_id and "
            "certificate.",
            detail=detail,
            before_change=True,
        )
    if status == 403:
        if code == "Authentication_RequestFromNonPremiumTenantOrB2CTenant":
            return Rejected(NO_PREMIUM, detail=detail, before_change=True)
        if code == "Authentication_ApplicationHasNoDirectoryReadAccess":
            return AuthError(NO_DIRECTORY_READ, detail=detail, before_change=True)
        if code == "Authorization_RequestDenied" or AUDIT_PERMISSION in message:
            return AuthError(MISSING_PERMISSION, detail=detail, before_change=True)
        return AuthError(
            f"Microsoft Graph refused to read the sign-in logs ({code or 'HTTP 403'}).",
            detail=detail,
            before_change=True,
        )
    return Rejected(
        f"Microsoft Graph refused the sign-in log query ({code or f'HTTP {status}'}).",
        detail=detail,
        before_change=True,
    )


def retry_after(response: httpx.Response, attempt: int) -> float:
    """Seconds to wait: the server's ``Retry-After`` (seconds) with a little jitter, else a
    short growing backoff."""
    header = response.headers.get("Retry-After", "")
    try:
        base = float(header) if header else min(2.0**attempt, 8.0)
    except ValueError:
        base = min(2.0**attempt, 8.0)
    return max(0.0, base) + random.random() * 0.25
