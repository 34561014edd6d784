"""A command answered after a crash: through its response_url while Slack still takes it,
else as an ephemeral message (or a DM) that says it is late."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from slack_sdk import WebClient

from bot.slack.answer import LATE, Answer
from tests.fakes.slack_api import FakeSlack

TOKEN = "xoxb-late-answer"
RECEIVED = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    with FakeSlack(token=TOKEN) as fake:
        yield fake


def answer(slack: FakeSlack, *, after: timedelta, attempt: int, channel: str | None) -> Answer:
    client = WebClient(token=TOKEN, base_url=slack.api_url)
    return Answer(
        slack.response_url("cmd-1"),
        client=lambda: client,
        user="U0REQ",
        channel=channel,
        received_at=RECEIVED,
        attempt=attempt,
        clock=lambda: RECEIVED + after,
    )


def test_first_attempt_in_time_uses_the_response_url_unmarked(slack: FakeSlack) -> None:
    answer(slack, after=timedelta(seconds=2), attempt=1, channel="C0OPS")(text="Stored #4")
    (call,) = slack.calls_to("response_url")
    assert call.args["text"] == "Stored #4"
    assert slack.calls_to("chat.postEphemeral") == []


def test_a_retry_in_time_uses_the_response_url_and_says_it_is_late(slack: FakeSlack) -> None:
    answer(slack, after=timedelta(minutes=3), attempt=2, channel="C0OPS")(text="Stored #4")
    (call,) = slack.calls_to("response_url")
    assert call.args["text"] == LATE + "Stored #4"


def test_past_30_minutes_the_answer_is_ephemeral_in_the_channel(slack: FakeSlack) -> None:
    answer(slack, after=timedelta(minutes=45), attempt=2, channel="C0OPS")(text="Stored #4")
    assert slack.calls_to("response_url") == []
    (call,) = slack.calls_to("chat.postEphemeral")
    assert (call.args["channel"], call.args["user"]) == ("C0OPS", "U0REQ")
    assert call.args["text"] == LATE + "Stored #4"


def test_where_the_bot_cannot_post_in_the_channel_it_sends_a_dm(slack: FakeSlack) -> None:
    slack.fail_next("chat.postEphemeral", error="channel_not_found")
    answer(slack, after=timedelta(hours=2), attempt=3, channel="C0GONE")(text="Stored #4")
    (dm,) = slack.calls_to("chat.postMessage")
    assert dm.args["channel"] == "U0REQ"
    assert dm.args["text"].startswith(LATE)
