"""Answering the person who typed a command, however late the answer is.

A command's ``response_url`` takes 5 answers within 30 minutes. An answer carried out after a
crash can be past that, so past it (or when Slack refuses the URL) the answer goes as an
ephemeral message in the channel, or as a direct message where the bot cannot post there, and
says that it is late.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from slack_sdk import WebClient

from approvals.models import utcnow
from bot.slack.http_client import Responder

__all__ = ["RESPONSE_URL_LIFETIME", "Answer"]

log = logging.getLogger(__name__)

RESPONSE_URL_LIFETIME = timedelta(minutes=30)
_MARGIN = timedelta(minutes=1)  # our clock and Slack's, and the time the call itself takes
LATE = ":hourglass: A late answer (the bot restarted while it worked on your command): "


class Answer(Responder):
    """A ``Responder`` that falls back to ``chat.postEphemeral`` or a DM when it must."""

    def __init__(
        self,
        response_url: str | None,
        *,
        client: Callable[[], WebClient],
        user: str,
        channel: str | None,
        received_at: datetime | None = None,
        attempt: int = 1,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        super().__init__(response_url or "")
        self.client = client  # looked up only when needed: the URL is the usual way
        self.user = user
        self.channel = channel
        self.received_at = received_at
        self.late = attempt > 1
        self._now = clock

    @property
    def url_valid(self) -> bool:
        if not self.response_url:
            return False
        if self.received_at is None:
            return True
        return self._now() - self.received_at < RESPONSE_URL_LIFETIME - _MARGIN

    def __call__(  # type: ignore[override]
        self,
        text: str = "",
        response_type: str | None = None,
        blocks: list[dict[str, Any]] | None = None,
    ) -> None:
        if self.url_valid:
            try:
                sent = super().__call__(
                    text=self._marked(text), response_type=response_type, blocks=blocks
                )
                if sent.status_code == 200:
                    return
                log.warning("Slack refused the response URL (HTTP %s)", sent.status_code)
            except Exception as exc:
                log.warning("could not answer through the response URL (%s)", type(exc).__name__)
        self.late = self.late or bool(self.response_url)  # a dialog's answer never had a URL
        self._elsewhere(self._marked(text), blocks)

    def _marked(self, text: str) -> str:
        return LATE + text if self.late and text else text

    def _elsewhere(self, text: str, blocks: list[dict[str, Any]] | None = None) -> None:
        """An ephemeral message in the channel, else a direct message."""
        extra: dict[str, Any] = {"blocks": blocks} if blocks is not None else {}
        if self.channel:
            try:
                self.client().chat_postEphemeral(
                    channel=self.channel, user=self.user, text=text, **extra
                )
                return
            except Exception as exc:
                log.warning("could not answer in the channel (%s); sending a DM", exc)
        self.client().chat_postMessage(channel=self.user, text=text, **extra)
