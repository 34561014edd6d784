"""Posting and updating approval cards and their threads through Slack's Web API."""

from __future__ import annotations

import logging

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from approvals import RequestView, Workflow
from bot.views import card, result_text

__all__ = ["Cards"]

log = logging.getLogger(__name__)


class Cards:
    """Keeps each request's card in Slack in step with the request."""

    def __init__(self, client: WebClient, workflow: Workflow) -> None:
        self.client = client
        self.workflow = workflow

    def post(self, view: RequestView, channel: str) -> None:
        """Post the card and remember where it is."""
        text, blocks = card(view)
        response = self.client.chat_postMessage(channel=channel, text=text, blocks=blocks)
        self.workflow.attach_card(view.id, channel=response["channel"], ref=response["ts"])

    def update(self, view: RequestView) -> None:
        """Redraw the card; a failure is logged, the request itself is unaffected."""
        req = view.request
        if not req.card_channel or not req.card_ref:
            return
        text, blocks = card(view)
        try:
            self.client.chat_update(
                channel=req.card_channel, ts=req.card_ref, text=text, blocks=blocks
            )
        except SlackApiError as exc:
            log.warning("card update failed for request %s: %s", view.id, exc.response["error"])

    def reply(self, view: RequestView, text: str) -> None:
        """Post in the card's thread."""
        req = view.request
        if not req.card_channel or not req.card_ref:
            return
        try:
            self.client.chat_postMessage(
                channel=req.card_channel, thread_ts=req.card_ref, text=text
            )
        except SlackApiError as exc:
            log.warning("thread reply failed for request %s: %s", view.id, exc.response["error"])

    def post_result(self, view: RequestView) -> None:
        self.update(view)
        self.reply(view, result_text(view))

    def tell(self, channel: str, user: str, text: str) -> None:
        """An ephemeral message only ``user`` sees."""
        try:
            self.client.chat_postEphemeral(channel=channel, user=user, text=text)
        except SlackApiError as exc:
            log.warning("ephemeral message failed: %s", exc.response["error"])
