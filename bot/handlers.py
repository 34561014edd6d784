"""Slack listeners: the ``/smtp`` command, the buttons, the deny dialog and App Home.

Every listener acknowledges first (Slack wants an answer within 3 s) and does slow work after
the ack, on Bolt's listener thread pool. Input that fails validation is answered in the ack.
Listeners never raise after the ack: Bolt would turn that into an error response.
"""

from __future__ import annotations

import contextvars
import functools
import logging
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from slack_bolt import Ack, App, Respond

from approvals import WorkflowError
from bot import commands, decisions, grammar
from bot.access import AccessDenied, Origin
from bot.errors import CommandError, UsageError
from bot.logs import log_context
from bot.messages import usage_for
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


def _later(rt: Runtime, fn: Callable[..., None], *args: Any, **kwargs: Any) -> None:
    """Run the slow part of a listener on the bot's own pool, so Bolt's few listener threads
    are free to acknowledge the next requests at once (Slack's 3-second limit)."""
    context = contextvars.copy_context()  # keeps the request ID of the log lines
    rt.background.submit(context.run, _guarded(fn), *args, **kwargs)


def _guarded(fn: Callable[..., None]) -> Callable[..., None]:
    """Log anything unexpected with a reference instead of letting Bolt see it, and tell the
    person (through ``respond``, or the presser of a ``Press``) that nothing was changed."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> None:
        try:
            fn(*args, **kwargs)
        except Exception:
            ref = _reference()
            text = (
                f":boom: Something went wrong on our side (reference `{ref}`); nothing was "
                "changed by this step. Try again in a moment."
            )
            respond = kwargs.get("respond")
            press = next((a for a in args if isinstance(a, decisions.Press)), None)
            try:
                if respond is not None:
                    respond(response_type="ephemeral", text=text)
                elif press is not None and len(args) > 0:
                    decisions.tell(args[0], press, text)
            except Exception:
                log.warning("could not tell the person about error %s", ref)

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
        _later(rt, commands.run, rt, parsed, command, respond=respond)

    buttons: dict[str, Callable[[Runtime, decisions.Press], None]] = {
        APPROVE_ACTION: decisions.approve,
        DENY_ACTION: decisions.open_deny_dialog,
        CANCEL_ACTION: decisions.cancel_press,
    }
    for action_id, step in buttons.items():
        app.action(action_id)(_button_listener(rt, step))

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
            _later(rt, rt.home.publish, event["user"])


def _button_listener(
    rt: Runtime, step: Callable[[Runtime, decisions.Press], None]
) -> Callable[..., None]:
    """Ack the press, check where it came from, and hand ``step`` to the bot's pool."""

    def listener(ack: Ack, body: dict[str, Any], action: dict[str, Any]) -> None:
        ack()
        press = _press(rt, body, action)
        if press is not None:
            with log_context(request_id=press.request_id):
                _later(rt, step, rt, press)

    return listener


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
        _later(rt, rt.access.refuse, origin, tenant=None, problem=str(exc))
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
        tenant = getattr(parsed, "tenant", None)
        _later(rt, rt.access.refuse, origin, tenant=tenant, problem=str(exc))
        return None
    except (UsageError, CommandError) as exc:
        verb = exc.verb if isinstance(exc, UsageError) else _verb_of(parsed)
        tenant = getattr(parsed, "tenant", None)
        ack(response_type="ephemeral", text=f":warning: {escape(str(exc))}\n{usage_for(verb)}")
        if verb in CHANGE_VERBS:
            _later(
                rt,
                rt.workflow.refuse_input,
                actor=actor,
                tenant=tenant,
                verb=verb,
                problem=str(exc),
            )
        return None
    return parsed


def _verb_of(parsed: grammar.Command | None) -> str | None:
    if isinstance(parsed, grammar.Change):
        return parsed.verb.value
    if parsed is None:
        return None
    return type(parsed).__name__.lower().replace("requests", "")


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
