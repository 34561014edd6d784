"""After-ack work as plain data: what a listener acknowledged and hands on.

Tasks hold only what Slack sent (minus its deprecated verification token) and IDs, never an
object, so they cross a pipe as one JSON line and run wherever they land
(``bot.slack.after_ack``).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from typing import Any

from bot.commands.access import Origin
from bot.commands.grammar import is_number
from bot.errors import BotError
from bot.ops.logs import current_request_id

__all__ = ["KINDS", "Press", "Task", "TaskError", "press_from"]

log = logging.getLogger(__name__)

COMMAND = "command"
APPROVE = "approve"
CANCEL = "cancel"
DENY_DIALOG = "deny_dialog"
HOME = "home"
REFUSE_ACCESS = "refuse_access"
REFUSE_INPUT = "refuse_input"
KINDS = frozenset({COMMAND, APPROVE, CANCEL, DENY_DIALOG, HOME, REFUSE_ACCESS, REFUSE_INPUT})


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
    def press(cls, kind: str, press: Press) -> Task:
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
        if kind not in KINDS or not isinstance(args, dict):
            raise TaskError(f"unknown task kind {str(kind)[:40]!r}")
        return cls(kind, args, str(request_id or ""))


class Press:
    """Who pressed which request's button, and where (a card in a channel, or App Home)."""

    def __init__(self, actor: str, request_id: int, channel: str | None, trigger_id: str | None):
        self.actor = actor
        self.request_id = request_id
        self.channel = channel
        self.trigger_id = trigger_id

    @property
    def from_home(self) -> bool:
        return self.channel is None


def press_from(body: dict[str, Any], action: dict[str, Any]) -> Press | None:
    """Read a block_actions payload; None if the button value is not a request ID."""
    value = str(action.get("value", ""))
    if not is_number(value):
        log.warning("ignoring a button press with a malformed request id")
        return None
    container = body.get("container") or {}
    channel = None
    if container.get("type") == "message":
        channel = container.get("channel_id") or (body.get("channel") or {}).get("id")
    return Press(body["user"]["id"], int(value), channel, body.get("trigger_id"))
