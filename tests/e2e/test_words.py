"""Messages that say what happened and what to do next (issue 14 items 8, 10, 12, 14), through
signed Slack requests to the running bot and the loopback Slack and WHM."""

from __future__ import annotations

import json
import re

from tests.e2e.conftest import APPROVER, APPROVER_2, GROUPIE, REQUESTER, Bot
from tests.e2e.test_walking_skeleton import _request, _wait_status

RAW_NAMES = (
    "refused_approve",
    "status_approved",
    "target_succeeded",
    "target_failed",
    "execution_started",
    "execution_resumed",
)


def _reply(bot: Bot, text: str, user: str = REQUESTER) -> str:
    response, name = bot.sender.command(text, user=user)
    assert response.status_code == 200
    reply = bot.slack.wait_for_call("response_url", lambda c: c.path.endswith("/" + name))
    return reply.args["text"]


def _ephemeral(bot: Bot, user: str, needle: str) -> str:
    call = bot.slack.wait_for_call(
        "chat.postEphemeral",
        lambda c: c.args.get("user") == user and needle in (c.args.get("text") or ""),
    )
    return call.args["text"]


def test_history_says_in_words_who_did_what_why_and_how_it_ended(bot: Bot) -> None:
    bot.whm.add_account("words1", "words-one.test")
    bot.whm.add_mailbox("w@words-one.test")
    request_id, channel, ts = _request(bot, 'disable acme w@words-one.test --reason "spam wave"')
    bot.sender.press(
        "smtp_approve", str(request_id), user=REQUESTER, channel=channel, message_ts=ts
    )
    _ephemeral(bot, REQUESTER, "own request")
    bot.sender.press("smtp_approve", str(request_id), user=APPROVER, channel=channel, message_ts=ts)
    _wait_status(bot, request_id, "succeeded")

    history = _reply(bot, "history acme w@words-one.test --limit 20")
    for raw in RAW_NAMES:
        assert raw not in history, (raw, history)
    lines = history.splitlines()[1:]
    n = f"#{request_id}"
    expected_in_order = [  # newest first
        f"{n} (disable `w@words-one.test`) succeeded on every target",
        f"Disable `w@words-one.test` ({n}) succeeded: ",
        f"The bot started {n}: disable `w@words-one.test`",
        f"{n} (disable `w@words-one.test`) has the 1 approval(s) it needs",
        f"<@{APPROVER}> approved {n} (disable `w@words-one.test`)",
        f"<@{REQUESTER}> tried to approve {n}; refused: requester cannot approve own request",
        f"<@{REQUESTER}> requested {n}: disable `w@words-one.test`; reason: spam wave",
    ]
    assert len(lines) == len(expected_in_order), history
    for line, expected in zip(lines, expected_in_order, strict=True):
        assert re.match(r"• \d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ ", line), line
        assert expected in line, (expected, line)
    assert "suspended" in lines[1].lower()  # the outcome as the back end read it back


def test_a_press_on_a_finished_request_says_it_has_already_succeeded(bot: Bot) -> None:
    bot.whm.add_account("words4", "words-four.test")
    bot.whm.add_mailbox("f@words-four.test")
    request_id, channel, ts = _request(bot, "disable acme f@words-four.test")
    bot.sender.press("smtp_approve", str(request_id), user=APPROVER, channel=channel, message_ts=ts)
    _wait_status(bot, request_id, "succeeded")
    n = f"#{request_id}"
    bot.sender.press(
        "smtp_approve", str(request_id), user=APPROVER_2, channel=channel, message_ts=ts
    )
    text = _ephemeral(bot, APPROVER_2, n)
    assert f"Request {n} has already succeeded." in text
    assert "is already succeeded" not in text


def test_pressing_approve_twice_says_what_is_still_missing(bot: Bot) -> None:
    bot.whm.smtp_restriction = 0
    request_id, channel, ts = _request(bot, 'disable acme --reason "lock the server"')
    bot.sender.press("smtp_approve", str(request_id), user=APPROVER, channel=channel, message_ts=ts)
    bot.slack.wait_for(
        lambda f: any(
            "1 of 2 approvals" in json.dumps(c.args.get("blocks"))
            for c in f.calls_to("chat.update")
            if c.args.get("ts") == ts
        )
    )
    bot.sender.press("smtp_approve", str(request_id), user=APPROVER, channel=channel, message_ts=ts)
    text = _ephemeral(bot, APPROVER, f"#{request_id}")
    assert text == (
        f"You already approved #{request_id}; it needs 1 more approval from someone else."
    )
    history = _reply(bot, "history acme --limit 3")
    assert history.count(f"<@{APPROVER}> approved #{request_id}") == 1  # counted once
    bot.sender.press(
        "smtp_approve", str(request_id), user=APPROVER_2, channel=channel, message_ts=ts
    )
    _wait_status(bot, request_id, "succeeded")


