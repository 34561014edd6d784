"""``/smtp top``'s grammar: defaults, the 7-day and 40-row bounds, and what it refuses."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.commands.grammar import Top, parse
from bot.errors import UsageError


@pytest.mark.parametrize(
    ("text", "since", "limit"),
    [
        ("top acme", timedelta(hours=1), 10),
        ("TOP Acme --since 2h --limit 5", timedelta(hours=2), 5),
        ("top acme --since=7d --limit=40", timedelta(days=7), 40),
        ("top acme \u2014since 90m", timedelta(minutes=90), 10),
    ],
)
def test_top_forms(text: str, since: timedelta, limit: int) -> None:
    assert parse(text) == Top("acme", since, limit)


@pytest.mark.parametrize(
    ("text", "said"),
    [
        ("top acme --since 8d", "--since can be at most 7d."),
        ("top acme --since 169h", "--since can be at most 7d."),
        ("top acme --since 0m", "longer than zero"),
        ("top acme --since 1w", "is not a duration"),
        ("top acme --since", "--since needs a value."),
        ("top acme --limit 0", "--limit must be a number from 1 to 40."),
        ("top acme --limit 41", "--limit must be a number from 1 to 40."),
        ("top acme --limit \uff15", "--limit must be a number from 1 to 40."),
        ("top acme --limit -3", "--limit must be a number from 1 to 40."),
        ("top acme a@x.test", "top takes only a tenant name"),
        ("top acme --reason spam", "top takes no --reason."),
        ("top acme --for 1h", "--for only goes with"),
        ("top", "top needs a tenant name."),
        ("top ac&me", "is not a tenant name"),
        ("queue acme --since 1h", "--since only goes with top or usage."),
        ("status acme --limit 3", "--limit only goes with history or top."),
    ],
)
def test_top_refusals(text: str, said: str) -> None:
    with pytest.raises(UsageError) as caught:
        parse(text)
    assert said in str(caught.value)
