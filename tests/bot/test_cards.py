"""Cards in Slack end on the request's latest state, whoever redraws them and in what order."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from slack_sdk import WebClient

from approvals import Database, TenantPolicy, Workflow
from bot.slack.cards import Cards
from tests.fakes.slack_api import FakeSlack

TOKEN = "xoxb-cards-test"


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    with FakeSlack(token=TOKEN) as fake:
        yield fake


class Clock:
    """A clock the test moves: back-off is driven, never slept through."""

    def __init__(self) -> None:
        self.now = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


def _setup(
    db: Database, slack: FakeSlack, clock: Clock | None = None
) -> tuple[Workflow, Cards, int]:
    wf = Workflow(
        db, lambda _t: TenantPolicy(approvers=frozenset({"UAPP"})), clock=clock or Clock()
    )
    cards = Cards(WebClient(token=TOKEN, base_url=slack.api_url), wf)
    view = wf.submit(tenant="acme", verb="disable", targets=["a@x.test"], reason="", requester="U1")
    cards.post(view, "C0OPS")
    return wf, cards, view.id


def _last_card(slack: FakeSlack) -> str:
    return json.dumps(slack.calls_to("chat.update")[-1].args["blocks"])


def test_a_redraw_from_a_stale_view_is_followed_by_the_latest(
    db: Database, slack: FakeSlack
) -> None:
    wf, cards, request_id = _setup(db, slack)
    pending = wf.get(request_id)  # read by a slow worker, which then draws it late
    wf.approve(request_id, actor="UAPP")
    assert cards.update(wf.get(request_id))  # a fast worker draws "approved" first
    assert "Approved, starting" in _last_card(slack)
    assert cards.update(pending)  # the slow worker's drawing lands after it...
    assert len(slack.calls_to("chat.update")) == 3  # ...and is drawn over at once
    assert "Approved, starting" in _last_card(slack)
    assert wf.cards_to_sync() == []


def test_a_failed_redraw_over_a_stale_drawing_leaves_the_card_to_the_housekeeper(
    db: Database, slack: FakeSlack
) -> None:
    clock = Clock()
    wf, cards, request_id = _setup(db, slack, clock)
    pending = wf.get(request_id)
    wf.approve(request_id, actor="UAPP")
    assert cards.update(wf.get(request_id))
    mark = wf.mark_card_synced

    def then_slack_fails(request_id: int, revision: int) -> int:
        slack.fail_next("chat.update", status=500)  # the stale drawing landed; the redraw fails
        return mark(request_id, revision)

    wf.mark_card_synced = then_slack_fails  # type: ignore[method-assign]
    assert not cards.update(pending)
    wf.mark_card_synced = mark  # type: ignore[method-assign]
    assert wf.cards_to_sync() == []  # a 5xx: backing off (1 s, doubling) before the next try
    clock.advance(seconds=10)
    assert [v.id for v in wf.cards_to_sync()] == [request_id]
    assert cards.sync() == 1
    assert "Approved, starting" in _last_card(slack)
