"""Partial indexes on live jobs, so claiming a job and finding a timed restriction's pending
revert do not read past finished or unrelated jobs; and request targets by name (history of
a target, "a later change wins").

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_request_target_target", "request_target", ["target"])
    queued = sa.text("state = 'queued'")
    running = sa.text("state = 'running'")
    op.create_index(
        "ix_job_queued_due",
        "job",
        ["run_at", "id"],
        postgresql_where=queued,
        sqlite_where=queued,
    )
    revert = sa.text("state = 'queued' AND kind = 'revert'")
    op.create_index(
        "ix_job_queued_revert",
        "job",
        ["request_id"],
        postgresql_where=revert,
        sqlite_where=revert,
    )
    op.create_index(
        "ix_job_running_lease",
        "job",
        ["lease_expires_at", "id"],
        postgresql_where=running,
        sqlite_where=running,
    )


def downgrade() -> None:
    op.drop_index("ix_job_running_lease", table_name="job")
    op.drop_index("ix_job_queued_revert", table_name="job")
    op.drop_index("ix_request_target_target", table_name="request_target")
    op.drop_index("ix_job_queued_due", table_name="job")
