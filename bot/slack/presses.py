"""Approve, Deny (with the reason dialog) and Cancel: from the card, App Home or /smtp."""

from __future__ import annotations

import logging

from approvals import RequestView, WorkflowError
from bot.slack.context import SlackContext
from bot.slack.replies import repeated_approval
from bot.slack.task import Press
from bot.slack.views import deny_modal, escape, mention

__all__ = [
    "approve",
    "cancel",
    "cancel_press",
    "deny",
    "show_denial",
    "open_deny_dialog",
    "tell",
]

log = logging.getLogger(__name__)


def tell(rt: SlackContext, press: Press, text: str) -> None:
    """An answer only the presser sees: ephemeral on the card, or a notice in App Home."""
    if press.from_home:
        rt.home.publish(press.actor, notice=text)
    elif press.channel:
        rt.cards.tell(press.channel, press.actor, text)


def approve(rt: SlackContext, press: Press, *, retry: bool = False) -> None:
    """Count the approval. ``retry``: this press is carried out again after a crash, so an
    approval of the presser's that is already stored is this press's own, not a second one."""
    try:
        outcome = rt.workflow.approve(press.request_id, actor=press.actor)
    except WorkflowError as exc:
        if not (retry and _approved_by(rt, press)):
            tell(rt, press, f":no_entry: {exc}")
        return
    if outcome.repeated and not retry:
        tell(rt, press, repeated_approval(outcome))
        return
    rt.cards.update(outcome.view)  # the execute job is queued; a worker picks it up at once
    if press.from_home:
        rt.home.publish(press.actor, notice=f"You approved request #{press.request_id}.")


def _approved_by(rt: SlackContext, press: Press) -> bool:
    try:
        return press.actor in rt.workflow.get(press.request_id).approvers
    except WorkflowError:
        return False


def open_deny_dialog(rt: SlackContext, press: Press) -> None:
    """Refuse at once if the presser may not deny; else ask for an optional reason."""
    try:
        view = rt.workflow.get(press.request_id)
    except WorkflowError as exc:
        tell(rt, press, f":no_entry: {exc}")
        return
    problem = rt.workflow.check_decider(view, press.actor)
    if problem is not None:
        try:  # record the refusal through the workflow's own check
            rt.workflow.deny(press.request_id, actor=press.actor)
        except WorkflowError as exc:
            tell(rt, press, f":no_entry: {exc}")
        return
    if not press.trigger_id:
        deny(rt, press.actor, press.request_id, note=None)
        return
    try:
        rt.client.views_open(trigger_id=press.trigger_id, view=deny_modal(view))
    except Exception as exc:  # the dialog is a nicety: deny without a reason instead
        log.warning("could not open the deny dialog: %s", type(exc).__name__)
        deny(rt, press.actor, press.request_id, note=None)


def deny(rt: SlackContext, actor: str, request_id: int, note: str | None) -> RequestView:
    """Deny and tell the requester in the card's thread. Raises WorkflowError."""
    view = rt.workflow.deny(request_id, actor=actor, note=note)
    return show_denial(rt, view, actor, note)


def show_denial(rt: SlackContext, view: RequestView, actor: str, note: str | None) -> RequestView:
    """A recorded denial on the card and in its thread."""
    rt.cards.update(view)
    because = f": {escape(note)}" if note else ""
    rt.cards.reply(
        view,
        f"{mention(view.request.requester)} request #{view.id} was denied by "
        f"{mention(actor)}{because}",
    )
    return view


def cancel(rt: SlackContext, actor: str, request_id: int) -> RequestView:
    """The requester withdraws a pending request. Raises WorkflowError."""
    view = rt.workflow.cancel(request_id, actor=actor)
    rt.cards.update(view)
    rt.cards.reply(view, f"Request #{view.id} was cancelled by {mention(actor)}.")
    return view


def cancel_press(rt: SlackContext, press: Press) -> None:
    """The Cancel button, on the card or in App Home."""
    try:
        cancel(rt, press.actor, press.request_id)
    except WorkflowError as exc:
        tell(rt, press, f":no_entry: {exc}")
        return
    if press.from_home:
        rt.home.publish(press.actor, notice=f"Request #{press.request_id} is cancelled.")
