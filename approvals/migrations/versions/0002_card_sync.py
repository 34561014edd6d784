"""Card sync state: the request's revision, the revision its card shows, result posted.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("change_request") as batch:
        batch.add_column(sa.Column("revision", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(
            sa.Column("card_revision", sa.Integer(), nullable=False, server_default="0")
        )
        batch.add_column(
            sa.Column("result_posted", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    # Requests finished before this migration already had their result posted.
    op.execute(
        "UPDATE change_request SET result_posted = TRUE WHERE status IN ('succeeded', 'failed')"
    )


def downgrade() -> None:
    with op.batch_alter_table("change_request") as batch:
        batch.drop_column("result_posted")
        batch.drop_column("card_revision")
        batch.drop_column("revision")
