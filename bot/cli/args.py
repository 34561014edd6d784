"""Command-line arguments and help of the break-glass commands (kept apart from what they do).

Every command's help ends with the exit status table, so scripts and people read one contract.
"""

from __future__ import annotations

import argparse
import re

from providers import CHANGE_VERBS, Verb

__all__ = [
    "BREAKGLASS_COMMANDS",
    "EXIT_FAILED",
    "EXIT_REFUSED",
    "EXIT_STATUS",
    "HelpFormatter",
    "add_parsers",
]

BREAKGLASS_COMMANDS = frozenset({"request", "approve", "deny", "cancel", "list", "card"})
EXIT_REFUSED = 3
EXIT_FAILED = 4
EXIT_STATUS = """\
exit status:
  0  done
  1  failed: an unexpected error (database unreachable, …), or `card` could not post
  2  usage, config or environment problem, or a start-up problem (the port is in use)
  3  refused: not allowed by the tenant's policy (e.g. cli_can_approve is false), your own
     request, not pending any more, unknown request or tenant, or the targets failed the check;
     nothing was changed
  4  approved and executed, but at least one target failed"""
_CHANNEL_RE = re.compile(r"^[CGD][A-Z0-9]{2,}$")
# set (Tweak Settings) is Slack-only: its key=value checks live in the /smtp grammar
# limit, too: its account:NAME… N form lives in the /smtp grammar
_SLACK_ONLY = (Verb.SET, Verb.LIMIT)
_CHANGE_VERBS = tuple(v.value for v in Verb if v in CHANGE_VERBS and v not in _SLACK_ONLY)


def channel_id(text: str) -> str:
    """A Slack channel ID, as in the config's ``channel`` key."""
    if not _CHANNEL_RE.match(text):
        raise argparse.ArgumentTypeError(f"“{text}” is not a Slack channel ID (like C0123ABCD)")
    return text


class HelpFormatter(argparse.HelpFormatter):
    """Wraps prose, but keeps text that has its own line breaks (the exit status table)."""

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        if "\n" in text:
            return "".join(indent + line for line in text.splitlines(keepends=True))
        return super()._fill_text(text, width, indent)


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register the break-glass subcommands on the top-level parser."""

    def command(name: str, summary: str, description: str) -> argparse.ArgumentParser:
        return sub.add_parser(
            name,
            help=summary,
            description=description,
            epilog=EXIT_STATUS,
            formatter_class=HelpFormatter,
        )

    req = command(
        "request",
        "break-glass: request a change (Slack may be down)",
        "Store a change request as cli:<os-user>, exactly as `/smtp <verb>` does, and post its "
        "approval card in the tenant's channel if Slack answers. Without targets the change "
        "covers the whole tenant. Targets: user@domain, account:NAME (WHM), mailbox GUID "
        "(Exchange).",
    )
    req.add_argument("verb", choices=_CHANGE_VERBS, help="the change")
    req.add_argument("tenant", help="tenant name from the config file")
    req.add_argument("targets", nargs="*", metavar="target", help="what to change")
    req.add_argument("--reason", help="why (shown to approvers and kept in the audit trail)")
    req.add_argument(
        "--for",
        dest="duration",
        metavar="DURATION",
        help="disable/hold only: undo it automatically after this long (e.g. 30m, 4h, 2d); "
        "the running bot's worker does the undo",
    )
    req.add_argument(
        "--all-accounts",
        action="store_true",
        help="disable/enable only (WHM): every cPanel account's outgoing mail, as "
        "`/smtp disable <tenant> --all-accounts`",
    )
    req.add_argument(
        "--channel", type=channel_id, help="Slack channel ID for the card (default: tenant's)"
    )

    approve = command(
        "approve",
        "break-glass: approve a pending request and execute it",
        "Approve as cli:<os-user>. Counts only if the tenant sets `cli_can_approve: true`, and "
        "never for your own request. Once the request has enough approvals it is executed here "
        "and now, verified on the back end, and the per-target results are printed.",
    )
    approve.add_argument("id", type=int, help="request ID")
    approve.add_argument(
        "--wait",
        type=float,
        default=120.0,
        metavar="SECONDS",
        help="if the running bot's worker executes it instead, wait this long for the results "
        "(default 120)",
    )

    deny = command("deny", "break-glass: deny a pending request", "Deny as cli:<os-user>.")
    deny.add_argument("id", type=int, help="request ID")
    deny.add_argument("--reason", help="why (shown on the card and kept in the audit trail)")

    cancel = command(
        "cancel",
        "break-glass: withdraw your own pending request",
        "Cancel a pending request that cli:<os-user> made.",
    )
    cancel.add_argument("id", type=int, help="request ID")

    lst = command(
        "list",
        "pending requests",
        "Pending requests: ID, tenant, verb, targets, requester, age and approvals.",
    )
    lst.add_argument("--tenant", help="only this tenant")

    card = command(
        "card",
        "post the approval card of a pending request that has none",
        "Post the Slack approval card of a pending request made while Slack was down, so that "
        "approvers can decide in Slack.",
    )
    card.add_argument("id", type=int, help="request ID")
    card.add_argument(
        "--channel", type=channel_id, help="Slack channel ID (default: the tenant's channel)"
    )
