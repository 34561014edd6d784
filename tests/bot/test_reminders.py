"""Reminders and expiry (issue 14, item 9): approvers who have not acted are reminded by
direct message after ``remind_after``, then after twice and four times that, at most 3
times, never after a decision; on expiry the requester hears it in the thread, and the card
shows when it expires and who was asked. Driven clock, loopback Slack, real databases."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from slack_sdk import WebClient

from approvals import Database, TenantPolicy, Workflow
from approvals.reminders import DueReminder, Reminders
from bot.running.housekeeping import Housekeeper
from bot.slack.cards import Cards
from bot.slack.membership import SlackMembership
from bot.slack.notify import ApproverNotifier
from bot.slack.reminders import ApproverReminders
from tests.fakes.slack_api import FakeSlack

TOKEN = "xoxb-reminders-test"
APPROVERS = ("U0ANN", "U0BOB", "S0ONCALL")
WAIT = timedelta(minutes=10)


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    with FakeSlack(token=TOKEN) as fake:
        fake.usergroups["S0ONCALL"] = ["U0CAT", "U0REQ"]
        yield fake


class World:
    def __init__(self, db: Database, slack: FakeSlack) -> None:
        self.clock = Clock()
        self.slack = slack
        policy = TenantPolicy(
            approvers=frozenset(APPROVERS),
            approvals_required=2,
            request_ttl=timedelta(hours=2),
        )
        self.wf = Workflow(db, lambda _t: policy, clock=self.clock)
        client = WebClient(token=TOKEN, base_url=slack.api_url)
        membership = SlackMembership(client)
        self.cards = Cards(client, self.wf, asked=lambda _t: APPROVERS)
        self.reminders = ApproverReminders(
            self.wf,
            self.cards,
            ApproverNotifier(client, membership),
            asked=lambda _t: APPROVERS,
            wait=lambda _t: WAIT,
        )
        self.housekeeper = Housekeeper(self.wf, self.cards, reminders=self.reminders)

    def request(self) -> int:
        view = self.wf.submit(
            tenant="acme", verb="disable", targets=["a@x.test"], reason="spam", requester="U0REQ"
        )
        self.cards.post(view, "C0OPS")
        return view.id

    def at(self, minutes: float) -> None:
        self.clock.now = datetime(2026, 12, 1, 9, 0, tzinfo=UTC) + timedelta(minutes=minutes)
        self.housekeeper.tick()

    def dms(self) -> list[tuple[str, str]]:
        """(user, text) of every direct message, in order."""
        channel_of = {}
        for call in self.slack.calls_to("conversations.open"):
            channel_of[call.args["users"]] = call
        opened = [c.args["users"] for c in self.slack.calls_to("conversations.open")]
        posts = [
            c
            for c in self.slack.calls_to("chat.postMessage")
            if not c.args.get("blocks") and not c.args.get("thread_ts")
        ]
        return list(zip(opened, [p.args["text"] for p in posts], strict=True))


@pytest.fixture
def world(db: Database, slack: FakeSlack) -> World:
    return World(db, slack)


def test_approvers_who_have_not_acted_are_reminded_with_a_doubling_wait(world: World) -> None:
    request_id = world.request()
    world.at(9)
    assert world.dms() == []
    world.at(10)  # first reminder: after remind_after
    first = world.dms()
    assert sorted(user for user, _ in first) == ["U0ANN", "U0BOB", "U0CAT"]  # not the requester
    assert all(text.startswith("Reminder 1: a request still waits") for _, text in first)
    world.wf.approve(request_id, actor="U0ANN")  # one of two: Ann has acted
    world.at(29)
    assert len(world.dms()) == 3
    world.at(30)  # second: twice the wait later
    second = world.dms()[3:]
    assert sorted(user for user, _ in second) == ["U0BOB", "U0CAT"]
    assert all(text.startswith("Reminder 2:") for _, text in second)
    world.at(70)  # third: four times the wait after the second
    assert [t.split(":")[0] for _, t in world.dms()[5:]] == ["Reminder 3", "Reminder 3"]
    world.at(110)
    assert len(world.dms()) == 7  # at most 3 reminders


def test_no_reminder_after_a_decision(world: World) -> None:
    request_id = world.request()
    world.wf.deny(request_id, actor="U0BOB", note="not spam")
    world.at(10)
    world.at(30)
    assert world.dms() == []


def test_a_reminder_is_claimed_once_across_workers(world: World, db: Database) -> None:
    request_id = world.request()
    world.clock.now += WAIT
    other = Reminders(db, world.clock)
    [due] = other.due(lambda _t: WAIT)
    assert due == DueReminder(request_id, 1)
    assert other.claim(due) is True
    assert Reminders(db, world.clock).claim(due) is False  # a second replica sends nothing


def test_on_expiry_the_requester_is_told_in_the_thread_and_the_card_names_who_was_asked(
    world: World,
) -> None:
    request_id = world.request()
    pending = json.dumps(world.slack.calls_to("chat.postMessage")[0].args["blocks"])
    assert "expires <!date^" in pending
    assert "asked: <@U0ANN>, <@U0BOB>, <!subteam^S0ONCALL>" in pending
    world.at(121)  # past the two-hour TTL
    card = json.dumps(world.slack.calls_to("chat.update")[-1].args["blocks"])
    assert "Expired" in card and "asked: <@U0ANN>, <@U0BOB>, <!subteam^S0ONCALL>" in card
    ts = world.wf.get(request_id).request.card_ref
    replies = [c for c in world.slack.calls_to("chat.postMessage") if c.args.get("thread_ts") == ts]
    assert len(replies) == 1
    text = replies[0].args["text"]
    assert text.startswith(f"<@U0REQ> request #{request_id} expired at <!date^")
    assert "it got 0 of 2 approvals (asked: <@U0ANN>, <@U0BOB>, <!subteam^S0ONCALL>)" in text
    assert "Nothing was changed; request again if it is still needed." in text
