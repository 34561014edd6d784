"""The job queue: leases, reclaiming after a crash, and timed reverts."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

from approvals import Database, RequestStatus, TargetRecord, TenantPolicy, Workflow
from approvals.jobs import Doorbell, JobQueue
from approvals.models import JobState

POLICY = TenantPolicy(approvers=frozenset({"UAPP"}))


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


def setup(db: Database, clock: Clock) -> Workflow:
    queue = JobQueue(db, lease=timedelta(seconds=30), max_attempts=3, clock=clock)
    return Workflow(db, lambda _t: POLICY, jobs=queue, clock=clock)


def approved(wf: Workflow, targets=("a@x.test",), revert_after=None) -> int:
    view = wf.submit(
        tenant="acme",
        verb="disable",
        targets=list(targets),
        reason="",
        requester="UREQ",
        revert_verb="enable" if revert_after else None,
        revert_after=revert_after,
    )
    wf.approve(view.id, actor="UAPP")
    return view.id


def run(wf: Workflow, request_id: int, ok: bool = True) -> None:
    wf.begin_execution(request_id)
    targets = [t.target for t in wf.get(request_id).targets]
    wf.finish_execution(request_id, [TargetRecord(t, ok, "done") for t in targets])


def test_expired_lease_is_claimed_again_and_attempts_are_bounded(db: Database) -> None:
    clock = Clock()
    wf = setup(db, clock)
    approved(wf)
    first = wf.jobs.claim("w1")
    assert first is not None and first.attempts == 1
    assert wf.jobs.claim("w2") is None
    clock.now += timedelta(seconds=20)
    assert wf.jobs.renew(first.id, "w1")
    clock.now += timedelta(seconds=20)  # renewed: still w1's
    assert wf.jobs.claim("w2") is None
    assert not wf.jobs.renew(first.id, "w2")
    clock.now += timedelta(seconds=31)  # w1 died: the lease expired
    second = wf.jobs.claim("w2")
    assert second is not None and second.id == first.id and second.attempts == 2
    assert not wf.jobs.complete(first.id, "w1")  # the old owner can no longer finish it
    clock.now += timedelta(seconds=31)
    assert wf.jobs.claim("w3").attempts == 3
    clock.now += timedelta(seconds=31)
    assert wf.jobs.claim("w4") is None  # gave up after 3 attempts
    assert wf.jobs.get(first.id).state == JobState.FAILED.value


def test_resumed_execution_after_a_crash(db: Database) -> None:
    clock = Clock()
    wf = setup(db, clock)
    request_id = approved(wf)
    job = wf.jobs.claim("w1")
    wf.begin_execution(request_id)  # w1 dies here, mid-flight
    clock.now += timedelta(seconds=31)
    again = wf.jobs.claim("w2")
    assert again.id == job.id
    view = wf.begin_execution(request_id)
    assert view is not None and view.status is RequestStatus.EXECUTING
    run(wf, request_id)
    assert wf.jobs.complete(again.id, "w2")
    assert wf.get(request_id).status is RequestStatus.SUCCEEDED


def test_concurrent_claims_never_share_a_job(db: Database) -> None:
    clock = Clock()
    wf = setup(db, clock)
    ids = [approved(wf, targets=(f"u{i}@x.test",)) for i in range(40)]
    claimed: list[int] = []
    lock = threading.Lock()

    def drain(name: str) -> None:
        while (job := wf.jobs.claim(name)) is not None:
            with lock:
                claimed.append(job.request_id)
            wf.jobs.complete(job.id, name)

    threads = [threading.Thread(target=drain, args=(f"w{i}",)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(claimed) == sorted(ids)
    assert wf.jobs.counts() == {"done": 40}


def test_timed_restriction_schedules_a_revert(db: Database) -> None:
    clock = Clock()
    wf = setup(db, clock)
    request_id = approved(wf, targets=("a@x.test", "b@x.test"), revert_after=timedelta(hours=24))
    job = wf.jobs.claim("w")
    wf.begin_execution(request_id)
    wf.finish_execution(
        request_id,
        [TargetRecord("a@x.test", True, "ok"), TargetRecord("b@x.test", False, "no")],
    )
    wf.jobs.complete(job.id, "w")
    view = wf.get(request_id)
    assert view.request.revert_at == clock.now + timedelta(hours=24)
    assert [v.id for v in wf.active_restrictions("acme")] == [request_id]
    assert wf.jobs.claim("w") is None  # not due yet
    assert wf.jobs.next_due() == clock.now + timedelta(hours=24)
    clock.now += timedelta(hours=24)
    revert = wf.jobs.claim("w")
    assert revert.kind == "revert"
    _, targets = wf.begin_revert(request_id)
    assert targets == ["a@x.test"]  # only what the request changed


def test_a_later_change_wins_over_a_pending_revert(db: Database) -> None:
    clock = Clock()
    wf = setup(db, clock)
    timed = approved(wf, targets=("a@x.test",), revert_after=timedelta(hours=1))
    wf.jobs.complete(wf.jobs.claim("w").id, "w")
    run(wf, timed)
    assert wf.active_restrictions() != []
    enable = wf.submit(
        tenant="acme", verb="enable", targets=["a@x.test"], reason="", requester="UREQ"
    )
    wf.approve(enable.id, actor="UAPP")
    run(wf, enable.id)
    assert wf.active_restrictions() == []  # the revert was cancelled
    assert wf.jobs.counts().get("cancelled") == 1


def test_a_purge_of_the_queue_does_not_end_a_timed_restriction(db: Database) -> None:
    """disable --for 24h, then purge the mailbox's queued spam: the revert still runs (a purge
    deletes mail, it sets no restriction), on every target the disable changed."""
    clock = Clock()
    wf = setup(db, clock)
    timed = approved(wf, targets=("a@x.test",), revert_after=timedelta(hours=1))
    wf.jobs.complete(wf.jobs.claim("w").id, "w")
    run(wf, timed)
    purge = wf.submit(
        tenant="acme", verb="purge", targets=["a@x.test"], reason="", requester="UREQ"
    )
    wf.approve(purge.id, actor="UAPP")
    wf.jobs.complete(wf.jobs.claim("w").id, "w")
    run(wf, purge.id)
    assert [v.id for v in wf.active_restrictions()] == [timed]
    assert wf.jobs.counts().get("cancelled") is None
    clock.now += timedelta(hours=1)
    assert wf.jobs.claim("w").kind == "revert"
    _, targets = wf.begin_revert(timed)
    assert targets == ["a@x.test"]


def test_prune_keeps_live_jobs_and_recent_history(db: Database) -> None:
    clock = Clock()
    wf = setup(db, clock)
    old = approved(wf)
    wf.jobs.complete(wf.jobs.claim("w").id, "w")
    clock.now += timedelta(days=8)
    approved(wf)  # queued, not due to be pruned
    recent = approved(wf)
    job = wf.jobs.claim("w", request_id=recent)
    wf.jobs.complete(job.id, "w")
    assert wf.jobs.prune(timedelta(days=7)) == 1
    assert wf.jobs.counts() == {"queued": 1, "done": 1}
    assert old  # the request itself and its audit trail stay
    assert wf.get(old).status is not None


def test_a_doorbell_never_sleeps_past_a_flag_set_before_the_ring() -> None:
    bell = Doorbell()
    stopping = threading.Event()
    stopping.set()
    woke = threading.Event()

    def sleeper() -> None:
        bell.wait(3600, unless=stopping.is_set)
        woke.set()

    thread = threading.Thread(target=sleeper, daemon=True)
    thread.start()
    assert woke.wait(10)  # the flag, not the hour-long timeout, ended the wait
    thread.join(10)


def test_a_rung_doorbell_wakes_a_waiter_once() -> None:
    bell = Doorbell()
    bell.ring()
    assert bell.wait(3600) is True
    assert bell.wait(0.01) is False  # the ring was used up
