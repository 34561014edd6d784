"""Block Kit for the approval card and the result posts.

Messages stay under Slack's limits (50 blocks, 3,000 characters per section): long target
lists are summarised, never split into one message per target.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from approvals import RequestStatus, RequestView, TargetOutcome

__all__ = [
    "APPROVE_ACTION",
    "DENY_ACTION",
    "card",
    "mention",
    "result_text",
]

APPROVE_ACTION = "smtp_approve"
DENY_ACTION = "smtp_deny"
_SHOWN_TARGETS = 10
_SHOWN_RESULTS = 30
_SECTION_LIMIT = 2900

_STATUS_LINE = {
    RequestStatus.PENDING: ":hourglass_flowing_sand: Waiting for approval",
    RequestStatus.APPROVED: ":white_check_mark: Approved, starting",
    RequestStatus.EXECUTING: ":gear: Approved, executing",
    RequestStatus.SUCCEEDED: ":white_check_mark: Done, verified",
    RequestStatus.FAILED: ":x: Failed",
    RequestStatus.DENIED: ":no_entry: Denied",
    RequestStatus.CANCELLED: ":leftwards_arrow_with_hook: Cancelled",
    RequestStatus.EXPIRED: ":alarm_clock: Expired: nobody decided in time",
}


def mention(actor: str | None) -> str:
    """Slack users as mentions; CLI and system actors as plain text."""
    if not actor:
        return "nobody"
    if actor[:1] in ("U", "W") and actor.isalnum():
        return f"<@{actor}>"
    return f"`{escape(actor)}`"


def escape(text: str) -> str:
    """Escape the three characters Slack's mrkdwn treats as control characters."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _targets_text(view: RequestView) -> str:
    names = [_target_label(t.target) for t in view.targets]
    shown = ", ".join(names[:_SHOWN_TARGETS])
    if len(names) > _SHOWN_TARGETS:
        shown += f" and {len(names) - _SHOWN_TARGETS} more"
    return shown


def _target_label(key: str) -> str:
    return "*WHOLE TENANT*" if key == "*" else f"`{escape(key)}`"


def _truncate(text: str, limit: int = _SECTION_LIMIT) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def card(view: RequestView) -> tuple[str, list[dict[str, Any]]]:
    """The approval card for a request in its current state: (fallback text, blocks)."""
    req = view.request
    status = view.status
    verb = req.verb.upper()
    fallback = f"SMTP change request #{view.id}: {req.verb} on {req.tenant} ({status.value})"
    fields = [
        f"*Tenant*\n`{escape(req.tenant)}`",
        f"*Change*\n{verb}" + (" (tenant-wide)" if req.tenant_wide else ""),
        f"*Requested by*\n{mention(req.requester)}",
        f"*Request*\n#{view.id}",
    ]
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": f"SMTP {req.verb} #{view.id}"}},
        {
            "type": "section",
            "block_id": f"req-{view.id}-fields",
            "fields": [{"type": "mrkdwn", "text": _truncate(f, 1900)} for f in fields],
        },
        {
            "type": "section",
            "text": {"type": "mrkdwn", "text": _truncate(f"*Targets*\n{_targets_text(view)}")},
        },
        {
            "type": "section",
            "text": {
                "type": "mrkdwn",
                "text": _truncate(f"*Reason*\n{escape(req.reason) or '_none given_'}"),
            },
        },
        {"type": "context", "elements": [{"type": "mrkdwn", "text": _progress(view)}]},
    ]
    if status is RequestStatus.PENDING:
        blocks.append(_buttons(view))
    else:
        blocks.append(
            {"type": "section", "text": {"type": "mrkdwn", "text": _truncate(_outcome(view))}}
        )
    return fallback, blocks


def _progress(view: RequestView) -> str:
    req = view.request
    who = ", ".join(mention(a) for a in view.approvers) or "none yet"
    return f"{len(view.approvers)} of {req.approvals_required} approvals: {who}"


def _outcome(view: RequestView) -> str:
    req = view.request
    status = view.status
    line = _STATUS_LINE[status]
    if status in (RequestStatus.DENIED, RequestStatus.CANCELLED):
        line += f" by {mention(req.decided_by)}"
        if req.decision_note:
            line += f": {escape(req.decision_note)}"
    if status in (RequestStatus.SUCCEEDED, RequestStatus.FAILED):
        ok = sum(1 for t in view.targets if t.outcome == TargetOutcome.SUCCEEDED.value)
        line += f" ({ok} of {len(view.targets)} targets succeeded; details in the thread)"
    return line


def _buttons(view: RequestView) -> dict[str, Any]:
    value = str(view.id)
    return {
        "type": "actions",
        "block_id": f"req-{view.id}-decide",
        "elements": [
            {
                "type": "button",
                "action_id": APPROVE_ACTION,
                "style": "primary",
                "text": {"type": "plain_text", "text": "Approve"},
                "value": value,
            },
            {
                "type": "button",
                "action_id": DENY_ACTION,
                "style": "danger",
                "text": {"type": "plain_text", "text": "Deny"},
                "value": value,
            },
        ],
    }


def result_text(view: RequestView, failures_first: bool = True) -> str:
    """The thread post with per-target results, summarised past a bounded number of lines."""
    targets: Sequence = view.targets
    ok = [t for t in targets if t.outcome == TargetOutcome.SUCCEEDED.value]
    failed = [t for t in targets if t.outcome != TargetOutcome.SUCCEEDED.value]
    head = (
        f"{_STATUS_LINE[view.status]}: request #{view.id}, {view.request.verb} on "
        f"`{escape(view.request.tenant)}`: {len(ok)} succeeded, {len(failed)} failed."
    )
    ordered = (failed + ok) if failures_first else list(targets)
    lines = []
    for t in ordered[:_SHOWN_RESULTS]:
        mark = ":white_check_mark:" if t.outcome == TargetOutcome.SUCCEEDED.value else ":x:"
        lines.append(f"{mark} {_target_label(t.target)}: {escape(t.message or '')}")
    if len(ordered) > _SHOWN_RESULTS:
        lines.append(
            f"… and {len(ordered) - _SHOWN_RESULTS} more "
            f"(`/smtp history {view.request.tenant}` has every result)."
        )
    return _truncate(head + "\n" + "\n".join(lines), 3900)
