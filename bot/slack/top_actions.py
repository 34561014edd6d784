"""**Request disable** on a ``/smtp top`` row: the press opens a dialog for the reason; the
dialog, once sent, becomes a disable request through the same path as ``/smtp disable``
(rate check, live check, duplicates and limits in ``Workflow.submit``, the approval card).

Both steps are intake rows like every acknowledged interaction: the press is stored and the
dialog opened on this process (Slack's trigger lasts 3 s); the submission is checked against
the config, stored, then acknowledged, and the request is made after the ack.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any

from bot.commands import grammar
from bot.commands.access import AccessDenied, Origin
from bot.errors import CommandError, UsageError
from bot.slack import slash_command
from bot.slack.answer import Answer
from bot.slack.context import SlackContext
from bot.slack.task import TOP_DIALOG, TOP_REQUEST, Task, view_key
from bot.slack.top_view import TOP_DISABLE_ACTION, TOP_REASON_ACTION, TOP_REASON_BLOCK, top_modal
from providers.targets import Scope

__all__ = [
    "TopRefused",
    "check_submission",
    "open_dialog",
    "origin_of",
    "press_task",
    "request",
    "tell",
]

log = logging.getLogger(__name__)

_NOT_OURS = "That button is not one the bot made; run /smtp top again."


class TopRefused(CommandError):
    """A submission refused in the dialog itself (shown under the reason field)."""


@dataclass(frozen=True, slots=True)
class _Where:
    actor: str
    team: str | None
    channel: str | None

    @property
    def origin(self) -> Origin:
        return Origin(self.actor, self.team, self.channel)


def origin_of(body: dict[str, Any]) -> Origin:
    user = body.get("user") or {}
    team = user.get("team_id") or (body.get("team") or {}).get("id")
    container = body.get("container") or {}
    channel = container.get("channel_id") or (body.get("channel") or {}).get("id")
    return Origin(str(user.get("id", "")), team, channel)


def disable_change(tenant: str, target: str, reason: str | None = None) -> grammar.Change:
    """The disable a button or dialog stands for, checked by the command grammar itself (a
    hostile value is refused as it would be typed); exactly one mailbox or account."""
    if not tenant or not target or any(ch.isspace() for ch in tenant + target):
        raise UsageError(_NOT_OURS)
    text = f"disable {tenant} {target}"
    if reason is not None:
        text += f" --reason {reason}"
    parsed = grammar.parse(text)
    if (
        not isinstance(parsed, grammar.Change)
        or len(parsed.targets) != 1
        or parsed.targets[0].scope not in (Scope.MAILBOX, Scope.ACCOUNT)
        or parsed.duration is not None
    ):
        raise UsageError(_NOT_OURS)
    return parsed


def press_task(body: dict[str, Any], action: dict[str, Any]) -> Task:
    """The press as a stored task (dedupe key: this one press)."""
    origin = origin_of(body)
    trigger, action_ts = body.get("trigger_id"), action.get("action_ts")
    key = f"press:{trigger}:{action_ts}:{TOP_DISABLE_ACTION}"[:300] if trigger else None
    args = {
        "actor": origin.user,
        "team": origin.team,
        "channel": origin.channel,
        "trigger_id": trigger,
        "value": str(action.get("value", ""))[:600],
    }
    return Task(TOP_DIALOG, args, key=key)


def _check(rt: SlackContext, change: grammar.Change, origin: Origin) -> None:
    """What /smtp disable checks before its ack: workspace, tenant, channel, back end."""
    rt.access.check_team(origin)
    rt.tenants.get(change.tenant)
    rt.access.check_channel(change.tenant, origin)
    rt.service.precheck(change)


def tell(rt: SlackContext, origin: Origin, text: str) -> None:
    """An answer only the presser sees: ephemeral where the row was shown, else a DM."""
    if origin.channel:
        rt.cards.tell(origin.channel, origin.user, text)
    else:
        rt.client.chat_postMessage(channel=origin.user, text=text)


def open_dialog(rt: SlackContext, task: Task) -> None:
    """After the press's ack: refuse at once if the presser may not request on that tenant,
    else open the dialog that asks for the reason."""
    args = task.args
    where = _Where(str(args["actor"]), args.get("team"), args.get("channel"))
    tenant, _, target = str(args.get("value", "")).partition(" ")
    try:
        change = disable_change(tenant, target)
        _check(rt, change, where.origin)
        if not rt.tenants.policy(change.tenant).may_request(where.actor, rt.membership):
            raise AccessDenied(f"You are not allowed to request changes for {change.tenant}.")
    except AccessDenied as exc:
        rt.access.refuse(where.origin, tenant=tenant or None, problem=str(exc))
        tell(rt, where.origin, f":no_entry: {exc}")
        return
    except CommandError as exc:  # UsageError too
        tell(rt, where.origin, f":warning: {exc}")
        return
    key = change.targets[0].key()
    command = f"/smtp disable {change.tenant} {key} --reason …"
    if not args.get("trigger_id"):
        tell(rt, where.origin, f":warning: Slack sent no dialog trigger; use `{command}`.")
        return
    try:
        rt.client.views_open(
            trigger_id=str(args["trigger_id"]), view=top_modal(change.tenant, key, where.channel)
        )
    except Exception as exc:
        log.warning("could not open the Request disable dialog: %s", type(exc).__name__)
        tell(rt, where.origin, f":warning: The dialog did not open; use `{command}`.")


def check_submission(rt: SlackContext, body: dict[str, Any], view: dict[str, Any]) -> Task:
    """Before the submission's ack: the dialog's target and reason, checked like a typed
    command (config only). Raises TopRefused with what to show in the dialog."""
    try:
        meta = json.loads(str(view.get("private_metadata") or ""))
        if not isinstance(meta, dict):
            raise ValueError("not an object")
        tenant, target = str(meta.get("tenant") or ""), str(meta.get("target") or "")
        channel = meta.get("channel") if isinstance(meta.get("channel"), str) else None
    except ValueError:
        raise TopRefused(_NOT_OURS) from None
    origin = origin_of(body)
    origin = Origin(origin.user, origin.team, channel)
    values = (view.get("state") or {}).get("values") or {}
    reason = ((values.get(TOP_REASON_BLOCK) or {}).get(TOP_REASON_ACTION) or {}).get("value")
    if not reason or not str(reason).strip():
        raise TopRefused("Give a reason: the approvers see it on the card.")
    try:
        change = disable_change(tenant, target, str(reason))
        _check(rt, change, origin)
    except CommandError as exc:
        raise TopRefused(str(exc)) from None
    args = {
        "actor": origin.user,
        "team": origin.team,
        "channel": channel,
        "tenant": change.tenant,
        "target": change.targets[0].key(),
        "reason": change.reason,
    }
    return Task(TOP_REQUEST, args, key=view_key(view))


def request(rt: SlackContext, task: Task) -> None:
    """After the submission's ack: the disable request, stored once per submission (the
    intake row's ID), answered to the presser only."""
    args = task.args
    actor, channel = str(args["actor"]), args.get("channel")
    respond = Answer(
        None,
        client=lambda: rt.client,
        user=actor,
        channel=channel,
        received_at=task.received_at,
        attempt=task.attempt,
    )
    try:
        change = disable_change(str(args["tenant"]), str(args["target"]), str(args["reason"]))
    except CommandError as exc:
        respond(response_type="ephemeral", text=f":warning: {exc}")
        return
    command = {"user_id": actor, "team_id": args.get("team"), "channel_id": channel}
    slash_command.request_change(rt, change, command, respond=respond, intake_id=task.intake_id)
