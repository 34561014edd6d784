"""Text for ``/smtp list`` (``/smtp history`` is in ``bot.slack.history``)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from approvals import RequestView
from approvals.models import utcnow
from bot.commands.service import StatusReport
from bot.slack.views import escape, summary_line, when
from providers.whm_tweaks import TWEAKS

__all__ = ["age", "pending_text", "policy_text"]


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


def policy_text(report: StatusReport) -> str:
    """``/smtp policy``: each outbound-mail Tweak Setting, its value now, what it does."""
    lines = [
        f"*Outbound-mail Tweak Settings on `{escape(report.tenant)}`* (read now from WHM; "
        f"change with `/smtp set {escape(report.tenant)} key=value`):"
    ]
    for result in report.results:
        key = result.target.name.partition("=")[0]
        known = TWEAKS.get(key)
        if result.state is None or known is None:
            lines.append(f":warning: `{escape(key)}`: {escape(result.message)}")
            continue
        value = str(result.state.facts.get("value", ""))
        lines.append(
            f"• `{key}` ({escape(known.label)}): *{escape(value)}*: {escape(known.what)} "
            f"_(values: {escape(known.allowed())})_"
        )
    return "\n".join(lines)
