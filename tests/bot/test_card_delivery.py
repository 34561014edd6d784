"""A card whose post a crash interrupted is found or re-posted once, and later updates land on
it; a card Slack keeps refusing is retried on a bounded back-off, then given up and recorded.

Against the loopback Slack Web API, on SQLite and PostgreSQL, with a clock the test drives.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from slack_sdk import WebClient
from sqlmodel import col, select

from approvals import Database, TenantPolicy, Workflow
from approvals.delivery import MAX_ATTEMPTS, CardDelivery
from approvals.models import AuditEvent, ChangeRequest
from bot.slack.cards import Cards
from tests.fakes.slack_api import FakeSlack

TOKEN = "xoxb-delivery-test-5521"


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


class Killed(BaseException):
    """The process dies here: nothing after this line of the bot runs."""


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    with FakeSlack(token=TOKEN) as fake:
        yield fake


def _workflow(db: Database, clock: Clock) -> Workflow:
    policy = TenantPolicy(approvers=frozenset({"UAPP"}))
    return Workflow(db, lambda _t: policy, clock=clock)


def _cards(wf: Workflow, slack: FakeSlack) -> Cards:
    """A process's Cards: a restarted process builds new ones over the same database."""
    return Cards(WebClient(token=TOKEN, base_url=slack.api_url), wf)


def _submit(wf: Workflow) -> int:
    view = wf.submit(tenant="acme", verb="disable", targets=["a@x.test"], reason="", requester="U1")
    return view.id


def _cards_in(slack: FakeSlack, channel: str) -> list[str]:
    """The ts of every top-level message in ``channel``."""
    return [ts for (c, ts), m in slack.messages.items() if c == channel and "thread_ts" not in m]


def _row(db: Database, request_id: int) -> ChangeRequest:
    with db.read() as s:
        row = s.get(ChangeRequest, request_id)
        assert row is not None
        return row


def _post_then_die(db: Database, wf: Workflow, slack: FakeSlack, request_id: int) -> None:
    """Slack posts the card; the process dies before the card's ts is stored."""
    cards = _cards(wf, slack)

    def die(*_a: object, **_k: object) -> None:
        raise Killed

    cards.delivery.posted = die  # type: ignore[method-assign]
    with pytest.raises(Killed):
        cards.post(wf.get(request_id), "C0OPS")
    assert len(_cards_in(slack, "C0OPS")) == 1
    row = _row(db, request_id)
    assert row.card_ref is None and row.card_post_started_at is not None


def _approve_and_update(wf: Workflow, cards: Cards, request_id: int) -> None:
    wf.approve(request_id, actor="UAPP")
    assert cards.update(wf.get(request_id))


# --- item 2: a crash while the card is being posted -----------------------------------------


def test_card_posted_before_a_crash_is_found_and_later_updates_land_on_it(
    db: Database, slack: FakeSlack
) -> None:
    slack.scopes = (slack.scopes or "") + ",channels:history"
    clock = Clock()
    wf = _workflow(db, clock)
    request_id = _submit(wf)
    _post_then_die(db, wf, slack, request_id)
    [posted] = _cards_in(slack, "C0OPS")

    restarted = _cards(_workflow(db, clock), slack)
    assert restarted.sync() == 0  # within the grace period a live poster may still answer
    clock.advance(minutes=3)
    assert restarted.sync() == 1
    assert _row(db, request_id).card_ref == posted
    _approve_and_update(restarted.workflow, restarted, request_id)

    assert _cards_in(slack, "C0OPS") == [posted]  # no second card
    assert len([c for c in slack.calls_to("chat.postMessage") if not c.failed]) == 1
    assert {c.args["ts"] for c in slack.calls_to("chat.update")} == {posted}
    assert "Approved" in json.dumps(slack.messages[("C0OPS", posted)]["blocks"])
    assert restarted.sync() == 0  # nothing left pending


