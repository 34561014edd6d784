"""Migrations create exactly the schema the models describe, and can be rolled back."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlmodel import SQLModel

from approvals import Database


def test_schema_matches_models(db: Database) -> None:
    with db.engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), SQLModel.metadata) == []
    assert db.current_revision() == db.head_revision()


def test_downgrade_to_base_and_upgrade_again(tmp_path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'm.db'}")
    db.upgrade()
    assert not db.is_empty()
    db.downgrade("base")
    assert db.current_revision() is None
    db.upgrade()
    assert db.current_revision() == db.head_revision()
    db.dispose()


def test_upgrade_from_0001_keeps_rows_and_marks_finished_results_posted(tmp_path) -> None:
    import sqlalchemy as sa

    db = Database(f"sqlite:///{tmp_path / 'u.db'}")
    db.upgrade("0001")
    with db.engine.begin() as conn:
        for status in ("pending", "succeeded"):
            conn.execute(
                sa.text(
                    "INSERT INTO change_request (tenant, verb, reason, requester, status, "
                    "tenant_wide, approvals_required, created_at, expires_at) VALUES "
                    "('acme', 'disable', '', 'U1', :s, 0, 1, '2026-01-01', '2026-01-02')"
                ),
                {"s": status},
            )
    db.upgrade("0002")
    with db.engine.connect() as conn:
        rows = conn.execute(
            sa.text("SELECT status, revision, result_posted FROM change_request ORDER BY id")
        ).all()
    assert [tuple(r) for r in rows] == [("pending", 0, 0), ("succeeded", 0, 1)]
    db.dispose()


def test_upgrade_from_0002_adds_jobs_and_keeps_requests(tmp_path) -> None:
    import sqlalchemy as sa

    db = Database(f"sqlite:///{tmp_path / 'j.db'}")
    db.upgrade("0002")
    with db.engine.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO change_request (tenant, verb, reason, requester, status, "
                "tenant_wide, approvals_required, created_at, expires_at) VALUES "
                "('acme', 'disable', '', 'U1', 'approved', 0, 1, '2026-01-01', '2026-01-02')"
            )
        )
    db.upgrade("0003")
    with db.engine.connect() as conn:
        row = conn.execute(
            sa.text("SELECT status, revert_verb, revert_after_s, revert_at FROM change_request")
        ).one()
        assert tuple(row) == ("approved", None, None, None)
        assert conn.execute(sa.text("SELECT count(*) FROM job")).scalar() == 0
    db.downgrade("0002")
    assert "job" not in sa.inspect(db.engine).get_table_names()
    db.dispose()


def test_0004_adds_partial_claim_indexes(tmp_path) -> None:
    import sqlalchemy as sa

    db = Database(f"sqlite:///{tmp_path / 'i.db'}")
    db.upgrade("0004")
    names = {i["name"] for i in sa.inspect(db.engine).get_indexes("job")}
    assert {"ix_job_queued_due", "ix_job_running_lease"} <= names
    db.downgrade("0003")
    names = {i["name"] for i in sa.inspect(db.engine).get_indexes("job")}
    assert "ix_job_queued_due" not in names
    db.dispose()


def test_0005_adds_the_scan_indexes_and_rolls_back(tmp_path) -> None:
    import sqlalchemy as sa

    db = Database(f"sqlite:///{tmp_path / 's.db'}")
    db.upgrade("0005")
    inspector = sa.inspect(db.engine)
    requests = {i["name"] for i in inspector.get_indexes("change_request")}
    events = {i["name"] for i in inspector.get_indexes("audit_event")}
    assert {"ix_change_request_card_stale", "ix_change_request_result_unposted"} <= requests
    assert "ix_audit_event_actor_event_at" in events
    db.downgrade("0004")
    inspector = sa.inspect(db.engine)
    assert "ix_change_request_card_stale" not in {
        i["name"] for i in inspector.get_indexes("change_request")
    }
    assert "ix_audit_event_actor_event_at" not in {
        i["name"] for i in inspector.get_indexes("audit_event")
    }
    db.dispose()
