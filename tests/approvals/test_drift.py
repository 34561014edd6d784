"""Drift checks in the store: which executed changes are in force (the later change wins, a
timed change whose revert ran is over), checks spread over the interval and claimed once,
each drift recorded and told once; on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from datetime import timedelta

from sqlmodel import col, select

from approvals import Database, TargetRecord, TenantPolicy, Workflow
from approvals.drift import DriftWatches
from approvals.drift_model import DriftWatch
from approvals.models import AuditEvent
from tests.approvals.test_workflow import Clock

POLICY = TenantPolicy(approvers=frozenset({"UAPP1", "UAPP2", "UREQ"}))
EVERY = {"acme": timedelta(minutes=15), "other": timedelta(minutes=15)}
SUSPENDED = {"suspended_outgoing": 1}
ALLOWED = {"suspended_outgoing": 0}


def _expect(
    tenant: str, verb: str, target: str, verified: Mapping[str, object] | None
) -> Mapping[str, object] | None:
    return SUSPENDED if verb in ("disable", "hold") else None


def _done(
    wf: Workflow,
    verb: str,
    targets: list[str],
    *,
    tenant: str = "acme",
    timed: bool = False,
    ok: bool = True,
    execute: bool = True,
) -> int:
    view = wf.submit(
        tenant=tenant,
        verb=verb,
        targets=targets,
        reason="outbreak",
        requester="UREQ",
        revert_verb="enable" if timed else None,
        revert_after=timedelta(hours=1) if timed else None,
    )
    wf.approve(view.id, actor="UAPP1")
    if not execute:
        return view.id
    wf.begin_execution(view.id)
    state = SUSPENDED if verb == "disable" else ALLOWED
    wf.finish_execution(view.id, [TargetRecord(t, ok, "done", state) for t in targets])
    return view.id


def _in_force(watches: DriftWatches, tenant: str = "acme") -> list[tuple[int, str]]:
    return [(w.request_id, w.target) for w in watches.in_force(tenant)]


def test_the_later_change_wins_and_only_succeeded_targets_count(db: Database) -> None:
    clock = Clock()
    wf = Workflow(db, lambda _t: POLICY, clock=clock)
    watches = DriftWatches(db, clock)
    first = _done(wf, "disable", ["a@x.test", "b@x.test"])
    _done(wf, "enable", ["a@x.test"])  # a later executed change of a: #1 no longer holds it
    _done(wf, "enable", ["b@x.test"], tenant="other")  # another tenant's b is another target
    failed = _done(wf, "disable", ["c@x.test"], ok=False)
    assert watches.discover(EVERY, {"disable", "hold"}, _expect) == 2
    assert _in_force(watches) == [(first, "b@x.test")]
    assert watches.discover(EVERY, {"disable", "hold"}, _expect) == 0  # each request once
    again = _done(wf, "disable", ["b@x.test"])  # the same change again: the newer one holds
    watches.discover(EVERY, {"disable", "hold"}, _expect)
    assert _in_force(watches) == [(again, "b@x.test")]
    assert failed not in {r for r, _ in _in_force(watches)}


def test_a_timed_change_is_in_force_until_its_revert_runs(db: Database) -> None:
    clock = Clock()
    wf = Workflow(db, lambda _t: POLICY, clock=clock)
    watches = DriftWatches(db, clock)
    timed = _done(wf, "disable", ["t@x.test"], timed=True)
    kept = _done(wf, "disable", ["k@x.test"])
    watches.discover(EVERY, {"disable"}, _expect)
    assert _in_force(watches) == [(timed, "t@x.test"), (kept, "k@x.test")]
    clock.now += timedelta(hours=2)  # past its end, but the revert has not run yet: it holds
    assert (timed, "t@x.test") in _in_force(watches)
    wf.begin_revert(timed)
    assert _in_force(watches) == [(kept, "k@x.test")]
    claimed = watches.claim_due(EVERY, force=True)
    assert [w.target for w in claimed] == ["k@x.test"]
    with db.read() as s:
        row = s.exec(select(DriftWatch).where(DriftWatch.request_id == timed)).one()
    assert row.ended_at is not None and row.ended_reason == "its timed end ran"


def test_a_later_request_approved_but_not_run_is_not_judged_yet(db: Database) -> None:
    clock = Clock()
    wf = Workflow(db, lambda _t: POLICY, clock=clock)
    watches = DriftWatches(db, clock)
    first = _done(wf, "disable", ["a@x.test"])
    _done(wf, "enable", ["a@x.test"], execute=False)  # approved, waiting for a worker
    watches.discover(EVERY, {"disable"}, _expect)
    assert _in_force(watches) == [(first, "a@x.test")]  # still meant to hold for now
    assert watches.claim_due(EVERY, force=True) == []  # but not read while it changes


def test_checks_are_spread_over_the_interval_and_claimed_once(db: Database) -> None:
    clock = Clock()
    wf = Workflow(db, lambda _t: POLICY, clock=clock)
    targets = [f"user{i}@x.test" for i in range(60)]
    _done(wf, "disable", targets)
    watches, other = DriftWatches(db, clock), DriftWatches(db, clock)
    watches.discover(EVERY, {"disable"}, _expect)
    assert watches.claim_due(EVERY) == []  # none due the moment they were found
    clock.now += timedelta(minutes=5)
    first = watches.claim_due(EVERY)
    assert 5 <= len(first) <= 40  # about a third of them: spread, not all at once
    assert other.claim_due(EVERY) == []  # claimed: nobody else reads them now
    clock.now += timedelta(minutes=10, seconds=1)
    rest = other.claim_due(EVERY)
    assert {w.target for w in first} | {w.target for w in rest} == set(targets)
    assert not {w.id for w in first} & {w.id for w in rest}
    assert watches.claim_due(EVERY) == []
    clock.now += timedelta(minutes=15)  # a whole interval later: each one is due again
    assert len(watches.claim_due(EVERY)) == 60


def test_two_processes_claiming_at_once_never_share_a_check(db: Database) -> None:
    clock = Clock()
    wf = Workflow(db, lambda _t: POLICY, clock=clock)
    _done(wf, "disable", [f"u{i}@x.test" for i in range(40)])
    DriftWatches(db, clock).discover(EVERY, {"disable"}, _expect)
    clock.now += timedelta(minutes=20)
    got: list[list[int]] = []
    barrier = threading.Barrier(4)

    def claim() -> None:
        barrier.wait()
        got.append([w.id for w in DriftWatches(db, clock).claim_due(EVERY, limit=15)])

    threads = [threading.Thread(target=claim) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    ids = [i for part in got for i in part]
    assert len(ids) == len(set(ids)) == 40


def test_each_drift_is_recorded_and_told_once_and_again_after_it_read_right(
    db: Database,
) -> None:
    clock = Clock()
    wf = Workflow(db, lambda _t: POLICY, clock=clock)
    watches = DriftWatches(db, clock)
    request_id = _done(wf, "disable", ["a@x.test"])
    watches.discover(EVERY, {"disable"}, _expect)
    (watch,) = watches.claim_due(EVERY, force=True)
    clock.now += timedelta(minutes=1)
    assert watches.observe(watch.id, matches=True, observed=SUSPENDED) is None
    clock.now += timedelta(minutes=15)
    seen_right = clock.now - timedelta(minutes=15)
    detected = watches.observe(watch.id, matches=False, observed=ALLOWED, summary="allowed")
    assert detected is not None and detected.kind == "detected"
    assert detected.watch.seen_right_at == seen_right
    assert watches.observe(watch.id, matches=False, observed=ALLOWED) is None  # told once
    (pending,) = watches.pending_notices(["acme"])
    assert [w.id for w in watches.claim_notices([pending])] == [watch.id]
    assert watches.claim_notices([pending]) == []  # one teller
    watches.noticed([watch.id])
    assert watches.pending_notices(["acme"]) == []
    assert [w.target for w in watches.drifted(request_id)] == ["a@x.test"]
    resolved = watches.observe(watch.id, matches=True, observed=SUSPENDED)
    assert resolved is not None and resolved.kind == "resolved"
    assert watches.drifted(request_id) == []
    again = watches.observe(watch.id, matches=False, observed=ALLOWED)
    assert again is not None and again.kind == "detected"  # drifted again after reading right
    assert len(watches.pending_notices(["acme"])) == 1
    with db.read() as s:
        events = list(
            s.exec(
                select(AuditEvent.event, AuditEvent.before, AuditEvent.after)
                .where(col(AuditEvent.event).startswith("drift_"))
                .order_by(col(AuditEvent.id))
            )
        )
    assert [e for e, _, _ in events] == ["drift_detected", "drift_resolved", "drift_detected"]
    assert '"suspended_outgoing": 1' in (events[0][1] or "")
    assert '"suspended_outgoing": 0' in (events[0][2] or "")


def test_an_interrupted_notice_is_told_later_and_a_later_change_ends_the_drift(
    db: Database,
) -> None:
    clock = Clock()
    wf = Workflow(db, lambda _t: POLICY, clock=clock)
    watches = DriftWatches(db, clock)
    request_id = _done(wf, "disable", ["a@x.test"])
    watches.discover(EVERY, {"disable"}, _expect)
    (watch,) = watches.claim_due(EVERY, force=True)
    watches.observe(watch.id, matches=False, observed=ALLOWED)
    assert len(watches.claim_notices(watches.pending_notices(["acme"]))) == 1
    assert watches.pending_notices(["acme"]) == []  # being told by someone
    clock.now += timedelta(minutes=3)  # that teller died: the notice is due again
    assert len(watches.claim_notices(watches.pending_notices(["acme"]))) == 1
    later = _done(wf, "disable", ["a@x.test"])  # re-applied: the new request holds it now
    assert watches.observe(watch.id, matches=True, observed=SUSPENDED) is None
    assert watches.drifted(request_id) == []
    with db.read() as s:
        row = s.exec(select(DriftWatch).where(DriftWatch.id == watch.id)).one()
        resolved = s.exec(select(AuditEvent).where(AuditEvent.event == "drift_resolved")).one()
    assert row.ended_reason == f"#{later} changed it later"
    assert "no longer checked" in (resolved.detail or "")


def test_a_request_of_steps_watches_each_target_by_its_own_verb(db: Database) -> None:
    """/smtp usage's request keeps some mailboxes allowed (``enable``) and then disables the
    organisation: only the organisation is a restriction to watch, and by ``disable``."""
    clock = Clock()
    wf = Workflow(db, lambda _t: POLICY, clock=clock)
    watches = DriftWatches(db, clock)
    view = wf.submit(
        tenant="acme",
        verb="disable",
        targets=["scanner@x.test", "*"],
        target_verbs=["enable", None],
        reason="SMTP AUTH off, keeping the scanner",
        requester="UREQ",
        tenant_wide=True,
    )
    wf.approve(view.id, actor="UAPP1")
    wf.approve(view.id, actor="UAPP2")
    wf.begin_execution(view.id)
    wf.finish_execution(
        view.id,
        [
            TargetRecord("scanner@x.test", True, "done", ALLOWED),
            TargetRecord("*", True, "done", {}),
        ],
    )
    watches.discover(EVERY, {"disable"}, _expect)
    assert _in_force(watches) == [(view.id, "*")]  # the kept mailbox is not a restriction
