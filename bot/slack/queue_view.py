"""The answer to ``/smtp queue``: Exim's queue in a few lines, for the caller only."""

from __future__ import annotations

from datetime import UTC, datetime

from bot.slack.views import escape
from providers.whm_queue import QueueReport

__all__ = ["queue_text"]


def _size(n: int) -> str:
    for unit, scale in (("GB", 1 << 30), ("MB", 1 << 20), ("KB", 1 << 10)):
        if n >= scale:
            return f"{n / scale:,.1f} {unit}"
    return f"{n:,} bytes"


def _age(moment: int | None, now: float) -> str:
    if not moment:
        return "none"
    seconds = max(int(now - moment), 0)
    stamp = datetime.fromtimestamp(moment, UTC).strftime("%Y-%m-%d %H:%M UTC")
    if seconds < 3600:
        return f"{stamp} ({seconds // 60} min ago)"
    if seconds < 172800:
        return f"{stamp} ({seconds // 3600} h ago)"
    return f"{stamp} ({seconds // 86400} days ago)"


def queue_text(tenant: str, report: QueueReport, *, now: float | None = None) -> str:
    """Totals first (messages, frozen, oldest, size), then the target's part if asked."""
    now = datetime.now(UTC).timestamp() if now is None else now
    lines = [
        f"*Mail queue on `{escape(tenant)}`:* {report.total:,} messages, "
        f"{report.frozen:,} frozen, {_size(report.size)}",
        f"Oldest: {_age(report.oldest, now)}",
    ]
    if report.target is not None:
        who = escape(str(report.target))
        lines.append(
            f"*From `{who}`:* {report.target_count:,} messages, "
            f"oldest {_age(report.target_oldest, now)}"
        )
        if report.top_domains:
            top = ", ".join(f"{escape(d)} ({n:,})" for d, n in report.top_domains)
            lines.append(f"Top recipient domains: {top}")
        if report.target_count:
            lines.append(f"To delete them: `/smtp purge {escape(tenant)} {who}`")
    return "\n".join(lines)
