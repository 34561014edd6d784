"""Fault injection: Slack rate limits, 5xx and outages, and back-end failures. Nothing is lost:
what Slack did not take is retried from the database."""

from __future__ import annotations

import json
import time

from tests.e2e.conftest import APPROVER, Bot
from tests.e2e.test_walking_skeleton import _request, _wait_status


def test_rate_limited_card_post_is_retried_after_retry_after(bot: Bot) -> None:
    bot.whm.add_account("flt1", "fault-one.test")
    bot.whm.add_mailbox("r@fault-one.test")
    bot.slack.fail_next("chat.postMessage", status=429, retry_after=1)
    request_id, _, ts = _request(bot, "disable acme r@fault-one.test")
    posts = [
        c
        for c in bot.slack.calls_to("chat.postMessage")
        if f"#{request_id}" in (c.args.get("text") or "")
    ]
    assert len(posts) == 2  # the 429, then the retry that worked
    assert posts[1].at - posts[0].at >= 1.0  # Retry-After was honoured
    assert ts


def test_card_and_result_survive_a_slack_outage(bot: Bot) -> None:
    bot.whm.add_account("flt2", "fault-two.test")
    bot.whm.add_mailbox("o@fault-two.test")
    request_id, channel, ts = _request(bot, "disable acme o@fault-two.test")
    # Slack fails every card update and thread post for a while (beyond the client retries)
    bot.slack.fail_next("chat.update", status=503, count=12)
    bot.slack.fail_next("chat.postMessage", status=500, count=6)
    bot.sender.press("smtp_approve", str(request_id), user=APPROVER, channel=channel, message_ts=ts)
    _wait_status(bot, request_id, "succeeded")
    assert bot.whm.mailbox_state("o@fault-two.test")["suspended_outgoing"] == 1
    # the housekeeper brings the card up to date and posts the result exactly once
    bot.slack.wait_for(
        lambda f: any(
            "Done" in json.dumps(c.args.get("blocks"))
            for c in f.calls_to("chat.update")
            if c.args.get("ts") == ts and not c.failed
        ),
        timeout=60,  # failed deliveries back off (1, 2, 4, 8 s …)
    )
    result = bot.slack.wait_for_call(
        "chat.postMessage",
        lambda c: (
            c.args.get("thread_ts") == ts and "o@fault-two.test" in c.args["text"] and not c.failed
        ),
        timeout=60,  # failed deliveries back off (1, 2, 4, 8 s …)
    )
    assert "suspended" in result.args["text"].lower()
    posted = [
        c
        for c in bot.slack.calls_to("chat.postMessage")
        if c.args.get("thread_ts") == ts and not c.failed
    ]
    assert len(posted) == 1
    deadline = time.monotonic() + 30
    query = (
        f"SELECT card_revision = revision, result_posted FROM change_request WHERE id={request_id}"
    )
    while bot.query(query) != [(1, 1)]:
        assert time.monotonic() < deadline, bot.query(query)
        time.sleep(0.1)


def test_backend_failures_are_reported_per_target(bot: Bot) -> None:
    bot.whm.add_account("flt3", "fault-three.test")
    for name in ("ok", "flaky", "broken"):
        bot.whm.add_mailbox(f"{name}@fault-three.test")
    request_id, channel, ts = _request(
        bot, "disable acme ok@fault-three.test flaky@fault-three.test broken@fault-three.test"
    )
    bot.whm.fail_next("Email::suspend_outgoing", "http503", count=1)  # retried, then fine
    bot.whm.fail_next("Email::suspend_outgoing", "drop_change", count=1)
    bot.sender.press("smtp_approve", str(request_id), user=APPROVER, channel=channel, message_ts=ts)
    _wait_status(bot, request_id, "failed")
    outcomes = dict(
        bot.query(f"SELECT target, outcome FROM request_target WHERE request_id={request_id}")
    )
    assert sorted(outcomes.values()) == ["failed", "succeeded", "succeeded"]
    result = bot.slack.wait_for_call("chat.postMessage", lambda c: c.args.get("thread_ts") == ts)
    assert "2 succeeded, 1 failed" in result.args["text"]
    assert "Traceback" not in result.args["text"]
