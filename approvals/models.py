"""Tables of the approval workflow.

The workflow stores tenants, verbs and targets as opaque strings: it knows nothing of Slack or
of any back end. ``card_channel``/``card_ref`` locate the UI card that shows a request; the UI
layer owns their meaning.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

__all__ = [
    "Approval",
    "AuditEvent",
    "Intake",
    "IntakeState",
    "Job",
    "JobState",
    "ChangeRequest",
    "RequestStatus",
    "RequestTarget",
    "TargetOutcome",
    "utcnow",
]


def utcnow() -> datetime:
    return datetime.now(UTC)


class RequestStatus(StrEnum):
    """Lifecycle of a change request.

    pending ─┬─> approved ──> executing ─┬─> succeeded
             │                           └─> failed
             ├─> denied
             ├─> cancelled
             └─> expired
    """

    PENDING = "pending"  # waiting for approvals
    APPROVED = "approved"  # enough approvals; not yet picked up for execution
    EXECUTING = "executing"  # the back end is being changed
    SUCCEEDED = "succeeded"  # every target changed and verified
    FAILED = "failed"  # at least one target failed
    DENIED = "denied"  # an approver said no
    CANCELLED = "cancelled"  # the requester withdrew it
    EXPIRED = "expired"  # nobody decided in time

    @property
    def is_final(self) -> bool:
        return self in _FINAL


_FINAL = frozenset(
    {
        RequestStatus.SUCCEEDED,
        RequestStatus.FAILED,
        RequestStatus.DENIED,
        RequestStatus.CANCELLED,
        RequestStatus.EXPIRED,
    }
)


class TargetOutcome(StrEnum):
    """Where one target of a request stands."""

    PENDING = "pending"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


class UTCDateTime(sa.types.TypeDecorator[datetime]):
    """Timezone-aware UTC on the way in and out, also on SQLite (which stores naive text)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: use datetime.now(UTC)")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _tz() -> UTCDateTime:
    return UTCDateTime()


