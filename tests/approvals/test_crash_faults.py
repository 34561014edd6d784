"""Crash faults: a job that gives up ends its request, and a resumed (or late) execution never
undoes a later request's change to the same target."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from approvals import Database, RequestStatus, TargetOutcome, TargetRecord, TenantPolicy, Workflow
from approvals.jobs import JobQueue
from approvals.models import JobState

POLICY = TenantPolicy(approvers=frozenset({"UAPP"}))
LEASE = timedelta(seconds=30)


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


def setup(db: Database, clock: Clock) -> Workflow:
    queue = JobQueue(db, lease=LEASE, max_attempts=3, clock=clock)
    return Workflow(db, lambda _t: POLICY, jobs=queue, clock=clock)


def approved(wf: Workflow, verb: str, targets: tuple[str, ...], **kw: object) -> int:
    view = wf.submit(
        tenant="acme", verb=verb, targets=list(targets), reason="", requester="UREQ", **kw
    )
    wf.approve(view.id, actor="UAPP")
    return view.id


def events(wf: Workflow, request_id: int) -> list[tuple[str, str | None, dict]]:
    rows = [e for e in wf.history(tenant="acme", limit=500) if e.request_id == request_id]
    return [(e.event, e.target, json.loads(e.detail) if e.detail else {}) for e in rows[::-1]]


def die_until_given_up(wf: Workflow, clock: Clock, worker: str = "w") -> None:
    """Let the job's workers die until the queue gives up (max_attempts=3)."""
    for _ in range(2):
        clock.now += LEASE + timedelta(seconds=1)
        assert wf.jobs.claim(worker) is not None
    clock.now += LEASE + timedelta(seconds=1)
    assert wf.jobs.claim(worker) is None  # gave up


# --- a job that gives up ends its request --------------------------------------------------


def test_a_request_whose_job_gives_up_ends_failed_and_keeps_the_read_back(db: Database) -> None:
    clock = Clock()
    wf = setup(db, clock)
    rid = approved(wf, "disable", ("a@x.test", "b@x.test"))
    wf.attach_card(rid, channel="C1", ref="1.1", revision=wf.get(rid).request.revision)
    job = wf.jobs.claim("w1")
    wf.begin_execution(rid)
    wf.record_progress(rid, [TargetRecord("a@x.test", True, "suspended", state={"s": 1})])
    die_until_given_up(wf, clock)  # every worker dies mid-call

    assert wf.jobs.get(job.id).state == JobState.FAILED.value
    view = wf.get(rid)
    assert view.status is RequestStatus.FAILED
    assert view.request.finished_at == clock.now
    by_target = {t.target: t for t in view.targets}
    assert by_target["a@x.test"].outcome == TargetOutcome.SUCCEEDED.value  # the read-back
    assert by_target["b@x.test"].outcome == TargetOutcome.FAILED.value
    assert "gave up after 3 attempts" in by_target["b@x.test"].message
    trail = events(wf, rid)
    gave_up = [d for e, _, d in trail if e == "gave_up"]
    assert gave_up and "gave up after 3 attempts" in gave_up[0]["message"]
    assert [e for e, _, _ in trail][-1] == "failed"
    # the card and the thread catch up through the usual sync
    assert rid in [v.id for v in wf.cards_to_sync()]
    assert rid in [v.id for v in wf.results_to_post()]
    # and the lists show it as finished
    assert wf.open_requests("UREQ") == []


def test_a_job_that_gives_up_before_execution_began_fails_the_request(db: Database) -> None:
    clock = Clock()
    wf = setup(db, clock)
    rid = approved(wf, "disable", ("a@x.test",))
    assert wf.jobs.claim("w1") is not None  # dies before begin_execution
    die_until_given_up(wf, clock)
    view = wf.get(rid)
    assert view.status is RequestStatus.FAILED
    assert view.targets[0].outcome == TargetOutcome.FAILED.value
    assert wf.begin_execution(rid) is None  # nothing left to run
    assert wf.open_requests("UREQ") == []


def test_a_job_that_keeps_failing_and_is_retried_gives_up_the_same_way(db: Database) -> None:
    clock = Clock()
    wf = setup(db, clock)
    rid = approved(wf, "disable", ("a@x.test",))
    for attempt in range(3):
        job = wf.jobs.claim("w")
        assert job is not None and job.attempts == attempt + 1
        wf.begin_execution(rid)
        assert wf.jobs.retry_later(job.id, "w", error="OSError", delay=timedelta(seconds=5))
        clock.now += timedelta(seconds=5)
    assert wf.jobs.claim("w") is None
    assert wf.get(rid).status is RequestStatus.FAILED


def test_a_finished_request_is_left_alone_when_its_job_gives_up(db: Database) -> None:
    clock = Clock()
    wf = setup(db, clock)
    rid = approved(wf, "disable", ("a@x.test",))
    wf.jobs.claim("w1")
    wf.begin_execution(rid)
    wf.finish_execution(rid, [TargetRecord("a@x.test", True, "suspended")])
    revision = wf.get(rid).request.revision
    die_until_given_up(wf, clock)  # died after finishing, before marking the job done
    view = wf.get(rid)
    assert view.status is RequestStatus.SUCCEEDED and view.request.revision == revision
    assert "gave_up" not in [e for e, _, _ in events(wf, rid)]


