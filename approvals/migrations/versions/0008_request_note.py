"""A note on a request: text the caller attaches for the approvers when it stores the
request (a warning found while checking the targets), shown on the card.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("change_request") as batch:
        batch.add_column(sa.Column("note", sa.String(length=2000), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("change_request") as batch:
        batch.drop_column("note")
