"""Carrying out ``/smtp`` commands after the ack: status reads, change requests, lists,
history and cancel. Refusals are answered to the person; nothing here raises to Bolt."""

from __future__ import annotations

import logging
from typing import Any

from approvals import RequestView, WorkflowError
from approvals.errors import DuplicateRequest
from bot.commands import grammar
from bot.commands.access import AccessDenied, Origin
from bot.commands.messages import help_text
from bot.commands.reachable import check_reachable
from bot.errors import CommandError
from bot.slack import presses
from bot.slack.context import SlackContext
from bot.slack.history import history_text, requests_of
from bot.slack.http_client import Responder
from bot.slack.labels import related_prefixes
from bot.slack.queue_view import queue_text
from bot.slack.reports import pending_text, policy_text
from bot.slack.slack_errors import classify
from bot.slack.top_command import answer_top
from bot.slack.views import escape
from providers.targets import Target

__all__ = ["post_card", "request_change", "run", "say_waiting"]

log = logging.getLogger(__name__)


def run(
    rt: SlackContext,
    parsed: grammar.Command,
    command: dict[str, Any],
    *,
    respond: Responder,
    intake_id: int | None = None,
) -> None:
    """Runs after the ack for commands that need the database or a back end. ``intake_id``:
    the stored command this is, so that carrying it out again finds what it did before."""
    actor = command["user_id"]
    if isinstance(parsed, grammar.Help):
        origin = Origin(actor, command.get("team_id"), command.get("channel_id"))
        tenants, verbs = _visible(rt, origin)
        respond(response_type="ephemeral", text=help_text(tenants, parsed.verb, verbs))
    elif isinstance(parsed, grammar.Status):
        _status(
            rt, parsed, respond, Origin(actor, command.get("team_id"), command.get("channel_id"))
        )
    elif isinstance(parsed, grammar.Queue):
        origin = Origin(actor, command.get("team_id"), command.get("channel_id"))
        _queue(rt, parsed, respond, origin)
    elif isinstance(parsed, grammar.Top):
        answer_top(
            rt, parsed, respond, Origin(actor, command.get("team_id"), command.get("channel_id"))
        )
    elif isinstance(parsed, grammar.Change):
        _change(rt, parsed, command, respond, intake_id)

    elif isinstance(parsed, grammar.ListRequests):
        origin = Origin(actor, command.get("team_id"), command.get("channel_id"))
        views, active = _listed(rt, parsed.tenant, origin)
        respond(response_type="ephemeral", text=pending_text(views, parsed.tenant, active))
    elif isinstance(parsed, grammar.History):
        target = parsed.target.key() if parsed.target else None
        events = rt.workflow.history(
            tenant=parsed.tenant,
            target=target,
            limit=parsed.limit,
            target_prefixes=related_prefixes(target),
        )
        about = requests_of(rt.workflow, events)
        respond(response_type="ephemeral", text=history_text(events, parsed.tenant, target, about))
    elif isinstance(parsed, grammar.Cancel):
        try:
            presses.cancel(rt, actor, parsed.request_id)
        except WorkflowError as exc:
            respond(response_type="ephemeral", text=f":no_entry: {escape(str(exc))}")
            return
        respond(response_type="ephemeral", text=f"Request #{parsed.request_id} is cancelled.")


def _listed(
    rt: SlackContext, tenant: str | None, origin: Origin
) -> tuple[list[RequestView], list[RequestView]]:
    """Pending requests and timed restrictions of the tenants whose ``channels`` allowlist
    admits this channel (a named tenant was checked before the ack)."""
    views = rt.workflow.pending(tenant)
    active = rt.workflow.active_restrictions(tenant)
    shown = [v for v in views if rt.access.may_list(v.request.tenant, origin)]
    return shown, [v for v in active if rt.access.may_list(v.request.tenant, origin)]


def _visible(rt: SlackContext, origin: Origin) -> tuple[list[str], set[str]]:
    """The tenants the caller may use from this channel, and the verbs those tenants offer."""
    tenants: list[str] = []
    verbs: set[str] = set()
    for name in rt.tenants.names:
        policy = rt.tenants.policy(name)
        if not rt.access.channel_allowed(name, origin.channel):
            continue
        member = rt.membership
        if not (policy.may_request(origin.user, member) or policy.may_approve(origin.user, member)):
            continue
        tenants.append(name)
        verbs |= {verb.value for _scope, verb in rt.tenants.provider(name).capabilities()}
    return tenants, verbs


def _status(rt: SlackContext, parsed: grammar.Status, respond: Responder, origin: Origin) -> None:
    try:
        rt.service.precheck(parsed)  # a read the config refuses is not counted
        rt.access.admit_read(origin, tenant=parsed.tenant, targets=len(parsed.targets))
        report = rt.service.status(parsed)
    except (CommandError, WorkflowError) as exc:
        respond(response_type="ephemeral", text=f":warning: {escape(str(exc))}")
        return
    if parsed.policy:
        respond(response_type="ephemeral", text=policy_text(report))
        return
    lines = [f"*Live state on `{parsed.tenant}`:*"]
    for result in report.results[:40]:
        mark = ":white_check_mark:" if result.ok else ":warning:"
        lines.append(f"{mark} `{escape(str(result.target))}`: {escape(result.message)}")
    if len(report.results) > 40:
        lines.append(f"… and {len(report.results) - 40} more")
    respond(response_type="ephemeral", text="\n".join(lines))


