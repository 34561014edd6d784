"""Admission rules checked in the transaction that stores a request, on SQLite and
PostgreSQL: the per-user limit holds under concurrency (one process, or two replicas on
PostgreSQL), and duplicate or overlapping pending requests are refused."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import timedelta

import pytest
import sqlalchemy as sa

from approvals import Database, TenantPolicy, Workflow
from approvals.errors import (
    DuplicateRequest,
    RequestLimitReached,
    TargetsPending,
    WorkflowError,
)
from approvals.limits import ReadLimit, RequestLimit, admit_read, lock_key
from approvals.models import AuditEvent
from tests.conftest import postgres_database

POLICY = TenantPolicy(approvers=frozenset({"UAPP"}))
LIMIT = RequestLimit(per_user=20, window=timedelta(minutes=10), window_text="10m")


def workflow(db: Database) -> Workflow:
    return Workflow(db, lambda _tenant: POLICY)


def stored(db: Database, sql: str = "SELECT count(*) FROM change_request") -> int:
    with db.engine.connect() as conn:
        return int(conn.execute(sa.text(sql)).scalar_one())


def at_once(calls: list[Callable[[], object]]) -> list[object]:
    """Run every call on its own thread, released together; return results or errors."""
    barrier = threading.Barrier(len(calls))
    results: list[object] = [None] * len(calls)

    def run(i: int) -> None:
        barrier.wait()
        try:
            results[i] = calls[i]()
        except Exception as exc:  # the test inspects what each call raised
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def submit_call(wf: Workflow, n: int, *, requester: str = "UBUSY", tenant: str = "acme"):
    return lambda: wf.submit(
        tenant=tenant,
        verb="disable",
        targets=[f"u{n}@x.test"],
        reason="spam",
        requester=requester,
        limit=LIMIT,
    )


def test_fifty_at_once_from_one_user_store_exactly_the_limit(db: Database) -> None:
    wf = workflow(db)
    results = at_once([submit_call(wf, n) for n in range(50)])
    refused = [r for r in results if isinstance(r, RequestLimitReached)]
    assert stored(db) == 20
    assert len(refused) == 30, [r for r in results if isinstance(r, Exception)][:3]
    assert "the limit is 20" in str(refused[0])
    refusals = stored(db, "SELECT count(*) FROM audit_event WHERE event = 'refused_access'")
    assert refusals == 30  # each refusal is in the audit trail, after the rollback


def test_the_limit_is_per_user_across_tenants(db: Database) -> None:
    wf = workflow(db)
    at_once(
        [submit_call(wf, n, tenant="acme") for n in range(15)]
        + [submit_call(wf, 100 + n, tenant="other") for n in range(15)]
        + [submit_call(wf, 200 + n, requester="UCALM") for n in range(5)]
    )
    with db.engine.connect() as conn:
        rows = conn.execute(
            sa.text("SELECT requester, count(*) FROM change_request GROUP BY requester")
        ).all()
    assert dict(rows) == {"UBUSY": 20, "UCALM": 5}


@pytest.mark.postgres
@pytest.mark.parametrize("db", ["postgres"], indirect=True)  # replicas share one PostgreSQL
def test_forty_at_once_across_two_replicas_store_exactly_the_limit(
    postgres_schema: str, db: Database
) -> None:
    other = postgres_database(postgres_schema)  # a second replica: its own engine and pool
    try:
        one, two = workflow(db), workflow(other)
        calls = [submit_call(one if n % 2 else two, n) for n in range(40)]
        results = at_once(calls)
    finally:
        other.dispose()
    assert stored(db) == 20
    assert sum(isinstance(r, RequestLimitReached) for r in results) == 20


def test_identical_pending_request_is_refused_naming_it_and_its_card(db: Database) -> None:
    wf = workflow(db)
    first = wf.submit(
        tenant="acme", verb="disable", targets=["bob@x", "al@x"], reason="", requester="U1"
    )
    wf.attach_card(first.id, channel="C0CARDS", ref="1700000000.000100", revision=0)
    with pytest.raises(DuplicateRequest) as err:
        wf.submit(
            tenant="acme", verb="disable", targets=["al@x", "bob@x"], reason="x", requester="U2"
        )
    assert str(err.value) == (
        f"Nothing was requested: #{first.id} already asks for this (see its card)"
    )
    assert (err.value.request_id, err.value.card_channel, err.value.card_ref) == (
        first.id,
        "C0CARDS",
        "1700000000.000100",
    )
    assert stored(db) == 1
    problem = stored(
        db, "SELECT count(*) FROM audit_event WHERE event = 'refused_input' AND actor = 'U2'"
    )
    assert problem == 1


def test_a_refusal_is_recorded_in_the_transaction_that_refused_it(db: Database) -> None:
    """One write per refused command, not a rolled-back one and another: on SQLite each
    write queues behind the others, acknowledgements' inserts among them."""
    wf = workflow(db)
    for n in range(2):
        submit_call(wf, n)()
    tight = RequestLimit(per_user=2, window=timedelta(minutes=10), window_text="10m")
    began: list[object] = []
    count = began.append  # one bound method: remove() needs the same object
    sa.event.listen(db.engine, "begin", count)
    try:
        with pytest.raises(RequestLimitReached):
            wf.submit(
                tenant="acme",
                verb="disable",
                targets=["u9@x.test"],
                reason="",
                requester="UBUSY",
                limit=tight,
            )
    finally:
        sa.event.remove(db.engine, "begin", count)
    assert len(began) == 1
    assert stored(db) == 2
    refused = "SELECT count(*) FROM audit_event WHERE event = 'refused_access' AND actor = 'UBUSY'"
    assert stored(db, refused) == 1


