"""Slack listeners: the ``/smtp`` command, the buttons, the deny dialog and App Home.

Every listener acknowledges first (Slack wants an answer within 3 s) and does slow work after
the ack, on Bolt's listener thread pool. Input that fails validation is answered in the ack.
Listeners never raise after the ack: Bolt would turn that into an error response.
"""

from __future__ import annotations

import functools
import logging
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from slack_bolt import Ack, App, Respond

from approvals import WorkflowError
from bot import decisions, grammar
from bot.access import AccessDenied, Origin
from bot.errors import CommandError, UsageError
from bot.logs import log_context
from bot.messages import help_text, usage_for
from bot.reports import history_text, pending_text
from bot.views import (
    APPROVE_ACTION,
    CANCEL_ACTION,
    DENY_ACTION,
    DENY_MODAL,
    DENY_REASON_ACTION,
    DENY_REASON_BLOCK,
    escape,
)
from providers import CHANGE_VERBS

if TYPE_CHECKING:
    from bot.app import Runtime

__all__ = ["register"]

log = logging.getLogger(__name__)


def _reference() -> str:
    ref = uuid.uuid4().hex[:8]
    log.exception("unexpected error (reference %s)", ref)
    return ref


def _guarded(fn: Callable[..., None]) -> Callable[..., None]:
    """Log anything unexpected with a reference instead of letting Bolt see it."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> None:
        try:
            fn(*args, **kwargs)
        except Exception:
            ref = _reference()
            respond = kwargs.get("respond")
            if respond is not None:
                respond(
                    response_type="ephemeral",
                    text=f":boom: Something went wrong on our side (reference `{ref}`).",
                )

    return wrapper


def register(app: App, rt: Runtime) -> None:
    """Attach every listener to the Bolt app."""

    @app.command("/smtp")
    def on_smtp(ack: Ack, command: dict[str, Any], respond: Respond) -> None:
        origin = Origin(command["user_id"], command.get("team_id"), command.get("channel_id"))
        parsed = _parse_or_refuse(rt, ack, command, origin)
        if parsed is None:
            return
        if isinstance(parsed, grammar.Status):
            ack(response_type="ephemeral", text=f"Reading the live state from `{parsed.tenant}`…")
        elif isinstance(parsed, grammar.Change):
            ack(response_type="ephemeral", text=f"Checking your `{parsed.verb.value}` request…")
        else:
            ack()  # help, list, history, cancel: answered through respond() right after
        _guarded(_run_command)(rt, parsed, command, respond=respond)

    @app.action(APPROVE_ACTION)
    def on_approve(ack: Ack, body: dict[str, Any], action: dict[str, Any]) -> None:
        ack()
        press = _press(rt, body, action)
        if press is not None:
            with log_context(request_id=press.request_id):
                _guarded(decisions.approve)(rt, press)

    @app.action(DENY_ACTION)
    def on_deny(ack: Ack, body: dict[str, Any], action: dict[str, Any]) -> None:
        ack()
        press = _press(rt, body, action)
        if press is not None:
            with log_context(request_id=press.request_id):
                _guarded(decisions.open_deny_dialog)(rt, press)

    @app.action(CANCEL_ACTION)
    def on_cancel(ack: Ack, body: dict[str, Any], action: dict[str, Any]) -> None:
        ack()
        press = _press(rt, body, action)
        if press is not None:
            with log_context(request_id=press.request_id):
                _guarded(_cancel_press)(rt, press)

    @app.view(DENY_MODAL)
    def on_deny_submitted(ack: Ack, body: dict[str, Any], view: dict[str, Any]) -> None:
        try:
            rt.access.check_team(_origin_of(body))
        except AccessDenied as exc:
            ack(response_action="errors", errors={DENY_REASON_BLOCK: str(exc)})
            return
        _deny_submitted(rt, ack, body, view)

    @app.event("app_home_opened")
    def on_home(event: dict[str, Any]) -> None:
        if event.get("tab", "home") == "home":
            _guarded(rt.home.publish)(event["user"])


def _origin_of(body: dict[str, Any]) -> Origin:
    user = body.get("user") or {}
    team = user.get("team_id") or (body.get("team") or {}).get("id")
    channel = (body.get("channel") or {}).get("id")
    return Origin(str(user.get("id", "")), team, channel)


def _press(rt: Runtime, body: dict[str, Any], action: dict[str, Any]) -> decisions.Press | None:
    """The press, if it comes from an allowed workspace (refused and recorded otherwise)."""
    press = decisions.press_from(body, action)
    if press is None:
        return None
    origin = _origin_of(body)
    try:
        rt.access.check_team(origin)
    except AccessDenied as exc:
        _guarded(rt.access.refuse)(origin, tenant=None, problem=str(exc))
        return None
    return press


def _parse_or_refuse(
    rt: Runtime, ack: Ack, command: dict[str, Any], origin: Origin
) -> grammar.Command | None:
    """Parse and check against the config before the ack; refusals go in the ack."""
    actor = command["user_id"]
    parsed: grammar.Command | None = None
    try:
        rt.access.check_team(origin)
        parsed = grammar.parse(command.get("text") or "")
        tenant = getattr(parsed, "tenant", None)
        if tenant is not None:
            rt.tenants.get(tenant)
            rt.access.check_channel(tenant, origin)
        if isinstance(parsed, grammar.Change | grammar.Status):
            rt.service.precheck(parsed)
    except AccessDenied as exc:
        ack(response_type="ephemeral", text=f":no_entry: {exc}")
        _guarded(rt.access.refuse)(origin, tenant=getattr(parsed, "tenant", None), problem=str(exc))
        return None
    except (UsageError, CommandError) as exc:
        verb = exc.verb if isinstance(exc, UsageError) else _verb_of(parsed)
        tenant = getattr(parsed, "tenant", None)
        ack(response_type="ephemeral", text=f":warning: {escape(str(exc))}\n{usage_for(verb)}")
        if verb in CHANGE_VERBS:
            _guarded(rt.workflow.refuse_input)(
                actor=actor, tenant=tenant, verb=verb, problem=str(exc)
            )
        return None
    return parsed


def _verb_of(parsed: grammar.Command | None) -> str | None:
    if isinstance(parsed, grammar.Change):
        return parsed.verb.value
    if parsed is None:
        return None
    return type(parsed).__name__.lower().replace("requests", "")


def _run_command(
    rt: Runtime, parsed: grammar.Command, command: dict[str, Any], *, respond: Respond
) -> None:
    """Runs after the ack for commands that need the database or a back end."""
    actor = command["user_id"]
    if isinstance(parsed, grammar.Help):
        origin = Origin(actor, command.get("team_id"), command.get("channel_id"))
        tenants, verbs = _visible(rt, origin)
        respond(response_type="ephemeral", text=help_text(tenants, parsed.verb, verbs))
    elif isinstance(parsed, grammar.Status):
        _status(rt, parsed, respond)
    elif isinstance(parsed, grammar.Change):
        _change(rt, parsed, command, respond)
    elif isinstance(parsed, grammar.ListRequests):
        views = rt.workflow.pending(parsed.tenant)
        active = rt.workflow.active_restrictions(parsed.tenant)
        respond(response_type="ephemeral", text=pending_text(views, parsed.tenant, active))
    elif isinstance(parsed, grammar.History):
        target = parsed.target.key() if parsed.target else None
        events = rt.workflow.history(tenant=parsed.tenant, target=target, limit=parsed.limit)
        respond(response_type="ephemeral", text=history_text(events, parsed.tenant, target))
    elif isinstance(parsed, grammar.Cancel):
        try:
            decisions.cancel(rt, actor, parsed.request_id)
        except WorkflowError as exc:
            respond(response_type="ephemeral", text=f":no_entry: {escape(str(exc))}")
            return
        respond(response_type="ephemeral", text=f"Request #{parsed.request_id} is cancelled.")


def _visible(rt: Runtime, origin: Origin) -> tuple[list[str], set[str]]:
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


def _status(rt: Runtime, parsed: grammar.Status, respond: Respond) -> None:
    try:
        report = rt.service.status(parsed)
    except CommandError as exc:
        respond(response_type="ephemeral", text=f":warning: {escape(str(exc))}")
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
    origin = Origin(actor, command.get("team_id"), command.get("channel_id"))
    try:
        rt.access.check_rate(origin)
    except AccessDenied as exc:
        rt.access.refuse(origin, tenant=parsed.tenant, problem=str(exc))
        respond(response_type="ephemeral", text=f":no_entry: {escape(str(exc))}")
        return
    try:
        view = rt.service.submit(parsed, requester=actor)
    except (CommandError, WorkflowError) as exc:
        if isinstance(exc, CommandError):  # the workflow records its own refusals
            rt.workflow.refuse_input(
                actor=actor, tenant=parsed.tenant, verb=parsed.verb.value, problem=str(exc)
            )
        respond(response_type="ephemeral", text=f":warning: {escape(str(exc))}")
        return
    tenant = rt.tenants.get(parsed.tenant)
    channel = tenant.channel or command["channel_id"]
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
    if tenant.notify_approvers:
        rt.notifier.notify(rt.workflow.get(view.id), rt.tenants.policy(parsed.tenant).approvers)


def _cancel_press(rt: Runtime, press: decisions.Press) -> None:
    try:
        decisions.cancel(rt, press.actor, press.request_id)
    except WorkflowError as exc:
        decisions._tell(rt, press, f":no_entry: {exc}")
        return
    if press.from_home:
        rt.home.publish(press.actor, notice=f"Request #{press.request_id} is cancelled.")


def _deny_submitted(rt: Runtime, ack: Ack, body: dict[str, Any], view: dict[str, Any]) -> None:
    """Deny before the ack so that a refusal shows in the dialog itself."""
    actor = body["user"]["id"]
    metadata = str(view.get("private_metadata", ""))
    if not grammar.is_number(metadata):
        ack()
        return
    values = view.get("state", {}).get("values", {})
    note = (values.get(DENY_REASON_BLOCK, {}).get(DENY_REASON_ACTION, {}) or {}).get("value")
    note = " ".join(str(note).split())[:500] if note else None
    try:
        decisions.deny(rt, actor, int(metadata), note)
    except WorkflowError as exc:
        ack(response_action="errors", errors={DENY_REASON_BLOCK: str(exc)})
        return
    except Exception:
        ref = _reference()
        ack(response_action="errors", errors={DENY_REASON_BLOCK: f"Internal error ({ref})."})
        return
    ack()
