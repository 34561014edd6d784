"""The /smtp grammar: what people and Slack really type, and everything hostile."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.commands.grammar import Cancel, Change, Help, History, ListRequests, Status, parse
from bot.errors import UsageError
from providers import Scope, Target, Verb


def mailbox(name: str) -> Target:
    return Target(Scope.MAILBOX, name)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ('disable acme a@x.test --reason "spam outbreak"', "spam outbreak"),
        ("disable acme a@x.test --reason spam outbreak now", "spam outbreak now"),
        ("disable acme a@x.test --reason=spam", "spam"),
        ("disable acme a@x.test \u2014reason \u201cspam here\u201d", "spam here"),
        ("disable acme a@x.test --reason 'single quoted'", "single quoted"),
        ("disable acme a@x.test", ""),
    ],
)
def test_reason_forms(text: str, reason: str) -> None:
    command = parse(text)
    assert command == Change(Verb.DISABLE, "acme", (mailbox("a@x.test"),), reason)


def test_what_slack_sends() -> None:
    command = parse("  DISABLE   Acme   <mailto:Bob@X.Test|Bob@X.Test>  ")
    assert command == Change(Verb.DISABLE, "acme", (mailbox("Bob@x.test"),), "")


def test_scopes_and_several_targets() -> None:
    command = parse(
        "disable acme a@x.test account:bob a@x.test 01234567-89AB-cdef-0123-456789abcdef"
    )
    assert isinstance(command, Change)
    assert [t.scope for t in command.targets] == [Scope.MAILBOX, Scope.ACCOUNT, Scope.MAILBOX]
    assert command.targets[2].name == "01234567-89ab-cdef-0123-456789abcdef"


def test_no_target_means_whole_tenant() -> None:
    assert parse("enable acme") == Change(Verb.ENABLE, "acme", (Target.tenant(),), "")
    assert parse("status acme") == Status("acme", (Target.tenant(),))


def test_other_verbs() -> None:
    assert parse("") == Help()
    assert parse("help disable") == Help("disable")
    assert parse("list") == ListRequests()
    assert parse("list acme") == ListRequests("acme")
    assert parse("cancel #12") == Cancel(12)
    assert parse("history acme a@x.test --limit 5") == History("acme", mailbox("a@x.test"), 5)


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("frobnicate acme", "is not a command"),
        ("disable", "needs a tenant"),
        ("disable ACME! a@x.test", "is not a tenant name"),
        ("disable acme a@b.test&user=root", "not a valid email address"),
        ("disable acme '; rm -rf /", "is not a target"),
        ("disable acme ../../etc/passwd", "is not a target"),
        ("disable acme a@x.test --reason", "needs some text"),
        ("disable acme a@x.test --force", "Unknown option"),
        ("status acme a@x.test --reason why", "takes no --reason"),
        ("cancel abc", "request ID"),
        ("history acme --limit 0", "--limit"),
        ("disable acme account:Bob;ls", "not a valid cPanel account"),
        ("disable acme a@x.test --reason " + "x" * 600, "keep it under"),
        ("disable acme a@localhost", "not a valid email address"),
        ("disable acme a@x.test%0a", "not a valid email address"),
        ("disable acme a@-x.test", "not a valid email address"),
    ],
)
def test_bad_input_has_a_precise_message(text: str, fragment: str) -> None:
    with pytest.raises(UsageError) as err:
        parse(text)
    assert fragment in str(err.value)


def test_reason_control_characters_are_neutralised() -> None:
    command = parse("disable acme a@x.test --reason line1\nline2\x00\u202eevil")
    assert isinstance(command, Change)
    assert command.reason == "line1 line2 evil"


@settings(max_examples=10_000, deadline=None)
@given(st.text(max_size=300))
def test_any_text_parses_or_raises_usage_error(text: str) -> None:
    try:
        command = parse(text)
    except UsageError as exc:
        assert str(exc)
        return
    for target in getattr(command, "targets", ()):
        assert Target.from_key(target.key()) == target  # every accepted target re-validates


def test_timed_restrictions() -> None:
    from datetime import timedelta

    command = parse("disable acme a@x.test --for 24h --reason spam")
    assert isinstance(command, Change)
    assert command.duration == timedelta(hours=24) and command.revert_verb == Verb.ENABLE
    hold = parse("hold acme a@x.test --for 90m")
    assert hold.revert_verb == Verb.RELEASE
    for text, fragment in [
        ("enable acme a@x.test --for 1h", "only goes with disable, hold or set"),
        ("disable acme a@x.test --for soon", "is not a duration"),
        ("disable acme a@x.test --for 91d", "at most 90d"),
    ]:
        with pytest.raises(UsageError, match=fragment):
            parse(text)


def test_ids_are_ascii_digits_only() -> None:
    for text in ("cancel ³", "cancel ٣", "cancel 1" + "0" * 12):
        with pytest.raises(UsageError):
            parse(text)
    with pytest.raises(UsageError):
        parse("history acme --limit ²")


@pytest.mark.parametrize(
    "address",
    [
        "a&b@x.test",
        "a%26b@x.test",
        "a%0d%0ab@x.test",
        "a=b@x.test",
        "a..b@x.test",
        "..@x.test",
        "ü@x.test",
        "a@x..test",
        "a@ü.test",
        "a\r\nb@x.test",
    ],
)
def test_hostile_addresses_are_refused_before_anything_is_stored(address: str) -> None:
    with pytest.raises(UsageError, match="not a valid email address|not a target|not a"):
        parse(f"disable acme {address}")


def test_settings_go_only_through_policy_and_set() -> None:
    for text in ("disable acme setting:maxemailsperhour=5", "status acme setting:nobodyspam"):
        with pytest.raises(UsageError, match="changed with /smtp set"):
            parse(text)
    policy = parse("policy acme")
    assert isinstance(policy, Status) and policy.policy and len(policy.targets) == 10
    change = parse("set acme MaxEmailsPerHour=200 nobodyspam=OFF --for 2h")
    assert isinstance(change, Change) and change.revert_verb == Verb.SET
    assert [t.key() for t in change.targets] == [
        "setting:maxemailsperhour=200",
        "setting:nobodyspam=off",
    ]
    for text, fragment in [
        ("set acme", "at least one key=value"),
        ("set acme nobodyspam", "is not key=value"),
        ("set acme nobodyspam=", "needs a value"),
        ("set acme maxemailsperhour=1 maxemailsperhour=2", "given twice"),
        ("set acme maxemailsperhour=\uff12", "is not a value"),
        ("set acme email_send_limits_max_defer_fail_percentage=101", "from 1 to 100%"),
        ("set acme maxemailsperhour=unlimited", "cannot be set back to unlimited"),
        ("policy acme extra", "only a tenant name"),
        ("policy acme --reason x", "takes no --reason"),
    ]:
        with pytest.raises(UsageError, match=fragment):
            parse(text)
