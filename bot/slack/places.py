"""Where a message is, in words, when Slack gives no link to it."""

from __future__ import annotations

from datetime import UTC, datetime

from bot.slack.views import when

__all__ = ["message_place"]


def message_place(channel: str, ts: str) -> str:
    """``(the card in <#C0…>, posted <date>)``: the channel and the message's time, which
    together find the message when ``chat.getPermalink`` answers without a permalink."""
    try:
        posted = when(datetime.fromtimestamp(float(ts), UTC))
    except (ValueError, OverflowError, OSError):
        posted = f"at ts {ts}"
    return f"(the card in <#{channel}>, posted {posted})"