def _queue(rt: SlackContext, parsed: grammar.Queue, respond: Responder, origin: Origin) -> None:
    """A live read like status: answered to the caller only, no approval."""
    try:
        rt.service.precheck(parsed)
        rt.access.admit_read(origin, tenant=parsed.tenant, targets=1)
        report = rt.service.queue(parsed)
    except (CommandError, WorkflowError) as exc:
        respond(response_type="ephemeral", text=f":warning: {escape(str(exc))}")
        return
    respond(response_type="ephemeral", text=queue_text(parsed.tenant, report))


def request_change(
    rt: SlackContext,
    parsed: grammar.Change,
    command: dict[str, Any],
    *,
    respond: Responder,
    intake_id: int | None,
) -> None:
    """A change request from elsewhere than the command line (``/smtp top``'s dialog): the
    same rate check, live check, workflow submit (duplicates, limits) and card as a command."""
    _change(rt, parsed, command, respond, intake_id)


def _change(
    rt: SlackContext,
    parsed: grammar.Change,
    command: dict[str, Any],
    respond: Responder,
    intake_id: int | None,
) -> None:
    view = rt.workflow.by_intake(intake_id) if intake_id is not None else None
    if view is None:
        view = _submit(rt, parsed, command, respond, intake_id)
        if view is None:
            return
    tenant = rt.tenants.get(parsed.tenant)
    channel = view.request.card_channel or tenant.channel or command["channel_id"]
    if view.request.card_ref is None:
        post_card(rt, view, channel, respond, notify=tenant.notify_approvers)
        return
    say_waiting(view, channel, respond)  # carried out again: the card was posted before


def _submit(
    rt: SlackContext,
    parsed: grammar.Change,
    command: dict[str, Any],
    respond: Responder,
    intake_id: int | None,
) -> RequestView | None:
    """Store the request, or answer why not (None)."""
    actor = command["user_id"]
    origin = Origin(actor, command.get("team_id"), command.get("channel_id"))
    try:
        rt.access.check_rate(origin)
    except AccessDenied as exc:
        rt.access.refuse(origin, tenant=parsed.tenant, problem=str(exc))
        respond(response_type="ephemeral", text=f":no_entry: {escape(str(exc))}")
        return None
    try:
        _check_reachable(rt, parsed, actor)
        return rt.service.submit(
            parsed, requester=actor, intake_id=intake_id, limit=rt.access.request_limit
        )
    except (CommandError, WorkflowError) as exc:
        if isinstance(exc, CommandError):  # the workflow records its own refusals
            rt.workflow.refuse_input(
                actor=actor, tenant=parsed.tenant, verb=parsed.verb.value, problem=str(exc)
            )
        text = f":warning: {escape(str(exc))}"
        if isinstance(exc, DuplicateRequest) and exc.card_channel and exc.card_ref:
            text += "\n" + rt.notifier.permalink(exc.card_channel, exc.card_ref)
        respond(response_type="ephemeral", text=text)
        return None


def post_card(
    rt: SlackContext, view: RequestView, channel: str, respond: Responder, *, notify: bool
) -> None:
    try:
        rt.cards.post(view, channel)
    except Exception as exc:
        failure = classify(exc)
        log.warning("could not post card for request %s: %s", view.id, failure.error)
        if not failure.permanent:  # Slack may yet have posted it: the housekeeper finds it
            text = (
                f":hourglass: Request #{view.id} is stored. Slack did not answer when its "
                f"approval card was posted in <#{channel}> ({failure.error}); the bot finds "
                "the card or posts it again within a few minutes, without a new request."
            )
        else:
            text = (
                f":warning: Request #{view.id} is stored, but its approval card could not be "
                f"posted in <#{channel}> ({failure.error}). Invite the bot there, or "
                "approve it with the CLI. It expires if nobody decides."
            )
        respond(response_type="ephemeral", text=text)
        return
    say_waiting(view, channel, respond)
    if notify:
        tenant = view.request.tenant
        rt.notifier.notify(rt.workflow.get(view.id), rt.tenants.policy(tenant).approvers)


def say_waiting(view: RequestView, channel: str, respond: Responder) -> None:
    request = view.request
    respond(
        response_type="ephemeral",
        text=(
            f"Request #{view.id} ({request.verb} on `{request.tenant}`) is waiting for "
            f"approval in <#{channel}>."
        ),
    )


def _check_reachable(rt: SlackContext, parsed: grammar.Change, requester: str) -> None:
    """Refuse a request that nobody but the requester could approve (groups resolved)."""
    tenant = rt.tenants.get(parsed.tenant)
    tenant_wide = Target.tenant() in parsed.targets or Target.all_accounts() in parsed.targets
    check_reachable(
        tenant=parsed.tenant,
        approvers=tenant.approvers,
        needed=tenant.policy().required_for(tenant_wide=tenant_wide),
        requester=requester,
        members=rt.membership.members,
        tenant_wide=tenant_wide,
    )
