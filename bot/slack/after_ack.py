"""Carrying out a ``Task`` after the ack, on this process's pool or in the worker process.

A listener acknowledges and hands a ``Task`` (``bot.slack.task``) on; ``run`` carries it out
wherever it lands. Nothing here raises: a failure is logged with a reference and the person
is told that nothing was changed by this step.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from typing import Any

from bot.commands import grammar
from bot.commands.access import Origin
from bot.ops.logs import log_context
from bot.slack import drift, presses, slash_command, top_actions, usage_answer
from bot.slack.answer import Answer
from bot.slack.context import SlackContext
from bot.slack.task import (
    APPROVE,
    CANCEL,
    COMMAND,
    DENIED,
    DENY_DIALOG,
    HOME,
    REAPPLY,
    REFUSE_ACCESS,
    REFUSE_INPUT,
    TOP_DIALOG,
    TOP_REQUEST,
    USAGE_REQUEST,
    Press,
    Task,
)

__all__ = ["run"]

log = logging.getLogger(__name__)


def run(rt: SlackContext, task: Task) -> None:
    """Carry out ``task``; log and tell the person about anything unexpected."""
    with log_context(request_id=task.request_id or None):
        try:
            if task.gave_up:
                _tell_gave_up(rt, task)
            else:
                _STEPS[task.kind](rt, task)
        except Exception:
            ref = uuid.uuid4().hex[:8]
            log.exception("unexpected error in %s work (reference %s)", task.kind, ref)
            _tell_failure(rt, task, ref)


def _tell_failure(rt: SlackContext, task: Task, ref: str) -> None:
    text = (
        f":boom: Something went wrong on our side (reference `{ref}`); nothing was changed "
        "by this step. Try again in a moment."
    )
    _tell(rt, task, text, ref)


def _tell_gave_up(rt: SlackContext, task: Task) -> None:
    log.error("gave up on %s after %s interrupted attempts", task.kind, task.attempt)
    text = (
        f":warning: The bot was interrupted {task.attempt} times while carrying this out "
        "(it restarted each time) and has stopped trying. Check `/smtp list` for the "
        "request's state before you try again."
    )
    _tell(rt, task, text, "gave-up")


def _tell(rt: SlackContext, task: Task, text: str, ref: str) -> None:
    try:
        if task.kind == COMMAND:
            _answer(rt, task)(response_type="ephemeral", text=text)
        elif task.kind in (APPROVE, CANCEL, DENY_DIALOG, REAPPLY):
            presses.tell(rt, _press(task.args), text)
        elif task.kind in (TOP_DIALOG, TOP_REQUEST):
            args = task.args
            top_actions.tell(
                rt, Origin(str(args["actor"]), args.get("team"), args.get("channel")), text
            )
        elif task.kind == USAGE_REQUEST:
            usage_answer.tell(rt, task, text)
    except Exception:
        log.warning("could not tell the person about error %s", ref)


def _answer(rt: SlackContext, task: Task) -> Answer:
    args = task.args
    return Answer(
        args.get("response_url"),
        client=lambda: rt.client,
        user=str(args["user_id"]),
        channel=args.get("channel_id"),
        received_at=task.received_at,
        attempt=task.attempt,
    )


def _press(args: dict[str, Any]) -> Press:
    return Press(
        str(args["actor"]), int(args["request_id"]), args.get("channel"), args.get("trigger_id")
    )


def _command(rt: SlackContext, task: Task) -> None:
    # parsed again here: the listener already refused anything that does not parse
    parsed = grammar.parse(str(task.args.get("text") or ""))
    if isinstance(parsed, grammar.Usage):  # a read with an offer: bot.slack.usage_answer
        args = task.args
        origin = Origin(str(args["user_id"]), args.get("team_id"), args.get("channel_id"))
        usage_answer.answer_usage(rt, parsed, _answer(rt, task), origin)
        return
    slash_command.run(rt, parsed, task.args, respond=_answer(rt, task), intake_id=task.intake_id)


def _refuse_access(rt: SlackContext, task: Task) -> None:
    args = task.args
    origin = Origin(str(args["user"]), args.get("team"), args.get("channel"))
    rt.access.refuse(origin, tenant=args.get("tenant"), problem=str(args["problem"]))


def _refuse_input(rt: SlackContext, task: Task) -> None:
    args = task.args
    rt.workflow.refuse_input(
        actor=str(args["actor"]),
        tenant=args.get("tenant"),
        verb=str(args["verb"]),
        problem=str(args["problem"]),
    )


def _denied(rt: SlackContext, task: Task) -> None:
    args = task.args
    view = rt.workflow.get(int(args["request_id"]))
    presses.show_denial(rt, view, str(args["actor"]), args.get("note"))


_STEPS: dict[str, Callable[[SlackContext, Task], None]] = {
    COMMAND: _command,
    APPROVE: lambda rt, task: presses.approve(rt, _press(task.args), retry=task.attempt > 1),
    CANCEL: lambda rt, task: presses.cancel_press(rt, _press(task.args)),
    DENY_DIALOG: lambda rt, task: presses.open_deny_dialog(rt, _press(task.args)),
    DENIED: _denied,
    HOME: lambda rt, task: rt.home.publish(
        str(task.args["user"]), allowed=task.args.get("allowed", True) is not False
    ),
    REFUSE_ACCESS: _refuse_access,
    REFUSE_INPUT: _refuse_input,
    TOP_DIALOG: top_actions.open_dialog,
    TOP_REQUEST: top_actions.request,
    REAPPLY: lambda rt, task: drift.reapply(
        rt,
        _press(task.args),
        intake_id=task.intake_id,
        received_at=task.received_at,
        attempt=task.attempt,
    ),
    USAGE_REQUEST: usage_answer.request_offer,
}
