"""Every sentence the bot says to people about commands, in one place."""

from __future__ import annotations

from collections.abc import Iterable

__all__ = [
    "ALWAYS_AVAILABLE",
    "USAGE",
    "WHOLE_TENANT",
    "help_text",
    "ALL_ACCOUNTS",
    "whole_tenant_note",
    "targets_line",
    "usage_for",
]

USAGE: dict[str, tuple[str, str]] = {
    "disable": (
        "/smtp disable <tenant> [target … | --all-accounts] [--login] [--for 24h] [--reason TEXT]",
        "Stop outbound mail for the targets; with --for, it is undone automatically after "
        "that long. No target: on WHM, turns on SMTP Restrictions, which stops local "
        "programs from connecting to remote SMTP servers directly but does NOT stop mail sent "
        "through Exim (authenticated SMTP, webmail, PHP mail()); on Exchange, turns SMTP AUTH "
        "off for the whole organisation. --login (WHM mailboxes): also suspend each "
        "mailbox's login, so its password stops working for IMAP/POP and SMTP AUTH. "
        "`/smtp disable <tenant> --all-accounts` (WHM): "
        "suspends outgoing mail for every cPanel account on the server, which DOES stop "
        "Exim mail (authenticated SMTP, webmail, scripts); whole-server approvals.",
    ),
    "enable": (
        "/smtp enable <tenant> [target … | --all-accounts] [--login] [--reason TEXT]",
        "Allow outbound mail again for the targets. No target: on WHM, turns SMTP "
        "Restrictions off (local programs may connect to remote SMTP servers again); on "
        "Exchange, turns SMTP AUTH back on for the organisation. --login (WHM mailboxes): "
        "also lift each mailbox's login suspension. "
        "`/smtp enable <tenant> --all-accounts` (WHM): lifts only the suspensions the latest "
        "`disable --all-accounts` set; accounts suspended before it stay suspended.",
    ),
    "hold": (
        "/smtp hold <tenant> <target …> [--for 2h] [--reason TEXT]",
        "Queue outbound mail instead of sending it (WHM); --for releases it after that long.",
    ),
    "release": (
        "/smtp release <tenant> <target …> [--reason TEXT]",
        "Send the mail held by `hold` (WHM).",
    ),
    "reset": (
        "/smtp reset <tenant> <mailbox …> [--reason TEXT]",
        "Make mailboxes follow the organisation's SMTP AUTH setting (Exchange).",
    ),
    "set": (
        "/smtp set <tenant> <key>=<value>… [--for DURATION] [--reason TEXT]",
        "Change the server's outbound-mail Tweak Settings (WHM; whole-server approvals); "
        "several keys apply together or not at all; --for sets the previous values back.",
    ),
    "limit": (
        "/smtp limit <tenant> <account:NAME…> <N|unlimited> [--for DURATION] [--reason TEXT]",
        "Throttle instead of block (WHM): each domain of the accounts may send at most N "
        "messages an hour to remote addresses; --for puts each previous limit back. A change "
        "of the account's hosting package overwrites it (the card warns).",
    ),
    "policy": (
        "/smtp policy <tenant>",
        "The server's outbound-mail Tweak Settings, their values now and what each does "
        "(WHM). Needs no approval.",
    ),
    "status": (
        "/smtp status <tenant> [target …]",
        "Show the live state, read from the back end. Needs no approval.",
    ),
    "queue": (
        "/smtp queue <tenant> [target]",
        "Exim's mail queue (WHM): messages, frozen, oldest, size; with a target, that "
        "sender's messages and their top recipient domains. Needs no approval.",
    ),
    "top": (
        "/smtp top <tenant> [--since DURATION] [--limit N]",
        "Who sent the most outgoing mail (WHM email tracking; default the last 1h, at most 7d; "
        "10 rows, at most 40), worst first: sent, deferred + failed, how it was submitted, "
        "top source IP, hourly limit hit, messages now queued; each row has a Request disable "
        "button. Needs no approval.",
    ),
    "purge": (
        "/smtp purge <tenant> <target …> [--reason TEXT]",
        "Delete the targets' queued outgoing mail and held messages (WHM). This cannot be undone.",
    ),
    "usage": (
        "/smtp usage <tenant> [--since 7d]",
        "Who authenticated with SMTP AUTH in the window (at most 30d), from Microsoft Entra "
        "sign-in logs, with each mailbox's own setting and what an org-wide disable would do "
        "to them; offers to request that disable, keeping them allowed (Exchange; needs the "
        "app's certificate and the Graph permission AuditLog.Read.All). Needs no approval.",
    ),
    "list": (
        "/smtp list [tenant]",
        "Pending requests and their age, and timed restrictions in force with their end.",
    ),
    "history": (
        "/smtp history <tenant> [target] [--limit N]",
        "The audit trail, newest first.",
    ),
    "cancel": ("/smtp cancel <request-id>", "Withdraw a request you made that is still pending."),
    "help": ("/smtp help [command]", "This help."),
}

_TARGETS = "Targets: `user@domain`, `account:NAME` (WHM) or a mailbox GUID (Exchange)."
_TARGETS_BY_PROVIDER = {
    "whm": "Targets: `user@domain` or `account:NAME`.",
    "exchange": "Targets: `user@domain` or a mailbox GUID.",
}


def whole_tenant_note(kind: str, verb: str, targets: Iterable[str]) -> str:
    """What a whole-tenant change (target ``*``) or a server setting change does."""
    keys = list(targets)
    if keys == ["*"]:
        return WHOLE_TENANT.get((kind, verb), "")
    if verb == "set":
        return "Changes Tweak Settings of the whole server: every account on it follows them."
    return ""


