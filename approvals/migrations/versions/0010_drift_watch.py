"""Drift: the targets of executed changes that housekeeping reads back while in force.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from approvals.models import UTCDateTime

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

_LIVE = "ended_at IS NULL"


def upgrade() -> None:
    op.create_table(
        "drift_watch",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("request_id", sa.Integer(), sa.ForeignKey("change_request.id"), nullable=False),
        sa.Column("tenant", sa.String(length=64), nullable=False),
        sa.Column("verb", sa.String(length=32), nullable=False),
        sa.Column("target", sa.String(length=300), nullable=False),
        sa.Column("expected", sa.Text(), nullable=True),
        sa.Column("next_check_at", UTCDateTime(), nullable=False),
        sa.Column("checked_at", UTCDateTime(), nullable=True),
        sa.Column("seen_right_at", UTCDateTime(), nullable=True),
        sa.Column("drifted_at", UTCDateTime(), nullable=True),
        sa.Column("observed", sa.Text(), nullable=True),
        sa.Column("notice_claimed_at", UTCDateTime(), nullable=True),
        sa.Column("noticed_at", UTCDateTime(), nullable=True),
        sa.Column("ended_at", UTCDateTime(), nullable=True),
        sa.Column("ended_reason", sa.String(length=200), nullable=True),
        sa.UniqueConstraint("request_id", "target"),
    )
    op.create_index(
        "ix_drift_watch_due",
        "drift_watch",
        ["next_check_at", "id"],
        postgresql_where=sa.text(_LIVE),
        sqlite_where=sa.text(_LIVE),
    )


def downgrade() -> None:
    op.drop_index("ix_drift_watch_due", table_name="drift_watch")
    op.drop_table("drift_watch")
