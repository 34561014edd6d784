"""How the targets the bot builds itself read on cards and results: a mailbox's login and an
account's new hourly limit, instead of their storage keys (``login:…``, ``limit:NAME=N``)."""

from __future__ import annotations

from bot.slack.mrkdwn import escape
from providers.targets import ACCOUNT_PREFIX, LIMIT_PREFIX, LOGIN_PREFIX

__all__ = ["built_label", "related_prefixes", "status_key"]


def built_label(key: str) -> str | None:
    """The label of a login or limit target key, None for any other key."""
    if key.startswith(LOGIN_PREFIX):
        return f"`{escape(key[len(LOGIN_PREFIX) :])}` (login)"
    if key.startswith(LIMIT_PREFIX):
        account, _, value = key[len(LIMIT_PREFIX) :].partition("=")
        if value.isdigit() and value != "0":
            value = f"{int(value):,} an hour"
        elif value == "default":
            value = "the server's limit"
        return f"`{ACCOUNT_PREFIX}{escape(account)}` → {escape(value)}"
    return None


def status_key(key: str) -> str:
    """What ``/smtp status`` takes for a target key: a login's mailbox, a limit's account."""
    if key.startswith(LOGIN_PREFIX):
        return key[len(LOGIN_PREFIX) :]
    if key.startswith(LIMIT_PREFIX):
        return ACCOUNT_PREFIX + key[len(LIMIT_PREFIX) :].partition("=")[0]
    return key


def related_prefixes(key: str | None) -> tuple[str, ...]:
    """For ``/smtp history``: an account's hourly limits belong to its history."""
    if key and key.startswith(ACCOUNT_PREFIX):
        return (f"{LIMIT_PREFIX}{key[len(ACCOUNT_PREFIX) :]}=",)
    return ()
