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