def test_without_history_scope_a_fresh_card_says_it_was_reposted_and_gets_the_updates(
    db: Database, slack: FakeSlack
) -> None:
    clock = Clock()
    wf = _workflow(db, clock)
    request_id = _submit(wf)
    _post_then_die(db, wf, slack, request_id)
    [lost] = _cards_in(slack, "C0OPS")

    clock.advance(minutes=3)
    first, second = _cards(_workflow(db, clock), slack), _cards(_workflow(db, clock), slack)
    assert first.sync() == 1
    assert second.sync() == 0  # recovered once, whoever else looks

    assert slack.calls_to("conversations.history")[0].args["channel"] == "C0OPS"
    [fresh] = [ts for ts in _cards_in(slack, "C0OPS") if ts != lost]
    assert "Card re-posted after a restart" in json.dumps(slack.messages[("C0OPS", fresh)])
    _approve_and_update(first.workflow, first, request_id)
    assert {c.args["ts"] for c in slack.calls_to("chat.update")} == {fresh}
    assert _row(db, request_id).card_ref == fresh
    assert len(_cards_in(slack, "C0OPS")) == 2  # the lost one stays, out of date, never touched


def test_a_command_carried_out_again_after_the_crash_finds_the_card_instead_of_a_second(
    db: Database, slack: FakeSlack
) -> None:
    slack.scopes = (slack.scopes or "") + ",channels:history"
    clock = Clock()
    wf = _workflow(db, clock)
    request_id = _submit(wf)
    _post_then_die(db, wf, slack, request_id)
    [posted] = _cards_in(slack, "C0OPS")
    again = _cards(_workflow(db, clock), slack)  # the intake row, claimed by another worker
    again.post(again.workflow.get(request_id), "C0OPS")
    assert _cards_in(slack, "C0OPS") == [posted]
    assert _row(db, request_id).card_ref == posted
    clock.advance(minutes=3)
    assert again.sync() == 0  # nothing pending is left for the housekeeper


def test_post_slack_did_not_answer_is_posted_again_after_the_grace(
    db: Database, slack: FakeSlack
) -> None:
    clock = Clock()
    wf = _workflow(db, clock)
    request_id = _submit(wf)
    cards = _cards(wf, slack)
    slack.fail_next("chat.postMessage", status=503)
    with pytest.raises(Exception, match="503|fake_failure"):
        cards.post(wf.get(request_id), "C0OPS")
    assert _row(db, request_id).card_post_started_at is not None  # it may have been posted
    clock.advance(minutes=3)
    assert cards.sync() == 1
    [ts] = _cards_in(slack, "C0OPS")
    _approve_and_update(wf, cards, request_id)
    assert {c.args["ts"] for c in slack.calls_to("chat.update")} == {ts}


# --- item 4: a card update that fails permanently -------------------------------------------


def test_channel_not_found_is_tried_a_bounded_number_of_times_then_recorded(
    db: Database, slack: FakeSlack, caplog: pytest.LogCaptureFixture
) -> None:
    clock = Clock()
    wf = _workflow(db, clock)
    request_id = _submit(wf)
    cards = _cards(wf, slack)
    cards.post(wf.get(request_id), "C0OPS")
    slack.fail_next("chat.update", error="channel_not_found", count=1000)
    wf.approve(request_id, actor="UAPP")
    start = clock.now
    tried_at: list[float] = []
    with caplog.at_level(logging.INFO):
        assert not cards.update(wf.get(request_id))
        tried_at.append(0)
        for _minute in range(6 * 60):  # six hours of housekeeping, one tick a minute
            clock.advance(minutes=1)
            before = len(slack.calls_to("chat.update"))
            cards.sync()
            if len(slack.calls_to("chat.update")) > before:
                tried_at.append((clock.now - start).total_seconds() / 60)

    assert len(slack.calls_to("chat.update")) == MAX_ATTEMPTS == 6
    assert tried_at == [0, 2, 6, 14, 30, 62]  # exponential, over about an hour
    row = _row(db, request_id)
    assert row.delivery_failed_at is not None and row.delivery_error == "channel_not_found"
    with db.read() as s:
        events = s.exec(
            select(AuditEvent).where(col(AuditEvent.event) == "card_delivery_failed")
        ).all()
    assert [(e.request_id, e.detail) for e in events] == [
        (request_id, "card delivery failed: channel_not_found (after 6 attempts)")
    ]
    gave_up = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(gave_up) == 1 and "channel_not_found" in gave_up[0].getMessage()
    assert TOKEN not in caplog.text
    # the executor's own redraws do not call Slack for it either
    assert not cards.update(wf.get(request_id))
    assert len(slack.calls_to("chat.update")) == 6
    assert [u.request_id for u in CardDelivery(db).undeliverable()] == [request_id]


