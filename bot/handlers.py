"""Slack listeners: the ``/smtp`` command and the approval buttons.

Every listener acknowledges first (Slack wants an answer within 3 s) and does slow work after
the ack, on Bolt's listener thread pool. Input that fails validation is answered in the ack.
"""

from __future__ import annotations

import logging
import uuid
from typing import TYPE_CHECKING, Any

from slack_bolt import Ack, App, Respond

from approvals import WorkflowError
from bot import grammar
from bot.errors import CommandError, UsageError
from bot.messages import help_text, usage_for
from bot.views import APPROVE_ACTION, DENY_ACTION, escape, mention
from providers import CHANGE_VERBS

if TYPE_CHECKING:
    from bot.app import Runtime

__all__ = ["register"]

log = logging.getLogger(__name__)


def _oops(respond: Respond) -> None:
    ref = uuid.uuid4().hex[:8]
    log.exception("unexpected error (reference %s)", ref)
    respond(
        response_type="ephemeral",
        text=f":boom: Something went wrong on our side (reference `{ref}`). Nothing was changed.",
    )


def register(app: App, rt: Runtime) -> None:
    """Attach every listener to the Bolt app."""

    @app.command("/smtp")
    def on_smtp(ack: Ack, command: dict[str, Any], respond: Respond) -> None:
        actor = command["user_id"]
        try:
            parsed = grammar.parse(command.get("text") or "")
            if isinstance(parsed, grammar.Change | grammar.Status):
                rt.service.precheck(parsed)
        except UsageError as exc:
            ack(
                response_type="ephemeral",
                text=f":warning: {escape(str(exc))}\n{usage_for(exc.verb)}",
            )
            _refused(rt, actor, exc.verb, None, str(exc))
            return
        except CommandError as exc:
            verb = getattr(parsed, "verb", None) or "status"
            ack(
                response_type="ephemeral",
                text=f":warning: {escape(str(exc))}\n{usage_for(str(verb))}",
            )
            _refused(rt, actor, str(verb), getattr(parsed, "tenant", None), str(exc))
            return

        if isinstance(parsed, grammar.Help):
            ack(response_type="ephemeral", text=help_text(rt.tenants.names, parsed.verb))
            return
        if isinstance(parsed, grammar.Status):
            ack(response_type="ephemeral", text=f"Reading the live state from `{parsed.tenant}`…")
            _status(rt, parsed, respond)
            return
        if isinstance(parsed, grammar.Change):
            ack(response_type="ephemeral", text=f"Checking your `{parsed.verb.value}` request…")
            _change(rt, parsed, command, respond)
            return
        ack(
            response_type="ephemeral",
            text=f"`{type(parsed).__name__.lower()}` is not available yet.\n{usage_for(None)}",
        )

    @app.action(APPROVE_ACTION)
    def on_approve(ack: Ack, body: dict[str, Any], action: dict[str, Any]) -> None:
        ack()
        _decide(rt, body, action, approve=True)

    @app.action(DENY_ACTION)
    def on_deny(ack: Ack, body: dict[str, Any], action: dict[str, Any]) -> None:
        ack()
        _decide(rt, body, action, approve=False)


def _refused(rt: Runtime, actor: str, verb: str | None, tenant: str | None, problem: str) -> None:
    if verb in CHANGE_VERBS:
        rt.workflow.refuse_input(actor=actor, tenant=tenant, verb=verb, problem=problem)


def _status(rt: Runtime, parsed: grammar.Status, respond: Respond) -> None:
    try:
        report = rt.service.status(parsed)
    except CommandError as exc:
        respond(response_type="ephemeral", text=f":warning: {escape(str(exc))}")
        return
    except Exception:
        _oops(respond)
        return
    lines = [f"*Live state on `{parsed.tenant}`:*"]
    for result in report.results[:40]:
        mark = ":white_check_mark:" if result.ok else ":warning:"
        lines.append(f"{mark} `{escape(str(result.target))}`: {escape(result.message)}")
    if len(report.results) > 40:
        lines.append(f"… and {len(report.results) - 40} more")
    respond(response_type="ephemeral", text="\n".join(lines))


def _change(rt: Runtime, parsed: grammar.Change, command: dict[str, Any], respond: Respond) -> None:
    actor = command["user_id"]
    try:
        view = rt.service.submit(parsed, requester=actor)
    except (CommandError, WorkflowError) as exc:
        _refused(rt, actor, parsed.verb.value, parsed.tenant, str(exc))
        respond(response_type="ephemeral", text=f":warning: {escape(str(exc))}")
        return
    except Exception:
        _oops(respond)
        return
    channel = rt.tenants.get(parsed.tenant).channel or command["channel_id"]
    try:
        rt.cards.post(view, channel)
    except Exception as exc:
        error = getattr(getattr(exc, "response", None), "get", lambda _k: None)("error")
        log.warning("could not post card for request %s: %s", view.id, error or exc)
        respond(
            response_type="ephemeral",
            text=(
                f":warning: Request #{view.id} is stored, but its approval card could not be "
                f"posted in <#{channel}> ({error or 'Slack error'}). Invite the bot there, or "
                "approve it with the CLI. It expires if nobody decides."
            ),
        )
        return
    respond(
        response_type="ephemeral",
        text=(
            f"Request #{view.id} ({parsed.verb.value} on `{parsed.tenant}`) is waiting for "
            f"approval in <#{channel}>."
        ),
    )


def _decide(rt: Runtime, body: dict[str, Any], action: dict[str, Any], *, approve: bool) -> None:
    """A button press, after the ack. Never raises: Bolt would turn that into a 404."""
    try:
        _decide_unsafe(rt, body, action, approve=approve)
    except Exception:
        ref = uuid.uuid4().hex[:8]
        log.exception("unexpected error handling a button press (reference %s)", ref)


def _decide_unsafe(
    rt: Runtime, body: dict[str, Any], action: dict[str, Any], *, approve: bool
) -> None:
    actor = body["user"]["id"]
    channel = (body.get("container") or {}).get("channel_id") or (body.get("channel") or {}).get(
        "id", ""
    )
    value = str(action.get("value", ""))
    if not value.isdigit():
        log.warning("ignoring a button press with a malformed request id")
        return
    request_id = int(value)
    try:
        if approve:
            outcome = rt.workflow.approve(request_id, actor=actor)
            view = outcome.view
        else:
            view = rt.workflow.deny(request_id, actor=actor)
    except WorkflowError as exc:
        rt.cards.tell(channel, actor, f":no_entry: {escape(str(exc))}")
        return
    rt.cards.update(view)
    if not approve:
        rt.cards.reply(
            view,
            f"{mention(view.request.requester)} request #{view.id} was denied by {mention(actor)}.",
        )
        return
    if outcome.approved_now:
        rt.executor.run(request_id)
