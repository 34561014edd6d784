"""Typed provider errors.

The hierarchy, so callers can catch as narrowly as they need::

    ProviderError                 anything a back end can report
    ├── InvalidTarget             the target is malformed or this provider cannot act on it
    ├── TargetNotFound            the back end has no such mailbox, account or domain
    ├── AmbiguousTarget           the identity matches more than one object
    ├── AuthError                 credentials rejected (the body is never shown)
    ├── Rejected                  the back end refused the operation and said why
    ├── Unavailable               connect error, timeout or 5xx; worth retrying
    │   └── ProviderTimeout       a call's wall-clock deadline passed
    ├── ProtocolError             the reply is not what the documented API sends
    └── VerificationFailed        the change was accepted but the read-back disagrees

Every error carries ``user_message``: one line that is safe to show a person (no secret, no
raw body), ``detail``: extra context for the audit trail (also free of secrets), and
``before_change``: True when it was raised before any changing call was sent (resolving the
target, signing in), so the back end is known to be unchanged.
"""

from __future__ import annotations

__all__ = [
    "AmbiguousTarget",
    "AuthError",
    "InvalidTarget",
    "ProtocolError",
    "ProviderError",
    "ProviderTimeout",
    "Rejected",
    "TargetNotFound",
    "Unavailable",
    "VerificationFailed",
]


class ProviderError(Exception):
    """Base class for every error a provider raises."""

    kind = "error"
    retryable = False

    def __init__(self, user_message: str, *, detail: str = "", before_change: bool = False) -> None:
        super().__init__(user_message)
        self.user_message = user_message
        self.detail = detail
        self.before_change = before_change


class InvalidTarget(ProviderError):
    """The target is malformed, or this provider does not support that scope or verb."""

    kind = "invalid_target"


class TargetNotFound(ProviderError):
    """The back end has no object with that identity."""

    kind = "not_found"


class AmbiguousTarget(ProviderError):
    """The identity matches more than one object on the back end."""

    kind = "ambiguous"


class AuthError(ProviderError):
    """The back end rejected our credentials (HTTP 401/403, WinRM 401)."""

    kind = "auth"


class Rejected(ProviderError):
    """The back end refused the operation; ``user_message`` is its reason as sent."""

    kind = "rejected"


class Unavailable(ProviderError):
    """The back end could not be reached or failed transiently (connect, timeout, 5xx)."""

    kind = "unavailable"
    retryable = True


class ProviderTimeout(Unavailable):
    """The call (connect and every read together) did not finish within its deadline.

    Retried only while the caller's own deadline (the request's or job's) leaves time. The
    back end may or may not have applied a change; the next read shows which."""

    kind = "timeout"


class ProtocolError(ProviderError):
    """The reply does not have the documented shape (not JSON, no envelope, …)."""

    kind = "protocol"


class VerificationFailed(ProviderError):
    """The change was accepted, but reading the state back shows something else."""

    kind = "verification_failed"
