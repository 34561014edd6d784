"""Slack listeners: the ``/smtp`` command, the buttons, the deny dialog and App Home.

Slack wants an answer within 3 s, and what is acknowledged must survive a crash: every
listener stores its slow work as a ``Task`` in the intake table (``SlackContext.hand_off``,
one insert) and only then acknowledges; the worker process, or this process's pool, carries
it out after the ack. Input that fails validation is answered in the ack. Listeners return as
soon as they have acknowledged (Bolt runs them with ``process_before_response``); the one
raise is a press that could not be stored, so that it is not acknowledged.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from typing import Any

from slack_bolt import Ack, App

from approvals import WorkflowError
from bot.commands import grammar
from bot.commands.access import AccessDenied, Origin
from bot.commands.messages import usage_for
from bot.errors import BotError, CommandError, UsageError
from bot.slack import top_actions
from bot.slack.context import SlackContext
from bot.slack.drift import REAPPLY_ACTION
from bot.slack.task import (
    APPROVE,
    CANCEL,
    DENY_DIALOG,
    REAPPLY,
    Press,
    Task,
    command_key,
    press_from,
    view_key,
)
from bot.slack.top_view import TOP_DISABLE_ACTION, TOP_MODAL, TOP_REASON_BLOCK
from bot.slack.usage_view import USAGE_ACTION
from bot.slack.views import (
    APPROVE_ACTION,
    CANCEL_ACTION,
    DENY_ACTION,
    DENY_MODAL,
    DENY_REASON_ACTION,
    DENY_REASON_BLOCK,
    escape,
)
from providers import CHANGE_VERBS

__all__ = ["StoreFailed", "register"]

log = logging.getLogger(__name__)


class StoreFailed(BotError):
    """A press could not be stored, so it is not acknowledged (Bolt answers 500)."""


STORE_FAILED = (
    ":warning: The bot could not store your command (its database did not answer), so "
    "nothing was done. Try again in a minute."
)

# hand_off's outcomes, as the listeners act on them
STORED, REPLAYED, NOT_STORED = "stored", "replayed", "not stored"


def _reference() -> str:
    ref = uuid.uuid4().hex[:8]
    log.exception("unexpected error (reference %s)", ref)
    return ref


def _store(rt: SlackContext, task: Task, *, here: bool = False) -> str:
    """Commit the task before the caller acks (``SlackContext.hand_off``); one log line, not a
    traceback, when the database cannot take it."""
    try:
        return STORED if rt.hand_off(task, here=here) else REPLAYED
    except Exception as exc:
        log.error("could not store a %s (%s): not acknowledged as done", task.kind, exc)
        return NOT_STORED


def register(app: App, rt: SlackContext) -> None:
    """Attach every listener to the Bolt app."""

    @app.command("/smtp")
    def on_smtp(ack: Ack, command: dict[str, Any]) -> None:
        origin = Origin(command["user_id"], command.get("team_id"), command.get("channel_id"))
        parsed = _parse_or_refuse(rt, ack, command, origin)
        if parsed is None:
            return
        stored = _store(rt, Task.command(command))  # in the database before the ack
        if stored == NOT_STORED:
            ack(response_type="ephemeral", text=STORE_FAILED)
        elif stored == REPLAYED:
            ack()  # this very command was stored and answered before
        elif isinstance(parsed, grammar.Status):
            ack(response_type="ephemeral", text=f"Reading the live state from `{parsed.tenant}`…")
        elif isinstance(parsed, grammar.Change):
            ack(response_type="ephemeral", text=f"Checking your `{parsed.verb.value}` request…")
        elif isinstance(parsed, grammar.Queue):
            ack(response_type="ephemeral", text=f"Reading the mail queue of `{parsed.tenant}`…")
        elif isinstance(parsed, grammar.Top):
            ack(response_type="ephemeral", text=f"Reading email tracking of `{parsed.tenant}`…")
        elif isinstance(parsed, grammar.Usage):
            ack(
                response_type="ephemeral",
                text=f"Reading the SMTP AUTH sign-ins of `{parsed.tenant}`…",
            )
        else:
            ack()  # help, list, history, cancel: answered through respond() right after

    @app.action(USAGE_ACTION)
    def on_usage_button(ack: Ack, body: dict[str, Any], action: dict[str, Any]) -> None:
        task = Task.usage_request(body, action)
        if task is not None:
            origin = _origin_of(body)
            try:
                rt.access.check_team(origin)
            except AccessDenied as exc:
                task = Task.refuse_access(origin, tenant=None, problem=str(exc), key=task.key)
            if _store(rt, task) == NOT_STORED:
                raise StoreFailed("could not store a usage button press")
        ack()

    app.action(APPROVE_ACTION)(_button_listener(rt, APPROVE))
    app.action(CANCEL_ACTION)(_button_listener(rt, CANCEL))
    app.action(REAPPLY_ACTION)(_button_listener(rt, REAPPLY))  # drift notices (bot.slack.drift)
    # the dialog must open within 3 s of the press (trigger_id): always on this process
    app.action(DENY_ACTION)(_button_listener(rt, DENY_DIALOG, here=True))

    @app.view(DENY_MODAL)
    def on_deny_submitted(ack: Ack, body: dict[str, Any], view: dict[str, Any]) -> None:
        try:
            rt.access.check_team(_origin_of(body))
        except AccessDenied as exc:
            ack(response_action="errors", errors={DENY_REASON_BLOCK: str(exc)})
            return
        _deny_submitted(rt, ack, body, view)

    @app.action(TOP_DISABLE_ACTION)
    def on_top_disable(ack: Ack, body: dict[str, Any], action: dict[str, Any]) -> None:
        """Request disable on a /smtp top row: the dialog opens on this process (trigger)."""
        origin = top_actions.origin_of(body)
        try:
            rt.access.check_team(origin)
        except AccessDenied as exc:
            _store(rt, Task.refuse_access(origin, tenant=None, problem=str(exc)))
            ack()
            return
        if _store(rt, top_actions.press_task(body, action), here=True) == NOT_STORED:
            raise StoreFailed("could not store a Request disable press")
        ack()

    @app.view(TOP_MODAL)
    def on_top_submitted(ack: Ack, body: dict[str, Any], view: dict[str, Any]) -> None:
        """Checked and stored before the ack, so that a refusal shows in the dialog."""
        try:
            task = top_actions.check_submission(rt, body, view)
        except CommandError as exc:
            ack(response_action="errors", errors={TOP_REASON_BLOCK: str(exc)[:300]})
            return
        if _store(rt, task) == NOT_STORED:
            ack(response_action="errors", errors={TOP_REASON_BLOCK: STORE_FAILED})
            return
        ack()

    @app.event("app_home_opened")
    def on_home(event: dict[str, Any], body: dict[str, Any]) -> None:
        if event.get("tab", "home") != "home":
            return
        task = Task.home(event["user"])
        if not _home_allowed(rt, event, body):  # no tenant's requests or activity shown
            task = Task(task.kind, {**task.args, "allowed": False})
        _store(rt, task)  # best-effort: Slack wants no answer


def _home_allowed(rt: SlackContext, event: dict[str, Any], body: dict[str, Any]) -> bool:
    """The App Home's workspace (the event's, and the view's if Slack sends one) is in
    slack.allowed_team_ids."""
    teams = {body.get("team_id"), (event.get("view") or {}).get("team_id")} - {None}
    try:
        for team in teams or {None}:
            rt.access.check_team(Origin(str(event.get("user", "")), team, None))
    except AccessDenied:
        return False
    return True


def _button_listener(rt: SlackContext, kind: str, *, here: bool = False) -> Callable[..., None]:
    """Check where the press came from, store the step, then ack (``here``: carried out on
    this process's own pool, not the worker process). A press that could not be stored is not
    acknowledged: Slack then shows the presser that it did not work."""

    def listener(ack: Ack, body: dict[str, Any], action: dict[str, Any]) -> None:
        press = _press(rt, body, action)
        if press is not None and _store(rt, Task.press(kind, press), here=here) == NOT_STORED:
            raise StoreFailed(f"could not store a {kind} press")
        ack()

    return listener


def _origin_of(body: dict[str, Any]) -> Origin:
    user = body.get("user") or {}
    team = user.get("team_id") or (body.get("team") or {}).get("id")
    channel = (body.get("channel") or {}).get("id")
    return Origin(str(user.get("id", "")), team, channel)


def _press(rt: SlackContext, body: dict[str, Any], action: dict[str, Any]) -> Press | None:
    """The press, if it comes from an allowed workspace (refused and recorded otherwise)."""
    press = press_from(body, action)
    if press is None:
        return None
    origin = _origin_of(body)
    try:
        rt.access.check_team(origin)
    except AccessDenied as exc:
        key = f"press:{press.delivery}" if press.delivery else None
        _store(rt, Task.refuse_access(origin, tenant=None, problem=str(exc), key=key))
        return None
    return press


def _parse_or_refuse(
    rt: SlackContext, ack: Ack, command: dict[str, Any], origin: Origin
) -> grammar.Command | None:
    """Parse and check against the config before the ack; refusals go in the ack."""
    actor = command["user_id"]
    key = command_key(command)
    parsed: grammar.Command | None = None
    try:
        rt.access.check_team(origin)
        parsed = grammar.parse(command.get("text") or "")
        tenant = getattr(parsed, "tenant", None)
        if tenant is not None:
            rt.tenants.get(tenant)
            rt.access.check_channel(tenant, origin)
        if isinstance(parsed, grammar.Change | grammar.Status | grammar.Queue | grammar.Top):
            rt.service.precheck(parsed)
        if isinstance(parsed, grammar.Usage):
            rt.usage.precheck(parsed)  # WHM refused, Graph keys named: in the ack
        if isinstance(parsed, grammar.Status):
            rt.access.check_read_size(len(parsed.targets))  # refused in the ack: nothing read
    except AccessDenied as exc:
        tenant = getattr(parsed, "tenant", None)
        problem = str(exc)
        _store(rt, Task.refuse_access(origin, tenant=tenant, problem=problem, key=key))
        ack(response_type="ephemeral", text=f":no_entry: {exc}")
        return None
    except (UsageError, CommandError) as exc:
        verb = exc.verb if isinstance(exc, UsageError) else _verb_of(parsed)
        tenant = getattr(parsed, "tenant", None)
        if verb in CHANGE_VERBS:
            problem = str(exc)
            task = Task.refuse_input(
                actor=actor, tenant=tenant, verb=verb, problem=problem, key=key
            )
            _store(rt, task)  # the refusal is recorded; the ack below is its whole answer
        verbs, providers = _offered(rt)
        usage = usage_for(verb, verbs, providers)
        ack(response_type="ephemeral", text=f":warning: {escape(str(exc))}\n{usage}")
        return None
    return parsed


def _verb_of(parsed: grammar.Command | None) -> str | None:
    if isinstance(parsed, grammar.Change):
        return parsed.verb.value
    if parsed is None:
        return None
    return type(parsed).__name__.lower().replace("requests", "")


def _deny_submitted(rt: SlackContext, ack: Ack, body: dict[str, Any], view: dict[str, Any]) -> None:
    """Record the denial before the ack, so that a refusal shows in the dialog itself; the
    card and the thread are updated after the ack (Slack can be slow to answer those)."""
    actor = body["user"]["id"]
    metadata = str(view.get("private_metadata", ""))
    if not grammar.is_number(metadata):
        ack()
        return
    values = view.get("state", {}).get("values", {})
    note = (values.get(DENY_REASON_BLOCK, {}).get(DENY_REASON_ACTION, {}) or {}).get("value")
    note = " ".join(str(note).split())[:500] if note else None
    request_id = int(metadata)
    try:
        rt.workflow.deny(request_id, actor=actor, note=note)
    except WorkflowError as exc:
        ack(response_action="errors", errors={DENY_REASON_BLOCK: str(exc)})
        return
    except Exception:
        ref = _reference()
        ack(response_action="errors", errors={DENY_REASON_BLOCK: f"Internal error ({ref})."})
        return
    # the denial is stored; if this task is not, the housekeeper still redraws the card
    _store(rt, Task.denied(actor=actor, request_id=request_id, note=note, key=view_key(view)))
    ack()


def _offered(rt: SlackContext) -> tuple[set[str], set[str]]:
    """The verbs and back-end kinds of the configured tenants, for usage help."""
    verbs: set[str] = set()
    providers: set[str] = set()
    for name in rt.tenants.names:
        providers.add(rt.tenants.get(name).provider)
        verbs |= {verb.value for _scope, verb in rt.tenants.provider(name).capabilities()}
    return verbs, providers
