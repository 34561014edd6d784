"""Telling a Slack Web API failure that will pass (rate limit, 5xx, timeout) from one that
will not (the channel is gone, the bot is not in it, the token is revoked).

Card delivery backs off on the first and gives up after a bound on the second; either way
only the error code is kept and logged, never the request or a token.
"""

from __future__ import annotations

from dataclasses import dataclass

from slack_sdk.errors import SlackApiError

__all__ = ["SlackFailure", "classify"]

# ok:false errors that clear up by themselves; every other ok:false error is permanent
TRANSIENT_ERRORS = frozenset(
    {
        "ratelimited",
        "rate_limited",
        "fatal_error",
        "internal_error",
        "service_unavailable",
        "request_timeout",
        "team_added_to_org",
    }
)


@dataclass(frozen=True, slots=True)
class SlackFailure:
    """One failed call: the error code, whether retrying can help, and Slack's Retry-After."""

    error: str
    permanent: bool
    retry_after_s: float = 0.0

    @property
    def refused(self) -> bool:
        """Slack answered and did nothing (a permanent ok:false): no message was created."""
        return self.permanent


def classify(exc: Exception) -> SlackFailure:
    """Classify what a ``WebClient`` call raised (``SlackApiError`` or a network error)."""
    if not isinstance(exc, SlackApiError):
        return SlackFailure(type(exc).__name__, permanent=False)
    response = exc.response
    status = int(getattr(response, "status_code", 200) or 200)
    if status == 429:
        return SlackFailure("ratelimited", False, _retry_after(response))
    if status >= 500:
        return SlackFailure(f"http_{status}", False, _retry_after(response))
    try:
        error = str(response.get("error") or f"http_{status}")
    except Exception:
        error = f"http_{status}"
    error = "".join(c for c in error if c.isalnum() or c in "_-.")[:64] or "slack_error"
    return SlackFailure(error, permanent=error not in TRANSIENT_ERRORS)


def _retry_after(response: object) -> float:
    headers = getattr(response, "headers", None) or {}
    for name, value in dict(headers).items():
        if str(name).lower() == "retry-after":
            raw = value[0] if isinstance(value, list | tuple) and value else value
            try:
                return max(0.0, float(str(raw)))
            except ValueError:
                return 0.0
    return 0.0
