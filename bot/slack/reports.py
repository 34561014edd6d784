"""Text for ``/smtp list`` (``/smtp history`` is in ``bot.slack.history``)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from approvals import RequestView
from approvals.models import utcnow
from bot.slack.views import escape, summary_line, when

__all__ = ["age", "pending_text"]


def age(since: datetime, now: datetime | None = None) -> str:
    seconds = int(((now or utcnow()) - since).total_seconds())
    if seconds < 90:
        return f"{seconds}s"
    if seconds < 90 * 60:
        return f"{seconds // 60}m"
    if seconds < 48 * 3600:
        return f"{seconds // 3600}h{(seconds % 3600) // 60:02d}m"
    return f"{seconds // 86400}d"


def pending_text(
    views: Sequence[RequestView], tenant: str | None, active: Sequence[RequestView] = ()
) -> str:
    where = f" on `{escape(tenant)}`" if tenant else ""
    lines = [
        f"*{len(views)} pending request(s){where}:*" if views else f"No pending requests{where}."
    ]
    for view in views[:30]:
        lines.append(f"• {summary_line(view)}, waiting {age(view.request.created_at)}")
    if len(views) > 30:
        lines.append(f"… and {len(views) - 30} more")
    if active:
        lines.append(f"*{len(active)} timed restriction(s) in force{where}:*")
        for view in active[:20]:
            assert view.request.revert_at is not None
            lines.append(
                f"• {summary_line(view)}: {view.request.revert_verb} at "
                f"{when(view.request.revert_at)}"
            )
    return "\n".join(lines)[:3900]
