"""Slack for the break-glass CLI: one quick try per call, and no more tries once Slack failed.

The CLI is used when Slack is down. Retries and long timeouts on every card update would only
slow an incident response down: whatever the CLI cannot show in Slack now is fixed later from
the database by the running bot (``Cards.sync`` in its Housekeeper).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.web.slack_response import SlackResponse

from approvals import RequestView
from bot.config.settings import Settings

if TYPE_CHECKING:
    from bot.runtime import Runtime

__all__ = ["BreakGlassClient", "SlackUnavailable", "attach_slack", "card_notes", "slack_reason"]

TIMEOUT_S = 5


class SlackUnavailable(ConnectionError):
    """Slack failed earlier in this run (or is not configured); not tried again."""


class BreakGlassClient(WebClient):
    """A WebClient without retries that stops calling Slack after its first outage."""

    def __init__(self, *, token: str | None, base_url: str, down: str | None = None) -> None:
        super().__init__(token=token, base_url=base_url, timeout=TIMEOUT_S, retry_handlers=[])
        self.down = down  # why Slack is not used; None while it answers

    def api_call(self, api_method: str, **kwargs: Any) -> SlackResponse:
        if self.down is not None:
            raise SlackUnavailable(self.down)
        try:
            return super().api_call(api_method, **kwargs)
        except SlackApiError as exc:
            status = exc.response.status_code
            if status >= 500 or status == 429:
                self.down = f"Slack answered HTTP {status}"
            raise
        except OSError as exc:
            cause = getattr(exc, "reason", exc)  # URLError wraps the socket error
            self.down = f"Slack is unreachable ({type(cause).__name__})"
            raise


def attach_slack(rt: Runtime, settings: Settings) -> BreakGlassClient:
    """Give the runtime's cards (and so its executor) the break-glass client."""
    token = settings.slack_bot_token.get_secret_value() if settings.slack_bot_token else None
    down = None if token else "Slack is not configured (SLACK_BOT_TOKEN is not set)"
    client = BreakGlassClient(token=token, base_url=settings.slack_base_url, down=down)
    rt.client = client
    rt.cards.client = client
    rt.notifier.client = client  # approvers hear of a CLI request as of a Slack one
    rt.membership.client = client
    return client


def slack_reason(exc: BaseException) -> str:
    """A short reason for a Slack failure: Slack's error code, never the request."""
    if isinstance(exc, SlackApiError):
        return f"Slack said {exc.response.get('error', 'error')}"
    return str(exc) if isinstance(exc, SlackUnavailable) else type(exc).__name__


def card_notes(view: RequestView, client: BreakGlassClient) -> list[str]:
    """What Slack shows of this request now, read from the database (the source of truth)."""
    req = view.request
    if not req.card_ref:
        return ["No approval card in Slack for this request."]
    why = client.down or "Slack refused the update"
    notes = []
    if req.card_revision >= req.revision:
        notes.append("Slack card updated.")
    else:
        notes.append(f"Slack card NOT updated ({why}); the running bot updates it later.")
    if view.status.is_final and req.finished_at is not None and not req.result_posted:
        notes.append(f"Result NOT posted in the card's thread ({why}); the bot posts it later.")
    return notes
