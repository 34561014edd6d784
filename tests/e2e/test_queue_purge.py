"""`/smtp queue` and `/smtp purge` end to end: signed Slack requests, the loopback WHM's Exim
queue, the approval card that says a purge cannot be undone, and "removed N, M left"."""

from __future__ import annotations

import json

from tests.e2e.conftest import APPROVER, REQUESTER, Bot
from tests.e2e.test_walking_skeleton import _card_for, _request, _wait_status


def _answer(bot: Bot, text: str, user: str = REQUESTER) -> tuple[str, dict]:
    response, name = bot.sender.command(text, user=user)
    assert response.status_code == 200
    reply = bot.slack.wait_for_call("response_url", lambda c: c.path.endswith("/" + name))
    return reply.args["text"], reply.args


def test_queue_answers_the_caller_only_with_totals_and_the_senders_part(bot: Bot) -> None:
    bot.whm.add_account("qread", "q-read.test")
    bot.whm.add_mailbox("spam@q-read.test")
    bot.whm.queue.add("spam@q-read.test", 1500, recipients=("x@gmail.com", "y@hotmail.com"))
    bot.whm.queue.add("spam@q-read.test", 3, frozen=True, recipients=("z@gmail.com",))
    posted = len(bot.slack.calls_to("chat.postMessage"))
    text, args = _answer(bot, "queue acme spam@q-read.test")
    assert args["response_type"] == "ephemeral"
    assert "1,503 messages" in text and "3 frozen" in text, text
    assert "*From `spam@q-read.test`:* 1,503 messages" in text
    assert "gmail.com (1,503), hotmail.com (1,500)" in text
    assert len(bot.slack.calls_to("chat.postMessage")) == posted  # nothing in any channel
    assert bot.query("SELECT COUNT(*) FROM change_request WHERE verb='queue'") == [(0,)]


def test_queue_refuses_hostile_targets_and_exchange_tenants(bot: Bot) -> None:
    before = len(bot.whm.calls)
    for hostile in ("a&b@q-read.test", "../x@q-read.test", "a\u00e9@q-read.test", "a\r\nb@q.test"):
        response, _ = bot.sender.command(f"queue acme {hostile}", user=REQUESTER)
        assert response.json()["text"].startswith(":warning:")  # refused in the ack
    response, _ = bot.sender.command("queue contoso", user=REQUESTER)
    assert "has no mail queue to read" in response.json()["text"]
    assert len(bot.whm.calls) == before


def test_purge_refuses_a_percent_or_equals_address_before_anything_is_stored(bot: Bot) -> None:
    """``%26`` and ``=`` are how a target would smuggle a second WHM parameter: refused in
    the ack, nothing stored, nothing sent to WHM."""
    before = len(bot.whm.calls)
    stored = bot.query("SELECT count(*) FROM change_request")[0][0]
    for text in ("purge acme a%26api.filter.enable=0@q-pct.test", "purge acme a=b@q-pct.test"):
        response, _ = bot.sender.command(text, user=REQUESTER)
        assert response.status_code == 200
        assert "is not a valid email address." in response.json()["text"]
    assert len(bot.whm.calls) == before
    assert bot.query("SELECT count(*) FROM change_request")[0][0] == stored


def test_purge_refuses_for_and_needs_a_target(bot: Bot) -> None:
    response, _ = bot.sender.command("purge acme a@q-read.test --for 1h", user=REQUESTER)
    assert "purge cannot be undone, so it takes no --for." in response.json()["text"]
    response, _ = bot.sender.command("purge acme", user=REQUESTER)
    assert "purge needs a target" in response.json()["text"]


def test_purge_card_says_not_reversible_then_removes_and_reports(bot: Bot) -> None:
    bot.whm.add_account("qpurge", "q-purge.test")
    bot.whm.add_mailbox("bad@q-purge.test")
    bot.whm.add_mailbox("good@q-purge.test")
    bot.whm.queue.add("bad@q-purge.test", 4800)
    bot.whm.queue.add("bad@q-purge.test", 12, held=True)
    bot.whm.queue.add("good@q-purge.test", 5)
    request_id, channel, ts = _request(bot, 'purge acme bad@q-purge.test --reason "spam run"')
    card = json.dumps(_card_for(bot, request_id).args["blocks"])
    assert "This cannot be undone" in card and "bad@q-purge.test" in card
    assert bot.whm.calls_to("remove_messages_mail_queue") == []  # nothing before approval

    bot.sender.press("smtp_approve", str(request_id), user=APPROVER, channel=channel, message_ts=ts)
    _wait_status(bot, request_id, "succeeded", timeout=30)
    result = bot.slack.wait_for_call("chat.postMessage", lambda c: c.args.get("thread_ts") == ts)
    assert "removed 4,812, 0 left" in result.args["text"], result.args["text"]
    assert bot.whm.queue.count("bad@q-purge.test") == 0
    assert bot.whm.queue.count("good@q-purge.test") == 5
    assert len(bot.whm.calls_to("remove_messages_mail_queue")) == 10  # 4,800 IDs / 500
