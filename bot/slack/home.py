"""The App Home tab: what waits for the viewer, the viewer's own requests, recent activity."""

from __future__ import annotations

import logging
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from approvals import RequestView, Workflow
from bot.slack.reports import age
from bot.slack.views import CANCEL_ACTION, decision_buttons, escape, mention, summary_line, when

__all__ = ["UNAVAILABLE_VIEW", "HomeTab", "home_view"]

log = logging.getLogger(__name__)

_MAX_WAITING = 15
_MAX_OWN = 10
_MAX_EVENTS = 15


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text[:2900]}}


def _header(text: str) -> dict[str, Any]:
    return {"type": "header", "text": {"type": "plain_text", "text": text}}


# what a user of a workspace outside slack.allowed_team_ids sees: nothing of any tenant
UNAVAILABLE_VIEW: dict[str, Any] = {
    "type": "home",
    "blocks": [
        {
            "type": "section",
            "text": {"type": "mrkdwn", "text": "smtp-bot is not available in this workspace."},
        }
    ],
}


def home_view(
    *,
    waiting: list[RequestView],
    own: list[RequestView],
    events: list[Any],
    active: list[RequestView] | None = None,
    notice: str | None = None,
) -> dict[str, Any]:
    """A Home tab view; stays under Slack's 100-block limit by construction."""
    blocks: list[dict[str, Any]] = []
    if notice:
        blocks.append(_section(f":information_source: {escape(notice)}"))
    blocks.append(_header("Waiting for your approval"))
    if not waiting:
        blocks.append(_section("_Nothing waits for you._"))
    for view in waiting[:_MAX_WAITING]:
        blocks.append(_section(f"{summary_line(view)}, waiting {age(view.request.created_at)}"))
        blocks.append(decision_buttons(view, block_id=f"home-{view.id}-r{view.request.revision}"))
    blocks.append({"type": "divider"})
    blocks.append(_header("Your open requests"))
    if not own:
        blocks.append(_section("_You have no open requests._"))
    for view in own[:_MAX_OWN]:
        text = f"{summary_line(view)}: *{view.status.value}*"
        block = _section(text)
        if view.status.value == "pending":
            block["accessory"] = {
                "type": "button",
                "action_id": CANCEL_ACTION,
                "text": {"type": "plain_text", "text": "Cancel"},
                "value": str(view.id),
            }
        blocks.append(block)
    blocks.append({"type": "divider"})
    blocks.append(_header("Timed restrictions in force"))
    lines_active = [
        f"{summary_line(v)}: {v.request.revert_verb} at {when(v.request.revert_at)}"
        for v in (active or [])[:_MAX_OWN]
        if v.request.revert_at is not None
    ]
    blocks.append(_section("\n".join(lines_active) if lines_active else "_None._"))
    blocks.append({"type": "divider"})
    blocks.append(_header("Recent activity"))
    lines = [
        f"{e.at:%Y-%m-%d %H:%M}Z {e.event}"
        + (f" #{e.request_id}" if e.request_id else "")
        + (f" on `{escape(e.tenant)}`" if e.tenant else "")
        + f" by {mention(e.actor)}"
        for e in events[:_MAX_EVENTS]
    ]
    blocks.append(_section("\n".join(lines) if lines else "_No activity yet._"))
    return {"type": "home", "blocks": blocks}


class HomeTab:
    """Builds and publishes a user's Home tab."""

    def __init__(self, client: WebClient, workflow: Workflow) -> None:
        self.client = client
        self.workflow = workflow

    def view_for(self, user: str, notice: str | None = None) -> dict[str, Any]:
        waiting = [
            v
            for v in self.workflow.pending()
            if user not in v.approvers and self.workflow.check_decider(v, user) is None
        ]
        return home_view(
            waiting=waiting,
            own=self.workflow.open_requests(user, limit=_MAX_OWN),
            events=self.workflow.history(limit=_MAX_EVENTS),
            active=self.workflow.active_restrictions(),
            notice=notice,
        )

    def publish(self, user: str, notice: str | None = None, *, allowed: bool = True) -> None:
        """Publish the user's tab (``allowed`` False: the workspace is not allowed, so the
        short "not available" view, which replaces anything shown before)."""
        view = self.view_for(user, notice) if allowed else UNAVAILABLE_VIEW
        try:
            self.client.views_publish(user_id=user, view=view)
        except (SlackApiError, OSError) as exc:
            log.warning("could not publish App Home for %s: %s", user, type(exc).__name__)
