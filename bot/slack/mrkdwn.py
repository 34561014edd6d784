"""Slack mrkdwn escaping, in a module of its own so that every view can use the one rule."""

from __future__ import annotations

__all__ = ["escape"]


def escape(text: str) -> str:
    """Escape the three characters Slack's mrkdwn treats as control characters."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
