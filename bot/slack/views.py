"""Block Kit for the approval card and the result posts.

Messages stay under Slack's limits (50 blocks, 3,000 characters per section): long target
lists are summarised, never split into one message per target.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from approvals import RequestStatus, RequestView, TargetOutcome
from bot.config.durations import format_duration
from bot.slack import all_accounts_view
from bot.slack.aftermath import change_summary, next_step
from bot.slack.labels import built_label
from bot.slack.mrkdwn import escape
from bot.slack.steps_view import change_text, held_back_line, short_text
from providers.targets import SETTING_PREFIX

__all__ = [
    "APPROVE_ACTION",
    "CANCEL_ACTION",
    "DENY_ACTION",
    "DENY_MODAL",
    "card",
    "decision_buttons",
    "deny_modal",
    "summary_line",
    "mention",
    "result_text",
]

APPROVE_ACTION = "smtp_approve"
DENY_ACTION = "smtp_deny"
CANCEL_ACTION = "smtp_cancel"
DENY_MODAL = "smtp_deny_modal"
DENY_REASON_BLOCK = "deny_reason"
DENY_REASON_ACTION = "reason"
_REVERT_WORDS = {"limit": "each previous limit put back automatically"}
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


def _targets_text(view: RequestView) -> str:
    short = short_text(view)  # a request of several steps
    if short is not None:
        return short
    plan = all_accounts_view.plan_of(view)
    if plan is not None:  # --all-accounts: counts, not a list of every account
        return all_accounts_view.targets_text(view, plan)
    names = [_target_label(t.target) for t in view.targets]
    shown = ", ".join(names[:_SHOWN_TARGETS])
    if len(names) > _SHOWN_TARGETS:
        shown += f" and {len(names) - _SHOWN_TARGETS} more"
    return shown


def _target_label(key: str) -> str:
    built = built_label(key)
    if built is not None:
        return built
    if key.startswith(SETTING_PREFIX):
        return f"`{escape(key[len(SETTING_PREFIX) :])}`"
    return "*WHOLE TENANT*" if key == "*" else f"`{escape(key)}`"


def _truncate(text: str, limit: int = _SECTION_LIMIT) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def card(
    view: RequestView, asked: Sequence[str] = (), note: str = ""
) -> tuple[str, list[dict[str, Any]]]:
    """The approval card for a request in its current state: (fallback text, blocks).
    ``asked``: the tenant's approvers as configured, named while it waits and on expiry;
    ``note``: what a whole-server change does (and does not) stop on its back end."""
    req = view.request
    status = view.status
    verb = req.verb.upper()
    fallback = f"SMTP change request #{view.id}: {req.verb} on {req.tenant} ({status.value})"
    change = f"*Change*\n{verb}" + (" (tenant-wide)" if req.tenant_wide else "")
    if req.revert_after_s and req.revert_verb:
        change += f"\nfor {format_duration(timedelta(seconds=req.revert_after_s))}, then "
        change += _REVERT_WORDS.get(req.revert_verb, f"{req.revert_verb} automatically")
    steps_text = change_text(view)
    if steps_text is not None:
        wide = " (tenant-wide)" if req.tenant_wide else ""
        change = f"*Change*\n{(short_text(view) or '').upper()}{wide}"
    if req.verb == "purge":  # said before anyone approves
        change += "\n:warning: This cannot be undone: the queued messages are deleted."
    fields = [
        f"*Tenant*\n`{escape(req.tenant)}`",
        change,
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
            "text": {
                "type": "mrkdwn",
                "text": _truncate(f"*Targets*\n{steps_text or _targets_text(view)}"),
            },
        },
        {
            "type": "section",
            "text": {
                "type": "mrkdwn",
                "text": _truncate(f"*Reason*\n{escape(req.reason) or '_none given_'}"),
            },
        },
        {"type": "context", "elements": [{"type": "mrkdwn", "text": _progress(view, asked)}]},
    ]
    if note:
        what = {"type": "mrkdwn", "text": _truncate(f"*What this does*\n{escape(note)}")}
        blocks.insert(3, {"type": "section", "text": what})
    if req.note:  # what the back end warned of while checking the targets
        warn = f":warning: *Before you approve*\n{escape(req.note)}"
        blocks.insert(3, {"type": "section", "text": {"type": "mrkdwn", "text": _truncate(warn)}})
    if status is RequestStatus.PENDING:
        blocks.append(_buttons(view))
    elif status is RequestStatus.EXECUTING:
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": _executing(view)}})
    else:
        blocks.append(
            {
                "type": "section",
                "text": {"type": "mrkdwn", "text": _truncate(_outcome(view, asked))},
            }
        )
    return fallback, blocks


def _progress(view: RequestView, asked: Sequence[str] = ()) -> str:
    req = view.request
    who = ", ".join(mention(a) for a in view.approvers) or "none yet"
    line = f"{len(view.approvers)} of {req.approvals_required} approvals: {who}"
    if view.status is RequestStatus.PENDING:
        if asked:
            line += f" · asked: {asked_text(asked)}"
        line += f" · expires {when(req.expires_at)}"
    return line


def asked_text(asked: Sequence[str]) -> str:
    """Approvers as configured: users as mentions, user groups as group mentions."""
    return ", ".join(
        f"<!subteam^{a}>" if a[:1] == "S" and a.isalnum() else mention(a) for a in asked
    )


def _outcome(view: RequestView, asked: Sequence[str] = ()) -> str:
    req = view.request
    status = view.status
    line = _STATUS_LINE[status]
    if status is RequestStatus.EXPIRED:
        line += f" ({when(req.expires_at)})"
        if asked:
            line += f"; asked: {asked_text(asked)}"
    if status in (RequestStatus.DENIED, RequestStatus.CANCELLED):
        line += f" by {mention(req.decided_by)}"
        if req.decision_note:
            line += f": {escape(req.decision_note)}"
    if status in (RequestStatus.SUCCEEDED, RequestStatus.FAILED):
        ok = sum(1 for t in view.targets if t.outcome == TargetOutcome.SUCCEEDED.value)
        line += f" ({ok} of {len(view.targets)} targets succeeded; details in the thread)"
    if req.revert_at is not None:
        line += f"\n:hourglass: {req.revert_verb} automatically at {when(req.revert_at)}"
    return line


def when(moment: datetime) -> str:
    """A time people read in their own zone (Slack date formatting), with a UTC fallback."""
    epoch = int(moment.timestamp())
    fallback = moment.strftime("%Y-%m-%d %H:%M UTC")
    return f"<!date^{epoch}^{{date_short_pretty}} {{time}}|{fallback}>"


def _executing(view: RequestView) -> str:
    """``:gear: Executing: 420 of 1,000 done (3 failed)``."""
    done = [t for t in view.targets if t.outcome != TargetOutcome.PENDING.value]
    failed = sum(t.outcome == TargetOutcome.FAILED.value for t in done)
    line = f"{_STATUS_LINE[RequestStatus.EXECUTING]}: {len(done):,} of {len(view.targets):,} done"
    return line + (f" ({failed:,} failed)" if failed else "")


def _buttons(view: RequestView) -> dict[str, Any]:
    block = decision_buttons(view, block_id=f"req-{view.id}-decide")
    block["elements"].append(
        {
            "type": "button",
            "action_id": CANCEL_ACTION,
            "text": {"type": "plain_text", "text": "Cancel (requester)"},
            "value": str(view.id),
        }
    )
    return block


def decision_buttons(view: RequestView, *, block_id: str) -> dict[str, Any]:
    """Approve and Deny; the button values carry only the request ID."""
    value = str(view.id)
    return {
        "type": "actions",
        "block_id": block_id,
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


def result_text(view: RequestView, failures_first: bool = True, note: str = "") -> str:
    """The thread post with per-target results, summarised past a bounded number of lines."""
    plan = all_accounts_view.plan_of(view)
    if plan is not None:
        return all_accounts_view.result_text(view, plan, note)
    targets: Sequence = view.targets
    ok = [t for t in targets if t.outcome == TargetOutcome.SUCCEEDED.value]
    failed = [t for t in targets if t.outcome != TargetOutcome.SUCCEEDED.value]
    head = (
        f"{_STATUS_LINE[view.status]}: request #{view.id}, {view.request.verb} on "
        f"`{escape(view.request.tenant)}`: {len(ok)} succeeded, {len(failed)} failed."
    )
    summary = change_summary(view)
    head += f"\n{summary}" if summary else ""
    held = held_back_line(view)
    head += f"\n{held}" if held else ""
    head += f"\n_{escape(note)}_" if note and view.status is RequestStatus.SUCCEEDED else ""
    ordered = (failed + ok) if failures_first else list(targets)
    lines = []
    for t in ordered[:_SHOWN_RESULTS]:
        mark = ":white_check_mark:" if t.outcome == TargetOutcome.SUCCEEDED.value else ":x:"
        line = f"{mark} {_target_label(t.target)}: {escape(t.message or '')}"
        lines.append(line if mark == ":white_check_mark:" else f"{line}; {next_step(view, t)}")
    if len(ordered) > _SHOWN_RESULTS:
        lines.append(
            f"… and {len(ordered) - _SHOWN_RESULTS} more "
            f"(`/smtp history {view.request.tenant}` has every result)."
        )
    if view.request.revert_at is not None:
        lines.append(
            f":hourglass: Timed restriction: {view.request.revert_verb} runs automatically at "
            f"{when(view.request.revert_at)} (no new approval needed; a later change wins)."
        )
    return _truncate(head + "\n" + "\n".join(lines), 3900)


def summary_line(view: RequestView) -> str:
    """``#12 disable on acme: a@x.test (by @U…)``: one line for lists and App Home."""
    req = view.request
    return (
        f"*#{view.id}* {req.verb} on `{escape(req.tenant)}`: {_targets_text(view)} "
        f"(by {mention(req.requester)}; {_progress(view)})"
    )


def deny_modal(view: RequestView) -> dict[str, Any]:
    """The dialog that asks an approver for an optional reason before denying."""
    return {
        "type": "modal",
        "callback_id": DENY_MODAL,
        "private_metadata": str(view.id),
        "title": {"type": "plain_text", "text": f"Deny request #{view.id}"[:24]},
        "submit": {"type": "plain_text", "text": "Deny"},
        "close": {"type": "plain_text", "text": "Back"},
        "blocks": [
            {"type": "section", "text": {"type": "mrkdwn", "text": _truncate(summary_line(view))}},
            {
                "type": "input",
                "block_id": DENY_REASON_BLOCK,
                "optional": True,
                "label": {"type": "plain_text", "text": "Reason (optional)"},
                "element": {
                    "type": "plain_text_input",
                    "action_id": DENY_REASON_ACTION,
                    "multiline": True,
                    "max_length": 500,
                },
            },
        ],
    }
