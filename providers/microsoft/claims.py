"""What an access token says about the app, for diagnosis only.

``smtp-bot check`` reads the ``roles`` claim of the token Entra ID just issued to tell an
admin which app permission is missing (a client-credentials token without admin consent
carries no ``roles``, and Entra ID still issues it). The token is NOT verified here: it is
never trusted for anything, only read; Exchange Online and Graph verify it themselves.
"""

from __future__ import annotations

import base64
import binascii
import json

__all__ = ["EXCHANGE_MANAGE_AS_APP", "app_roles"]

EXCHANGE_MANAGE_AS_APP = "Exchange.ManageAsApp"


def app_roles(token: str) -> frozenset[str] | None:
    """The app roles a JWT access token carries (empty: none), or None when the token is
    not a readable JWT (Entra ID may issue opaque tokens to some resources)."""
    parts = token.split(".")
    if len(parts) != 3:
        return None
    try:
        padded = parts[1] + "=" * (-len(parts[1]) % 4)
        claims = json.loads(base64.urlsafe_b64decode(padded))
    except (binascii.Error, ValueError):
        return None
    if not isinstance(claims, dict):
        return None
    roles = claims.get("roles") or []
    return frozenset(str(r) for r in roles) if isinstance(roles, list) else None
