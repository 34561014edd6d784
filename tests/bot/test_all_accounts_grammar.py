"""`--all-accounts` in the grammar: a flag for disable and enable only, with no target and
no --for; the stored form `account:*` is never accepted as a typed target."""

from __future__ import annotations

import pytest

from bot.commands.grammar import Change, parse
from bot.errors import UsageError
from providers import Scope, Target, Verb


@pytest.mark.parametrize("verb", ["disable", "enable"])
def test_the_flag_means_every_account(verb: str) -> None:
    command = parse(f'{verb} acme --all-accounts --reason "outbreak"')
    assert command == Change(Verb(verb), "acme", (Target.all_accounts(),), "outbreak")
    assert command.targets[0].scope is Scope.ALL_ACCOUNTS
    assert parse(f"{verb} ACME \u2014all-accounts").targets == (Target.all_accounts(),)


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("disable acme account:bob --all-accounts", "--all-accounts takes no targets"),
        ("enable acme --all-accounts a@b.test", "--all-accounts takes no targets"),
        ("disable acme --all-accounts --for 2h", "takes no --for"),
        ("hold acme --all-accounts", "only goes with disable or enable"),
        ("status acme --all-accounts", "only goes with disable or enable"),
        ("disable acme account:*", "use --all-accounts"),
        ("disable acme --all-accounts=yes", "Unknown option"),
    ],
)
def test_misuse_is_refused_with_a_reason(text: str, says: str) -> None:
    with pytest.raises(UsageError, match=None) as info:
        parse(text)
    assert says in str(info.value)
