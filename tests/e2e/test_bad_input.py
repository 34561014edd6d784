"""Bad input gets a clear ephemeral message with usage: no request, no card, no WHM call."""

from __future__ import annotations

import json
import time

import pytest

from tests.e2e.conftest import REQUESTER, Bot

HOSTILE = [
    ("disable nosuch a@acme-one.test", "no tenant “nosuch”"),
    ("frobnicate acme a@x.test", "is not a command"),
    ("disable acme a@b.test&user=root", "not a valid email address"),
    ("disable acme '; rm -rf /", "is not a target"),
    ("disable acme ../../etc/passwd", "is not a target"),
    ("disable acme a@b.test%26user%3Droot", "not a valid email address"),
    ("disable acme $(whoami)@x.test", "not a valid email address"),
    ("disable acme a@x.test\nenable acme b@x.test", "“enable” is not a target"),
    ("reset acme a@x.test", "cannot reset"),
    ("disable", "needs a tenant"),
]


def _counts(bot: Bot) -> tuple[int, int, int]:
    requests = bot.query("SELECT count(*) FROM change_request")[0][0]
    cards = len(bot.slack.calls_to("chat.postMessage"))
    changes = len([c for c in bot.whm.calls if c.function != "getdomainowner"])
    return requests, cards, changes


@pytest.mark.parametrize(("text", "fragment"), HOSTILE)
def test_refused_in_the_ack_with_usage(bot: Bot, text: str, fragment: str) -> None:
    before = _counts(bot)
    whm_calls = len(bot.whm.calls)
    response, _ = bot.sender.command(text, user=REQUESTER)
    assert response.status_code == 200
    body = response.json()
    assert body["response_type"] == "ephemeral"
    assert fragment in body["text"], body["text"]
    assert "Usage" in body["text"]
    assert "Traceback" not in body["text"]
    assert _counts(bot) == before
    assert len(bot.whm.calls) == whm_calls


def test_unknown_domain_is_refused_after_live_check(bot: Bot) -> None:
    before = _counts(bot)[:2]
    response, name = bot.sender.command("disable acme a@nobody-serves-this.test", user=REQUESTER)
    assert response.status_code == 200
    reply = bot.slack.wait_for_call("response_url", lambda c: c.path.endswith("/" + name))
    assert "Nothing was requested" in reply.args["text"]
    assert "nobody-serves-this.test" in reply.args["text"]
    assert _counts(bot)[:2] == before


def test_refusals_of_change_commands_are_audited(bot: Bot) -> None:
    bot.sender.command("disable acme ../../etc/passwd", user="U0AUDITME")
    query = "SELECT event, detail FROM audit_event WHERE actor='U0AUDITME' ORDER BY id DESC"
    deadline = time.monotonic() + 10
    while not (rows := bot.query(query)):  # recorded after the ack, by the worker process
        assert time.monotonic() < deadline, "the refusal was never audited"
        time.sleep(0.05)
    assert rows[0][0] == "refused_input"
    assert json.loads(rows[0][1])["verb"] == "disable"


def test_help_lists_only_what_the_caller_may_use(bot: Bot) -> None:
    response, name = bot.sender.command("help", user=REQUESTER)
    assert response.status_code == 200
    text = bot.slack.wait_for_call("response_url", lambda c: c.path.endswith("/" + name)).args[
        "text"
    ]
    assert "/smtp disable" in text and "`acme`" in text and "Example" in text
    assert "/smtp reset" in text and "`contoso`" in text  # reset exists on Exchange only
    # grp and contoso accept commands only in their own channels
    response, name = bot.sender.command("help", user=REQUESTER, channel="C0ELSEWHERE")
    text = bot.slack.wait_for_call("response_url", lambda c: c.path.endswith("/" + name)).args[
        "text"
    ]
    assert "`acme`" in text and "`grp`" not in text and "`contoso`" not in text
    assert "/smtp reset" not in text  # no tenant usable here offers it


def test_commands_from_other_workspaces_and_channels_are_refused_and_recorded(bot: Bot) -> None:
    from tests.fakes.slack_user import SlackSender

    stranger = SlackSender(
        bot.url, bot.sender.signing_secret, bot.sender.response_base, team_id="T0OTHER"
    )
    before = _counts(bot)
    response, _ = stranger.command("disable acme a@acme-one.test", user="U0STRANGER")
    assert "not allowed" in response.json()["text"]
    response, _ = bot.sender.command("status grp a@x.test", user="U0WANDERER", channel="C0RANDOM")
    assert "only accepted in" in response.json()["text"]
    assert _counts(bot) == before
    query = (
        "SELECT actor FROM audit_event WHERE event='refused_access' "
        "AND actor IN ('U0STRANGER', 'U0WANDERER') ORDER BY actor"
    )
    deadline = time.monotonic() + 10
    while len(refused := bot.query(query)) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)  # recorded after the ack, by the worker process
    assert refused == [("U0STRANGER",), ("U0WANDERER",)]
