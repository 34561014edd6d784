"""After-ack work as plain data: what a listener acknowledged and hands on.

Tasks hold only what Slack sent (minus its deprecated verification token) and IDs, never an
object: they are stored as one JSON line in the intake table before the ack, cross the pipe
to the worker process as a wake-up, and run wherever they land (``bot.slack.after_ack``).
Each carries a dedupe key derived from Slack's payload itself, so a replayed or retried
delivery of the same interaction is stored, and carried out, once.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from bot.commands.access import Origin
from bot.commands.grammar import is_number
from bot.errors import BotError
from bot.ops.logs import current_request_id

__all__ = [
    "KINDS",
    "USAGE_REQUEST",
    "Press",
    "Task",
    "TaskError",
    "command_key",
    "press_from",
    "view_key",
]

log = logging.getLogger(__name__)

COMMAND = "command"
APPROVE = "approve"
CANCEL = "cancel"
DENY_DIALOG = "deny_dialog"
HOME = "home"
REFUSE_ACCESS = "refuse_access"
REFUSE_INPUT = "refuse_input"
DENIED = "denied"  # a denial recorded before the ack; the card and thread follow after it
REAPPLY = "reapply"  # the Re-apply button of a drift notice: a new request for the same change
TOP_DIALOG = "top_dialog"  # Request disable pressed on a /smtp top row: ask for the reason
TOP_REQUEST = "top_request"  # that dialog sent: a disable request, as /smtp disable stores it
USAGE_REQUEST = "usage_request"  # the button of a /smtp usage answer: request its offer
KINDS = frozenset(
    {COMMAND, APPROVE, CANCEL, DENY_DIALOG, DENIED, HOME, REFUSE_ACCESS, REFUSE_INPUT, REAPPLY}
    | {TOP_DIALOG, TOP_REQUEST, USAGE_REQUEST}
)


class TaskError(BotError):
    """A line that is not a task this version knows."""


@dataclass(frozen=True)
class Task:
    """One piece of after-ack work: what to do (``kind``) and the data it needs."""

    kind: str
    args: dict[str, Any]
    request_id: str = field(default_factory=current_request_id)  # for the log lines
    key: str | None = None  # the dedupe key of the interaction, unique in the intake table
    intake_id: int | None = None  # set on the wake-up line to the worker process
    # set when carried out from the intake table (not stored: the row holds them)
    received_at: datetime | None = field(default=None, compare=False)
    attempt: int = field(default=1, compare=False)
    gave_up: bool = field(default=False, compare=False)  # tried too often: tell, don't do

    @classmethod
    def command(cls, command: dict[str, Any]) -> Task:
        args = {k: v for k, v in command.items() if k != "token"}
        return cls(COMMAND, args, key=command_key(command))

    @classmethod
    def press(cls, kind: str, press: Press) -> Task:
        args = {
            "actor": press.actor,
            "request_id": press.request_id,
            "channel": press.channel,
            "trigger_id": press.trigger_id,
        }
        key = f"press:{press.delivery}" if press.delivery else None
        return cls(kind, args, str(press.request_id), key=key)

    @classmethod
    def denied(cls, *, actor: str, request_id: int, note: str | None, key: str | None) -> Task:
        args = {"actor": actor, "request_id": request_id, "note": note}
        return cls(DENIED, args, str(request_id), key=key)

    @classmethod
    def usage_request(cls, body: dict[str, Any], action: dict[str, Any]) -> Task | None:
        """The /smtp usage button: who pressed it, on which offer; None for a malformed
        value (the offer's ID is its only content)."""
        value = str(action.get("value", ""))
        if not is_number(value):
            log.warning("ignoring a usage button press with a malformed offer id")
            return None
        user = body.get("user") or {}
        channel = (body.get("container") or {}).get("channel_id") or (
            body.get("channel") or {}
        ).get("id")
        args = {
            "actor": str(user.get("id", "")),
            "team": user.get("team_id") or (body.get("team") or {}).get("id"),
            "offer_id": int(value),
            "channel": channel,
            "response_url": body.get("response_url"),
        }
        trigger, action_ts = body.get("trigger_id"), action.get("action_ts")
        key = f"press:{trigger}:{action_ts}:{action.get('action_id')}"[:300]
        return cls(USAGE_REQUEST, args, key=key if trigger and action_ts else None)

    @classmethod
    def home(cls, user: str) -> Task:
        return cls(HOME, {"user": user})

    @classmethod
    def refuse_access(
        cls, origin: Origin, *, tenant: str | None, problem: str, key: str | None = None
    ) -> Task:
        args = {
            "user": origin.user,
            "team": origin.team,
            "channel": origin.channel,
            "tenant": tenant,
            "problem": problem,
        }
        return cls(REFUSE_ACCESS, args, key=key)

    @classmethod
    def refuse_input(
        cls, *, actor: str, tenant: str | None, verb: str, problem: str, key: str | None = None
    ) -> Task:
        args = {"actor": actor, "tenant": tenant, "verb": verb, "problem": problem}
        return cls(REFUSE_INPUT, args, key=key)

    def to_json(self) -> str:
        """What the intake row stores (no intake ID: the row is that ID)."""
        body = {"kind": self.kind, "args": self.args, "request_id": self.request_id}
        if self.key is not None:
            body["key"] = self.key
        return json.dumps(body, separators=(",", ":"))

    def to_line(self) -> bytes:
        if self.intake_id is None:
            return self.to_json().encode() + b"\n"
        body = json.loads(self.to_json()) | {"intake_id": self.intake_id}
        return json.dumps(body, separators=(",", ":")).encode() + b"\n"

    @classmethod
    def from_line(cls, line: bytes | str) -> Task:
        try:
            body = json.loads(line)
            kind, args, request_id = body["kind"], body["args"], body.get("request_id", "")
            key, intake_id = body.get("key"), body.get("intake_id")
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            raise TaskError(f"not a task line ({type(exc).__name__})") from None
        if kind not in KINDS or not isinstance(args, dict):
            raise TaskError(f"unknown task kind {str(kind)[:40]!r}")
        if not isinstance(intake_id, int | None) or not isinstance(key, str | None):
            raise TaskError("malformed intake reference")
        return cls(kind, args, str(request_id or ""), key, intake_id)


def command_key(command: dict[str, Any]) -> str | None:
    """A slash command's dedupe key: its ``trigger_id``, unique per invocation."""
    trigger = command.get("trigger_id")
    return f"command:{trigger}"[:300] if trigger else None


def view_key(view: dict[str, Any]) -> str | None:
    """A dialog submission's dedupe key: the view's ID and hash (its version)."""
    view_id = view.get("id")
    return f"view:{view_id}:{view.get('hash', '')}"[:300] if view_id else None


class Press:
    """Who pressed which request's button, and where (a card in a channel, or App Home)."""

    def __init__(
        self,
        actor: str,
        request_id: int,
        channel: str | None,
        trigger_id: str | None,
        delivery: str | None = None,
    ) -> None:
        self.actor = actor
        self.request_id = request_id
        self.channel = channel
        self.trigger_id = trigger_id
        self.delivery = delivery  # trigger, action_ts and action: this one press, for dedupe

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
    trigger = body.get("trigger_id")
    action_ts, action_id = action.get("action_ts"), action.get("action_id")
    delivery = f"{trigger}:{action_ts}:{action_id}"[:290] if trigger and action_ts else None
    return Press(body["user"]["id"], int(value), channel, trigger, delivery)
