"""What a login or limit change does, in words said on the card ("What this does") and in the
result, so approvers and the requester read the same thing (facts: docs/whm-incident.md)."""

from __future__ import annotations

from collections.abc import Iterable

from providers.targets import LIMIT_PREFIX, LOGIN_PREFIX

__all__ = ["LOGIN_NOTES", "LIMIT_NOTE", "change_note"]

LOGIN_NOTES = {
    "disable": "Includes the login: besides outgoing mail, each mailbox's login is suspended "
    "(cPanel Email::suspend_login), so its password no longer works for new IMAP/POP or SMTP "
    "AUTH logins; cPanel documents it as stopping future authenticated connections, so a "
    "session already open may go on until it ends. The mailbox still receives mail.",
    "enable": "Includes the login: besides outgoing mail, each mailbox's login suspension is "
    "lifted (cPanel Email::unsuspend_login), so its password works again for IMAP/POP and "
    "SMTP AUTH.",
}
LIMIT_NOTE = (
    "Sets each account's hourly limit (WHM Modify an Account, “Maximum Hourly Email by Domain "
    "Relayed”): each of its domains may send that many messages an hour to remote addresses. "
    "Mail over the limit is accepted, then queued or failed as the Tweak Setting "
    "email_send_limits_defer_cutoff says. It does not stop mail: use disable for that."
)


def change_note(verb: str, targets: Iterable[str]) -> str:
    """The note for a request of ``verb`` on these target keys; empty when none applies."""
    keys = list(targets)
    if verb in LOGIN_NOTES and any(k.startswith(LOGIN_PREFIX) for k in keys):
        return LOGIN_NOTES[verb]
    if verb == "limit" and any(k.startswith(LIMIT_PREFIX) for k in keys):
        return LIMIT_NOTE
    return ""
