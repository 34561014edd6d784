"""Tweak Settings against the loopback FakeWhm: the fake's cPanel validation, policy reads,
set with read-back, several keys together, and putting the others back when one fails."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import httpx
import pytest

from providers.errors import InvalidTarget
from providers.targets import Scope, Target, Verb
from providers.whm import WhmProvider
from providers.whm_tweaks import TWEAKS, parse_assignment
from tests.fakes.whm import FakeWhm
from tests.fakes.whm_tweaks import BROKEN_REASON
from tests.providers.test_whm_fake import post

KEYS = [Target(Scope.SETTING, key) for key in TWEAKS]


@pytest.fixture
def http(fake_whm: FakeWhm) -> Iterator[httpx.Client]:
    headers = {"Authorization": f"whm root:{fake_whm.token}"}
    with httpx.Client(base_url=fake_whm.url, headers=headers, trust_env=False) as client:
        yield client


def sets(fake: FakeWhm) -> list[dict[str, str]]:
    return [c.params for c in fake.calls_to("set_tweaksetting")]


@pytest.mark.parametrize(
    ("key", "value", "reason"),
    [
        ("nope", "1", "Invalid tweaksetting key"),
        ("smtpmailgidonly", "2", "Value must be either 0 or 1"),
        ("maxemailsperhour", "", "Value must be a natural number"),
        ("maxemailsperhour", "0", "Value must be a natural number"),
        ("email_send_limits_max_defer_fail_percentage", "101", "positive percentage integer"),
        ("email_send_limits_defer_cutoff", "99", "Value must be a number between 100 and 10000"),
        ("email_outbound_spam_detect_action", "drop", "must be “noaction”, “hold”, or “block”."),
    ],
)
def test_the_fake_refuses_as_cpanel_does(
    fake_whm: FakeWhm, http: httpx.Client, key: str, value: str, reason: str
) -> None:
    before = dict(fake_whm.tweaks.values)
    meta = post(http, "set_tweaksetting", key=key, value=value)["metadata"]
    assert meta["result"] == 0 and reason in meta["reason"]
    assert fake_whm.tweaks.values == before
    unknown = post(http, "get_tweaksetting", key="nope")
    assert unknown["metadata"] == {
        "command": "get_tweaksetting",
        "result": 0,
        "reason": "Invalid tweaksetting key",
        "version": 1,
    }


def test_the_fake_answers_the_documented_shapes(fake_whm: FakeWhm, http: httpx.Client) -> None:
    unset = post(http, "get_tweaksetting", key="maxemailsperhour")["data"]["tweaksetting"]
    assert unset == {"key": "maxemailsperhour"}  # value left out when unset
    action = post(http, "get_tweaksetting", key="email_outbound_spam_detect_action")["data"]
    assert action == {
        "tweaksetting": {"key": "email_outbound_spam_detect_action", "value": "noaction"}
    }
    done = post(http, "set_tweaksetting", key="maxemailsperhour", value="250")
    assert done == {
        "metadata": {"command": "set_tweaksetting", "result": 1, "reason": "OK", "version": 1}
    }
    extra = post(http, "set_tweaksetting", key="maxemailsperhour", value="9", x="1")
    assert extra["metadata"]["result"] == 0 and fake_whm.tweaks.values["maxemailsperhour"] == "250"


def test_policy_reads_every_key_with_its_value(whm: WhmProvider, fake_whm: FakeWhm) -> None:
    fake_whm.tweaks.values["email_outbound_spam_detect_action"] = "hold"
    results = whm.status(KEYS)
    values = {r.target.name: r.state.facts["value"] for r in results if r.state}
    assert values == {
        "smtpmailgidonly": "on",
        "nobodyspam": "on",
        "popbeforesmtp": "off",
        "maxemailsperhour": "unlimited",
        "email_send_limits_max_defer_fail_percentage": "unlimited",
        "email_send_limits_min_defer_fail_to_trigger_protection": "5",
        "email_send_limits_defer_cutoff": "125",
        "email_outbound_spam_detect_enable": "on",
        "email_outbound_spam_detect_action": "hold",
        "email_outbound_spam_detect_threshold": "500",
    }
    reads = sorted((c.params for c in fake_whm.calls_to("get_tweaksetting")), key=str)
    assert reads == sorted(({"api.version": "1", "key": key} for key in TWEAKS), key=str)
    assert not sets(fake_whm)
    unlimited = next(r for r in results if r.target.name == "maxemailsperhour")
    assert unlimited.state.facts["restorable"] is False


def test_set_two_keys_applies_and_reads_back(whm: WhmProvider, fake_whm: FakeWhm) -> None:
    targets = [
        parse_assignment("email_outbound_spam_detect_action=block"),
        parse_assignment("smtpmailgidonly=off"),
    ]
    results = whm.apply(Verb.SET, targets)
    assert [r.ok for r in results] == [True, True], [r.message for r in results]
    assert results[0].state.facts == {
        "key": "email_outbound_spam_detect_action",
        "value": "block",
        "previous": "noaction",
        "verified": True,
    }
    assert results[1].state.facts["previous"] == "on" and results[1].state.facts["value"] == "off"
    assert fake_whm.tweaks.values["email_outbound_spam_detect_action"] == "block"
    assert fake_whm.smtp_restriction == 0
    assert sets(fake_whm) == [
        {"api.version": "1", "key": "email_outbound_spam_detect_action", "value": "block"},
        {"api.version": "1", "key": "smtpmailgidonly", "value": "0"},
    ]


def test_a_failing_key_puts_the_others_back(whm: WhmProvider, fake_whm: FakeWhm) -> None:
    fake_whm.tweaks.broken.add("smtpmailgidonly")  # its post-action fails (iptables)
    targets = [
        parse_assignment("maxemailsperhour=100"),
        parse_assignment("smtpmailgidonly=off"),
        parse_assignment("nobodyspam=off"),
    ]
    fake_whm.tweaks.values["maxemailsperhour"] = "400"
    results = whm.apply(Verb.SET, targets)
    assert [r.ok for r in results] == [False, False, False]
    assert "put back to 400" in results[0].message
    assert "smtpmailgidonly failed" in results[0].message
    assert results[0].error.kind == "rolled_back"
    assert BROKEN_REASON.split(".")[0] in results[1].message
    assert results[2].error.before_change and "not changed" in results[2].message
    assert fake_whm.tweaks.values["maxemailsperhour"] == "400"
    assert fake_whm.tweaks.values["nobodyspam"] == 1
    assert fake_whm.tweaks.sets == [("maxemailsperhour", "100"), ("maxemailsperhour", "400")]


def test_a_change_that_does_not_read_back_is_put_back(whm: WhmProvider, fake_whm: FakeWhm) -> None:
    fake_whm.tweaks.values["email_outbound_spam_detect_threshold"] = "500"
    fake_whm.fail_next("set_tweaksetting", "drop_change")  # accepted, not applied
    targets = [
        parse_assignment("email_outbound_spam_detect_threshold=50"),
        parse_assignment("popbeforesmtp=on"),
    ]
    results = whm.apply(Verb.SET, targets)
    assert results[0].error.kind == "verification_failed"
    assert "now reads 500" in results[0].message
    assert results[1].error.before_change
    assert fake_whm.tweaks.values["popbeforesmtp"] == 0


def test_bad_settings_never_reach_whm(whm: WhmProvider, fake_whm: FakeWhm) -> None:
    for text in ("smtpmailgidonly=yes", "maxemailsperhour=unlimited", "foo=1", "a=1&b=2"):
        with pytest.raises(InvalidTarget):
            parse_assignment(text)
    smuggled = [Target(Scope.SETTING, "maxemailsperhour=100"), Target(Scope.SETTING, "foo=1")]
    results = whm.apply(Verb.SET, smuggled)
    assert all(not r.ok and r.error.before_change for r in results)
    assert not sets(fake_whm) and not fake_whm.calls_to("get_tweaksetting")


def test_dry_run_plans_and_changes_nothing(
    make_whm: Callable[..., WhmProvider], fake_whm: FakeWhm
) -> None:
    dry = make_whm(dry_run=True)
    (result,) = dry.apply(Verb.SET, [parse_assignment("maxemailsperhour=80")])
    assert result.planned == ("set_tweaksetting key=maxemailsperhour value=80",)
    assert not sets(fake_whm)
