"""A request whose execute job was given up shows it: the housekeeper's card sync redraws the
card as failed and posts the result, saying why, in the card's thread."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from slack_sdk import WebClient

from approvals import Database, TenantPolicy, Workflow
from approvals.jobs import JobQueue
from bot.running.housekeeping import Housekeeper
from bot.slack.cards import Cards
from tests.fakes.slack_api import FakeSlack

TOKEN = "xoxb-given-up-test"


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    with FakeSlack(token=TOKEN) as fake:
        yield fake


def test_a_given_up_request_is_shown_failed_on_its_card_and_thread(
    db: Database, slack: FakeSlack
) -> None:
    clock = Clock()
    queue = JobQueue(db, lease=timedelta(seconds=30), max_attempts=2, clock=clock)
    wf = Workflow(
        db, lambda _t: TenantPolicy(approvers=frozenset({"UAPP"})), jobs=queue, clock=clock
    )
    cards = Cards(WebClient(token=TOKEN, base_url=slack.api_url), wf)
    view = wf.submit(tenant="acme", verb="disable", targets=["a@x.test"], reason="", requester="U1")
    cards.post(view, "C0OPS")
    cards.update(wf.approve(view.id, actor="UAPP").view)
    for _ in range(2):  # each worker dies mid-call
        assert wf.jobs.claim("w") is not None
        cards.update(wf.begin_execution(view.id))
        clock.now += timedelta(seconds=31)
    assert wf.jobs.claim("w") is None  # given up

    Housekeeper(wf, cards).tick()
    card = json.dumps(slack.calls_to("chat.update")[-1].args["blocks"])
    assert "Failed" in card and "0 of 1 targets succeeded" in card
    ts = wf.get(view.id).request.card_ref
    posts = [c for c in slack.calls_to("chat.postMessage") if c.args.get("thread_ts") == ts]
    assert len(posts) == 1
    assert "gave up after 2 attempts" in posts[0].args["text"]
    assert wf.cards_to_sync() == [] and wf.results_to_post() == []
