"""Every transition and policy rule of the workflow, on SQLite and on PostgreSQL."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from approvals import (
    Database,
    InvalidTransition,
    NotAllowed,
    NotAnApprover,
    NotARequester,
    RequestNotFound,
    RequestStatus,
    SelfApproval,
    TargetRecord,
    TenantPolicy,
    Workflow,
)
from approvals.audit import history

POLICY = TenantPolicy(approvers=frozenset({"UAPP1", "UAPP2", "UREQ"}))


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


def make(db: Database, policy: TenantPolicy = POLICY, clock: Clock | None = None) -> Workflow:
    return Workflow(db, lambda _tenant: policy, clock=clock or Clock())


def submit(
    wf: Workflow,
    *,
    tenant_wide: bool = False,
    requester: str = "UREQ",
    targets: list[str] | None = None,
) -> int:
    """Targets must differ between requests pending at once (the duplicate rule)."""
    view = wf.submit(
        tenant="acme",
        verb="disable",
        targets=["*"] if tenant_wide else targets or ["a@x.test", "b@x.test"],
        reason="spam",
        requester=requester,
        tenant_wide=tenant_wide,
    )
    return view.id


def events(wf: Workflow, request_id: int) -> list[str]:
    with wf.db.transaction() as s:
        return [e.event for e in history(s, request_id=request_id, newest_first=False)]


def test_submit_stores_request_targets_and_audit(db: Database) -> None:
    wf = make(db)
    request_id = submit(wf)
    view = wf.get(request_id)
    assert view.status is RequestStatus.PENDING
    assert [t.target for t in view.targets] == ["a@x.test", "b@x.test"]
    assert view.request.approvals_required == 1
    assert view.request.expires_at - view.request.created_at == timedelta(hours=1)
    assert events(wf, request_id) == ["requested"]


def test_one_approval_approves(db: Database) -> None:
    wf = make(db)
    request_id = submit(wf)
    outcome = wf.approve(request_id, actor="UAPP1")
    assert outcome.approved_now
    assert outcome.view.status is RequestStatus.APPROVED
    assert outcome.view.approvers == ("UAPP1",)


def test_requester_can_never_approve_own_request(db: Database) -> None:
    wf = make(db)
    request_id = submit(wf)  # UREQ is also listed as an approver
    with pytest.raises(SelfApproval):
        wf.approve(request_id, actor="UREQ")
    assert wf.get(request_id).status is RequestStatus.PENDING
    assert events(wf, request_id) == ["requested", "refused_approve"]


def test_non_approver_is_refused_and_recorded(db: Database) -> None:
    wf = make(db)
    request_id = submit(wf)
    with pytest.raises(NotAnApprover):
        wf.approve(request_id, actor="UOTHER")
    assert wf.get(request_id).approvers == ()
    assert events(wf, request_id)[-1] == "refused_approve"


def test_tenant_wide_needs_two_distinct_approvers(db: Database) -> None:
    wf = make(db)
    request_id = submit(wf, tenant_wide=True)
    first = wf.approve(request_id, actor="UAPP1")
    assert not first.approved_now and first.view.status is RequestStatus.PENDING
    again = wf.approve(request_id, actor="UAPP1")  # the same approver counts once
    assert not again.approved_now and again.view.approvers == ("UAPP1",)
    second = wf.approve(request_id, actor="UAPP2")
    assert second.approved_now and second.view.status is RequestStatus.APPROVED


def test_requester_allowlist(db: Database) -> None:
    policy = TenantPolicy(approvers=frozenset({"UAPP1"}), requesters=frozenset({"UREQ"}))
    wf = make(db, policy)
    submit(wf)
    with pytest.raises(NotARequester):
        submit(wf, requester="USTRANGER")


def test_cli_approval_counts_only_when_enabled(db: Database) -> None:
    wf = make(db)
    request_id = submit(wf)
    with pytest.raises(NotAnApprover):
        wf.approve(request_id, actor="cli:root")
    allowing = make(db, TenantPolicy(approvers=frozenset({"UAPP1"}), cli_can_approve=True))
    assert allowing.approve(request_id, actor="cli:root").approved_now


def test_deny_records_note_and_blocks_later_approval(db: Database) -> None:
    wf = make(db)
    request_id = submit(wf)
    view = wf.deny(request_id, actor="UAPP1", note="not spam")
    assert view.status is RequestStatus.DENIED
    assert view.request.decision_note == "not spam" and view.request.decided_by == "UAPP1"
    with pytest.raises(InvalidTransition):
        wf.approve(request_id, actor="UAPP2")


def test_requester_cannot_deny_but_can_cancel(db: Database) -> None:
    wf = make(db)
    request_id = submit(wf)
    with pytest.raises(SelfApproval):
        wf.deny(request_id, actor="UREQ")
    with pytest.raises(NotAllowed):
        wf.cancel(request_id, actor="UAPP1")
    assert wf.cancel(request_id, actor="UREQ").status is RequestStatus.CANCELLED


def test_expiry_on_access_and_by_sweep(db: Database) -> None:
    clock = Clock()
    wf = make(db, clock=clock)
    late = submit(wf)
    swept = submit(wf, targets=["c@x.test"])
    clock.now += timedelta(hours=1, seconds=1)
    with pytest.raises(InvalidTransition) as err:
        wf.approve(late, actor="UAPP1")
    assert err.value.status == "expired"
    assert wf.get(late).status is RequestStatus.EXPIRED
    assert [v.id for v in wf.expire_due()] == [swept]
    assert wf.expire_due() == []
    assert "expired" in events(wf, swept)


def test_execution_lifecycle_and_results(db: Database) -> None:
    wf = make(db)
    request_id = submit(wf)
    with pytest.raises(InvalidTransition):
        wf.finish_execution(request_id, [])
    wf.approve(request_id, actor="UAPP1")
    job = wf.jobs.claim("w1")
    assert job is not None and job.kind == "execute" and job.request_id == request_id
    assert wf.jobs.claim("w2") is None  # the job is leased to w1
    assert wf.begin_execution(request_id) is not None
    view = wf.finish_execution(
        request_id,
        [
            TargetRecord("a@x.test", True, "outgoing mail suspended", {"suspended": 1}),
            TargetRecord("b@x.test", False, "token rejected", error={"kind": "auth"}),
        ],
    )
    assert view.status is RequestStatus.FAILED
    assert [t.outcome for t in view.targets] == ["succeeded", "failed"]
    assert events(wf, request_id)[-3:] == ["target_succeeded", "target_failed", "failed"]
    assert wf.begin_execution(request_id) is None  # a re-run of the job finds nothing to do


def test_all_targets_ok_is_success(db: Database) -> None:
    wf = make(db)
    request_id = submit(wf)
    wf.approve(request_id, actor="UAPP1")
    wf.begin_execution(request_id)
    view = wf.finish_execution(
        request_id,
        [TargetRecord("a@x.test", True, "ok"), TargetRecord("b@x.test", True, "ok")],
    )
    assert view.status is RequestStatus.SUCCEEDED


def test_unknown_request(db: Database) -> None:
    wf = make(db)
    with pytest.raises(RequestNotFound):
        wf.approve(999, actor="UAPP1")


@pytest.mark.parametrize("tenant_wide", [False, True])
def test_simultaneous_approvals_transition_exactly_once(db: Database, tenant_wide: bool) -> None:
    """Real concurrent transactions: many approvers press at once; one approval wins."""
    approvers = [f"UAPP{i}" for i in range(8)]
    policy = TenantPolicy(approvers=frozenset(approvers), approvals_required_tenant_wide=2)
    wf = make(db, policy)
    for _round in range(3):
        request_id = submit(wf, tenant_wide=tenant_wide)
        barrier = threading.Barrier(len(approvers))
        winners: list[str] = []
        errors: list[BaseException] = []

        def press(
            actor: str,
            request_id: int = request_id,
            barrier: threading.Barrier = barrier,
            winners: list[str] = winners,
            errors: list[BaseException] = errors,
        ) -> None:
            barrier.wait()
            try:
                if wf.approve(request_id, actor=actor).approved_now:
                    winners.append(actor)
                if wf.jobs.claim(actor, request_id=request_id) is not None:
                    winners.append("exec")
            except InvalidTransition:
                pass
            except BaseException as exc:  # surfaced below
                errors.append(exc)

        threads = [threading.Thread(target=press, args=(a,)) for a in approvers]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
        assert len([w for w in winners if w != "exec"]) == 1
        assert winners.count("exec") == 1
        view = wf.get(request_id)
        assert view.status is RequestStatus.APPROVED
        assert len(view.approvers) == (2 if tenant_wide else 1)


def test_postgres_connection_loss_is_survived(db: Database) -> None:
    """Connections killed under the pool (a PostgreSQL restart, a failover): the next
    transaction reconnects instead of failing (pool_pre_ping)."""
    import sqlalchemy as sa

    if db.is_sqlite:
        return
    wf = make(db)
    first = submit(wf)
    with db.engine.connect() as conn:
        pid = conn.execute(sa.text("SELECT pg_backend_pid()")).scalar()
    admin = sa.create_engine(db.url)
    with admin.begin() as conn:
        assert conn.execute(sa.text("SELECT pg_terminate_backend(:p)"), {"p": pid}).scalar()
    admin.dispose()
    assert wf.approve(first, actor="UAPP1").approved_now


def _sqlite_file(tmp_path: Path, *, busy_timeout_s: float) -> tuple[Path, Database]:
    """A migrated SQLite file, and a Database on it that waits ``busy_timeout_s`` for locks."""
    path = tmp_path / "file.db"
    seed = Database(f"sqlite:///{path}")
    seed.upgrade()
    seed.dispose()
    return path, Database(f"sqlite:///{path}", sqlite_busy_timeout_s=busy_timeout_s)


def test_sqlite_busy_waits_then_fails_cleanly(tmp_path) -> None:
    """Another process holding SQLite's write lock: a short hold is waited out; a long one
    makes the step fail with nothing half-written."""
    import sqlite3
    import threading

    import sqlalchemy as sa

    path, db = _sqlite_file(tmp_path, busy_timeout_s=0.5)
    wf = make(db)
    first = submit(wf)

    def hold(seconds: float, ready: threading.Event) -> None:
        other = sqlite3.connect(path, isolation_level=None)
        other.execute("BEGIN IMMEDIATE")
        ready.set()
        threading.Event().wait(seconds)
        other.execute("ROLLBACK")
        other.close()

    ready = threading.Event()
    holder = threading.Thread(target=hold, args=(0.2, ready))
    holder.start()
    ready.wait()
    assert wf.approve(first, actor="UAPP1").approved_now  # waited 0.2 s for the lock
    holder.join()

    second = submit(wf)
    ready = threading.Event()
    holder = threading.Thread(target=hold, args=(1.5, ready))
    holder.start()
    ready.wait()
    with pytest.raises(sa.exc.OperationalError, match="locked"):
        wf.approve(second, actor="UAPP1")
    holder.join()
    view = wf.get(second)
    assert view.status is RequestStatus.PENDING and view.approvers == ()  # nothing half-written
    assert wf.approve(second, actor="UAPP1").approved_now  # and it works once the lock is gone
    db.dispose()


def test_card_retries_leave_a_request_alone_while_its_worker_holds_the_job(db: Database) -> None:
    clock = Clock()
    wf = make(db, clock=clock)
    request_id = submit(wf)
    wf.attach_card(
        request_id, channel="C1", ref="1.0", revision=wf.get(request_id).request.revision
    )
    wf.approve(request_id, actor="UAPP1")
    job = wf.jobs.claim("w1")
    assert job is not None and job.id is not None
    wf.begin_execution(request_id)
    wf.finish_execution(
        request_id, [TargetRecord("a@x.test", True, "ok"), TargetRecord("b@x.test", True, "ok")]
    )
    # w1 is about to redraw the card and post the result: a retry now would race it
    assert wf.cards_to_sync() == [] and wf.results_to_post() == []
    clock.now += wf.jobs.lease + timedelta(seconds=1)  # w1 died: its lease ran out
    assert [v.id for v in wf.cards_to_sync()] == [request_id]
    assert [v.id for v in wf.results_to_post()] == [request_id]
    clock.now -= wf.jobs.lease + timedelta(seconds=1)
    wf.jobs.complete(job.id, "w1")  # w1 finished, but Slack was down for it
    assert [v.id for v in wf.cards_to_sync()] == [request_id]
    assert [v.id for v in wf.results_to_post()] == [request_id]


def test_marking_a_card_synced_tells_whether_the_request_moved_on(db: Database) -> None:
    wf = make(db)
    request_id = submit(wf)
    stale = wf.get(request_id).request.revision
    wf.attach_card(request_id, channel="C1", ref="1.0", revision=stale)
    wf.approve(request_id, actor="UAPP1")
    latest = wf.get(request_id).request.revision
    assert latest > stale
    assert wf.mark_card_synced(request_id, stale) == latest
    assert wf.mark_card_synced(request_id, latest) == latest
    wf.mark_card_stale(request_id)
    assert [v.id for v in wf.cards_to_sync()] == [request_id]


def test_sqlite_reads_go_on_while_another_process_writes(tmp_path) -> None:
    """Reads (cards, lists, rate counts, metrics) neither wait for nor block a writer."""
    import sqlite3

    path, db = _sqlite_file(tmp_path, busy_timeout_s=0.2)
    wf = make(db)
    request_id = submit(wf)
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # another process is in the middle of a write
    other.execute("UPDATE change_request SET reason = 'changing' WHERE id = ?", (request_id,))
    try:
        view = wf.get(request_id)  # would fail with "database is locked" behind the writer
        assert view.request.reason == "spam"  # the last committed state, not the half-write
        assert [v.id for v in wf.pending()] == [request_id]
        assert wf.count_events(actor="UREQ", event="requested", since=view.request.created_at)
        assert wf.jobs.counts() == {}
    finally:
        other.execute("ROLLBACK")
        other.close()
    db.dispose()
