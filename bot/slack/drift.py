"""Drift in Slack: telling people once that what the bot applied no longer holds, and the
Re-apply button that asks for the same change again.

Which targets drifted, and that each drift is told once, is decided in the database
(``approvals.drift``); this module says it: one message per request in the card's thread and
one in the tenant's channel, each with a **Re-apply** button. A press is stored like every
other interaction (intake) and carried out as a normal change request: the same verb and the
drifted targets, through ``/smtp``'s own submit path (who may request, limits, duplicates,
the card and its approvals)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from approvals import RequestView, Workflow, WorkflowError
from approvals.drift import DriftWatches, Watch
from bot.commands import grammar
from bot.commands.access import AccessDenied, Origin
from bot.slack import presses, slash_command
from bot.slack.answer import Answer
from bot.slack.context import SlackContext
from bot.slack.task import Press
from bot.slack.views import escape, when
from providers.drift import differences
from providers.errors import InvalidTarget
from providers.targets import Target, Verb

__all__ = ["REAPPLY_ACTION", "DriftNotices", "drift_message", "reapply", "reapply_reason"]

log = logging.getLogger(__name__)

REAPPLY_ACTION = "smtp_reapply"
_SHOWN = 20  # target lines per message; the rest are counted
_SECTION_LIMIT = 2900


def reapply_reason(request_id: int) -> str:
    return f"re-apply #{request_id} after drift"


class DriftNotices:
    """Posts each new drift once: in the card's thread and in the tenant's channel."""

    def __init__(
        self,
        client: WebClient,
        workflow: Workflow,
        watches: DriftWatches,
        *,
        channel_of: Callable[[str], str | None],
    ) -> None:
        self.client = client
        self.workflow = workflow
        self.watches = watches
        self.channel_of = channel_of  # tenant → its configured channel, if any

    def post_pending(self, tenants: Iterable[str]) -> int:
        """Tell about every drift not told yet, one message per request; returns how many
        requests were told about. A notice that reached neither place is tried again."""
        groups: dict[int, list[Watch]] = {}
        for watch in self.watches.pending_notices(tenants):
            groups.setdefault(watch.request_id, []).append(watch)
        told = 0
        for request_id, group in groups.items():
            claimed = self.watches.claim_notices(group)
            if not claimed:
                continue  # another process tells about these
            ids = [w.id for w in claimed]
            try:
                landed = self._post(self.workflow.get(request_id), claimed)
            except Exception:
                self.watches.release_notices(ids)
                raise
            if landed is None:  # no card and no channel: the audit trail is all there is
                log.warning("drift on request %s: no card or channel to post in", request_id)
                self.watches.noticed(ids)
            elif landed:
                self.watches.noticed(ids)
                told += 1
            else:
                self.watches.release_notices(ids)
        return told

    def _post(self, view: RequestView, watches: Sequence[Watch]) -> int | None:
        """How many of the two posts landed; None when there is nowhere to post."""
        text, blocks = drift_message(view, watches)
        req = view.request
        channel = self._channel(req.tenant) or req.card_channel
        if not channel and not req.card_ref:
            return None
        landed = 0
        if req.card_channel and req.card_ref:
            landed += self._send(req.card_channel, text, blocks, thread_ts=req.card_ref)
        if channel:
            landed += self._send(channel, text, blocks)
        return landed

    def _channel(self, tenant: str) -> str | None:
        try:
            return self.channel_of(tenant)
        except Exception:  # a tenant removed from the config: its card's channel is told
            return None

    def _send(
        self, channel: str, text: str, blocks: list[dict[str, Any]], thread_ts: str | None = None
    ) -> int:
        try:
            self.client.chat_postMessage(
                channel=channel, text=text, blocks=blocks, thread_ts=thread_ts
            )
        except (SlackApiError, OSError) as exc:
            error = exc.response.get("error") if isinstance(exc, SlackApiError) else None
            log.warning("could not post a drift notice in %s: %s", channel, error or exc)
            return 0
        return 1


def drift_message(view: RequestView, watches: Sequence[Watch]) -> tuple[str, list[dict[str, Any]]]:
    """The notice: what changed (expected and now), when each target last read right, and
    the Re-apply button. One section of lines, a context line, the button: 3 blocks."""
    req = view.request
    applied = {t.target: t.message or "" for t in view.targets}
    count = len(watches)
    head = (
        f":rotating_light: *Drift on `{escape(req.tenant)}`*: what request #{view.id} "
        f"({escape(req.verb)}) applied no longer holds on {count} target"
        f"{'' if count == 1 else 's'}; it was changed outside the bot."
    )
    lines, size, shown = [head], len(head), 0
    for watch in watches[:_SHOWN]:
        line = _line(watch, applied.get(watch.target, ""))
        if size + len(line) + 1 > _SECTION_LIMIT - 40:  # room left for the count below
            break
        lines.append(line)
        size += len(line) + 1
        shown += 1
    if count > shown:
        lines.append(f"… and {count - shown} more")
    body = "\n".join(lines)
    note = (
        "*Re-apply* opens a new request for the same change on these targets; it needs "
        "approval like any other."
    )
    button = {
        "type": "button",
        "action_id": REAPPLY_ACTION,
        "text": {"type": "plain_text", "text": "Re-apply"},
        "value": str(view.id),
    }
    blocks: list[dict[str, Any]] = [
        {"type": "section", "text": {"type": "mrkdwn", "text": body}},
        {"type": "context", "elements": [{"type": "mrkdwn", "text": note}]},
        {"type": "actions", "block_id": f"drift_{view.id}", "elements": [button]},
    ]
    fallback = f"Drift on {req.tenant}: request #{view.id} no longer holds on {count} target(s)"
    return fallback, blocks


def _line(watch: Watch, applied: str) -> str:
    observed = watch.observed or {}
    facts = observed.get("facts") if isinstance(observed.get("facts"), dict) else {}
    summary = str(observed.get("summary") or "")
    changed = ", ".join(str(d) for d in differences(watch.expected, facts or {}))
    label = "the whole tenant" if watch.target == "*" else f"`{escape(watch.target)}`"
    expected = escape(applied) if applied else "as applied"
    now_text = escape(summary) if summary else "otherwise"
    seen = when(watch.seen_right_at) if watch.seen_right_at else "never"
    detail = f" (`{escape(changed)}`)" if changed else ""
    return f"• {label}: expected _{expected}_, now _{now_text}_{detail}; last seen right {seen}"


# --- the Re-apply button ---------------------------------------------------------------------


def reapply(
    rt: SlackContext,
    press: Press,
    *,
    intake_id: int | None,
    received_at: datetime | None = None,
    attempt: int = 1,
) -> None:
    """Ask for the drifted request's change again, as the presser, through the normal path:
    the presser must be allowed to request, and the new request needs its approvals."""
    try:
        original = rt.workflow.get(press.request_id)
    except WorkflowError as exc:
        presses.tell(rt, press, f":no_entry: {exc}")
        return
    req = original.request
    origin = Origin(press.actor, None, press.channel)
    if press.channel not in (req.card_channel, _tenant_channel(rt, req.tenant)):
        try:
            rt.access.check_channel(req.tenant, origin)
        except AccessDenied as exc:
            presses.tell(rt, press, f":no_entry: {exc}")
            return
    again = rt.workflow.by_intake(intake_id) if intake_id is not None else None
    if again is not None:  # carried out again after a crash: that request is this press's
        keys = [t.target for t in again.targets]
    else:
        keys = [
            w.target for w in DriftWatches(rt.workflow.db, rt.workflow.now).drifted(req.id or 0)
        ]
    if not keys:
        presses.tell(
            rt,
            press,
            f"Nothing to re-apply: every target of request #{original.id} reads as applied "
            "again, or a later change replaced it.",
        )
        return
    try:
        change = grammar.Change(
            verb=Verb(req.verb),
            tenant=req.tenant,
            targets=tuple(Target.from_key(k) for k in keys),
            reason=reapply_reason(original.id),
            duration=_remaining(req.revert_at, rt.workflow.now()),
        )
    except (ValueError, InvalidTarget) as exc:
        presses.tell(rt, press, f":warning: Request #{original.id} cannot be re-applied: {exc}")
        return
    respond = Answer(
        None,
        client=lambda: rt.client,
        user=press.actor,
        channel=press.channel,
        received_at=received_at,
        attempt=attempt,
    )
    command = {"user_id": press.actor, "channel_id": press.channel, "team_id": None}
    slash_command.run(rt, change, command, respond=respond, intake_id=intake_id)


def _tenant_channel(rt: SlackContext, tenant: str) -> str | None:
    try:
        return rt.tenants.get(tenant).channel
    except Exception:
        return None


def _remaining(revert_at: datetime | None, now: datetime) -> timedelta | None:
    """A timed change re-applied keeps its end: the time left, in whole minutes."""
    if revert_at is None or revert_at <= now:
        return None
    minutes = -(-(revert_at - now) // timedelta(minutes=1))
    return timedelta(minutes=max(1, minutes))
