"""What the sign-in log query says, built only from constants and computed values, and what
an app-only token claims (read to word a missing permission early; Graph verifies the token).

The filter holds no user text: its one string literal is a constant, OData-quoted (an embedded
quote doubled), and the window's start is an aware datetime rendered in UTC.
"""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime

__all__ = [
    "SMTP_CLIENT_APP",
    "odata_datetime",
    "odata_string",
    "smtp_auth_filter",
    "token_roles",
]

SMTP_CLIENT_APP = "Authenticated SMTP"  # signIn.clientAppUsed of SMTP AUTH client submission


def odata_string(value: str) -> str:
    """An OData string literal: single quotes, an embedded quote doubled."""
    return "'" + value.replace("'", "''") + "'"


def odata_datetime(moment: datetime) -> str:
    """An OData DateTimeOffset literal in UTC (``2026-11-26T11:34:22Z``); aware datetimes only."""
    if moment.tzinfo is None:
        raise ValueError("naive datetime: use an aware UTC datetime")
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def smtp_auth_filter(since: datetime) -> str:
    """Successful SMTP AUTH sign-ins since ``since``: the whole filter, built from constants."""
    return (
        f"clientAppUsed eq {odata_string(SMTP_CLIENT_APP)} and "
        f"createdDateTime ge {odata_datetime(since)} and status/errorCode eq 0"
    )


def token_roles(token: str) -> list[str] | None:
    """The ``roles`` claim of a JWT access token (read, not verified: Graph verifies it);
    None when the token is not a JWT we can read."""
    parts = token.split(".")
    if len(parts) != 3:
        return None
    try:
        padded = parts[1] + "=" * (-len(parts[1]) % 4)
        claims = json.loads(base64.urlsafe_b64decode(padded))
    except (ValueError, TypeError):
        return None
    if not isinstance(claims, dict):
        return None
    roles = claims.get("roles", [])
    return [str(r) for r in roles] if isinstance(roles, list) else None