def test_twenty_five_identical_at_once_store_one(db: Database) -> None:
    wf = workflow(db)

    def same() -> object:
        return wf.submit(
            tenant="acme", verb="disable", targets=["bob@x"], reason="", requester="U1"
        )

    results = at_once([same] * 25)
    assert stored(db) == 1
    assert sum(isinstance(r, DuplicateRequest) for r in results) == 24


def test_a_target_in_another_pending_request_is_named(db: Database) -> None:
    wf = workflow(db)
    first = wf.submit(tenant="acme", verb="disable", targets=["bob@x"], reason="", requester="U1")
    with pytest.raises(TargetsPending) as err:
        wf.submit(
            tenant="acme", verb="enable", targets=["carol@x", "bob@x"], reason="", requester="U2"
        )
    assert str(err.value) == (
        f"Nothing was requested: `bob@x` is already in pending #{first.id} (disable)"
    )
    with pytest.raises(TargetsPending, match="already in pending"):  # a superset, same verb
        wf.submit(
            tenant="acme", verb="disable", targets=["bob@x", "dan@x"], reason="", requester="U2"
        )
    assert stored(db) == 1


def test_several_targets_pending_are_each_named(db: Database) -> None:
    wf = workflow(db)
    a = wf.submit(tenant="acme", verb="disable", targets=["a@x"], reason="", requester="U1")
    b = wf.submit(tenant="acme", verb="hold", targets=["b@x"], reason="", requester="U1")
    with pytest.raises(TargetsPending) as err:
        wf.submit(tenant="acme", verb="enable", targets=["a@x", "b@x"], reason="", requester="U2")
    assert str(err.value).splitlines() == [
        "Nothing was requested:",
        f"• `a@x` is already in pending #{a.id} (disable)",
        f"• `b@x` is already in pending #{b.id} (hold)",
    ]


def test_decided_requests_and_other_tenants_do_not_block(db: Database) -> None:
    wf = workflow(db)
    first = wf.submit(tenant="acme", verb="disable", targets=["bob@x"], reason="", requester="U1")
    wf.submit(tenant="other", verb="disable", targets=["bob@x"], reason="", requester="U1")
    wf.deny(first.id, actor="UAPP")
    again = wf.submit(tenant="acme", verb="disable", targets=["bob@x"], reason="", requester="U1")
    assert again.id != first.id
    assert stored(db) == 3


def test_reads_are_counted_in_the_database_and_refused_past_the_limit(db: Database) -> None:
    limit = ReadLimit(per_user=10, window=timedelta(minutes=1), window_text="1m")

    def read() -> None:
        admit_read(db, limit, reader="UREAD", tenant="acme", targets=3)

    results = at_once([read] * 25)
    refused = [r for r in results if isinstance(r, WorkflowError)]
    assert len(refused) == 15
    assert "the limit is 10" in str(refused[0])
    with db.read() as s:
        events = s.exec(sa.select(AuditEvent.event, AuditEvent.actor)).all()
    assert sorted(e for e, _ in events).count("status_read") == 10
    assert [e for e, _ in events].count("refused_access") == 15
    admit_read(db, limit, reader="UOTHER", tenant="acme", targets=1)  # per reader


def test_lock_keys_are_stable_and_signed_64_bit() -> None:
    assert lock_key("tenant", "acme") == 142003698783946382  # every replica, every run
    assert lock_key("tenant", "acme") != lock_key("requester", "acme")
    assert -(2**63) <= lock_key("requester", "U1") < 2**63
