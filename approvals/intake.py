"""Durable intake: store what was acknowledged before the acknowledgement, carry it out after.

The UI layer calls ``accept`` before it answers (one short transaction: an insert), then
wakes a worker. Any worker, in this process or another replica, claims rows with a lease as
jobs are claimed (``FOR UPDATE SKIP LOCKED`` on PostgreSQL, ``BEGIN IMMEDIATE`` on SQLite);
a row whose worker died is claimed again once its lease expires. A dedupe key that is unique
in the table makes a replayed delivery of the same interaction a no-op. Payloads are opaque.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlmodel import Session, col, func, select

from approvals.db import Database
from approvals.group_commit import GroupCommit
from approvals.intake_writer import IntakeWriter
from approvals.jobs import Doorbell
from approvals.leases import aware, renewed_while
from approvals.models import Intake, IntakeState, utcnow

__all__ = ["Claimed", "IntakeQueue"]

log = logging.getLogger(__name__)

_INTAKE: sa.Table = Intake.__table__  # type: ignore[assignment]


@dataclass(frozen=True, slots=True)
class Claimed:
    """A row a worker holds: what to carry out, when it arrived, and which attempt this is."""

    id: int
    kind: str
    payload: str
    received_at: datetime
    attempts: int
    gave_up: bool = False  # claimed only to tell the person it will not be carried out


class IntakeQueue:
    """Accept, claim, renew and finish intake rows."""

    def __init__(
        self,
        db: Database,
        *,
        doorbell: Doorbell | None = None,
        lease: timedelta = timedelta(seconds=30),
        max_attempts: int = 10,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.db = db
        self.doorbell = doorbell or Doorbell()
        self.lease = lease
        self.max_attempts = max_attempts
        self._clock = clock
        self._writer = IntakeWriter(db)
        self._group: GroupCommit[dict[str, object], int | None] = GroupCommit(self._writer.insert)

    # --- producing ---------------------------------------------------------------------------

    def accept(self, *, kind: str, payload: str, dedupe_key: str | None) -> int | None:
        """Store one row and commit; its ID, or None when ``dedupe_key`` was stored before.

        Rows accepted at the same moment by other threads of this process share the commit
        (approvals.group_commit); this call returns once its own row is committed."""
        values = {
            "kind": kind,
            "payload": payload,
            "dedupe_key": dedupe_key,
            "received_at": self._clock(),
            "state": IntakeState.QUEUED.value,
            "attempts": 0,
        }
        return self._group.submit(values)

    def close(self) -> None:
        """Give back the connection the inserts keep."""
        self._writer.close()

    def ring(self) -> None:
        self.doorbell.ring()

    # --- consuming ---------------------------------------------------------------------------

    def claim(self, worker: str, *, intake_id: int | None = None) -> Claimed | None:
        """Take row ``intake_id`` if it is still queued (or its lease expired), else, without
        an ID, the row whose lease expired first or the oldest queued one.

        A row already tried ``max_attempts`` times (its workers kept dying) is marked failed
        and returned once more with ``gave_up`` set, so the caller tells the person instead
        of trying again: the interaction still gets exactly one outcome.

        Every command claims its row once by ID and every wake-up of the pump asks for the
        next row, so both paths are cheap: a row named by ID is taken by one ``UPDATE …
        RETURNING``, and the pump finding nothing to take holds no write lock."""
        now = self._clock()
        if intake_id is not None:
            taken = self.db.write(self._take(worker, now, intake_id)).rows
            if taken:
                return Claimed(*taken[0])
        with self.db.read() as s:  # taken by another worker or finished: the usual answer
            if self._next(s, now, intake_id, lock=False) is None:
                return None
        with self.db.transaction() as s:
            row = self._next(s, now, intake_id)
            if row is None:
                return None
            assert row.id is not None
            if row.attempts >= self.max_attempts:
                row.state = IntakeState.FAILED.value
                row.finished_at = now
                row.last_error = f"gave up after {row.attempts} attempts"
                s.add(row)
                log.error("intake %s (%s): %s", row.id, row.kind, row.last_error)
                return Claimed(
                    row.id, row.kind, row.payload, row.received_at, row.attempts, gave_up=True
                )
            row.state = IntakeState.RUNNING.value
            row.lease_owner = worker
            row.lease_expires_at = now + self.lease
            row.attempts += 1
            s.add(row)
            return Claimed(row.id, row.kind, row.payload, row.received_at, row.attempts)

    def _take(self, worker: str, now: datetime, intake_id: int) -> sa.Update:
        """Lease row ``intake_id`` to ``worker`` if it is claimable and has tries left.

        On PostgreSQL a second worker's UPDATE of the same row waits for the first's
        commit and then finds the row no longer claimable: one of them gets it."""
        claimable = sa.or_(
            _INTAKE.c.state == IntakeState.QUEUED.value,
            sa.and_(_INTAKE.c.state == IntakeState.RUNNING.value, _INTAKE.c.lease_expires_at < now),
        )
        return (
            sa.update(_INTAKE)
            .where(_INTAKE.c.id == intake_id, _INTAKE.c.attempts < self.max_attempts, claimable)
            .values(
                state=IntakeState.RUNNING.value,
                lease_owner=worker,
                lease_expires_at=now + self.lease,
                attempts=_INTAKE.c.attempts + 1,
            )
            .returning(
                _INTAKE.c.id,
                _INTAKE.c.kind,
                _INTAKE.c.payload,
                _INTAKE.c.received_at,
                _INTAKE.c.attempts,
            )
        )

    def _next(
        self, s: Session, now: datetime, intake_id: int | None, *, lock: bool = True
    ) -> Intake | None:
        expired = select(Intake).where(
            col(Intake.state) == IntakeState.RUNNING.value, col(Intake.lease_expires_at) < now
        )
        queued = select(Intake).where(col(Intake.state) == IntakeState.QUEUED.value)
        for query, order in ((expired, Intake.lease_expires_at), (queued, Intake.received_at)):
            if intake_id is not None:
                query = query.where(col(Intake.id) == intake_id)
            query = query.order_by(col(order), col(Intake.id)).limit(1)
            if lock:
                query = query.with_for_update(skip_locked=True)
            row = s.exec(query).first()
            if row is not None:
                return row
        return None

    def renew(self, intake_id: int, worker: str) -> bool:
        return self._update_own(intake_id, worker, lease_expires_at=self._clock() + self.lease)

    def complete(self, intake_id: int, worker: str) -> bool:
        """Done: False if the row was no longer ours (its lease expired and it was taken)."""
        return self._update_own(
            intake_id,
            worker,
            state=IntakeState.DONE.value,
            finished_at=self._clock(),
            lease_owner=None,
        )

    def leased(self, intake_id: int, worker: str) -> AbstractContextManager[None]:
        """Renew ``worker``'s lease in the background while the block runs."""
        interval = max(self.lease.total_seconds() / 3, 0.05)
        return renewed_while(
            lambda: self.renew(intake_id, worker),
            interval_s=interval,
            label=f"intake {intake_id}",
        )

    def _update_own(self, intake_id: int, worker: str, **values: object) -> bool:
        statement = (
            sa.update(_INTAKE)
            .where(
                _INTAKE.c.id == intake_id,
                _INTAKE.c.lease_owner == worker,
                _INTAKE.c.state == IntakeState.RUNNING.value,
            )
            .values(**values)
        )
        return self.db.write(statement).rowcount == 1

    # --- housekeeping and reading ------------------------------------------------------------

    def prune(self, older_than: timedelta) -> int:
        """Delete finished rows older than ``older_than``. Keep them longer than anyone may
        replay a delivery (Slack's signatures are accepted for 5 minutes)."""
        cutoff = self._clock() - older_than
        finished = (IntakeState.DONE.value, IntakeState.FAILED.value)
        with self.db.transaction() as s:
            result = s.execute(
                sa.delete(Intake).where(
                    col(Intake.state).in_(finished), col(Intake.finished_at) < cutoff
                )
            )
            return int(result.rowcount)

    def counts(self) -> dict[str, int]:
        with self.db.read() as s:
            rows = s.exec(select(Intake.state, func.count()).group_by(Intake.state)).all()
        return {state: int(n) for state, n in rows}

    def next_due(self) -> datetime | None:
        """Now if anything is queued, else when the first running lease expires."""
        with self.db.read() as s:
            queued = s.exec(
                select(func.count()).where(col(Intake.state) == IntakeState.QUEUED.value)
            ).one()
            if queued:
                return self._clock()
            lease = s.exec(
                select(func.min(Intake.lease_expires_at)).where(
                    col(Intake.state) == IntakeState.RUNNING.value
                )
            ).one()
        return aware(lease) if lease is not None else None
