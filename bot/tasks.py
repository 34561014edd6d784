"""After-ack work as plain data, so it can run on this process's pool or in the worker process.

A listener acknowledges and hands a ``Task`` on; ``run`` carries it out wherever it lands.
Tasks hold only what Slack sent (minus its deprecated verification token) and IDs, never an
object, so they cross a pipe as one JSON line. Nothing here raises: a failure is logged with
a reference and the person is told that nothing was changed by this step.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from bot import commands, decisions, grammar
from bot.access import Origin
from bot.errors import BotError
from bot.logs import current_request_id, log_context
from bot.slack_http import Responder

if TYPE_CHECKING:
    from bot.app import Runtime

__all__ = ["Task", "TaskError", "run"]

log = logging.getLogger(__name__)

COMMAND = "command"
APPROVE = "approve"
CANCEL = "cancel"
DENY_DIALOG = "deny_dialog"
HOME = "home"
REFUSE_ACCESS = "refuse_access"
REFUSE_INPUT = "refuse_input"


class TaskError(BotError):
    """A line that is not a task this version knows."""


@dataclass(frozen=True)
class Task:
    """One piece of after-ack work: what to do (``kind``) and the data it needs."""

    kind: str
    args: dict[str, Any]
    request_id: str = field(default_factory=current_request_id)  # for the log lines

    @classmethod
    def command(cls, command: dict[str, Any]) -> Task:
        return cls(COMMAND, {k: v for k, v in command.items() if k != "token"})

    @classmethod
    def press(cls, kind: str, press: decisions.Press) -> Task:
        args = {
            "actor": press.actor,
            "request_id": press.request_id,
            "channel": press.channel,
            "trigger_id": press.trigger_id,
        }
        return cls(kind, args, str(press.request_id))

    @classmethod
    def home(cls, user: str) -> Task:
        return cls(HOME, {"user": user})

    @classmethod
    def refuse_access(cls, origin: Origin, *, tenant: str | None, problem: str) -> Task:
        args = {
            "user": origin.user,
            "team": origin.team,
            "channel": origin.channel,
            "tenant": tenant,
            "problem": problem,
        }
        return cls(REFUSE_ACCESS, args)

    @classmethod
    def refuse_input(cls, *, actor: str, tenant: str | None, verb: str, problem: str) -> Task:
        args = {"actor": actor, "tenant": tenant, "verb": verb, "problem": problem}
        return cls(REFUSE_INPUT, args)

    def to_line(self) -> bytes:
        body = {"kind": self.kind, "args": self.args, "request_id": self.request_id}
        return json.dumps(body, separators=(",", ":")).encode() + b"\n"

    @classmethod
    def from_line(cls, line: bytes) -> Task:
        try:
            body = json.loads(line)
            kind, args, request_id = body["kind"], body["args"], body.get("request_id", "")
        except (ValueError, TypeError, KeyError) as exc:
            raise TaskError(f"not a task line ({type(exc).__name__})") from None
        if kind not in _STEPS or not isinstance(args, dict):
            raise TaskError(f"unknown task kind {str(kind)[:40]!r}")
        return cls(kind, args, str(request_id or ""))


def run(rt: Runtime, task: Task) -> None:
    """Carry out ``task``; log and tell the person about anything unexpected."""
    with log_context(request_id=task.request_id or None):
        try:
            _STEPS[task.kind](rt, task.args)
        except Exception:
            ref = uuid.uuid4().hex[:8]
            log.exception("unexpected error in %s work (reference %s)", task.kind, ref)
            _tell_failure(rt, task, ref)


def _tell_failure(rt: Runtime, task: Task, ref: str) -> None:
    text = (
        f":boom: Something went wrong on our side (reference `{ref}`); nothing was changed "
        "by this step. Try again in a moment."
    )
    try:
        if task.kind == COMMAND and task.args.get("response_url"):
            _respond(task.args)(response_type="ephemeral", text=text)
        elif task.kind in (APPROVE, CANCEL, DENY_DIALOG):
            decisions.tell(rt, _press(task.args), text)
    except Exception:
        log.warning("could not tell the person about error %s", ref)


def _respond(args: dict[str, Any]) -> Responder:
    return Responder(str(args["response_url"]))


def _press(args: dict[str, Any]) -> decisions.Press:
    return decisions.Press(
        str(args["actor"]), int(args["request_id"]), args.get("channel"), args.get("trigger_id")
    )


def _command(rt: Runtime, args: dict[str, Any]) -> None:
    # parsed again here: the listener already refused anything that does not parse
    parsed = grammar.parse(str(args.get("text") or ""))
    commands.run(rt, parsed, args, respond=_respond(args))


def _refuse_access(rt: Runtime, args: dict[str, Any]) -> None:
    origin = Origin(str(args["user"]), args.get("team"), args.get("channel"))
    rt.access.refuse(origin, tenant=args.get("tenant"), problem=str(args["problem"]))


def _refuse_input(rt: Runtime, args: dict[str, Any]) -> None:
    rt.workflow.refuse_input(
        actor=str(args["actor"]),
        tenant=args.get("tenant"),
        verb=str(args["verb"]),
        problem=str(args["problem"]),
    )


_STEPS: dict[str, Callable[[Runtime, dict[str, Any]], None]] = {
    COMMAND: _command,
    APPROVE: lambda rt, args: decisions.approve(rt, _press(args)),
    CANCEL: lambda rt, args: decisions.cancel_press(rt, _press(args)),
    DENY_DIALOG: lambda rt, args: decisions.open_deny_dialog(rt, _press(args)),
    HOME: lambda rt, args: rt.home.publish(str(args["user"])),
    REFUSE_ACCESS: _refuse_access,
    REFUSE_INPUT: _refuse_input,
}
