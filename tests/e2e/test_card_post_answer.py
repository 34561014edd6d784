"""What the requester is told when the approval card could not be posted: a Slack that did
not answer (the card is found or posted again by the housekeeper) is not a Slack that
refused (the bot must be invited, or the CLI used)."""

from __future__ import annotations

from tests.e2e.conftest import REQUESTER, Bot


def _answer(bot: Bot, text: str) -> str:
    response, name = bot.sender.command(text, user=REQUESTER)
    assert response.status_code == 200
    return bot.slack.wait_for_call("response_url", lambda c: c.path.endswith("/" + name)).args[
        "text"
    ]


def test_slack_not_answering_the_card_post_is_said_to_be_retried(bot: Bot) -> None:
    bot.whm.add_account("post1", "post-one.test")
    bot.whm.add_mailbox("a@post-one.test")
    bot.slack.fail_next("chat.postMessage", status=503, count=10)  # past the client's retries
    try:
        text = _answer(bot, "disable acme a@post-one.test")
    finally:
        with bot.slack._lock:
            bot.slack._failures.clear()
    assert text.startswith(":hourglass: Request #") and "is stored. Slack did not answer" in text
    assert "posts it again within a few minutes, without a new request." in text
    assert "Invite the bot" not in text


def test_slack_refusing_the_card_post_says_what_to_do(bot: Bot) -> None:
    bot.whm.add_account("post2", "post-two.test")
    bot.whm.add_mailbox("b@post-two.test")
    bot.slack.fail_next("chat.postMessage", error="channel_not_found", count=1)
    text = _answer(bot, "disable acme b@post-two.test")
    assert "could not be posted in <#C0APPROVALS> (channel_not_found)" in text
    assert "Invite the bot there, or approve it with the CLI." in text
