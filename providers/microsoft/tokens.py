"""What an HTTPS client needs from a token source: a bearer token for one resource scope."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

__all__ = ["AccessTokens"]


@runtime_checkable
class AccessTokens(Protocol):
    """App-only access tokens, cached by the implementation until shortly before expiry.

    ``scope`` is a resource's ``/.default`` scope, e.g.
    ``https://outlook.office365.com/.default`` or ``https://graph.microsoft.com/.default``.
    Implementations raise a ``providers.errors.ProviderError`` subclass (an ``AuthError``
    worded by its cause) when no token can be had, and never log the token.
    """

    def bearer(self, scope: str) -> str:
        """Return a valid access token for ``scope`` (without the ``Bearer `` prefix)."""
        ...