def test_approver_dm_names_channel_and_time_when_slack_gives_no_permalink(bot: Bot) -> None:
    bot.whm.add_account("words3", "words-three.test")
    bot.whm.add_mailbox("p@words-three.test")
    bot.slack.permalinks = False
    try:
        reply = _reply(bot, "disable grp p@words-three.test")
        request_id = int(reply.split("#", 1)[1].split()[0])
        ts = bot.query(f"SELECT card_ref FROM change_request WHERE id={request_id}")[0][0]
        dm = bot.slack.wait_for_call(
            "chat.postMessage",
            lambda c: c.args["channel"].startswith("D") and f"#{request_id}" in c.args["text"],
        )
    finally:
        bot.slack.permalinks = True
    text = dm.args["text"]
    assert not text.endswith("None") and "None" not in text
    assert "<#C0GRP>" in text
    assert f"<!date^{int(float(ts))}^" in text
    bot.sender.press("smtp_approve", str(request_id), user=GROUPIE, channel="C0GRP", message_ts=ts)
    _wait_status(bot, request_id, "succeeded")


def _result_post(bot: Bot, ts: str) -> str:
    post = bot.slack.wait_for_call("chat.postMessage", lambda c: c.args.get("thread_ts") == ts)
    return post.args["text"]


def test_a_partial_failure_lists_what_changed_and_what_did_not(bot: Bot) -> None:
    bot.whm.add_account("words5", "words-five.test")
    bot.whm.add_mailbox("one@words-five.test")
    bot.whm.add_mailbox("two@words-five.test")
    request_id, channel, ts = _request(bot, "disable acme one@words-five.test two@words-five.test")
    bot.whm.fail_next("Email::suspend_outgoing", "uapi_status0")  # refused: state unchanged
    bot.sender.press("smtp_approve", str(request_id), user=APPROVER, channel=channel, message_ts=ts)
    _wait_status(bot, request_id, "failed")
    states = {
        m: bot.whm.mailbox_state(f"{m}@words-five.test")["suspended_outgoing"]
        for m in ("one", "two")
    }
    assert sorted(states.values()) == [0, 1]
    changed = next(f"{m}@words-five.test" for m, v in states.items() if v == 1)
    refused = next(f"{m}@words-five.test" for m, v in states.items() if v == 0)
    text = _result_post(bot, ts)
    assert f"Not changed: `{refused}`. Changed: `{changed}`." in text
    line = next(line for line in text.splitlines()[1:] if line.startswith(":x:"))
    assert refused in line and "Simulated UAPI failure" in line
    assert line.endswith(
        "; nothing was changed on this target; the back end refused it for the reason "
        "quoted; request again once that is resolved"
    )


def test_a_back_end_that_did_not_answer_says_to_check_and_request_again(bot: Bot) -> None:
    bot.whm.add_account("words6", "words-six.test")
    bot.whm.add_mailbox("a@words-six.test")
    request_id, channel, ts = _request(bot, "disable acme a@words-six.test")
    bot.whm.fail_next("getdomainowner", "http503", count=4)  # the first try and 3 retries
    try:
        bot.sender.press(
            "smtp_approve", str(request_id), user=APPROVER, channel=channel, message_ts=ts
        )
        _wait_status(bot, request_id, "failed", timeout=30)
    finally:
        bot.whm._faults["getdomainowner"].clear()
    text = _result_post(bot, ts)
    line = next(line for line in text.splitlines()[1:] if line.startswith(":x:"))
    assert "answered HTTP 503 to getdomainowner" in line
    # getdomainowner resolves the target: it failed before any changing call was sent
    assert line.endswith("; nothing was changed on this target; request again when WHM answers")
    assert "Nothing was changed." in text
