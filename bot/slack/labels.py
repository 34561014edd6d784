"""How the targets the bot builds itself read on cards and results: a mailbox's login and an
account's new hourly limit, instead of their storage keys (``login:…``, ``limit:NAME=N``)."""

from __future__ import annotations

from bot.slack.mrkdwn import escape
from providers.targets import ACCOUNT_PREFIX, LIMIT_PREFIX, LOGIN_PREFIX

__all__ = ["built_label"]


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
