"""The queries that run on every change command and every housekeeping tick read through
indexes that hold only what they look for, so their cost does not grow with the history.

Checked on SQLite with the statements the workflow really sends (captured from the engine)
and no planner statistics, as on a new or busy database before ANALYZE."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from approvals import Database, Workflow
from approvals.duplicates import check_duplicates
from approvals.models import utcnow
from tests.approvals.test_workflow import make, submit


@pytest.fixture
def busy(tmp_path: Path) -> Iterator[Workflow]:
    """300 requests, all but 5 finished, carded and posted: a bot some time in use."""
    db = Database(f"sqlite:///{tmp_path / 'plans.db'}")
    db.upgrade()
    wf = make(db)
    for n in range(300):
        submit(wf, targets=[f"a{n}@x.test"])  # distinct: pending ones may not overlap
    with db.engine.begin() as conn:
        conn.execute(
            sa.text(
                "UPDATE change_request SET status = 'succeeded', result_posted = 1, "
                "card_ref = '1.2', card_channel = 'C1', revision = 4, card_revision = 4 "
                "WHERE id > 5"
            )
        )
    yield wf
    db.dispose()


def plan_of(wf: Workflow, call: Callable[[], Any]) -> str:
    """EXPLAIN QUERY PLAN of the first SELECT that ``call`` sends."""
    seen: list[tuple[str, Any]] = []

    def capture(*args: Any) -> None:  # (conn, cursor, statement, parameters, context, many)
        statement, params = args[2], args[3]
        if statement.lstrip().upper().startswith("SELECT"):
            seen.append((statement, params))

    sa.event.listen(wf.db.engine, "before_cursor_execute", capture)
    try:
        call()
    finally:
        sa.event.remove(wf.db.engine, "before_cursor_execute", capture)
    statement, params = seen[0]
    raw = wf.db.engine.raw_connection()
    try:
        rows = raw.cursor().execute("EXPLAIN QUERY PLAN " + statement, params).fetchall()
    finally:
        raw.close()
    return " / ".join(str(row[3]) for row in rows)


def test_rate_limit_count_reads_only_the_users_events(busy: Workflow) -> None:
    since = busy._clock() - timedelta(minutes=10)
    plan = plan_of(busy, lambda: busy.count_events(actor="UREQ", event="requested", since=since))
    assert "ix_audit_event_actor_event_at (actor=? AND event=? AND at>?)" in plan


def test_stale_cards_are_found_without_scanning_every_request(busy: Workflow) -> None:
    plan = plan_of(busy, busy.cards_to_sync)
    assert "USING INDEX ix_change_request_card_stale" in plan
    assert "SCAN change_request\n" not in plan + "\n"


def test_unposted_results_are_found_without_reading_posted_ones(busy: Workflow) -> None:
    plan = plan_of(busy, busy.results_to_post)
    assert "USING INDEX ix_change_request_result_unposted" in plan


def test_the_indexed_queries_still_find_their_rows(busy: Workflow) -> None:
    with busy.db.engine.begin() as conn:
        conn.execute(sa.text("UPDATE change_request SET revision = 5 WHERE id = 10"))
        conn.execute(sa.text("UPDATE change_request SET result_posted = 0 WHERE id = 20"))
    assert [v.id for v in busy.cards_to_sync()] == [10]
    assert [v.id for v in busy.results_to_post()] == [20]
    since = busy._clock() - timedelta(minutes=10)
    assert busy.count_events(actor="UREQ", event="requested", since=since) == 300
    assert busy.count_events(actor="UOTHER", event="requested", since=since) == 0


def test_the_duplicate_check_finds_pending_targets_by_index(busy: Workflow) -> None:
    def check() -> None:
        with busy.db.transaction() as s:
            check_duplicates(s, tenant="acme", verb="disable", targets=["new@x.test"], now=utcnow())

    plan = plan_of(busy, check)
    assert "SEARCH request_target USING INDEX ix_request_target_target (target=?)" in plan
    assert "SCAN" not in plan
