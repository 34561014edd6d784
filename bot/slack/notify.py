"""Direct messages to approvers when a request waits for them."""

from __future__ import annotations

import logging

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from approvals import RequestView
from bot.slack.membership import SlackMembership
from bot.slack.places import message_place
from bot.slack.views import summary_line, when

__all__ = ["ApproverNotifier"]

log = logging.getLogger(__name__)

MAX_DIRECT_MESSAGES = 25


class ApproverNotifier:
    """Tells each approver (groups expanded, requester excluded) where the card is."""

    def __init__(self, client: WebClient, membership: SlackMembership) -> None:
        self.client = client
        self.membership = membership

    def notify(self, view: RequestView, approvers: frozenset[str]) -> int:
        """The first message, when the card is posted."""
        return self._send(view, approvers, "A request waits for your approval")

    def remind(self, view: RequestView, approvers: frozenset[str], *, number: int) -> int:
        """Reminder ``number``, to those who have not approved yet (nor made the request)."""
        expires = when(view.request.expires_at)
        lead = f"Reminder {number}: a request still waits for your approval (expires {expires})"
        return self._send(view, approvers, lead, skip=frozenset(view.approvers))

    def _send(
        self,
        view: RequestView,
        approvers: frozenset[str],
        lead: str,
        *,
        skip: frozenset[str] = frozenset(),
    ) -> int:
        req = view.request
        if not req.card_channel or not req.card_ref:
            return 0
        link = self.permalink(req.card_channel, req.card_ref)
        text = f"{lead}: {summary_line(view)}\n{link}"
        users = sorted(self.membership.expand(approvers) - {req.requester} - skip)
        sent = 0
        for user in users[:MAX_DIRECT_MESSAGES]:
            try:
                channel = self.client.conversations_open(users=user)["channel"]["id"]
                self.client.chat_postMessage(channel=channel, text=text)
                sent += 1
            except (SlackApiError, OSError) as exc:
                log.warning("could not notify approver %s: %s", user, type(exc).__name__)
        return sent

    def permalink(self, channel: str, ts: str) -> str:
        """A link to the message ``ts`` in ``channel`` (or where it is, if Slack says no)."""
        try:
            link = self.client.chat_getPermalink(channel=channel, message_ts=ts).get("permalink")
        except (SlackApiError, OSError):
            link = None
        return str(link) if link else message_place(channel, ts)
