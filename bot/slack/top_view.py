"""The answer to ``/smtp top`` (one block per sender, worst first, each with a **Request
disable** button) and the dialog that asks for the reason. At most 40 rows plus 3 blocks:
under Slack's 50 blocks per message."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from bot.config.durations import format_duration
from bot.slack.mrkdwn import escape
from providers.errors import InvalidTarget
from providers.targets import Scope, Target
from providers.whm_tracking import SAMPLE, TopReport, TopRow

__all__ = [
    "TOP_DISABLE_ACTION",
    "TOP_MODAL",
    "TOP_REASON_ACTION",
    "TOP_REASON_BLOCK",
    "auth_words",
    "top_message",
    "top_modal",
]

TOP_DISABLE_ACTION = "smtp_top_disable"
TOP_MODAL = "smtp_top_disable_modal"
TOP_REASON_BLOCK = "top_reason"
TOP_REASON_ACTION = "reason"
_LOOPBACK = ("127.0.0.1", "::1")


def auth_words(row: TopRow) -> str:
    """How the mail was submitted, from eximstats' ``senderauth`` (Cpanel::TailWatch::
    Eximstats: Exim's A= authenticator, ``localuser`` for P=local, …)."""
    auth = row.auth
    if auth is None:
        return "not in the sample"
    if auth == "localuser":
        return "a local script (PHP mail() / sendmail)"
    if auth.startswith("dovecot_") or "login" in auth or "plain" in auth:
        if row.top_ip in _LOOPBACK:
            return f"an SMTP login from this server, e.g. webmail (`{escape(auth)}`)"
        return f"an SMTP login (`{escape(auth)}`): a password in use"
    if auth == "recent_authed_mail_ips":
        return "relayed after a POP/IMAP login (POP-before-SMTP)"
    if auth == "localdelivery":
        return "unauthenticated"
    if auth == "mailman":
        return "a mailing list (Mailman)"
    return f"`{escape(auth)}`"


def _who(row: TopRow) -> str:
    if row.address:
        return f"`{escape(row.address)}` (account `{escape(row.account)}`)"
    if row.script:
        return f"`account:{escape(row.account)}` (a script; the address is not known)"
    return f"`account:{escape(row.account)}` (no address in the sample)"


def _line(n: int, row: TopRow) -> str:
    approx = "≈" if row.estimated else ""
    parts = [
        f"sent *{approx}{row.sent:,}*",
        f"deferred + failed *{approx}{row.deferfail:,}*",
        auth_words(row),
        f"top IP `{escape(row.top_ip)}`" if row.top_ip else "top IP not known",
    ]
    if row.hit_limit:
        parts.append(":rotating_light: hit the hourly limit")
    if row.hit_deferfail_limit:
        parts.append(":rotating_light: hit the defer/fail limit")
    parts.append(f"*{row.queued:,}* queued now")
    return f"*{n}.* {_who(row)}\n" + " · ".join(parts)


def button_value(tenant: str, row: TopRow) -> str:
    """What the button carries: the tenant and the target, checked again when pressed."""
    return f"{tenant} {row.target}"


def top_message(
    tenant: str, report: TopReport, since: timedelta
) -> tuple[str, list[dict[str, Any]]]:
    """(fallback text, blocks) for the caller only."""
    window = format_duration(since)
    start = datetime.fromtimestamp(report.start, UTC).strftime("%Y-%m-%d %H:%M")
    end = datetime.fromtimestamp(report.end, UTC).strftime("%H:%M UTC")
    head = (
        f"*Top senders on `{escape(tenant)}`, last {window}* ({start}–{end}): "
        f"{report.messages:,} messages tracked, {report.queued:,} in the queue now."
    )
    blocks: list[dict[str, Any]] = [_section(head)]
    if not report.complete:
        blocks.append(
            _context(
                f"≈ estimated: the window holds more than {SAMPLE:,} delivery records, so each "
                f"address's share of the newest {SAMPLE:,} is applied to its account's exact "
                "totals (emailtrack_user_stats)."
            )
        )
    if not report.rows:
        blocks.append(_section(f"No outgoing mail tracked on `{escape(tenant)}` in that window."))
    lines = []
    for n, row in enumerate(report.rows, 1):
        text = _line(n, row)
        lines.append(text)
        block = _section(text, block_id=f"top-{n}")
        if not _targetable(row.target):
            block["text"]["text"] = (text + "\n_No button: the bot cannot target that name._")[
                :2900
            ]
            blocks.append(block)
            continue
        block["accessory"] = {
            "type": "button",
            "action_id": TOP_DISABLE_ACTION,
            "text": {"type": "plain_text", "text": "Request disable"},
            "style": "danger",
            "value": button_value(tenant, row)[:2000],
        }
        blocks.append(block)
    blocks.append(
        _context(
            "Request disable asks for a reason, then posts a normal approval card: a mailbox "
            "for an SMTP login, the whole account for a script. Only you see this."
        )
    )
    fallback = "\n".join([head.replace("*", ""), *(line.replace("\n", " ") for line in lines)])
    return fallback[:3000], blocks


def top_modal(tenant: str, target: str, channel: str | None) -> dict[str, Any]:
    """The dialog that asks the reason before a disable request for ``target`` is stored."""
    metadata = json.dumps({"tenant": tenant, "target": target, "channel": channel})
    what = f"`{escape(target)}` on `{escape(tenant)}`"
    return {
        "type": "modal",
        "callback_id": TOP_MODAL,
        "private_metadata": metadata,
        "title": {"type": "plain_text", "text": "Request disable"},
        "submit": {"type": "plain_text", "text": "Request"},
        "close": {"type": "plain_text", "text": "Back"},
        "blocks": [
            _section(
                f"Request to disable outgoing mail for {what}. It needs approval like any "
                "`/smtp disable`; the card is posted in the tenant's approval channel."
            ),
            {
                "type": "input",
                "block_id": TOP_REASON_BLOCK,
                "label": {"type": "plain_text", "text": "Reason"},
                "element": {
                    "type": "plain_text_input",
                    "action_id": TOP_REASON_ACTION,
                    "max_length": 500,
                    "placeholder": {"type": "plain_text", "text": "e.g. spam run from a script"},
                },
            },
        ],
    }


def _targetable(key: str) -> bool:
    try:
        return Target.parse(key).scope in (Scope.MAILBOX, Scope.ACCOUNT)
    except InvalidTarget:
        return False


def _section(text: str, *, block_id: str | None = None) -> dict[str, Any]:
    block: dict[str, Any] = {"type": "section", "text": {"type": "mrkdwn", "text": text[:2900]}}
    if block_id:
        block["block_id"] = block_id
    return block


def _context(text: str) -> dict[str, Any]:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": text[:2900]}]}
