"""Reading one target's outbound-mail state from WHM, as the provider reports it."""

from __future__ import annotations

from providers import whm_limits
from providers.base import TargetState
from providers.errors import Rejected, TargetNotFound
from providers.targets import Target
from providers.whm_client import WhmClient, flag
from providers.whm_owners import outgoing_summary

__all__ = ["account_state", "mailbox_state", "tenant_state"]


def tenant_state(client: WhmClient, target: Target, key: str) -> TargetState:
    """The whole server: the SMTP Restrictions Tweak Setting (``key``)."""
    value = client.tweak_value(key)
    if value == 1:
        summary = "SMTP Restrictions on: only root, exim and mailman may send to remote SMTP"
    elif value == 0:
        summary = "SMTP Restrictions off: every local user may send to remote SMTP"
    else:
        summary = "SMTP Restrictions not set in cpanel.config"
    return TargetState(target, summary, {key: value})


def account_state(client: WhmClient, target: Target) -> TargetState:
    """One cPanel account: its outgoing suspension and hold (``accountsummary``)."""
    try:
        acct = client.account(target.name)
    except Rejected as exc:  # "Account does not exist." (or no access to it)
        raise TargetNotFound(
            f"no cPanel account {target.name} on this server ({exc.user_message})"
        ) from exc
    if acct is None:
        raise TargetNotFound(f"no cPanel account {target.name} on this server")
    suspended = flag(acct.get("outgoing_mail_suspended"))
    held = flag(acct.get("outgoing_mail_hold"))
    facts = {"outgoing_mail_suspended": suspended, "outgoing_mail_hold": held}
    summary = outgoing_summary(suspended, held) + whm_limits.status_words(acct)
    return TargetState(target, summary, facts)


def mailbox_state(client: WhmClient, target: Target, owner: str) -> TargetState:
    """One mailbox of ``owner``: outgoing suspension, hold and login (``list_pops_with_disk``)."""
    item = client.mailbox(owner, target.name)
    if item is None:
        raise TargetNotFound(f"no mailbox {target.name} on this server (account {owner})")
    suspended = flag(item.get("suspended_outgoing"))
    held = flag(item.get("hold_outgoing"))
    facts: dict[str, object] = {
        "account": owner,
        "suspended_outgoing": suspended,
        "hold_outgoing": held,
        "suspended_login": flag(item.get("suspended_login")),
        "suspended_incoming": flag(item.get("suspended_incoming")),
    }
    login = "; login suspended" if facts["suspended_login"] else ""
    return TargetState(target, outgoing_summary(suspended, held) + login, facts)
