"""``/smtp top`` after the ack: a live read like ``status``, answered to the caller only."""

from __future__ import annotations

from approvals import WorkflowError
from bot.commands import grammar
from bot.commands.access import Origin
from bot.errors import CommandError
from bot.slack.context import SlackContext
from bot.slack.http_client import Responder
from bot.slack.mrkdwn import escape
from bot.slack.top_view import top_message

__all__ = ["answer_top"]


def answer_top(rt: SlackContext, parsed: grammar.Top, respond: Responder, origin: Origin) -> None:
    """Counted as one read against the caller's limit; refusals worded for the person."""
    try:
        rt.service.precheck(parsed)
        rt.access.admit_read(origin, tenant=parsed.tenant, targets=1)
        report = rt.service.top(parsed)
    except (CommandError, WorkflowError) as exc:
        respond(response_type="ephemeral", text=f":warning: {escape(str(exc))}")
        return
    text, blocks = top_message(parsed.tenant, report, parsed.since)
    respond(response_type="ephemeral", text=text, blocks=blocks)
