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
