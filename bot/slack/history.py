"""Text for ``/smtp history``: the audit trail, one sentence per event, newest first.

The events are the audit trail's own (``approvals.audit``); ``SENTENCES`` is the one table
from an event's name to the sentence that says it in words: who did what to which targets,
why, and with what outcome. An event this table does not know still reads as words."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import Any

from approvals import RequestView, Workflow, WorkflowError
from approvals.models import AuditEvent, RequestStatus, TargetOutcome
from approvals.wording import no_longer_pending
from approvals.workflow_base import SYSTEM_ACTOR
from bot.config.durations import format_duration
from bot.slack.views import escape, mention

__all__ = ["SENTENCES", "event_line", "history_text", "requests_of"]

# {actor} who, {req} "#3", {change} "disable `a@x`", {verb}, {targets}, {target} the event's own
# target, {message} the back end's answer, {refusal} why it was refused, {suffix} reason/note
SENTENCES: Mapping[str, str] = {
    "requested": "{actor} requested {req}: {change}{suffix}",
    "approved": "{actor} approved {req} ({change})",
    "status_approved": "{req} ({change}) has the {approvals} approval(s) it needs; queued to run",
    "denied": "{actor} denied {req} ({change}){suffix}",
    "cancelled": "{actor} cancelled {req} ({change})",
    "expired": "{req} ({change}) expired: nobody decided in time",
    "execution_started": "the bot started {req}: {change}",
    "execution_resumed": "the bot resumed {req} ({change}) after a restart",
    "targets_expanded": "the bot listed {target} for {req}: {members} target(s), each stored "
    "with its state before any change",
    "target_succeeded": "{verb} {target} ({req}) succeeded: {message}",
    "target_failed": "{verb} {target} ({req}) failed: {message}",
    "target_skipped": "{verb} {target} ({req}) was not carried out: {message}",
    "succeeded": "{req} ({change}) succeeded on every target",
    "failed": "{req} ({change}) failed: {outcomes}",
    "gave_up": "the bot gave up on {req} ({change}) after {attempts} attempt(s): {message}",
    "revert_started": "the timed restriction of {req} ended: {revert_verb} {revert_targets}",
    "revert_succeeded": "{revert_verb} {target} (end of {req}) succeeded: {message}",
    "revert_failed": "{revert_verb} {target} (end of {req}) failed: {message}",
    "revert_cancelled": "the timed end of {req} was called off: {superseded_by} changed it later",
    "revert_gave_up": "the bot gave up ending the timed restriction of {req}: {message}; "
    "the restriction stays",
    "drift_detected": "the bot found {target} changed outside the bot since {req} ({verb}) "
    "applied it; it reads: {message}",
    "drift_resolved": "{target} holds {req} ({verb}) again: {message}",
    "refused_approve": "{actor} tried to approve {req}; refused: {refusal}",
    "refused_deny": "{actor} tried to deny {req}; refused: {refusal}",
    "refused_cancel": "{actor} tried to cancel {req}; refused: {refusal}",
    "refused_requester": "{actor} tried to {verb}; refused: not allowed to request changes here",
    "refused_input": "{actor} tried to {verb}; refused: {problem}",
    "refused_access": "{actor} was refused: {problem}",
}

# the ``reason`` codes of refused_approve / refused_deny, by step
_SUCCEEDED = TargetOutcome.SUCCEEDED.value

_REFUSALS: Mapping[str, str] = {
    "self_approval": "requester cannot {step} own request",
    "not_an_approver": "{actor_plain} is not an approver for {tenant}",
}


def requests_of(workflow: Workflow, events: Sequence[AuditEvent]) -> dict[int, RequestView]:
    """The requests the events are about, for the verb and targets most events do not carry."""
    views: dict[int, RequestView] = {}
    for request_id in {e.request_id for e in events if e.request_id is not None}:
        try:
            views[request_id] = workflow.get(request_id)
        except WorkflowError:
            continue  # not stored (any more): the line says what the event itself carries
    return views


def history_text(
    events: Sequence[AuditEvent],
    tenant: str,
    target: str | None,
    requests: Mapping[int, RequestView] | None = None,
) -> str:
    """The events (newest first, as given) as lines; ``requests`` supply the verb and
    targets of events that do not carry them."""
    about = f"`{escape(tenant)}`" + (f", `{escape(target)}`" if target else "")
    if not events:
        return f"No history for {about}."
    lines = [f"*History of {about}, newest first:*"]
    for event in events:
        view = (requests or {}).get(event.request_id) if event.request_id else None
        lines.append(f"• {event.at:%Y-%m-%d %H:%M:%S}Z {event_line(event, view)}")
    return "\n".join(lines)[:3900]


def event_line(event: AuditEvent, view: RequestView | None = None) -> str:
    """One event as a sentence."""
    fields = _fields(event, _detail(event.detail), view)
    template = SENTENCES.get(event.event)
    if template is None:
        words = event.event.replace("_", " ").strip() or "event"
        template = "{actor}: " + words + (" {req}" if event.request_id else "")
        template += " {target}" if event.target else ""
    line = template.format_map(fields)
    return line[:1].upper() + line[1:]


def _detail(raw: str | None) -> dict[str, Any]:
    if not raw:
        return {}
    try:
        value = json.loads(raw)
    except ValueError:
        return {"message": raw}
    return value if isinstance(value, dict) else {"message": str(value)}


def _fields(event: AuditEvent, detail: dict[str, Any], view: RequestView | None) -> dict[str, str]:
    req = view.request if view is not None else None
    verb = str(detail.get("verb") or (req.verb if req else "") or "change")
    keys = detail.get("targets") if event.event == "requested" else None
    if not isinstance(keys, list):
        keys = [t.target for t in view.targets] if view is not None else []
    targets = _targets(keys) if keys else (_label(event.target) if event.target else "")
    change = f"{verb} {targets}".strip()
    revert_verb = str(detail.get("verb") or (req.revert_verb if req else "") or "undo")
    if event.event.startswith("revert_"):
        verb = revert_verb
    revert_keys = detail.get("targets") if event.event == "revert_started" else None
    superseded = detail.get("superseded_by")
    return {
        "actor": "the bot" if event.actor == SYSTEM_ACTOR else mention(event.actor),
        "req": f"#{event.request_id}" if event.request_id else "a request",
        "verb": verb,
        "targets": targets,
        "change": change,
        "target": _label(event.target) if event.target else targets,
        "message": escape(str(detail.get("message") or detail.get("error") or "no detail")),
        "problem": escape(str(detail.get("problem") or "no reason recorded")),
        "refusal": _refusal(event, detail),
        "suffix": _suffix(event.event, detail),
        "approvals": str(detail.get("approvals", "")),
        "attempts": str(detail.get("attempts", "?")),
        "members": str(detail.get("members", "?")),
        "outcomes": _outcomes(view),
        "revert_verb": revert_verb,
        "revert_targets": _targets(revert_keys) if isinstance(revert_keys, list) else targets,
        "superseded_by": f"#{superseded}" if superseded else "a later request",
    }


def _refusal(event: AuditEvent, detail: dict[str, Any]) -> str:
    step = event.event.removeprefix("refused_")
    code = str(detail.get("reason") or "")
    if code == "not_pending" and event.request_id:
        sentence = no_longer_pending(event.request_id, str(detail.get("status", "")))
        return sentence.removeprefix("Request ").rstrip(".")
    if code in _REFUSALS:
        return _REFUSALS[code].format(
            step=step, actor_plain=event.actor, tenant=escape(event.tenant or "this tenant")
        )
    if step == "cancel" and not code:
        return "only the requester can cancel a request"
    return code.replace("_", " ") or "no reason recorded"


def _suffix(name: str, detail: dict[str, Any]) -> str:
    if name == "requested":
        text = ""
        seconds = detail.get("revert_after_s")
        if isinstance(seconds, int) and seconds > 0:
            text += f" for {format_duration(timedelta(seconds=seconds))}"
        reason = detail.get("reason")
        return text + (f"; reason: {escape(str(reason))}" if reason else "; no reason given")
    if name == "denied" and detail.get("note"):
        return f": {escape(str(detail['note']))}"
    return ""


def _outcomes(view: RequestView | None) -> str:
    """``1 of 2 targets succeeded (`a@x`), 1 failed (`b@x`)`` from the stored outcomes."""
    if view is None or view.status not in (RequestStatus.SUCCEEDED, RequestStatus.FAILED):
        return "see the target lines"
    ok = [t.target for t in view.targets if t.outcome == _SUCCEEDED]
    bad = [t.target for t in view.targets if t.outcome != _SUCCEEDED]
    text = f"{len(ok)} of {len(view.targets)} target(s) succeeded"
    if ok:
        text += f" ({_targets(ok)})"
    return text + f", {len(bad)} failed ({_targets(bad)})"


def _targets(keys: Sequence[object], shown: int = 5) -> str:
    labels = [_label(str(k)) for k in keys[:shown]]
    more = f" and {len(keys) - shown} more" if len(keys) > shown else ""
    return ", ".join(labels) + more


def _label(key: str) -> str:
    if key == "account:*":
        return "every account on the server"
    return "the whole server" if key == "*" else f"`{escape(key)}`"
