"""What the listeners and the after-ack work use of the running bot, as a protocol.

The wiring (``bot.runtime.Runtime``) satisfies it; the listeners never import the wiring, so
the modules it wires do not point back at it.
"""

from __future__ import annotations

from typing import Protocol

from slack_sdk import WebClient

from approvals import Workflow
from bot.commands.access import AccessPolicy
from bot.commands.service import CommandService
from bot.commands.usage import UsageService
from bot.slack.cards import Cards
from bot.slack.home import HomeTab
from bot.slack.membership import SlackMembership
from bot.slack.notify import ApproverNotifier
from bot.slack.task import Task
from bot.tenants import TenantRegistry

__all__ = ["SlackContext", "TaskSink"]


class TaskSink(Protocol):
    """Where after-ack work goes when it leaves this process (the worker process)."""

    def submit(self, task: Task) -> None: ...


class SlackContext(Protocol):
    """The pieces a listener or an after-ack step needs, and the hand-off for later work."""

    workflow: Workflow
    tenants: TenantRegistry
    service: CommandService
    usage: UsageService
    access: AccessPolicy
    membership: SlackMembership
    cards: Cards
    home: HomeTab
    notifier: ApproverNotifier
    client: WebClient

    def hand_off(self, task: Task, *, here: bool = False) -> bool:
        """Store ``task`` (committed when this returns; call it before the ack) and wake whoever
        carries it out. False for a replay (stored before); raises if it cannot be stored."""
        ...