def test_a_revert_job_that_gives_up_is_recorded(db: Database) -> None:
    clock = Clock()
    wf = setup(db, clock)
    rid = approved(wf, "disable", ("a@x.test",), revert_verb="enable", revert_after=LEASE)
    wf.jobs.complete(wf.jobs.claim("w").id, "w")
    wf.begin_execution(rid)
    wf.finish_execution(rid, [TargetRecord("a@x.test", True, "suspended")])
    clock.now += LEASE
    assert wf.jobs.claim("w").kind == "revert"  # and dies
    die_until_given_up(wf, clock)
    gave_up = [d for e, _, d in events(wf, rid) if e == "revert_gave_up"]
    assert gave_up and "gave up after 3 attempts" in gave_up[0]["message"]
    assert wf.get(rid).status is RequestStatus.SUCCEEDED  # the change itself stands
    assert wf.active_restrictions() == []


# --- a later change wins over a resumed or late execution ----------------------------------


def test_a_resumed_execution_does_not_undo_a_later_change(db: Database) -> None:
    clock = Clock()
    wf = setup(db, clock)
    disable = approved(wf, "disable", ("a@x.test", "b@x.test"))
    job = wf.jobs.claim("w1")
    assert wf.begin_execution(disable) is not None  # w1 is killed mid-call
    enable = approved(wf, "enable", ("a@x.test",))
    wf.jobs.complete(wf.jobs.claim("w2", request_id=enable).id, "w2")
    wf.begin_execution(enable)
    wf.finish_execution(enable, [TargetRecord("a@x.test", True, "enabled")])

    clock.now += LEASE + timedelta(seconds=1)
    again = wf.jobs.claim("w3")
    assert again.id == job.id
    view = wf.begin_execution(disable)  # resumed
    todo = [t.target for t in view.targets if t.outcome == TargetOutcome.PENDING.value]
    assert todo == ["b@x.test"]  # a@x.test is #enable's now
    skipped = {t.target: t for t in view.targets}["a@x.test"]
    assert skipped.outcome == TargetOutcome.FAILED.value
    assert skipped.message == f"skipped: #{enable} changed it later"
    trail = events(wf, disable)
    assert ("target_skipped", "a@x.test") in [(e, t) for e, t, _ in trail]
    assert [d for e, _, d in trail if e == "target_skipped"][0]["later_request"] == enable

    final = wf.finish_execution(disable, [TargetRecord("b@x.test", True, "suspended")])
    assert final.status is RequestStatus.FAILED  # not every change it asked for was made
    assert {t.target: t.message for t in final.targets}["a@x.test"].startswith("skipped: #")
    assert wf.get(enable).status is RequestStatus.SUCCEEDED


def test_a_late_first_execution_skips_every_target_changed_later(db: Database) -> None:
    clock = Clock()
    wf = setup(db, clock)
    disable = approved(wf, "disable", ("a@x.test",))  # its worker is slow to pick it up
    enable = approved(wf, "enable", ("a@x.test",))
    wf.begin_execution(enable)
    wf.finish_execution(enable, [TargetRecord("a@x.test", True, "enabled")])
    view = wf.begin_execution(disable)
    assert view is not None and view.status is RequestStatus.EXECUTING
    assert [t.outcome for t in view.targets] == [TargetOutcome.FAILED.value]
    final = wf.finish_execution(disable, [])
    assert final.status is RequestStatus.FAILED
    assert final.targets[0].message == f"skipped: #{enable} changed it later"


def test_an_earlier_change_or_a_failed_later_one_does_not_skip(db: Database) -> None:
    clock = Clock()
    wf = setup(db, clock)
    earlier = approved(wf, "enable", ("a@x.test",))
    wf.begin_execution(earlier)
    wf.finish_execution(earlier, [TargetRecord("a@x.test", True, "enabled")])
    disable = approved(wf, "disable", ("a@x.test",))
    wf.begin_execution(disable)  # killed mid-call
    later = approved(wf, "enable", ("a@x.test",))
    wf.begin_execution(later)
    wf.finish_execution(later, [TargetRecord("a@x.test", False, "WHM unreachable")])
    view = wf.begin_execution(disable)  # resumed: nothing later changed a@x.test
    assert [t.outcome for t in view.targets] == [TargetOutcome.PENDING.value]


def test_a_bulk_request_skips_exactly_the_targets_changed_later(db: Database) -> None:
    clock = Clock()
    wf = setup(db, clock)
    many = tuple(f"u{i}@x.test" for i in range(1200))  # more than one IN list's worth
    bulk = approved(wf, "disable", many)
    later = approved(wf, "enable", ("u3@x.test", "u700@x.test", "u1199@x.test"))
    wf.begin_execution(later)
    wf.finish_execution(later, [TargetRecord(t, True, "enabled") for t in wf_targets(wf, later)])
    view = wf.begin_execution(bulk)
    skipped = {t.target for t in view.targets if t.outcome != TargetOutcome.PENDING.value}
    assert skipped == {"u3@x.test", "u700@x.test", "u1199@x.test"}


def wf_targets(wf: Workflow, request_id: int) -> list[str]:
    return [t.target for t in wf.get(request_id).targets]
