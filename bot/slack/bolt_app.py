"""The Bolt app for HTTP mode: signature verification on, every listener registered."""

from __future__ import annotations

import logging
from typing import Protocol

from slack_bolt import App
from slack_bolt.logger.messages import warning_client_prioritized_and_token_skipped

from bot.config.settings import Settings
from bot.errors import ConfigError
from bot.slack.context import SlackContext
from bot.slack.listeners import register

__all__ = ["BoltContext", "build_slack_app", "quiet_token_warning"]


class _TokenSkipped(logging.Filter):
    """Bolt reads SLACK_BOT_TOKEN itself and, since we hand it a client, warns on every start
    that the token "will be unused". The client carries that same token: the line says
    nothing to an operator, so it is dropped (and only it)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.getMessage() != warning_client_prioritized_and_token_skipped()


def quiet_token_warning() -> None:
    """Install the filter on Bolt's App logger, once."""
    logger = logging.getLogger("slack_bolt.App")
    if not any(isinstance(f, _TokenSkipped) for f in logger.filters):
        logger.addFilter(_TokenSkipped())


class BoltContext(SlackContext, Protocol):
    """A ``SlackContext`` that also holds the settings with the Slack secrets."""

    settings: Settings


def build_slack_app(rt: BoltContext) -> App:
    """Raises ConfigError when the bot token or the signing secret is missing."""
    settings = rt.settings
    if settings.slack_bot_token is None:
        raise ConfigError("SLACK_BOT_TOKEN is not set")
    if settings.slack_signing_secret is None:
        raise ConfigError("SLACK_SIGNING_SECRET is not set")
    quiet_token_warning()
    app = App(
        client=rt.client,
        # listeners only acknowledge and hand work on (SlackContext.hand_off), so Bolt can run
        # them on the request's own thread and answer at once, instead of polling every 10 ms
        # for an ack from its listener pool
        process_before_response=True,
        signing_secret=settings.slack_signing_secret.get_secret_value(),
        token_verification_enabled=False,
        request_verification_enabled=True,
    )
    register(app, rt)
    return app
