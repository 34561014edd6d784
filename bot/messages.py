"""Every sentence the bot says to people about commands, in one place."""

from __future__ import annotations

from collections.abc import Iterable

__all__ = ["USAGE", "help_text", "usage_for"]

USAGE: dict[str, tuple[str, str]] = {
    "disable": (
        "/smtp disable <tenant> [target …] [--for 24h] [--reason TEXT]",
        "Stop outbound SMTP for the targets (no target: the whole server or organisation); "
        "with --for, it is undone automatically after that long.",
    ),
    "enable": (
        "/smtp enable <tenant> [target …] [--reason TEXT]",
        "Allow outbound SMTP again for the targets.",
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
    "status": (
        "/smtp status <tenant> [target …]",
        "Show the live state, read from the back end. Needs no approval.",
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


def usage_for(verb: str | None) -> str:
    """Usage for one verb, or the whole command list if the verb is unknown."""
    if verb in USAGE:
        line, what = USAGE[verb]
        return f"Usage: `{line}`\n{what}\n{_TARGETS}"
    return "Usage:\n" + "\n".join(f"• `{line}`" for line, _ in USAGE.values())


def help_text(tenants: Iterable[str], verb: str | None = None) -> str:
    names = ", ".join(f"`{t}`" for t in sorted(tenants)) or "none configured"
    if verb is not None and verb in USAGE:
        return usage_for(verb) + f"\nTenants: {names}"
    lines = [f"• `{line}`: {what}" for line, what in USAGE.values()]
    example = '/smtp disable acme user@acme.example --reason "spam outbreak"'
    return (
        "*smtp-bot*: lock down outbound SMTP, with a second person's approval.\n"
        + "\n".join(lines)
        + f"\n{_TARGETS}\nTenants: {names}\nExample: `{example}`"
    )
