"""``/smtp usage`` after the ack: read, answer only the caller, and, on the button, store
the one request the answer offered (org-wide disable, keeping the listed mailboxes allowed).

The press is durable like every interaction (stored in the intake table before the ack; a
retried row finds the request it stored). The presser must be the person the answer was
for and allowed to request changes for the tenant; every mailbox is checked live again
before the request is stored, as for any change.
"""

from __future__ import annotations

import logging
from typing import Any

from approvals import RequestView, WorkflowError
from approvals.errors import DuplicateRequest
from bot.commands import grammar
from bot.commands.access import AccessDenied, Origin
from bot.commands.reachable import check_reachable
from bot.errors import CommandError
from bot.slack.answer import Answer
from bot.slack.context import SlackContext
from bot.slack.http_client import Responder
from bot.slack.mrkdwn import escape
from bot.slack.slash_command import post_card, say_waiting
from bot.slack.task import Task
from bot.slack.usage_view import usage_message
from providers import ProviderError, Target

__all__ = ["answer_usage", "request_offer", "tell"]

log = logging.getLogger(__name__)


def answer_usage(
    rt: SlackContext, parsed: grammar.Usage, respond: Responder, origin: Origin
) -> None:
    """Read the usage (one counted read) and answer the caller alone, with the offer."""
    try:
        rt.usage.precheck(parsed)
        rt.access.admit_read(origin, tenant=parsed.tenant, targets=1)
        may = rt.tenants.policy(parsed.tenant).may_request(origin.user, rt.membership)
        answer = rt.usage.read(parsed, offered_to=origin.user, may_request=may)
    except (CommandError, WorkflowError) as exc:
        respond(response_type="ephemeral", text=f":warning: {escape(str(exc))}")
        return
    text, blocks = usage_message(answer)
    respond(response_type="ephemeral", text=text, blocks=blocks)


def _answer(rt: SlackContext, task: Task) -> Answer:
    args = task.args
    return Answer(
        args.get("response_url"),
        client=lambda: rt.client,
        user=str(args["actor"]),
        channel=args.get("channel"),
        received_at=task.received_at,
        attempt=task.attempt,
    )


def tell(rt: SlackContext, task: Task, text: str) -> None:
    """An answer to the presser alone (an unexpected failure, a gave-up row)."""
    _answer(rt, task)(response_type="ephemeral", text=text)


def request_offer(rt: SlackContext, task: Task) -> None:
    """The button: store the offered request (once), post its card, tell the presser."""
    args: dict[str, Any] = task.args
    actor, offer_id = str(args["actor"]), int(args["offer_id"])
    respond = _answer(rt, task)
    view = rt.workflow.by_intake(task.intake_id) if task.intake_id is not None else None
    if view is None:
        view = _submit(rt, actor, offer_id, args, respond, task.intake_id)
        if view is None:
            return
    tenant = rt.tenants.get(view.request.tenant)
    channel = view.request.card_channel or tenant.channel or args.get("channel") or actor
    if view.request.card_ref is None:
        post_card(rt, view, channel, respond, notify=tenant.notify_approvers)
        return
    say_waiting(view, channel, respond)


def _submit(
    rt: SlackContext,
    actor: str,
    offer_id: int,
    args: dict[str, Any],
    respond: Responder,
    intake_id: int | None,
) -> RequestView | None:
    """Store the offered request, or answer why not (None): the offer must be the presser's
    and current, the channel and rate allowed, every target still there, and someone other
    than the presser able to approve."""
    origin = Origin(actor, args.get("team"), args.get("channel"))
    try:
        offer = rt.workflow.proposals.check(offer_id, actor=actor)
    except WorkflowError as exc:
        respond(response_type="ephemeral", text=f":no_entry: {escape(str(exc))}")
        return None
    try:
        rt.access.check_channel(offer.tenant, origin)
        rt.access.check_rate(origin)
    except AccessDenied as exc:
        rt.access.refuse(origin, tenant=offer.tenant, problem=str(exc))
        respond(response_type="ephemeral", text=f":no_entry: {escape(str(exc))}")
        return None
    try:
        _live_check(rt, offer.tenant, [Target.from_key(k) for k in offer.target_keys])
        config = rt.tenants.get(offer.tenant)
        check_reachable(
            tenant=offer.tenant,
            approvers=config.approvers,
            needed=config.policy().required_for(tenant_wide=True),
            requester=actor,
            members=rt.membership.members,
            tenant_wide=True,
        )
        return rt.workflow.submit(
            tenant=offer.tenant,
            verb=offer.verb,
            targets=offer.target_keys,
            target_verbs=offer.target_verbs,
            reason=offer.reason,
            requester=actor,
            tenant_wide=offer.tenant_wide,
            intake_id=intake_id,
            limit=rt.access.request_limit,
            proposal_id=offer.id,
        )
    except (CommandError, WorkflowError) as exc:
        if isinstance(exc, CommandError):  # the workflow records its own refusals
            rt.workflow.refuse_input(
                actor=actor, tenant=offer.tenant, verb=offer.verb, problem=str(exc)
            )
        text = f":warning: {escape(str(exc))}"
        if isinstance(exc, DuplicateRequest) and exc.card_channel and exc.card_ref:
            text += "\n" + rt.notifier.permalink(exc.card_channel, exc.card_ref)
        respond(response_type="ephemeral", text=text)
        return None


def _live_check(rt: SlackContext, tenant: str, targets: list[Target]) -> None:
    """Every mailbox (and the organisation) must still resolve, as for any change."""
    try:
        results = rt.tenants.provider(tenant).check_targets(targets)
    except ProviderError as exc:
        raise CommandError(f"Could not check the targets: {exc.user_message}") from None
    problems = [r for r in results if not r.ok]
    if problems:
        lines = [f"• `{r.target}`: {r.message}" for r in problems[:20]]
        if len(problems) > 20:
            lines.append(f"• … and {len(problems) - 20} more")
        raise CommandError("Nothing was requested:\n" + "\n".join(lines))
