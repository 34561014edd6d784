"""Initial schema: change requests, their targets, approvals and the audit trail.

Revision ID: 0001
Revises:
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def _tz() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "change_request",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("tenant", sa.String(length=64), nullable=False),
        sa.Column("verb", sa.String(length=32), nullable=False),
        sa.Column("reason", sa.String(length=2000), nullable=False),
        sa.Column("requester", sa.String(length=128), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("tenant_wide", sa.Boolean(), nullable=False),
        sa.Column("approvals_required", sa.Integer(), nullable=False),
        sa.Column("created_at", _tz(), nullable=False),
        sa.Column("expires_at", _tz(), nullable=False),
        sa.Column("decided_at", _tz(), nullable=True),
        sa.Column("decided_by", sa.String(length=128), nullable=True),
        sa.Column("decision_note", sa.String(length=2000), nullable=True),
        sa.Column("finished_at", _tz(), nullable=True),
        sa.Column("card_channel", sa.String(length=64), nullable=True),
        sa.Column("card_ref", sa.String(length=64), nullable=True),
    )
    op.create_index("ix_change_request_tenant", "change_request", ["tenant"])
    op.create_index("ix_change_request_status", "change_request", ["status"])

    op.create_table(
        "request_target",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("request_id", sa.Integer(), sa.ForeignKey("change_request.id"), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("target", sa.String(length=300), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("message", sa.String(length=2000), nullable=True),
        sa.Column("state", sa.String(), nullable=True),
        sa.UniqueConstraint("request_id", "position"),
    )
    op.create_index("ix_request_target_request_id", "request_target", ["request_id"])

    op.create_table(
        "approval",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("request_id", sa.Integer(), sa.ForeignKey("change_request.id"), nullable=False),
        sa.Column("approver", sa.String(length=128), nullable=False),
        sa.Column("created_at", _tz(), nullable=False),
        sa.UniqueConstraint("request_id", "approver"),
    )
    op.create_index("ix_approval_request_id", "approval", ["request_id"])

    op.create_table(
        "audit_event",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("at", _tz(), nullable=False),
        sa.Column("event", sa.String(length=48), nullable=False),
        sa.Column("actor", sa.String(length=128), nullable=False),
        sa.Column("tenant", sa.String(length=64), nullable=True),
        sa.Column("request_id", sa.Integer(), nullable=True),
        sa.Column("target", sa.String(length=300), nullable=True),
        sa.Column("before", sa.String(), nullable=True),
        sa.Column("after", sa.String(), nullable=True),
        sa.Column("detail", sa.String(), nullable=True),
    )
    op.create_index("ix_audit_event_at", "audit_event", ["at"])
    op.create_index("ix_audit_event_tenant", "audit_event", ["tenant"])
    op.create_index("ix_audit_event_request_id", "audit_event", ["request_id"])


def downgrade() -> None:
    op.drop_table("audit_event")
    op.drop_table("approval")
    op.drop_table("request_target")
    op.drop_table("change_request")
