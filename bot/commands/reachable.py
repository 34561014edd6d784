"""Whether anyone can approve a request before it is stored (issue: requests nobody could
approve used to be stored and simply expire).

At load time only listed user IDs are counted (bot.config.approvers). When a request is made,
user groups are resolved through ``members`` (Slack's usergroups.users.list behind it), the
requester is left out, and a count nobody can give is refused with the numbers. A group
whose members cannot be read counts as unknown: then the request is stored as before."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from bot.errors import CommandError

__all__ = ["Unapprovable", "check_reachable"]

Members = Callable[[str], frozenset[str]]  # a user group's member IDs; empty when unknown


class Unapprovable(CommandError):
    """Too few people other than the requester can approve this request."""


def check_reachable(
    *,
    tenant: str,
    approvers: Iterable[str],
    needed: int,
    requester: str,
    members: Members,
    tenant_wide: bool,
) -> None:
    """Raise Unapprovable when fewer than ``needed`` others can approve; else return."""
    listed = list(approvers)
    people = {a for a in listed if not a.startswith("S")}
    for group in (a for a in listed if a.startswith("S")):
        found = members(group)
        if not found:
            return  # unknown (Slack did not answer, or an empty group): do not guess
        people |= found
    others = sorted(people - {requester})
    if len(others) >= needed:
        return
    kind = "A whole-tenant change" if tenant_wide else "A request"
    who = ", ".join(others) if others else "nobody"
    raise Unapprovable(
        f"Nothing was requested: {kind} for {tenant} needs {needed} approvals from people "
        f"other than you, and only {len(others)} can give one ({who}). Ask an admin to add "
        "approvers for this tenant."
    )
