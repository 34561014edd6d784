"""Every account on the server from one listaccts call: the exact parameters sent, the
records parsed, a server without accounts, a broken reply, and the group target refused
where it must never reach WHM as a user name."""

from __future__ import annotations

import pytest

from providers import Scope, Target, Verb
from providers.errors import ProtocolError
from providers.whm import WhmProvider
from tests.fakes.whm import FakeWhm

ALL = Target.all_accounts()


def test_lists_every_account_with_its_state_in_one_call(
    whm: WhmProvider, fake_whm: FakeWhm
) -> None:
    fake_whm.set_account_state("carol", outgoing_mail_suspended=1, outgoing_mail_hold=1)
    accounts = whm.accounts()
    assert [(a.user, a.outgoing_mail_suspended, a.outgoing_mail_hold) for a in accounts] == [
        ("bob", 0, 0),
        ("carol", 1, 1),
    ]
    [call] = fake_whm.calls_to("listaccts")
    assert {k: v for k, v in call.params.items() if k != "api.version"} == {
        "want": "user,outgoing_mail_suspended,outgoing_mail_hold"
    }
    assert all(a.usable for a in accounts)


def test_a_server_with_no_accounts_lists_none() -> None:
    with FakeWhm(token="T0KEN") as fake:
        from providers.whm import WhmSettings

        with WhmProvider(WhmSettings(url=fake.url, username="root", token="T0KEN")) as whm:
            assert whm.accounts() == []
            [state] = whm.check_targets([ALL])
    assert state.state is not None and state.state.facts == {"accounts": 0, "suspended": 0}


def test_check_reports_the_census_the_card_shows(whm: WhmProvider, fake_whm: FakeWhm) -> None:
    fake_whm.set_account_state("bob", outgoing_mail_suspended=1)
    [result] = whm.check_targets([ALL])
    assert result.ok and result.state is not None
    assert result.state.facts == {"accounts": 2, "suspended": 1}
    assert result.state.summary == "2 accounts, 1 with outgoing mail suspended"
    assert (Scope.ALL_ACCOUNTS, Verb.DISABLE) in whm.capabilities()


def test_a_reply_without_the_account_list_is_a_protocol_error(
    whm: WhmProvider, fake_whm: FakeWhm
) -> None:
    fake_whm.fail_next("listaccts", "no_metadata")
    with pytest.raises(ProtocolError):
        whm.accounts()


def test_the_group_target_is_never_sent_to_whm_as_a_user(
    whm: WhmProvider, fake_whm: FakeWhm
) -> None:
    [result] = whm.apply(Verb.DISABLE, [ALL])
    assert result.error is not None and result.error.before_change
    assert "one account at a time" in result.message
    assert not fake_whm.calls_to("suspend_outgoing_email")


def test_account_names_the_bot_would_not_use_are_marked() -> None:
    from providers.whm_accounts import ServerAccount

    assert not ServerAccount("a&b", 0, 0).usable
    assert not ServerAccount("Bob", 0, 0).usable
    assert ServerAccount("bob2", 0, 0).usable
    assert Target.from_key("account:*") == ALL and ALL.key() == "account:*"
