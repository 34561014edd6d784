"""Durable jobs with leases, and timed restrictions on requests.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from approvals.models import UTCDateTime

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "job",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("request_id", sa.Integer(), sa.ForeignKey("change_request.id"), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("run_at", UTCDateTime(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("lease_owner", sa.String(length=128), nullable=True),
        sa.Column("lease_expires_at", UTCDateTime(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("finished_at", UTCDateTime(), nullable=True),
        sa.Column("last_error", sa.String(length=2000), nullable=True),
    )
    op.create_index("ix_job_request_id", "job", ["request_id"])
    op.create_index("ix_job_state", "job", ["state"])
    op.create_index("ix_job_run_at", "job", ["run_at"])
    with op.batch_alter_table("change_request") as batch:
        batch.add_column(sa.Column("revert_verb", sa.String(length=32), nullable=True))
        batch.add_column(sa.Column("revert_after_s", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("revert_at", UTCDateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("change_request") as batch:
        batch.drop_column("revert_at")
        batch.drop_column("revert_after_s")
        batch.drop_column("revert_verb")
    op.drop_table("job")
