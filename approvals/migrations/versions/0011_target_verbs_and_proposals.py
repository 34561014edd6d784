"""A verb per request target (one request, two verbs: exceptions, then the org switch), and
proposals: a change a read offered to its reader, stored until they request it.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from approvals.models import UTCDateTime

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("request_target") as batch:
        batch.add_column(sa.Column("verb", sa.String(length=32), nullable=True))
    op.create_table(
        "proposal",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("tenant", sa.String(length=64), nullable=False),
        sa.Column("verb", sa.String(length=32), nullable=False),
        sa.Column("targets", sa.Text(), nullable=False),
        sa.Column("reason", sa.String(length=2000), nullable=False),
        sa.Column("tenant_wide", sa.Boolean(), nullable=False),
        sa.Column("offered_to", sa.String(length=128), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
        sa.Column("request_id", sa.Integer(), sa.ForeignKey("change_request.id"), nullable=True),
    )
    op.create_index("ix_proposal_expires_at", "proposal", ["expires_at"])


def downgrade() -> None:
    op.drop_index("ix_proposal_expires_at", table_name="proposal")
    op.drop_table("proposal")
    with op.batch_alter_table("request_target") as batch:
        batch.drop_column("verb")
