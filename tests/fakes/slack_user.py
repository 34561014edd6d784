"""Slack's side of inbound requests: slash commands and button presses, signed exactly as
Slack signs them (``v0:{timestamp}:{raw body}``, HMAC-SHA256 with the signing secret)."""

from __future__ import annotations

import itertools
import json
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import httpx
from slack_sdk.signature import SignatureVerifier

__all__ = ["SlackSender"]

_counter = itertools.count(1)


@dataclass
class SlackSender:
    """Posts signed requests to the bot's ``/slack/events``."""

    bot_url: str
    signing_secret: str
    response_base: str  # the fake Slack's /response/ prefix
    team_id: str = "T0TEST"

    def _post(
        self, body: str, *, timestamp: int | None = None, signature: str | None = None
    ) -> httpx.Response:
        ts = str(int(time.time()) if timestamp is None else timestamp)
        sig = signature or SignatureVerifier(self.signing_secret).generate_signature(
            timestamp=ts, body=body
        )
        headers = {
            "Content-Type": "application/x-www-form-urlencoded",
            "X-Slack-Request-Timestamp": ts,
            "X-Slack-Signature": sig,
            "User-Agent": "Slackbot 1.0 (+https://api.slack.com/robots)",
        }
        return httpx.post(f"{self.bot_url}/slack/events", content=body, headers=headers, timeout=10)

    def command_body(self, text: str, *, user: str, channel: str = "C0OPS") -> tuple[str, str]:
        """The form body of ``/smtp text`` and the name of its response_url."""
        name = f"cmd-{next(_counter)}"
        fields = {
            "token": "deprecated-verification-token",
            "team_id": self.team_id,
            "team_domain": "test",
            "channel_id": channel,
            "channel_name": "ops",
            "user_id": user,
            "user_name": user.lower(),
            "command": "/smtp",
            "text": text,
            "api_app_id": "A0SMTPBOT",
            "is_enterprise_install": "false",
            "response_url": f"{self.response_base}{name}",
            "trigger_id": f"{next(_counter)}.1.abc",
        }
        return urlencode(fields), name

    def command(self, text: str, *, user: str, channel: str = "C0OPS", **kw: Any):
        body, name = self.command_body(text, user=user, channel=channel)
        return self._post(body, **kw), name

    def event(self, event: dict[str, Any]) -> httpx.Response:
        """An Events API callback (JSON body), e.g. app_home_opened."""
        body = json.dumps(
            {
                "token": "deprecated-verification-token",
                "team_id": self.team_id,
                "api_app_id": "A0SMTPBOT",
                "event": event,
                "type": "event_callback",
                "event_id": f"Ev{next(_counter):08d}",
                "event_time": int(time.time()),
            }
        )
        ts = str(int(time.time()))
        sig = SignatureVerifier(self.signing_secret).generate_signature(timestamp=ts, body=body)
        headers = {
            "Content-Type": "application/json",
            "X-Slack-Request-Timestamp": ts,
            "X-Slack-Signature": sig,
        }
        return httpx.post(f"{self.bot_url}/slack/events", content=body, headers=headers, timeout=10)

    def press_home(self, action_id: str, value: str, *, user: str) -> httpx.Response:
        """A button press inside the App Home tab (container type ``view``, no channel)."""
        payload = self._block_actions(action_id, value, user=user, block_id=f"home-{value}")
        payload["container"] = {"type": "view", "view_id": "V0HOME"}
        payload["view"] = {"id": "V0HOME", "type": "home", "blocks": []}
        return self._post(urlencode({"payload": json.dumps(payload)}))

    def _block_actions(
        self, action_id: str, value: str, *, user: str, block_id: str
    ) -> dict[str, Any]:
        """What every block_actions payload carries: who pressed which button."""
        return {
            "type": "block_actions",
            "user": {
                "id": user,
                "username": user.lower(),
                "name": user.lower(),
                "team_id": self.team_id,
            },
            "api_app_id": "A0SMTPBOT",
            "token": "deprecated-verification-token",
            "trigger_id": f"{next(_counter)}.1.jkl",
            "team": {"id": self.team_id, "domain": "test"},
            "actions": [
                {
                    "action_id": action_id,
                    "block_id": block_id,
                    "text": {"type": "plain_text", "text": "button"},
                    "value": value,
                    "type": "button",
                    "action_ts": f"{time.time():.6f}",
                }
            ],
        }

    def submit_view(
        self, view: dict[str, Any], *, user: str, values: dict[str, dict[str, Any]]
    ) -> httpx.Response:
        return self._post(
            view_submission_body(view, user=user, values=values, team_id=self.team_id)
        )

    def press(
        self, action_id: str, value: str, *, user: str, channel: str, message_ts: str, **kw: Any
    ) -> httpx.Response:
        """A block_actions payload for a button on the message ``message_ts``."""
        payload = self._block_actions(action_id, value, user=user, block_id=f"req-{value}-decide")
        payload.update(
            {
                "container": {
                    "type": "message",
                    "message_ts": message_ts,
                    "channel_id": channel,
                    "is_ephemeral": False,
                },
                "enterprise": None,
                "is_enterprise_install": False,
                "channel": {"id": channel, "name": "ops"},
                "message": {"type": "message", "ts": message_ts, "text": "card"},
                "state": {"values": {}},
                "response_url": f"{self.response_base}act-{next(_counter)}",
            }
        )
        body = urlencode({"payload": json.dumps(payload)})
        return self._post(body, **kw)


def view_submission_body(
    view: dict[str, Any], *, user: str, values: dict[str, dict[str, Any]], team_id: str
) -> str:
    """The form body Slack sends when a modal (as opened with views.open) is submitted."""
    payload = {
        "type": "view_submission",
        "team": {"id": team_id, "domain": "test"},
        "user": {"id": user, "username": user.lower(), "name": user.lower(), "team_id": team_id},
        "api_app_id": "A0SMTPBOT",
        "token": "deprecated-verification-token",
        "trigger_id": f"{next(_counter)}.1.ghi",
        "view": {
            **view,
            "id": f"V{next(_counter)}",
            "team_id": team_id,
            "state": {"values": values},
            "hash": "1700000000.abc",
            "app_id": "A0SMTPBOT",
            "bot_id": "B0BOT",
        },
        "response_urls": [],
        "is_enterprise_install": False,
        "enterprise": None,
    }
    return urlencode({"payload": json.dumps(payload)})
