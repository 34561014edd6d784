"""Indexes for the queries that run on every command and every housekeeping tick, so their
cost follows what they find, not how long the bot has been in use: a user's recent change
requests (the rate limit), cards that show an older revision, and results not yet posted.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_audit_event_actor_event_at", "audit_event", ["actor", "event", "at"])
    stale = sa.text("card_revision < revision")
    op.create_index(
        "ix_change_request_card_stale",
        "change_request",
        ["id"],
        postgresql_where=stale,
        sqlite_where=stale,
    )
    op.create_index(
        "ix_change_request_result_unposted",
        "change_request",
        ["status", "id"],
        postgresql_where=sa.text("NOT result_posted"),
        sqlite_where=sa.text("result_posted = 0"),  # SQLite has no boolean type
    )


def downgrade() -> None:
    op.drop_index("ix_change_request_result_unposted", table_name="change_request")
    op.drop_index("ix_change_request_card_stale", table_name="change_request")
    op.drop_index("ix_audit_event_actor_event_at", table_name="audit_event")
