"""The parts of the ``/smtp`` grammar for ``--login`` and ``/smtp limit``: the targets the
bot builds itself from what was typed (a mailbox's login, an account's new hourly limit).

Pure, like grammar.py: no config, no I/O; every refusal is a UsageError for the person."""

from __future__ import annotations

import re

from bot.errors import UsageError
from providers.targets import Scope, Target
from providers.whm_limits import MAX_LIMIT, limit_target

__all__ = ["limit_targets", "with_logins"]

_DIGITS = re.compile(r"^[0-9]{1,12}$")  # ASCII only: str.isdigit() accepts "³"


def with_logins(targets: tuple[Target, ...], verb: str, max_targets: int) -> tuple[Target, ...]:
    """``--login``: each mailbox, followed by its login (``login:ADDRESS``)."""
    if not targets:
        raise UsageError("--login needs mailboxes (user@domain), not the whole server.", verb=verb)
    if len(targets) * 2 > max_targets:
        raise UsageError(f"At most {max_targets // 2} mailboxes with --login.", verb=verb)
    paired: list[Target] = []
    for target in targets:
        if target.scope is not Scope.MAILBOX or target.is_guid:
            raise UsageError(
                f"--login works on mailboxes (user@domain) only; `{target}` is not one.",
                verb=verb,
            )
        paired += [target, Target(Scope.LOGIN, target.name)]
    return tuple(paired)


def limit_targets(accounts: tuple[Target, ...], value_text: str) -> tuple[Target, ...]:
    """``account:NAME… N|unlimited`` of /smtp limit: accounts only, a value in range."""
    value = value_text.lower()
    if value != "unlimited":
        if not _DIGITS.match(value) or not 1 <= int(value) <= MAX_LIMIT:
            shown = "".join(ch if ch.isprintable() else "�" for ch in value_text)[:40]
            raise UsageError(
                f"“{shown}” is not a limit: give a whole number from 1 to {MAX_LIMIT:,} "
                "(messages an hour per domain of the account), or unlimited. To stop an "
                "account's mail, use /smtp disable <tenant> account:NAME.",
                verb="limit",
            )
        value = str(int(value))
    for target in accounts:
        if target.scope is not Scope.ACCOUNT:
            raise UsageError(
                f"limit applies to cPanel accounts: `{target}` is not account:NAME.", verb="limit"
            )
    return tuple(limit_target(t.name, value) for t in accounts)
