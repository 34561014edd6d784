"""Posting and updating approval cards and their threads through Slack's Web API."""

from __future__ import annotations

import logging

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from approvals import RequestView, Workflow
from bot.slack.views import card, result_text

__all__ = ["Cards"]

log = logging.getLogger(__name__)

REDRAW_ROUNDS = 3  # redraws of one card per update while its request keeps changing


class Cards:
    """Keeps each request's card in Slack in step with the request."""

    def __init__(self, client: WebClient, workflow: Workflow) -> None:
        self.client = client
        self.workflow = workflow

    def post(self, view: RequestView, channel: str) -> None:
        """Post the card and remember where it is."""
        text, blocks = card(view)
        response = self.client.chat_postMessage(channel=channel, text=text, blocks=blocks)
        self.workflow.attach_card(
            view.id, channel=response["channel"], ref=response["ts"], revision=view.request.revision
        )

    def update(self, view: RequestView) -> bool:
        """Redraw the card. On failure the card stays out of date in the database, and
        ``sync`` retries it later; the request itself is unaffected.

        Two workers may redraw one card at once, and Slack keeps whichever lands last. So
        after each redraw the request's revision is read again, and a newer one is drawn
        too: the last redraw to land is then always of the latest revision."""
        for round_ in range(REDRAW_ROUNDS):
            shown = view.request.revision
            if not self._draw(view):
                if round_:  # a stale drawing of ours may be what the card shows
                    self.workflow.mark_card_stale(view.id)
                return False
            current = self.workflow.mark_card_synced(view.id, shown)
            if current <= shown:
                return True
            view = self.workflow.get(view.id)
        self.workflow.mark_card_stale(view.id)  # still moving: the housekeeper catches up
        return False

    def _draw(self, view: RequestView) -> bool:
        req = view.request
        if not req.card_channel or not req.card_ref:
            return False
        text, blocks = card(view)
        try:
            self.client.chat_update(
                channel=req.card_channel, ts=req.card_ref, text=text, blocks=blocks
            )
        except (SlackApiError, OSError) as exc:
            log.warning("card update failed for request %s: %s", view.id, _reason(exc))
            return False
        return True

    def reply(self, view: RequestView, text: str) -> bool:
        """Post in the card's thread; False if Slack could not be reached or refused."""
        req = view.request
        if not req.card_channel or not req.card_ref:
            return False
        try:
            self.client.chat_postMessage(
                channel=req.card_channel, thread_ts=req.card_ref, text=text
            )
        except (SlackApiError, OSError) as exc:
            log.warning("thread reply failed for request %s: %s", view.id, _reason(exc))
            return False
        return True

    def post_result(self, view: RequestView) -> None:
        """Redraw the card and post the result in its thread, once across all processes."""
        self.update(view)
        if not self.workflow.claim_result_post(view.id):
            return
        if not self.reply(view, result_text(view)):
            self.workflow.release_result_post(view.id)

    def sync(self) -> int:
        """Bring stale cards and unposted results up to date; returns how many were fixed."""
        fixed = 0
        for view in self.workflow.cards_to_sync():
            fixed += self.update(view)
        for view in self.workflow.results_to_post():
            if self.workflow.claim_result_post(view.id):
                if self.reply(view, result_text(view)):
                    fixed += 1
                else:
                    self.workflow.release_result_post(view.id)
        return fixed

    def tell(self, channel: str, user: str, text: str) -> None:
        """An ephemeral message only ``user`` sees."""
        try:
            self.client.chat_postEphemeral(channel=channel, user=user, text=text)
        except (SlackApiError, OSError) as exc:
            log.warning("ephemeral message failed: %s", _reason(exc))


def _reason(exc: Exception) -> str:
    if isinstance(exc, SlackApiError):
        return str(exc.response.get("error", "slack error"))
    return type(exc).__name__