class ChangeRequest(SQLModel, table=True):
    """One requested change: a verb on one or more targets of one tenant."""

    __tablename__ = "change_request"
    __table_args__ = (
        # what housekeeping looks for on every tick: small, however many requests there are
        sa.Index(
            "ix_change_request_card_stale",
            "id",
            postgresql_where=sa.text("card_revision < revision"),
            sqlite_where=sa.text("card_revision < revision"),
        ),
        sa.Index(
            "ix_change_request_result_unposted",
            "status",
            "id",
            postgresql_where=sa.text("NOT result_posted"),
            sqlite_where=sa.text("result_posted = 0"),
        ),
        # cards whose post may have been interrupted: housekeeping looks for these each tick
        sa.Index(
            "ix_change_request_card_post_pending",
            "card_post_started_at",
            postgresql_where=sa.text("card_post_started_at IS NOT NULL AND card_ref IS NULL"),
            sqlite_where=sa.text("card_post_started_at IS NOT NULL AND card_ref IS NULL"),
        ),
        sa.Index(
            "ix_change_request_delivery_failed",
            "id",
            postgresql_where=sa.text("delivery_failed_at IS NOT NULL"),
            sqlite_where=sa.text("delivery_failed_at IS NOT NULL"),
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    tenant: str = Field(max_length=64, index=True)
    verb: str = Field(max_length=32)
    reason: str = Field(default="", max_length=2000)
    requester: str = Field(max_length=128)
    status: str = Field(default=RequestStatus.PENDING.value, max_length=16, index=True)
    tenant_wide: bool = False
    approvals_required: int = 1
    created_at: datetime = Field(default_factory=utcnow, sa_type=_tz())
    expires_at: datetime = Field(sa_type=_tz())
    decided_at: datetime | None = Field(default=None, sa_type=_tz())
    decided_by: str | None = Field(default=None, max_length=128)
    decision_note: str | None = Field(default=None, max_length=2000)
    finished_at: datetime | None = Field(default=None, sa_type=_tz())
    card_channel: str | None = Field(default=None, max_length=64)
    card_ref: str | None = Field(default=None, max_length=64)
    # Every state change bumps ``revision``; the UI layer records the revision its card shows
    # and whether the final result was posted, so both are retried from the database.
    revision: int = 0
    card_revision: int = 0
    result_posted: bool = False
    # Delivering the card: a post started and not yet stored (a crash in between leaves it
    # set, and recovery finds the card or posts a fresh one); consecutive failed deliveries,
    # when the next may be tried, the last error, and when delivery was given up.
    card_post_started_at: datetime | None = Field(default=None, sa_type=_tz())
    delivery_attempts: int = 0
    delivery_retry_at: datetime | None = Field(default=None, sa_type=_tz())
    delivery_error: str | None = Field(default=None, max_length=200)
    delivery_failed_at: datetime | None = Field(default=None, sa_type=_tz())
    # Timed restrictions: after success, ``revert_verb`` runs on the targets after this long.
    revert_verb: str | None = Field(default=None, max_length=32)
    revert_after_s: int | None = None
    revert_at: datetime | None = Field(default=None, sa_type=_tz())
    # The intake row this request was created from: carrying that row out again after a
    # crash finds this request instead of storing a second one.
    intake_id: int | None = Field(default=None, unique=True, index=True)
    # What the caller found while checking the targets and wants approvers to read before
    # they decide (a warning), shown on the card; opaque text here.
    note: str | None = Field(default=None, max_length=2000)
    # How the caller chose the targets (JSON, the caller's own; e.g. "every account on the
    # server, 30 when requested"). Stored and handed back, never read here.
    plan: str | None = Field(default=None, sa_type=sa.Text())


class RequestTarget(SQLModel, table=True):
    """One target of a request and its outcome once executed."""

    __tablename__ = "request_target"
    __table_args__ = (sa.UniqueConstraint("request_id", "position"),)

    id: int | None = Field(default=None, primary_key=True)
    request_id: int = Field(foreign_key="change_request.id", index=True)
    position: int
    target: str = Field(max_length=300, index=True)  # history and "a later change wins"
    verb: str | None = Field(default=None, max_length=32)  # own verb, else the request's
    outcome: str = Field(default=TargetOutcome.PENDING.value, max_length=16)
    message: str | None = Field(default=None, max_length=2000)
    state: str | None = Field(default=None)  # JSON facts of the verified state


class Approval(SQLModel, table=True):
    """One approver's approval of a request; each approver counts once."""

    __tablename__ = "approval"
    __table_args__ = (sa.UniqueConstraint("request_id", "approver"),)

    id: int | None = Field(default=None, primary_key=True)
    request_id: int = Field(foreign_key="change_request.id", index=True)
    approver: str = Field(max_length=128)
    created_at: datetime = Field(default_factory=utcnow, sa_type=_tz())


class JobState(StrEnum):
    """Lifecycle of a job.

    queued ──claim──> running ─┬─> done
       ^                       ├─> failed      (attempts exhausted)
       └──lease expired────────┘
    queued ──> cancelled       (a revert made moot by a later change)
    """

    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"


class Job(SQLModel, table=True):
    """Work to do for a request: execute it, or revert a timed restriction.

    A worker holds a job through a lease it renews while working; a job whose lease expired
    (its worker died) is claimed again. Jobs are idempotent, so running one again is safe.
    """

    __tablename__ = "job"
    __table_args__ = (
        # claims read only live jobs: these stay small however many finished jobs there are
        sa.Index(
            "ix_job_queued_due",
            "run_at",
            "id",
            postgresql_where=sa.text("state = 'queued'"),
            sqlite_where=sa.text("state = 'queued'"),
        ),
        sa.Index(
            "ix_job_queued_revert",
            "request_id",
            postgresql_where=sa.text("state = 'queued' AND kind = 'revert'"),
            sqlite_where=sa.text("state = 'queued' AND kind = 'revert'"),
        ),
        sa.Index(
            "ix_job_running_lease",
            "lease_expires_at",
            "id",
            postgresql_where=sa.text("state = 'running'"),
            sqlite_where=sa.text("state = 'running'"),
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=16)
    request_id: int = Field(foreign_key="change_request.id", index=True)
    state: str = Field(default=JobState.QUEUED.value, max_length=16, index=True)
    run_at: datetime = Field(sa_type=_tz(), index=True)
    attempts: int = 0
    lease_owner: str | None = Field(default=None, max_length=128)
    lease_expires_at: datetime | None = Field(default=None, sa_type=_tz())
    created_at: datetime = Field(default_factory=utcnow, sa_type=_tz())
    finished_at: datetime | None = Field(default=None, sa_type=_tz())
    last_error: str | None = Field(default=None, max_length=2000)


class AuditEvent(SQLModel, table=True):
    """Append-only audit trail. The code has no path that updates or deletes a row."""

    __tablename__ = "audit_event"
    # the rate limit counts one user's recent requests on every change command
    __table_args__ = (sa.Index("ix_audit_event_actor_event_at", "actor", "event", "at"),)

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(default_factory=utcnow, sa_type=_tz(), index=True)
    event: str = Field(max_length=48)
    actor: str = Field(max_length=128)
    tenant: str | None = Field(default=None, max_length=64, index=True)
    request_id: int | None = Field(default=None, index=True)
    target: str | None = Field(default=None, max_length=300)
    before: str | None = None
    after: str | None = None
    detail: str | None = None


class IntakeState(StrEnum):
    """Lifecycle of an intake row: like a job's, without the retry delay."""

    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"  # attempts exhausted: the worker died on it every time


class Intake(SQLModel, table=True):
    """Something the UI acknowledged, stored before the acknowledgement and carried out after.

    ``payload`` is opaque here (the UI layer's own JSON); ``dedupe_key`` is derived from it by
    the UI layer, so a replayed or retried delivery of the same interaction is stored once.
    """

    __tablename__ = "intake"
    __table_args__ = (
        sa.Index(
            "ix_intake_queued",
            "received_at",
            "id",
            postgresql_where=sa.text("state = 'queued'"),
            sqlite_where=sa.text("state = 'queued'"),
        ),
        sa.Index(
            "ix_intake_running_lease",
            "lease_expires_at",
            "id",
            postgresql_where=sa.text("state = 'running'"),
            sqlite_where=sa.text("state = 'running'"),
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=32)
    dedupe_key: str | None = Field(default=None, max_length=300, unique=True, index=True)
    payload: str = Field(sa_type=sa.Text())
    received_at: datetime = Field(default_factory=utcnow, sa_type=_tz())
    state: str = Field(default=IntakeState.QUEUED.value, max_length=16)
    attempts: int = 0
    lease_owner: str | None = Field(default=None, max_length=128)
    lease_expires_at: datetime | None = Field(default=None, sa_type=_tz())
    finished_at: datetime | None = Field(default=None, sa_type=_tz(), index=True)
    last_error: str | None = Field(default=None, max_length=2000)
