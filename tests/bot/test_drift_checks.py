"""The drift pass in one process, against the loopback WHM and Slack: at most ``readers``
tenants read at once, one notice per drifted request (thread and channel), nothing more on
the next pass, a notice Slack refused posted on a later pass, a fixed target resolved; and
the housekeeper's hook."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from slack_sdk import WebClient
from sqlmodel import col, select

from approvals import Database, TargetRecord, Workflow
from approvals.drift import DriftWatches
from approvals.models import AuditEvent
from bot.config.schema import AppConfig
from bot.running.drift_checks import DriftChecker
from bot.running.housekeeping import Housekeeper
from bot.slack.cards import Cards
from bot.slack.drift import DriftNotices
from bot.tenants import TenantRegistry
from tests.fakes.slack_api import FakeSlack
from tests.fakes.whm import FakeWhm

TOKEN = "xoxb-drift-test"
WHM_TOKEN = "DRIFTTESTTOKEN1"
TENANTS = [f"t{i}" for i in range(1, 7)]


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    with FakeSlack(token=TOKEN) as fake:
        yield fake


@pytest.fixture
def whm() -> Iterator[FakeWhm]:
    with FakeWhm(token=WHM_TOKEN, latency_s=0.05) as fake:
        for i, _name in enumerate(TENANTS, 1):
            fake.add_account(f"acct{i}", f"d{i}.test")
            fake.add_mailbox(f"m@d{i}.test", suspended_outgoing=1)
        yield fake


def _config(url: str, **extra: object) -> AppConfig:
    tenant = {
        "provider": "whm",
        "url": url,
        "username": "root",
        "token": WHM_TOKEN,
        "allow_plaintext": True,
        "approvers": ["U0APP"],
        "approvals_required_tenant_wide": 1,
        **extra,
    }
    return AppConfig.model_validate(
        {"tenants": {n: {**tenant, "channel": f"C0{n.upper()}"} for n in TENANTS}}
    )


def _setup(db: Database, slack: FakeSlack, whm: FakeWhm, *, readers: int = 2):
    registry = TenantRegistry(_config(whm.url))
    wf = Workflow(db, registry.policy)
    client = WebClient(token=TOKEN, base_url=slack.api_url)
    cards = Cards(client, wf)
    ids = {}
    for i, name in enumerate(TENANTS, 1):
        view = wf.submit(
            tenant=name, verb="disable", targets=[f"m@d{i}.test"], reason="", requester="UREQ"
        )
        cards.post(view, f"C0CARD{i}")
        wf.approve(view.id, actor="U0APP")
        wf.begin_execution(view.id)
        state = {"suspended_outgoing": 1, "hold_outgoing": 0, "verified": True}
        wf.finish_execution(
            view.id, [TargetRecord(f"m@d{i}.test", True, "outgoing mail suspended", state)]
        )
        ids[name] = view.id
    watches = DriftWatches(db, wf.now)
    notices = DriftNotices(client, wf, watches, channel_of=lambda t: registry.get(t).channel)
    checker = DriftChecker(watches, registry, notices, readers=readers)
    return checker, registry, cards, ids


def _notices(slack: FakeSlack) -> list[tuple[str, bool]]:
    return sorted(
        (c.args["channel"], bool(c.args.get("thread_ts")))
        for c in slack.calls_to("chat.postMessage")
        if "Drift on" in (c.args.get("text") or "") and not c.failed
    )


def test_a_pass_reads_a_bounded_number_of_tenants_at_once_and_tells_each_drift_once(
    db: Database, slack: FakeSlack, whm: FakeWhm
) -> None:
    checker, registry, _cards, ids = _setup(db, slack, whm, readers=2)
    try:
        whm.add_mailbox("m@d2.test", suspended_outgoing=0)
        whm.add_mailbox("m@d5.test", suspended_outgoing=0, hold_outgoing=1)
        whm.max_in_flight = 0
        report = checker.run_pass(force=True)
        assert report is not None
        assert (report.checked, report.detected, report.told, report.unread) == (6, 2, 2, 0)
        assert 1 <= whm.max_in_flight <= 2  # two tenants at a time, one call each
        assert _notices(slack) == [
            ("C0CARD2", True),
            ("C0CARD5", True),
            ("C0T2", False),
            ("C0T5", False),
        ]
        again = checker.run_pass(force=True)
        assert again is not None and (again.detected, again.told) == (0, 0)
        assert len(_notices(slack)) == 4
        whm.add_mailbox("m@d2.test", suspended_outgoing=1)  # put right by hand
        fixed = checker.run_pass(force=True)
        assert fixed is not None and (fixed.resolved, fixed.detected) == (1, 0)
        with db.read() as s:
            events = s.exec(
                select(AuditEvent.event, AuditEvent.request_id).where(
                    col(AuditEvent.event).in_(["drift_detected", "drift_resolved"])
                )
            ).all()
        assert sorted(events) == sorted(
            [
                ("drift_detected", ids["t2"]),
                ("drift_detected", ids["t5"]),
                ("drift_resolved", ids["t2"]),
            ]
        )
    finally:
        registry.close()


def test_without_the_bound_more_tenants_are_read_at_once(
    db: Database, slack: FakeSlack, whm: FakeWhm
) -> None:
    """The contrast that makes the bound above mean something."""
    checker, registry, _cards, _ids = _setup(db, slack, whm, readers=6)
    try:
        for name in TENANTS:  # built beforehand: building one is serialised, reading is not
            registry.provider(name)
        whm.latency_s = 0.3
        whm.max_in_flight = 0
        report = checker.run_pass(force=True)
        assert report is not None and report.checked == 6
        assert whm.max_in_flight > 2
    finally:
        registry.close()


def test_a_notice_slack_refused_is_posted_by_a_later_pass(
    db: Database, slack: FakeSlack, whm: FakeWhm
) -> None:
    checker, registry, _cards, ids = _setup(db, slack, whm)
    try:
        whm.add_mailbox("m@d3.test", suspended_outgoing=0)
        slack.fail_next("chat.postMessage", status=503, count=2)  # thread and channel
        first = checker.run_pass(force=True)
        assert first is not None and (first.detected, first.told) == (1, 0)
        assert _notices(slack) == []
        second = checker.run_pass(force=True)
        assert second is not None and (second.detected, second.told) == (0, 1)
        assert _notices(slack) == [("C0CARD3", True), ("C0T3", False)]
        calls = slack.calls_to("chat.postMessage")
        (post,) = [c for c in calls if c.args["channel"] == "C0T3" and not c.failed]
        blocks = post.args["blocks"]
        blocks = json.loads(blocks) if isinstance(blocks, str) else blocks
        assert f"what request #{ids['t3']} (disable)" in json.dumps(blocks)
    finally:
        registry.close()


def test_the_housekeeper_runs_a_pass_on_request_and_tenants_off_are_left_out(
    db: Database, slack: FakeSlack, whm: FakeWhm
) -> None:
    checker, registry, cards, _ids = _setup(db, slack, whm)
    try:
        whm.add_mailbox("m@d1.test", suspended_outgoing=0)
        checker.tenants = TenantRegistry(_config(whm.url, drift_check_interval="off"))
        keeper = Housekeeper(checker.notices.workflow, cards, drift=checker)
        report = keeper.run_drift_pass(force=True)
        assert report is not None and report.checked == 0 and _notices(slack) == []
        checker.tenants = registry
        report = keeper.run_drift_pass(force=True)
        assert report is not None and (report.checked, report.detected) == (6, 1)
        assert Housekeeper(checker.notices.workflow, cards).run_drift_pass() is None
    finally:
        registry.close()


def test_a_back_end_that_cannot_be_read_is_no_drift_and_is_read_again(
    db: Database, slack: FakeSlack, whm: FakeWhm
) -> None:
    checker, registry, _cards, _ids = _setup(db, slack, whm)
    try:
        whm.add_mailbox("m@d4.test", suspended_outgoing=0)
        whm.fail_next("getdomainowner", "auth403", count=6)  # every tenant's read refused
        down = checker.run_pass(force=True)
        assert down is not None and (down.unread, down.detected, down.told) == (6, 0, 0)
        assert _notices(slack) == []
        back = checker.run_pass(force=True)
        assert back is not None and (back.unread, back.detected, back.told) == (0, 1, 1)
    finally:
        registry.close()
