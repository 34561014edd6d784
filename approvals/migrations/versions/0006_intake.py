"""Durable intake: what the bot acknowledged is stored before the acknowledgement.

One row per acknowledged interaction (payload, arrival, a unique dedupe key, a lease), and
the intake row a change request was created from, so carrying a row out again after a crash
finds its request instead of storing a second one.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from approvals.models import UTCDateTime

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "intake",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("dedupe_key", sa.String(length=300), nullable=True),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("received_at", UTCDateTime(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("lease_owner", sa.String(length=128), nullable=True),
        sa.Column("lease_expires_at", UTCDateTime(), nullable=True),
        sa.Column("finished_at", UTCDateTime(), nullable=True),
        sa.Column("last_error", sa.String(length=2000), nullable=True),
    )
    op.create_index("ix_intake_dedupe_key", "intake", ["dedupe_key"], unique=True)
    op.create_index("ix_intake_finished_at", "intake", ["finished_at"])
    op.create_index(
        "ix_intake_queued",
        "intake",
        ["received_at", "id"],
        postgresql_where=sa.text("state = 'queued'"),
        sqlite_where=sa.text("state = 'queued'"),
    )
    op.create_index(
        "ix_intake_running_lease",
        "intake",
        ["lease_expires_at", "id"],
        postgresql_where=sa.text("state = 'running'"),
        sqlite_where=sa.text("state = 'running'"),
    )
    with op.batch_alter_table("change_request") as batch:
        batch.add_column(sa.Column("intake_id", sa.Integer(), nullable=True))
    op.create_index("ix_change_request_intake_id", "change_request", ["intake_id"], unique=True)


def downgrade() -> None:
    op.drop_index("ix_change_request_intake_id", table_name="change_request")
    with op.batch_alter_table("change_request") as batch:
        batch.drop_column("intake_id")
    op.drop_table("intake")
