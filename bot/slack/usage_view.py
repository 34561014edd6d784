"""The ``/smtp usage`` answer: who authenticated with SMTP AUTH, what an org-wide disable
would do to each, and the button that requests it, keeping them allowed.

At most 50 blocks and 3,000 characters a section: the worst rows are shown (who would break
first), the rest counted; the impact lists name at most a few each.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from bot.commands.usage import OFFER_TTL, UsageAnswer
from bot.config.durations import format_duration
from bot.slack.mrkdwn import escape
from bot.slack.views import when
from providers.microsoft.smtp_usage import Impact, UsageRow

__all__ = ["USAGE_ACTION", "button_text", "usage_message"]

USAGE_ACTION = "smtp_usage_request"
SHOWN_ROWS = 25
_ROWS_PER_SECTION = 5
_NAMED = 8
_SECTION_LIMIT = 2900
_IMPACT = {
    Impact.BREAKS: ":x: breaks",
    Impact.UNKNOWN: ":grey_question: unknown",
    Impact.STAYS: ":white_check_mark: stays allowed",
    Impact.ORG_OFF: ":no_entry_sign: blocked (organisation)",
    Impact.BLOCKED: ":no_entry_sign: blocked (own setting)",
}


def _ps(value: bool | None) -> str:
    return "$null" if value is None else f"${str(value).lower()}"


def _row(row: UsageRow) -> str:
    usage = row.usage
    ips = ", ".join(escape(ip) for ip in usage.addresses[:3])
    if len(usage.addresses) > 3:
        ips += f" (+{len(usage.addresses) - 3})"
    own = f"own `{_ps(row.own_setting)}`" if row.impact is not Impact.UNKNOWN else "own ?"
    line = (
        f"• `{escape(usage.user)}`: {usage.sign_ins} sign-in(s), last {_when(usage.last_seen)}, "
        f"from {ips or 'no address logged'}; {own} → {_IMPACT[row.impact]}"
    )
    if row.problem:
        line += f" ({escape(row.problem[:200])})"
    return line


def _when(moment: datetime) -> str:
    return when(moment)


def _names(rows: list[UsageRow]) -> str:
    names = ", ".join(f"`{escape(r.usage.user)}`" for r in rows[:_NAMED])
    return names + (f" and {len(rows) - _NAMED} more" if len(rows) > _NAMED else "")


def _impact_text(answer: UsageAnswer) -> str:
    report = answer.report
    if report.org_disabled is None:
        return (
            f"*If SMTP AUTH were disabled org-wide:* unknown: the organisation's setting could "
            f"not be read ({escape(report.org_problem)})."
        )
    if report.org_disabled:
        return (
            "*The organisation already has SMTP AUTH off* (`SmtpClientAuthenticationDisabled "
            "= $true`): an org-wide disable changes nothing. Mailboxes with their own `$false` "
            "are its exceptions."
        )
    lines = ["*If SMTP AUTH is disabled org-wide* (`Set-TransportConfig $true`):"]
    groups = (
        (
            Impact.BREAKS,
            "would break: their own setting is `$null`, so they follow the organisation",
        ),
        (Impact.STAYS, "stay allowed: their own setting is `$false`"),
        (Impact.BLOCKED, "are blocked already: their own setting is `$true`"),
        (Impact.UNKNOWN, "could not be read, so they are not in the exceptions: check them first"),
    )
    for impact, words in groups:
        rows = report.with_impact(impact)
        if rows:
            lines.append(f"• {len(rows)} {words}: {_names(rows)}")
    if len(lines) == 1:
        lines.append("• nobody authenticated with SMTP AUTH in the window: nobody breaks.")
    return "\n".join(lines)


def button_text(count: int) -> str:
    """The button's label, as the operator contract names it."""
    if count == 0:
        return "Request org-wide disable"
    return f"Request org-wide disable, keeping these {count}"


def _sections(texts: list[str]) -> list[dict[str, Any]]:
    return [
        {"type": "section", "text": {"type": "mrkdwn", "text": t[:_SECTION_LIMIT]}} for t in texts
    ]


def usage_message(answer: UsageAnswer) -> tuple[str, list[dict[str, Any]]]:
    """(fallback text, blocks) of the ephemeral answer."""
    report = answer.report
    window = format_duration(answer.since)
    total = sum(r.usage.sign_ins for r in report.rows)
    head = (
        f"*SMTP AUTH on `{escape(answer.tenant)}`, last {window}* (since "
        f"{when(report.since)}): {len(report.rows)} user(s), {total} successful sign-in(s)."
    )
    if report.org_disabled is not None:
        head += f" Organisation: `SmtpClientAuthenticationDisabled = {_ps(report.org_disabled)}`."
    fallback = (
        f"SMTP AUTH on {answer.tenant}, last {window}: {len(report.rows)} user(s), "
        f"{total} sign-in(s)"
    )
    blocks = _sections([head])
    shown = list(report.rows[:SHOWN_ROWS])
    chunks = [shown[i : i + _ROWS_PER_SECTION] for i in range(0, len(shown), _ROWS_PER_SECTION)]
    blocks += _sections(["\n".join(_row(r) for r in chunk) for chunk in chunks])
    if len(report.rows) > SHOWN_ROWS:
        rest = report.rows[SHOWN_ROWS:]
        breaks = sum(r.impact is Impact.BREAKS for r in rest)
        blocks += _sections(
            [f"… and {len(rest)} more user(s) ({breaks} of them would break), worst shown first."]
        )
    blocks += _sections([_impact_text(answer)])
    offer = answer.offer
    if offer is not None:
        keep = len(offer.targets) - 1
        blocks.append(
            {
                "type": "actions",
                "block_id": f"usage-{offer.id}",
                "elements": [
                    {
                        "type": "button",
                        "action_id": USAGE_ACTION,
                        "style": "danger",
                        "text": {"type": "plain_text", "text": button_text(keep)},
                        "value": str(offer.id),
                    }
                ],
            }
        )
    note = (
        f"Microsoft Entra sign-in logs (client app 'Authenticated SMTP', successful sign-ins), "
        f"{report.pages} page(s), read {when(answer.read_at)}. "
    )
    if offer is not None:
        note += (
            f"The button stores ONE change request (org `$true`, `$false` for exactly the "
            f"mailboxes that stay allowed, exceptions first) for approval; it holds for "
            f"{format_duration(OFFER_TTL)}."
        )
    else:
        note += escape(answer.why_no_offer)
    blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": note[:2900]}]})
    return fallback, blocks
