"""One tenant's hanging back end must not hold every worker thread, and a job hung past its
deadline must stop renewing its lease (issue 13, item 4)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator, Sequence
from datetime import timedelta

import pytest
from slack_sdk import WebClient
from sqlmodel import select

from approvals import Database, TenantPolicy, Workflow
from approvals.jobs import JobQueue
from approvals.models import AuditEvent, JobState
from bot.running.executor import Executor
from bot.running.worker import Worker
from bot.slack.cards import Cards
from providers import Scope, Target, TargetResult, TargetState, Verb
from tests.fakes.slack_api import FakeSlack

TOKEN = "xoxb-share-test"
POLICY = TenantPolicy(approvers=frozenset({"UAPP"}))


class HangingProvider:
    """Suspends in memory; while ``hang`` is set, every call blocks until ``release``."""

    kind = "hanging"
    batch_size = None

    def __init__(self, *, hang: bool) -> None:
        self.release = threading.Event()
        self.hang = hang
        self.started = 0

    def capabilities(self) -> frozenset[tuple[Scope, Verb]]:
        return frozenset({(Scope.MAILBOX, Verb.DISABLE)})

    def apply(self, verb: Verb, targets: Sequence[Target]) -> list[TargetResult]:
        self.started += 1
        if self.hang:
            self.release.wait(60)
        return [TargetResult(t, state=TargetState(t, "outgoing mail suspended")) for t in targets]

    def close(self) -> None:
        return None


class Tenants:
    def __init__(self, providers: dict[str, HangingProvider]) -> None:
        self._providers = providers

    def provider(self, name: str) -> HangingProvider:
        return self._providers[name]


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    with FakeSlack(token=TOKEN) as fake:
        yield fake


def _approved(wf: Workflow, tenant: str, address: str, cards: Cards | None = None) -> int:
    view = wf.submit(tenant=tenant, verb="disable", targets=[address], reason="", requester="U1")
    if cards is not None:
        cards.post(view, "C0OPS")
    wf.approve(view.id, actor="UAPP")
    return view.id


def _wait_for(condition, what: str, limit_s: float = 30.0) -> None:  # type: ignore[no-untyped-def]
    end = time.monotonic() + limit_s
    while not condition():
        if time.monotonic() > end:
            raise AssertionError(f"never happened: {what}")
        time.sleep(0.02)


def test_another_tenants_change_runs_while_one_tenants_calls_hang(
    db: Database, slack: FakeSlack
) -> None:
    queue = JobQueue(db)
    wf = Workflow(db, lambda _t: POLICY, jobs=queue)
    providers = {"acme": HangingProvider(hang=True), "beta": HangingProvider(hang=False)}
    cards = Cards(WebClient(token=TOKEN, base_url=slack.api_url), wf)
    executor = Executor(wf, Tenants(providers), cards)  # type: ignore[arg-type]
    hung = [_approved(wf, "acme", f"u{i}@acme.test", cards) for i in range(4)]  # queued first
    other = _approved(wf, "beta", "b@beta.test", cards)

    worker = Worker(queue, executor, concurrency=2, poll_s=3600).start()
    try:
        _wait_for(lambda: wf.get(other).status.value == "succeeded", "beta's change ran")
        assert providers["acme"].started == 1  # acme holds one thread of two, not both
        assert [wf.get(r).status.value for r in hung].count("executing") == 1
    finally:
        providers["acme"].release.set()
        assert worker.stop(timeout=30)


def test_the_share_is_one_thread_of_two_and_the_rest_run_after(
    db: Database, slack: FakeSlack
) -> None:
    queue = JobQueue(db)
    wf = Workflow(db, lambda _t: POLICY, jobs=queue)
    providers = {"acme": HangingProvider(hang=False)}
    cards = Cards(WebClient(token=TOKEN, base_url=slack.api_url), wf)
    executor = Executor(wf, Tenants(providers), cards)  # type: ignore[arg-type]
    ids = [_approved(wf, "acme", f"u{i}@acme.test", cards) for i in range(3)]

    worker = Worker(queue, executor, concurrency=2, poll_s=3600).start()
    try:
        assert worker.per_tenant_max == 1
        done = lambda: all(wf.get(r).status.value == "succeeded" for r in ids)  # noqa: E731
        _wait_for(done, "every acme change ran, one at a time")
    finally:
        assert worker.stop(timeout=30)


def test_lease_renewal_stops_once_the_jobs_deadline_has_passed(db: Database) -> None:
    queue = JobQueue(db, lease=timedelta(seconds=0.3))
    wf = Workflow(db, lambda _t: POLICY, jobs=queue)
    _approved(wf, "acme", "a@acme.test")
    job = queue.claim("w1")
    assert job is not None and job.id is not None

    until = time.monotonic() + 0.2  # the job's overall deadline
    with queue.leased(job.id, "w1", until=until):
        _wait_for(lambda: queue.claim("w2") is not None, "another worker took the hung job")

    taken = queue.get(job.id)
    assert taken is not None and taken.lease_owner == "w2"
    assert taken.state == JobState.RUNNING.value and taken.attempts == 2
    assert not queue.renew(job.id, "w1")  # w1's late renewals no longer count


def test_a_job_past_its_budget_ends_failed_and_says_why(db: Database, slack: FakeSlack) -> None:
    """End to end: a trickling WHM, a 1.5 s job budget; the request finishes as failed, with
    the timeout in the target's result and in the thread, instead of staying executing."""
    from providers.whm import WhmProvider, WhmSettings
    from tests.fakes.whm import DEFAULT_TOKEN, FakeWhm

    with FakeWhm(token=DEFAULT_TOKEN) as fake:
        fake.add_account("bob", "x.test")
        fake.add_mailbox("a@x.test")
        fake.fail_next("getdomainowner", "trickle", count=10)
        settings = WhmSettings(url=fake.url, username="root", token=DEFAULT_TOKEN, retries=2)
        with WhmProvider(settings, backoff_s=0.001) as whm:
            wf = Workflow(db, lambda _t: POLICY, jobs=JobQueue(db))
            cards = Cards(WebClient(token=TOKEN, base_url=slack.api_url), wf)
            executor = Executor(wf, Tenants({"acme": whm}), cards, job_budget_s=1.5)  # type: ignore[dict-item, arg-type]
            request_id = _approved(wf, "acme", "a@x.test", cards)

            assert executor.run(request_id)

    view = wf.get(request_id)
    assert view.status.value == "failed"
    [target] = view.targets
    assert target.message == (
        "WHM at 127.0.0.1 did not answer getdomainowner before the request's time ran out"
    )
    assert target.outcome == "failed"
    with db.read() as s:
        events = s.exec(select(AuditEvent).where(AuditEvent.request_id == request_id)).all()
    [failed] = [e for e in events if e.event == "target_failed"]
    assert json.loads(failed.detail or "{}")["error"]["kind"] == "timeout"
    thread = [c.args["text"] for c in slack.calls_to("chat.postMessage") if c.args.get("thread_ts")]
    assert any("did not answer getdomainowner" in text for text in thread)


def test_the_claim_query_skips_tenants_at_their_share(db: Database) -> None:
    """On both stores the skip is in the claim itself: the earlier job of a full tenant is
    passed over for another tenant's, and a full tenant's expired lease is not taken either."""
    queue = JobQueue(db, lease=timedelta(seconds=0))
    wf = Workflow(db, lambda _t: POLICY, jobs=queue)
    first = _approved(wf, "acme", "a@acme.test")
    second = _approved(wf, "beta", "b@beta.test")

    job = queue.claim("w1", skip_tenants=frozenset({"acme"}))
    assert job is not None and job.request_id == second
    assert queue.claim("w1", skip_tenants=frozenset({"acme", "beta"})) is None  # beta expired
    job = queue.claim("w1", skip_tenants=frozenset({"beta"}))
    assert job is not None and job.request_id == first
