"""Reminding approvers who have not acted, and telling a requester their request expired.

Run by the housekeeper. Which reminder is due, and that it is sent once, is decided in the
database (approvals.reminders); this module only says it in Slack: a direct message to each
approver (groups expanded) who has neither approved nor made the request."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import timedelta

from approvals import RequestView, Workflow
from approvals.reminders import Reminders
from bot.slack.cards import Cards
from bot.slack.notify import ApproverNotifier
from bot.slack.views import asked_text, mention, when

__all__ = ["ApproverReminders"]

log = logging.getLogger(__name__)

Asked = Callable[[str], Sequence[str]]  # tenant → its approvers as configured (users, groups)
Wait = Callable[[str], timedelta | None]  # tenant → wait before the first reminder


class ApproverReminders:
    """Sends due reminders and the requester's note on expiry."""

    def __init__(
        self,
        workflow: Workflow,
        cards: Cards,
        notifier: ApproverNotifier,
        *,
        asked: Asked,
        wait: Wait,
    ) -> None:
        self.workflow = workflow
        self.cards = cards
        self.notifier = notifier
        self.asked = asked
        self.wait = wait
        self.reminders = Reminders(workflow.db, workflow.now)

    def run(self) -> int:
        """Send every reminder that is due; the number of reminders sent."""
        sent = 0
        for due in self.reminders.due(self.wait):
            if not self.reminders.claim(due):
                continue
            view = self.workflow.get(due.request_id)
            asked = frozenset(self.asked(view.request.tenant))
            people = self.notifier.remind(view, asked, number=due.number)
            log.info("request %s: reminder %s sent to %d approver(s)", view.id, due.number, people)
            sent += 1
        return sent

    def tell_expired(self, view: RequestView) -> bool:
        """A thread reply to the requester: who was asked, and what to do now."""
        asked = asked_text(self.asked(view.request.tenant)) or "nobody"
        text = (
            f"{mention(view.request.requester)} request #{view.id} expired at "
            f"{when(view.request.expires_at)}: it got {len(view.approvers)} of "
            f"{view.request.approvals_required} approvals (asked: {asked}). Nothing was "
            "changed; request again if it is still needed."
        )
        return self.cards.reply(view, text)
