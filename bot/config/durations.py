"""Durations written the way operators write them: ``90s``, ``15m``, ``1h``, ``2d``."""

from __future__ import annotations

import re
from datetime import timedelta

__all__ = ["format_duration", "parse_duration", "parse_interval"]

_RE = re.compile(r"^(\d{1,6})([smhd])$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(text: str) -> timedelta:
    """Parse ``<number><s|m|h|d>``; raise ValueError with a helpful message otherwise."""
    match = _RE.match(text.strip().lower())
    if not match:
        raise ValueError(f"“{text}” is not a duration: write it like 90s, 15m, 1h or 2d")
    seconds = int(match.group(1)) * _UNITS[match.group(2)]
    if seconds <= 0:
        raise ValueError("a duration must be longer than zero")
    return timedelta(seconds=seconds)


def format_duration(delta: timedelta) -> str:
    """The largest whole unit: ``timedelta(hours=2)`` → ``2h``."""
    seconds = int(delta.total_seconds())
    for unit in ("d", "h", "m"):
        if seconds and seconds % _UNITS[unit] == 0:
            return f"{seconds // _UNITS[unit]}{unit}"
    return f"{seconds}s"


def parse_interval(text: str) -> timedelta | None:
    """A duration, or ``off`` (None): for periodic work an operator may switch off."""
    if text.strip().lower() == "off":
        return None
    try:
        return parse_duration(text)
    except ValueError:
        raise ValueError(
            f"“{text}” is not an interval: write it like 15m, 1h or 90s, or off"
        ) from None
