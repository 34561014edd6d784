"""Finding a card whose post was interrupted: did Slack post it before the crash?

Each card is posted with message metadata naming its request. Reading the channel back
needs ``channels:history`` (``groups:history`` for a private channel), which manifest.yml
does not ask for: without it Slack answers ``missing_scope`` and the card is posted afresh,
saying so, so that later updates land on one known card.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from approvals.delivery import PendingPost
from bot.slack.slack_errors import classify

__all__ = ["CARD_EVENT", "find_posted_card", "reposted_note"]

log = logging.getLogger(__name__)

CARD_EVENT = "smtp_bot_card"  # the metadata event type of every approval card
LOOK_BACK = timedelta(minutes=1)  # clocks of the bot and Slack differ a little
HISTORY_LIMIT = 200


def find_posted_card(client: WebClient, pending: PendingPost) -> str | None:
    """The ts of the card of ``pending`` if it is in its channel, else None (also when the
    bot may not read the channel)."""
    oldest = (pending.started_at - LOOK_BACK).timestamp()
    try:
        response = client.conversations_history(
            channel=pending.channel,
            oldest=f"{oldest:.6f}",
            include_all_metadata=True,
            limit=HISTORY_LIMIT,
        )
    except (SlackApiError, OSError) as exc:
        log.info(
            "cannot read back the card of request %s (%s): posting a fresh one",
            pending.request_id,
            classify(exc).error,
        )
        return None
    for message in response.get("messages") or []:
        if _is_card_of(message, pending.request_id):
            return str(message["ts"])
    return None


def _is_card_of(message: dict[str, Any], request_id: int) -> bool:
    metadata = message.get("metadata") or {}
    if metadata.get("event_type") != CARD_EVENT or "ts" not in message:
        return False
    payload = metadata.get("event_payload") or {}
    return str(payload.get("request_id")) == str(request_id)


def reposted_note() -> dict[str, Any]:
    """The line a re-posted card carries: an older copy may be out of date."""
    return {
        "type": "context",
        "elements": [
            {
                "type": "mrkdwn",
                "text": ":recycle: Card re-posted after a restart: if an earlier copy of "
                "this card is in the channel, it is out of date; this one is kept current.",
            }
        ],
    }