def test_a_result_post_refused_is_bounded_too(db: Database, slack: FakeSlack) -> None:
    clock = Clock()
    wf = _workflow(db, clock)
    request_id = _submit(wf)
    cards = _cards(wf, slack)
    cards.post(wf.get(request_id), "C0OPS")
    view = wf.get(request_id)
    slack.fail_next("chat.postMessage", error="not_in_channel", count=1000)
    for _ in range(3):  # the same reply from the executor, retried right away, backs off
        assert not cards.reply(view, "result")
    replies = [c for c in slack.calls_to("chat.postMessage") if c.args.get("thread_ts")]
    assert len(replies) == 1
    for _ in range(200):
        clock.advance(minutes=1)
        cards.reply(wf.get(request_id), "result")
    replies = [c for c in slack.calls_to("chat.postMessage") if c.args.get("thread_ts")]
    assert len(replies) == MAX_ATTEMPTS
    assert _row(db, request_id).delivery_error == "not_in_channel"


def test_rate_limits_and_server_errors_back_off_honouring_retry_after_and_never_give_up(
    db: Database, slack: FakeSlack
) -> None:
    clock = Clock()
    wf = _workflow(db, clock)
    request_id = _submit(wf)
    cards = _cards(wf, slack)
    cards.post(wf.get(request_id), "C0OPS")
    wf.approve(request_id, actor="UAPP")
    slack.fail_next("chat.update", status=429, retry_after=120)
    assert not cards.update(wf.get(request_id))
    clock.advance(seconds=60)  # past the 1 s back-off, not past Retry-After
    assert cards.sync() == 0 and len(slack.calls_to("chat.update")) == 1
    slack.fail_next("chat.update", status=500, count=MAX_ATTEMPTS + 4)
    for _ in range(MAX_ATTEMPTS + 4):
        clock.advance(minutes=20)  # more than the longest transient back-off (15 min)
        cards.sync()
    assert _row(db, request_id).delivery_failed_at is None
    clock.advance(minutes=20)
    assert cards.sync() == 1  # Slack is back: the card catches up
    row = _row(db, request_id)
    assert row.delivery_attempts == 0 and row.delivery_error is None
    assert row.card_revision == row.revision


def test_a_given_up_card_posted_again_elsewhere_is_delivered_again(
    db: Database, slack: FakeSlack
) -> None:
    clock = Clock()
    wf = _workflow(db, clock)
    request_id = _submit(wf)
    cards = _cards(wf, slack)
    slack.fail_next("chat.postMessage", error="channel_not_found")
    with pytest.raises(Exception, match="channel_not_found"):
        cards.post(wf.get(request_id), "C0GONE")
    assert [u.channel for u in cards.delivery.undeliverable()] == ["C0GONE"]
    cards.post(wf.get(request_id), "C0OPS")  # an operator posts it where the bot is
    assert cards.delivery.undeliverable() == []
    _approve_and_update(wf, cards, request_id)
    assert {c.args["channel"] for c in slack.calls_to("chat.update")} == {"C0OPS"}
