"""The /smtp grammar for --login and limit: the targets the bot builds, and every refusal
(before anything is stored); the labels and notes cards and results show for them."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.commands import grammar
from bot.commands.messages import help_text, usage_for
from bot.commands.what_it_does import change_note
from bot.errors import UsageError
from bot.slack.labels import built_label, status_key
from providers.targets import Scope, Target, Verb


def _change(text: str) -> grammar.Change:
    parsed = grammar.parse(text)
    assert isinstance(parsed, grammar.Change)
    return parsed


def test_login_pairs_each_mailbox_with_its_login() -> None:
    change = _change("disable acme a@x.test B@X.TEST --login --for 2h --reason leaked")
    assert [t.key() for t in change.targets] == [
        "a@x.test",
        "login:a@x.test",
        "B@x.test",
        "login:B@x.test",
    ]
    assert change.revert_verb is Verb.ENABLE and change.duration == timedelta(hours=2)
    assert [t.key() for t in _change("enable acme a@x.test --login").targets] == [
        "a@x.test",
        "login:a@x.test",
    ]
    assert _change("disable acme <mailto:a@x.test|a@x.test> —login").targets[1].scope is (
        Scope.LOGIN
    )  # Slack's links and smart dashes


def test_limit_builds_one_target_per_account() -> None:
    change = _change("limit acme account:bob account:carol account:bob 100 --for 6h")
    assert [t.key() for t in change.targets] == ["limit:bob=100", "limit:carol=100"]
    assert change.verb is Verb.LIMIT and change.revert_verb is Verb.LIMIT
    assert _change("LIMIT acme account:bob UNLIMITED").targets == (
        Target(Scope.LIMIT, "bob=unlimited"),
    )
    assert _change("limit acme account:bob 0007").targets[0].name == "bob=7"
    assert _change("limit acme account:bob 1000000").targets[0].name == "bob=1000000"


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("limit acme account:bob 0", "is not a limit"),
        ("limit acme account:bob 1000001", "1 to 1,000,000"),
        ("limit acme account:bob ３", "is not a limit"),  # fullwidth digit
        ("limit acme account:bob 1e3", "is not a limit"),
        ("limit acme account:bob default", "is not a limit"),
        ("limit acme account:bob", "then a number"),
        ("limit acme 100", "then a number"),
        ("limit acme a@x.test 100", "not account:NAME"),
        ("limit acme account:bob 100 --login", "--login only goes with disable or enable"),
        ("limit acme account:b%26ob 100", "not a valid cPanel account name"),
        ("limit acme account:bob\u202e 100", "not a valid cPanel account name"),
        ("limit acme limit:bob=5 5", "changed with /smtp limit"),
        ("status acme limit:bob=5", "changed with /smtp limit"),
        ("disable acme --login", "not the whole server"),
        ("disable acme account:bob --login", "mailboxes (user@domain) only"),
        ("disable acme 0b7a6a6e-2c8f-4f55-9d3e-1f2a3b4c5d6e --login", "mailboxes (user@domain)"),
        ("disable acme a@x.test --login=yes", "takes no value"),
        ("hold acme a@x.test --login", "--login only goes with disable or enable"),
        ("purge acme a@x.test --login", "--login only goes with disable or enable"),
        ("disable acme login:a@x.test", "--login"),
        ("disable acme a@x.test --login --loginx", "Unknown option"),
        ("enable acme a@x.test --for 1h", "only goes with disable, hold or set"),
    ],
)
def test_bad_input_is_refused_with_a_clear_message(text: str, words: str) -> None:
    with pytest.raises(UsageError) as caught:
        grammar.parse(text)
    assert words in str(caught.value)


def test_at_most_half_the_target_cap_with_login() -> None:
    many = " ".join(f"u{i}@x.test" for i in range(grammar.MAX_TARGETS // 2 + 1))
    with pytest.raises(UsageError, match="mailboxes with --login"):
        grammar.parse(f"disable acme {many} --login")


def test_labels_and_notes_for_login_and_limit_targets() -> None:
    assert built_label("login:a@x.test") == "`a@x.test` (login)"
    assert built_label("limit:bob=1500") == "`account:bob` → 1,500 an hour"
    assert built_label("limit:bob=default") == "`account:bob` → the server's limit"
    assert built_label("limit:bob=unlimited") == "`account:bob` → unlimited"
    assert built_label("a@x.test") is None and built_label("account:bob") is None
    assert "Includes the login" in change_note("disable", ["a@x.test", "login:a@x.test"])
    assert "lifted" in change_note("enable", ["a@x.test", "login:a@x.test"])
    assert change_note("disable", ["a@x.test"]) == ""
    assert "does not stop mail" in change_note("limit", ["limit:bob=5"])


def test_help_lists_limit_and_login() -> None:
    text = help_text(["acme"], None, {"disable", "enable", "limit", "status"})
    assert "/smtp limit <tenant> <account:NAME…> <N|unlimited>" in text
    assert "[--login]" in text
    assert "/smtp limit acme account:acme1 100" in help_text(["acme"], "limit", {"limit"})
    assert "`/smtp limit <tenant>" in usage_for("limit", None, None)
    assert "/smtp limit" not in help_text(["acme"], None, {"disable", "status"})


def test_status_key_of_built_targets_is_what_status_takes() -> None:
    assert status_key("login:a@x.test") == "a@x.test"
    assert status_key("limit:bob=100") == "account:bob"
    assert status_key("account:bob") == "account:bob"
    for key in ("login:a@x.test", "limit:bob=100"):
        parsed = grammar.parse(f"status acme {status_key(key)}")
        assert isinstance(parsed, grammar.Status)
