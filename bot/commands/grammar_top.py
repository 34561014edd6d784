"""``/smtp top <tenant> [--since DURATION] [--limit N]``: its command and its checks."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from bot.commands.typed_text import is_number
from bot.config.durations import parse_duration
from bot.errors import UsageError

__all__ = [
    "TOP_DEFAULT_ROWS",
    "TOP_DEFAULT_SINCE",
    "TOP_MAX_ROWS",
    "TOP_MAX_SINCE",
    "Top",
    "parse_top",
]

TOP_DEFAULT_SINCE = timedelta(hours=1)
TOP_MAX_SINCE = timedelta(days=7)
TOP_DEFAULT_ROWS = 10
TOP_MAX_ROWS = 40  # one block per row, under Slack's 50 blocks per message


@dataclass(frozen=True, slots=True)
class Top:
    """``/smtp top``: who sent the most outgoing mail in the window (WHM email tracking)."""

    tenant: str
    since: timedelta = TOP_DEFAULT_SINCE
    limit: int = TOP_DEFAULT_ROWS


def parse_top(tenant: str, rest: list[str], options: dict[str, str]) -> Top:
    """``top <tenant> [--since DURATION] [--limit N]``: at most 7d, 1 to 40 rows."""
    if rest:
        raise UsageError("top takes only a tenant name, --since and --limit.", verb="top")
    since = TOP_DEFAULT_SINCE
    if "since" in options:
        try:
            since = parse_duration(options["since"])
        except ValueError as exc:
            raise UsageError(f"--since: {exc}.", verb="top") from None
        if since > TOP_MAX_SINCE:
            raise UsageError("--since can be at most 7d.", verb="top")
    limit = TOP_DEFAULT_ROWS
    if "limit" in options:
        text = options["limit"]
        if not is_number(text) or not 1 <= int(text) <= TOP_MAX_ROWS:
            raise UsageError(f"--limit must be a number from 1 to {TOP_MAX_ROWS}.", verb="top")
        limit = int(text)
    return Top(tenant, since, limit)