def _allowed(verbs: Iterable[str] | None) -> set[str]:
    allowed = set(USAGE) if verbs is None else set(verbs) | ALWAYS_AVAILABLE
    if "reset" in allowed:  # an Exchange tenant: its sign-in logs can be read
        allowed |= {"usage"}
    return allowed | {"policy"} if "set" in allowed else allowed


def targets_line(providers: Iterable[str] | None = None) -> str:
    """The target kinds of the configured back ends (all of them when not given)."""
    kinds = set(providers) if providers is not None else set()
    if len(kinds) == 1:
        return _TARGETS_BY_PROVIDER.get(next(iter(kinds)), _TARGETS)
    return _TARGETS


def usage_for(
    verb: str | None,
    verbs: Iterable[str] | None = None,
    providers: Iterable[str] | None = None,
) -> str:
    """Usage for one verb, or the command list if the verb is unknown. ``verbs`` and
    ``providers`` (what the configured tenants offer) keep the list to what can work here."""
    if verb in USAGE:
        line, what = USAGE[verb]
        return f"Usage: `{line}`\n{what}\n{targets_line(providers)}"
    allowed = _allowed(verbs)
    listed = [f"• `{line}`" for name, (line, _) in USAGE.items() if name in allowed]
    return "Usage:\n" + "\n".join(listed) + f"\n{targets_line(providers)}"


ALWAYS_AVAILABLE = frozenset({"help", "status", "list", "history", "cancel"})
# what a whole-tenant change does, by provider kind and verb: said on help, card and result
WHOLE_TENANT: dict[tuple[str, str], str] = {
    ("whm", "disable"): "Turns on SMTP Restrictions: local users' programs can no longer "
    "connect to remote SMTP servers directly. It does NOT stop mail sent through Exim "
    "(authenticated SMTP, webmail, PHP mail()): suspend accounts or mailboxes for that, "
    "or every account with `/smtp disable <tenant> --all-accounts`.",
    ("whm", "enable"): "Turns SMTP Restrictions off: local users' programs may connect to "
    "remote SMTP servers directly again. Mail through Exim is not affected either way.",
    ("exchange", "disable"): "Turns SMTP AUTH off for the whole organisation: no mailbox may "
    "send through authenticated SMTP unless it has its own exception.",
    ("exchange", "enable"): "Turns SMTP AUTH back on for the whole organisation (mailboxes "
    "with their own setting keep it).",
}


def help_text(
    tenants: Iterable[str], verb: str | None = None, verbs: Iterable[str] | None = None
) -> str:
    """Help that lists only the tenants and verbs the caller may use, with an example."""
    names = sorted(tenants)
    shown = ", ".join(f"`{t}`" for t in names) or "none available to you here"
    allowed = _allowed(verbs)
    if verb is not None:
        if verb not in USAGE or verb not in allowed:
            return f"`{verb}` is not available to you.\n" + help_text(names, None, verbs)
        return usage_for(verb) + f"\nTenants: {shown}\nExample: `{_example(verb, names)}`"
    lines = [f"• `{line}`: {what}" for name, (line, what) in USAGE.items() if name in allowed]
    return (
        "*smtp-bot*: lock down outbound SMTP, with a second person's approval.\n"
        + "\n".join(lines)
        + f"\n{_TARGETS}\nTenants: {shown}\nExample: `{_example('disable', names)}`"
    )


def _example(verb: str, tenants: list[str]) -> str:
    tenant = tenants[0] if tenants else "acme"
    if verb in ("disable", "enable", "hold", "release", "reset", "purge"):
        return f'/smtp {verb} {tenant} user@{tenant}.example --reason "spam outbreak"'
    if verb == "set":
        return f'/smtp set {tenant} maxemailsperhour=200 --for 2h --reason "spam outbreak"'
    if verb == "policy":
        return f"/smtp policy {tenant}"
    if verb == "limit":
        return f'/smtp limit {tenant} account:{tenant}1 100 --for 6h --reason "spam outbreak"'
    if verb == "top":
        return f"/smtp top {tenant} --since 2h --limit 5"
    if verb == "usage":
        return f"/smtp usage {tenant} --since 7d"
    if verb in ("status", "history", "queue"):
        return f"/smtp {verb} {tenant} user@{tenant}.example"
    if verb == "cancel":
        return "/smtp cancel 42"
    return f"/smtp {verb}"


# what --all-accounts does, by verb: said on help, card and result (WHM only)
ALL_ACCOUNTS: dict[str, str] = {
    "disable": "Suspends outgoing mail for every cPanel account on the server "
    "(suspend_outgoing_email, one account at a time): Exim refuses their mail, whether "
    "sent by authenticated SMTP, webmail or scripts (PHP mail(), sendmail), and the "
    "accounts' mail already queued fails too. Accounts already suspended are left as they "
    "are and stay suspended after `enable --all-accounts`. Unlike `/smtp disable <tenant>` "
    "with no target (SMTP Restrictions only: local programs cannot reach remote SMTP "
    "servers directly, mail through Exim still goes out), this stops Exim mail.",
    "enable": "Lifts the outgoing-mail suspensions that the matching "
    "`disable --all-accounts` set (unsuspend_outgoing_email, one account at a time), and "
    "only those: accounts that were suspended before it, or changed by a later request, "
    "are left as they are. SMTP Restrictions are not touched.",
}
