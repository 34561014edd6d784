"""Card delivery: a card post recorded as pending before Slack is called, and a bounded,
backed-off retry of card updates and result posts that records when it gives up.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from approvals.models import UTCDateTime

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

_PENDING = "card_post_started_at IS NOT NULL AND card_ref IS NULL"
_FAILED = "delivery_failed_at IS NOT NULL"


def upgrade() -> None:
    with op.batch_alter_table("change_request") as batch:
        batch.add_column(sa.Column("card_post_started_at", UTCDateTime(), nullable=True))
        batch.add_column(
            sa.Column("delivery_attempts", sa.Integer(), nullable=False, server_default="0")
        )
        batch.add_column(sa.Column("delivery_retry_at", UTCDateTime(), nullable=True))
        batch.add_column(sa.Column("delivery_error", sa.String(length=200), nullable=True))
        batch.add_column(sa.Column("delivery_failed_at", UTCDateTime(), nullable=True))
    op.create_index(
        "ix_change_request_card_post_pending",
        "change_request",
        ["card_post_started_at"],
        postgresql_where=sa.text(_PENDING),
        sqlite_where=sa.text(_PENDING),
    )
    op.create_index(
        "ix_change_request_delivery_failed",
        "change_request",
        ["id"],
        postgresql_where=sa.text(_FAILED),
        sqlite_where=sa.text(_FAILED),
    )


def downgrade() -> None:
    op.drop_index("ix_change_request_delivery_failed", table_name="change_request")
    op.drop_index("ix_change_request_card_post_pending", table_name="change_request")
    with op.batch_alter_table("change_request") as batch:
        batch.drop_column("delivery_failed_at")
        batch.drop_column("delivery_error")
        batch.drop_column("delivery_retry_at")
        batch.drop_column("delivery_attempts")
        batch.drop_column("card_post_started_at")
