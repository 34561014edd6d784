"""What each change must leave behind, in the facts each provider's status read reports, and
the differences a drift pass shows people."""

from __future__ import annotations

import pytest

from providers.drift import Difference, differences, expected_facts
from providers.targets import Target

MAILBOX = Target.parse("a@x.test")
ACCOUNT = Target.parse("account:acme")
SETTING = Target.parse("setting:maxemailsperhour=40")


@pytest.mark.parametrize(
    ("verb", "target", "expected"),
    [
        ("disable", MAILBOX, {"suspended_outgoing": 1}),
        ("hold", MAILBOX, {"hold_outgoing": 1}),
        ("disable", ACCOUNT, {"outgoing_mail_suspended": 1}),
        ("hold", ACCOUNT, {"outgoing_mail_hold": 1}),
        ("disable", Target.tenant(), {"smtpmailgidonly": 1}),
        ("enable", MAILBOX, None),  # not a restriction: nothing of the bot's own to keep
        ("release", ACCOUNT, None),
        ("purge", MAILBOX, None),
        ("limit", ACCOUNT, None),  # a limit is on a limit:NAME=N target, not on the account
        ("disable", Target.parse("login:a@x.test"), {"suspended_login": 1}),  # --login
        ("enable", Target.parse("login:a@x.test"), None),
    ],
)
def test_whm_changes_leave_the_flags_whm_verifies(
    verb: str, target: Target, expected: dict[str, object] | None
) -> None:
    assert expected_facts("whm", verb, target, None) == expected


def test_a_setting_is_expected_at_the_value_it_was_verified_at() -> None:
    verified = {"key": "maxemailsperhour", "value": "40", "previous": "500", "verified": True}
    assert expected_facts("whm", "set", SETTING, verified) == {"value": "40"}
    assert expected_facts("whm", "set", SETTING, None) is None  # nothing verified to hold


def test_a_limit_is_expected_at_the_value_it_was_verified_at() -> None:
    limit = Target.parse("limit:acme=100")
    verified = {"account": "acme", "value": "100", "plan": "default", "previous": "500"}
    assert expected_facts("whm", "limit", limit, verified) == {"value": "100"}
    assert expected_facts("whm", "limit", limit, None) is None


def test_exchange_disable_is_the_explicit_smtp_auth_flag() -> None:
    guid = Target.parse("3f2504e0-4f89-11d3-9a0c-0305e82c3301")
    for target in (MAILBOX, guid, Target.tenant()):
        assert expected_facts("exchange", "disable", target, None) == {
            "smtp_client_authentication_disabled": True
        }
    assert expected_facts("exchange", "reset", MAILBOX, None) is None
    assert expected_facts("exchange", "enable", MAILBOX, None) is None
    assert expected_facts("graph", "disable", MAILBOX, None) is None  # unknown back end


def test_differences_name_each_fact_that_reads_otherwise() -> None:
    expected = {"suspended_outgoing": 1}
    assert differences(expected, {"suspended_outgoing": 1, "hold_outgoing": 0}) == []
    (diff,) = differences(expected, {"suspended_outgoing": 0})
    assert diff == Difference("suspended_outgoing", 1, 0)
    assert str(diff) == "suspended_outgoing 1 → 0"
    exchange = {"smtp_client_authentication_disabled": True}
    follows = differences(exchange, {"smtp_client_authentication_disabled": None})
    assert [str(d) for d in follows] == ["smtp_client_authentication_disabled true → unset"]
    assert str(differences(exchange, {})[0]) == "smtp_client_authentication_disabled true → unset"
