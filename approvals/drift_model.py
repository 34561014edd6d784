"""The table of drift checks (``approvals.drift``): one row per target of an executed change.

Registered on the same metadata as every other table (``approvals.models``); imported by the
package and by the migrations' environment, so the schema always has it."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from approvals.models import UTCDateTime

__all__ = ["DriftWatch"]


def _tz() -> UTCDateTime:
    return UTCDateTime()


class DriftWatch(SQLModel, table=True):
    """One target of an executed change, read back while the change is in force (drift).

    ``expected`` holds the facts a read-back must show (opaque JSON here: the UI layer and the
    back end decide what they are). ``drifted_at`` is set while the target reads otherwise;
    ``noticed_at`` once people were told, so each drift is told once. ``ended_at``: the
    change is no longer in force (a later change of the target, or its timed revert ran)."""

    __tablename__ = "drift_watch"
    __table_args__ = (
        sa.UniqueConstraint("request_id", "target"),
        # what each drift pass looks for: the watches still in force, by when they are due
        sa.Index(
            "ix_drift_watch_due",
            "next_check_at",
            "id",
            postgresql_where=sa.text("ended_at IS NULL"),
            sqlite_where=sa.text("ended_at IS NULL"),
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    request_id: int = Field(foreign_key="change_request.id")
    tenant: str = Field(max_length=64)
    verb: str = Field(max_length=32)
    target: str = Field(max_length=300)
    expected: str | None = Field(default=None, sa_type=sa.Text())
    next_check_at: datetime = Field(sa_type=_tz())
    checked_at: datetime | None = Field(default=None, sa_type=_tz())
    seen_right_at: datetime | None = Field(default=None, sa_type=_tz())
    drifted_at: datetime | None = Field(default=None, sa_type=_tz())
    observed: str | None = Field(default=None, sa_type=sa.Text())
    notice_claimed_at: datetime | None = Field(default=None, sa_type=_tz())
    noticed_at: datetime | None = Field(default=None, sa_type=_tz())
    ended_at: datetime | None = Field(default=None, sa_type=_tz())
    ended_reason: str | None = Field(default=None, max_length=200)
