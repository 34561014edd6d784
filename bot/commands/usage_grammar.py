"""``/smtp usage <tenant> [--since DURATION]``: the command and its checks (default 7d, at
most 30d: Microsoft Entra ID keeps sign-in logs for 30 days). Pure, like the grammar."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from bot.config.durations import parse_duration
from bot.errors import UsageError

__all__ = ["DEFAULT_SINCE", "MAX_SINCE", "Usage", "parse_usage"]

DEFAULT_SINCE = timedelta(days=7)
MAX_SINCE = timedelta(days=30)


@dataclass(frozen=True, slots=True)
class Usage:
    """``/smtp usage``: who authenticated with SMTP AUTH in the window (Exchange; read-only)."""

    tenant: str
    since: timedelta = DEFAULT_SINCE


def parse_usage(tenant: str, rest: list[str], since_text: str | None) -> Usage:
    """The tenant, no targets, and ``--since`` within its bounds. Raises UsageError."""
    if rest:
        raise UsageError("usage takes only a tenant name (and --since).", verb="usage")
    if since_text is None:
        return Usage(tenant)
    try:
        since = parse_duration(since_text)
    except ValueError as exc:
        raise UsageError(str(exc), verb="usage") from None
    if since > MAX_SINCE:
        raise UsageError(
            "--since can be at most 30d: Microsoft Entra ID keeps sign-in logs for 30 days.",
            verb="usage",
        )
    return Usage(tenant, since)
