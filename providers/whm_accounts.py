"""Every cPanel account on a WHM server and its outgoing-mail state, from one ``listaccts``.

``/smtp disable <tenant> --all-accounts`` suspends each account's outgoing mail (the same
``suspend_outgoing_email`` call as ``account:NAME``); this module is the listing it starts
from: read once when the request is made (how many accounts the card names) and once when
it executes (the accounts it changes, with each one's state before).

Facts (SRC ``Whostmgr/API/1/Accounts.pm`` ``listaccts``, ``Whostmgr/Accounts/List.pm``):
``want=a,b`` keeps only those fields of each ``data.acct[]`` record; the records carry
``user``, ``outgoing_mail_suspended`` and ``outgoing_mail_hold`` (0/1, from the cpuser
file); a server with no accounts answers ``result`` 1 without a ``data`` key; a reseller's
token lists only the accounts it owns.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from providers.base import TargetState
from providers.errors import ProtocolError
from providers.targets import Target
from providers.whm_client import WhmClient, flag

__all__ = ["ServerAccount", "census", "list_accounts"]

_WANT = "user,outgoing_mail_suspended,outgoing_mail_hold"
_USER_RE = re.compile(r"^[a-z][a-z0-9]{0,15}$")  # what Target accepts as account:NAME


@dataclass(frozen=True, slots=True)
class ServerAccount:
    """One account as ``listaccts`` reports it; ``usable``: a name the bot accepts as a
    target (anything else is reported by name, never sent back to WHM)."""

    user: str
    outgoing_mail_suspended: int
    outgoing_mail_hold: int

    @property
    def usable(self) -> bool:
        return bool(_USER_RE.match(self.user))


def list_accounts(client: WhmClient) -> list[ServerAccount]:
    """Every account the token may see, in WHM's order, each once."""
    reply = client.call("listaccts", {"want": _WANT})
    data = reply.get("data")
    if data is None:
        return []  # no accounts: WHM leaves ``data`` out
    accts = data.get("acct") if isinstance(data, dict) else None
    if not isinstance(accts, list):
        raise ProtocolError("WHM listaccts reply has no data.acct list")
    seen: dict[str, ServerAccount] = {}
    for item in accts:
        if not isinstance(item, dict) or not isinstance(item.get("user"), str):
            raise ProtocolError("WHM listaccts returned a record without a user name")
        user = item["user"]
        seen.setdefault(
            user,
            ServerAccount(
                user,
                flag(item.get("outgoing_mail_suspended")),
                flag(item.get("outgoing_mail_hold")),
            ),
        )
    return list(seen.values())


def census(target: Target, accounts: list[ServerAccount]) -> TargetState:
    """``30 accounts, 5 with outgoing mail suspended``: what the card says at request time."""
    suspended = sum(a.outgoing_mail_suspended for a in accounts)
    summary = f"{len(accounts):,} accounts, {suspended:,} with outgoing mail suspended"
    return TargetState(target, summary, {"accounts": len(accounts), "suspended": suspended})
