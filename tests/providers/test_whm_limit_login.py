"""A mailbox's login (Email::suspend_login / unsuspend_login) and an account's hourly limit
(modifyacct MAX_EMAIL_PER_HOUR) against the loopback FakeWhm (tests/fakes/whm_accounts.py):
exact parameters, read-back, the package warning, and what a failed read-back says."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from providers.errors import InvalidTarget
from providers.targets import Scope, Target, Verb
from providers.whm import WhmProvider
from providers.whm_limits import limit_target
from tests.fakes.whm import FakeWhm

LOGIN = Target.parse("login:a@x.test")


def test_login_and_limit_are_whm_capabilities(whm: WhmProvider) -> None:
    caps = whm.capabilities()
    assert {(Scope.LOGIN, Verb.DISABLE), (Scope.LOGIN, Verb.ENABLE)} <= caps
    assert (Scope.LOGIN, Verb.HOLD) not in caps
    assert (Scope.LIMIT, Verb.LIMIT) in caps and (Scope.ACCOUNT, Verb.LIMIT) not in caps


def test_login_target_text_round_trips_and_refuses_bad_addresses() -> None:
    assert LOGIN.key() == "login:a@x.test" and Target.from_key(LOGIN.key()) == LOGIN
    assert LOGIN.domain == "x.test"
    for bad in ("login:a&b@x.test", "login:a\r\nb@x.test", "login:a%26b@x.test", "login:bob"):
        with pytest.raises(InvalidTarget):
            Target.parse(bad)


def test_suspend_login_calls_uapi_with_the_address_only_and_reads_back(
    fake_whm: FakeWhm, whm: WhmProvider
) -> None:
    (result,) = whm.apply(Verb.DISABLE, [LOGIN])
    assert result.ok, result.message
    assert result.state is not None and result.state.facts["suspended_login"] == 1
    assert result.state.facts["verified"] is True
    assert "login suspended" in result.message and "SMTP AUTH" in result.message
    assert fake_whm.mailbox_state("a@x.test")["suspended_login"] == 1
    assert fake_whm.mailbox_state("a@x.test")["suspended_outgoing"] == 0  # only the login
    (call,) = fake_whm.calls_to("Email::suspend_login")
    assert call.params["email"] == "a@x.test" and call.params["cpanel.user"] == "bob"
    assert fake_whm.limits.unexpected == []
    (back,) = whm.apply(Verb.ENABLE, [LOGIN])
    assert back.ok and back.state is not None and back.state.facts["suspended_login"] == 0
    assert "login allowed" in back.message
    assert fake_whm.mailbox_state("a@x.test")["suspended_login"] == 0


def test_a_login_suspension_that_does_not_read_back_fails_as_unverified(
    fake_whm: FakeWhm, whm: WhmProvider
) -> None:
    fake_whm.fail_next("Email::suspend_login", "drop_change")
    (result,) = whm.apply(Verb.DISABLE, [LOGIN])
    assert not result.ok and result.error is not None
    assert result.error.kind == "verification_failed"
    assert fake_whm.mailbox_state("a@x.test")["suspended_login"] == 0


def test_login_of_an_unknown_mailbox_is_not_found_before_any_change(
    fake_whm: FakeWhm, whm: WhmProvider
) -> None:
    (result,) = whm.check_targets([Target.parse("login:nobody@x.test")])
    assert not result.ok and result.error is not None and result.error.kind == "not_found"
    assert not fake_whm.calls_to("Email::suspend_login")


def test_limit_sets_the_exact_parameter_and_reads_back(fake_whm: FakeWhm, whm: WhmProvider) -> None:
    fake_whm.limits.limits["bob"] = "500"
    (result,) = whm.apply(Verb.LIMIT, [limit_target("bob", "100")])
    assert result.ok, result.message
    assert result.state is not None
    facts = result.state.facts
    assert (facts["value"], facts["previous"], facts["verified"]) == ("100", "500", True)
    assert "was 500 an hour, now 100 an hour (read back)" in result.message
    assert fake_whm.limits.limits["bob"] == "100"
    (call,) = fake_whm.calls_to("modifyacct")
    assert {k: v for k, v in call.params.items() if k != "api.version"} == {
        "user": "bob",
        "MAX_EMAIL_PER_HOUR": "100",
    }
    assert fake_whm.limits.ignored == []


def test_limit_unlimited_and_back_to_the_servers_value(fake_whm: FakeWhm, whm: WhmProvider) -> None:
    (first,) = whm.apply(Verb.LIMIT, [limit_target("carol", "unlimited")])
    assert first.ok and first.state is not None
    assert (first.state.facts["previous"], first.state.facts["value"]) == ("default", "unlimited")
    assert fake_whm.limits.limits["carol"] == "unlimited"
    (back,) = whm.apply(Verb.LIMIT, [limit_target("carol", "default")])
    assert back.ok and back.state is not None and back.state.facts["value"] == "default"
    assert "carol" not in fake_whm.limits.limits


def test_a_limit_that_does_not_read_back_fails_as_unverified(
    fake_whm: FakeWhm, whm: WhmProvider
) -> None:
    fake_whm.fail_next("modifyacct", "drop_change")  # as cPanel does with a wrongly-cased name
    (result,) = whm.apply(Verb.LIMIT, [limit_target("bob", "100")])
    assert not result.ok and result.error is not None
    assert result.error.kind == "verification_failed"
    assert "the server's limit" in result.message


def test_an_account_with_a_package_carries_the_warning(fake_whm: FakeWhm, whm: WhmProvider) -> None:
    fake_whm.limits.plans["bob"] = "gold"
    (checked,) = whm.check_targets([limit_target("bob", "100")])
    assert checked.ok and checked.state is not None
    assert "hosting package “gold”" in str(checked.state.facts["warning"])
    assert checked.state.facts["restorable"] is True
    (plain,) = whm.check_targets([limit_target("carol", "100")])
    assert plain.state is not None and "warning" not in plain.state.facts
    assert not fake_whm.calls_to("modifyacct")


def test_limit_of_an_unknown_account_is_not_found(fake_whm: FakeWhm, whm: WhmProvider) -> None:
    (result,) = whm.apply(Verb.LIMIT, [limit_target("nobody", "100")])
    assert not result.ok and result.error is not None and result.error.kind == "not_found"
    assert result.error.before_change is True
    assert not fake_whm.calls_to("modifyacct")


def test_limit_targets_refuse_bad_values() -> None:
    for bad in ("limit:bob=-1", "limit:bob=1e3", "limit:bob=", "limit:Bob=5", "limit:bob=5&x=1"):
        with pytest.raises(InvalidTarget):
            Target.parse(bad)


def test_status_says_a_suspended_login_and_an_accounts_own_limit(
    fake_whm: FakeWhm, whm: WhmProvider
) -> None:
    fake_whm.add_mailbox("locked@x.test", suspended_login=1)
    fake_whm.limits.limits["bob"] = "150"
    box, bob, carol, plain = whm.status(
        [
            Target.parse("locked@x.test"),
            Target.parse("account:bob"),
            Target.parse("account:carol"),
            Target.parse("a@x.test"),
        ]
    )
    assert box.message == "outgoing mail allowed; login suspended"
    assert bob.message == "outgoing mail allowed; hourly limit per domain: 150 an hour"
    assert carol.message == "outgoing mail allowed"  # the server's limit applies
    assert plain.message == "outgoing mail allowed"
    (login,) = whm.status([Target.parse("login:locked@x.test")])
    assert login.message.startswith("login suspended")


def test_dry_run_plans_the_exact_calls_and_changes_nothing(
    fake_whm: FakeWhm, make_whm: Callable[..., WhmProvider]
) -> None:
    dry = make_whm(dry_run=True)
    limit, login = (
        dry.apply(Verb.LIMIT, [limit_target("bob", "40")])[0],
        dry.apply(Verb.DISABLE, [LOGIN])[0],
    )
    assert limit.planned == ("modifyacct user=bob MAX_EMAIL_PER_HOUR=40",)
    assert login.planned == ("uapi_cpanel Email::suspend_login email=a@x.test",)
    assert not fake_whm.calls_to("modifyacct") and not fake_whm.calls_to("Email::suspend_login")
    assert "bob" not in fake_whm.limits.limits
