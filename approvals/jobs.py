"""A durable job queue in the database, with leases.

Workers claim due jobs with ``FOR UPDATE SKIP LOCKED`` on PostgreSQL (SQLite serialises
writers with ``BEGIN IMMEDIATE`` instead), renew their lease while working, and a job whose
lease expired (its worker died) is claimed again. Jobs must be idempotent.

Waking workers: in-process through a ``Doorbell``; across processes on PostgreSQL through
``NOTIFY smtp_bot_jobs`` (sent on commit), which workers ``LISTEN`` for.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlmodel import Session, col, func, select

from approvals.db import Database
from approvals.leases import aware, renewed_while
from approvals.models import ChangeRequest, Job, JobState, utcnow

__all__ = ["CHANNEL", "Doorbell", "GiveUpHandler", "JobQueue"]

# Called in the transaction that gives a job up, so what it owns ends with it (not forever
# "executing" after its worker died max_attempts times).
GiveUpHandler = Callable[[Session, Job], None]

CHANNEL = "smtp_bot_jobs"

log = logging.getLogger(__name__)


class Doorbell:
    """Wakes waiting workers at once instead of letting them poll."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._rung = False

    def ring(self) -> None:
        with self._cond:
            self._rung = True
            self._cond.notify_all()

    def wait(self, timeout: float | None, *, unless: Callable[[], bool] | None = None) -> bool:
        """Sleep until rung or ``timeout``; True if rung. Clears the bell. ``unless`` is
        checked under the bell's lock first: a flag set before a ring is never slept past."""
        with self._cond:
            if not self._rung and not (unless is not None and unless()):
                self._cond.wait(timeout)
            rung, self._rung = self._rung, False
            return rung


class JobQueue:
    """Enqueue, claim, renew and finish jobs."""

    def __init__(
        self,
        db: Database,
        *,
        doorbell: Doorbell | None = None,
        lease: timedelta = timedelta(seconds=30),
        max_attempts: int = 5,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.db = db
        self.doorbell = doorbell or Doorbell()
        self.lease = lease
        self.max_attempts = max_attempts
        self._clock = clock
        self._give_up: dict[str, GiveUpHandler] = {}

    def on_give_up(self, kind: str, handler: GiveUpHandler) -> None:
        """Call ``handler`` with the session and the job whenever a job of ``kind`` is given
        up after ``max_attempts``, in that same transaction (it replaces an earlier one)."""
        self._give_up[kind] = handler

    # --- producing ---------------------------------------------------------------------------

    def enqueue(
        self, s: Session, *, kind: str, request_id: int, run_at: datetime | None = None
    ) -> Job:
        """Add a job in the caller's transaction; call ``ring`` after it commits."""
        job = Job(kind=kind, request_id=request_id, run_at=run_at or self._clock())
        s.add(job)
        if not self.db.is_sqlite:
            s.execute(sa.text(f"NOTIFY {CHANNEL}"))
        return job

    def ring(self) -> None:
        self.doorbell.ring()

    def cancel(self, s: Session, *, kind: str, request_id: int) -> int:
        """Cancel queued jobs of a kind for a request, in the caller's transaction."""
        result = s.execute(
            sa.update(Job)
            .where(
                col(Job.kind) == kind,
                col(Job.request_id) == request_id,
                col(Job.state) == JobState.QUEUED.value,
            )
            .values(state=JobState.CANCELLED.value, finished_at=self._clock())
        )
        return int(result.rowcount)

    # --- consuming ---------------------------------------------------------------------------

    def claim(
        self,
        worker: str,
        *,
        request_id: int | None = None,
        kind: str | None = None,
        skip_tenants: frozenset[str] = frozenset(),
    ) -> Job | None:
        """Take a job whose lease expired (its worker died), else the next due job; none of
        ``skip_tenants`` (tenants already using their share of the caller's threads)."""
        now = self._clock()
        while True:
            with self.db.transaction() as s:
                job = self._next(s, now, request_id=request_id, kind=kind, skip=skip_tenants)
                if job is None:
                    return None
                if job.attempts >= self.max_attempts:
                    job.state = JobState.FAILED.value
                    job.finished_at = now
                    job.last_error = f"gave up after {job.attempts} attempts"
                    s.add(job)
                    if (handler := self._give_up.get(job.kind)) is not None:
                        handler(s, job)
                    log.warning("job %s (%s) %s", job.id, job.kind, job.last_error)
                    continue
                job.state = JobState.RUNNING.value
                job.lease_owner = worker
                job.lease_expires_at = now + self.lease
                job.attempts += 1
                s.add(job)
                s.flush()
                return job

    def _next(
        self,
        s: Session,
        now: datetime,
        *,
        request_id: int | None,
        kind: str | None,
        skip: frozenset[str] = frozenset(),
    ) -> Job | None:
        """Two small queries, each served by its own partial index (queued by ``run_at``;
        running by ``lease_expires_at``), so a claim costs the same with a million finished
        jobs in the table as with none."""
        expired = select(Job).where(
            col(Job.state) == JobState.RUNNING.value, col(Job.lease_expires_at) < now
        )
        due = select(Job).where(col(Job.state) == JobState.QUEUED.value, col(Job.run_at) <= now)
        for query, order in ((expired, Job.lease_expires_at), (due, Job.run_at)):
            if request_id is not None:
                query = query.where(Job.request_id == request_id)
            if kind is not None:
                query = query.where(Job.kind == kind)
            if skip:
                busy = select(ChangeRequest.id).where(col(ChangeRequest.tenant).in_(sorted(skip)))
                query = query.where(col(Job.request_id).not_in(busy))
            job = s.exec(
                query.order_by(col(order), col(Job.id)).limit(1).with_for_update(skip_locked=True)
            ).first()
            if job is not None:
                return job
        return None

    def prune(self, older_than: timedelta) -> int:
        """Delete finished jobs older than ``older_than`` (the audit trail keeps the story)."""
        cutoff = self._clock() - older_than
        finished = (JobState.DONE.value, JobState.FAILED.value, JobState.CANCELLED.value)
        with self.db.transaction() as s:
            result = s.execute(
                sa.delete(Job).where(col(Job.state).in_(finished), col(Job.finished_at) < cutoff)
            )
            return int(result.rowcount)

    def renew(self, job_id: int, worker: str) -> bool:
        """Extend the lease; False if the job is no longer ours."""
        return self._update_own(job_id, worker, lease_expires_at=self._clock() + self.lease)

    def complete(self, job_id: int, worker: str) -> bool:
        return self._update_own(
            job_id, worker, state=JobState.DONE.value, finished_at=self._clock(), lease_owner=None
        )

    def retry_later(self, job_id: int, worker: str, *, error: str, delay: timedelta) -> bool:
        """Give the job back to the queue after a transient failure."""
        return self._update_own(
            job_id,
            worker,
            state=JobState.QUEUED.value,
            run_at=self._clock() + delay,
            lease_owner=None,
            lease_expires_at=None,
            last_error=error[:2000],
        )

    def fail(self, job_id: int, worker: str, *, error: str) -> bool:
        return self._update_own(
            job_id,
            worker,
            state=JobState.FAILED.value,
            finished_at=self._clock(),
            lease_owner=None,
            last_error=error[:2000],
        )

    def leased(
        self, job_id: int, worker: str, *, until: float | None = None
    ) -> AbstractContextManager[None]:
        """Renew ``worker``'s lease on the job in the background while the block runs, but not
        past ``until`` (monotonic): a job stuck beyond its deadline is let go to expire."""
        interval = max(self.lease.total_seconds() / 3, 0.05)
        return renewed_while(
            lambda: self.renew(job_id, worker),
            interval_s=interval,
            label=f"job {job_id}",
            until=until,
        )

    def _update_own(self, job_id: int, worker: str, **values: object) -> bool:
        with self.db.transaction() as s:
            result = s.execute(
                sa.update(Job)
                .where(
                    col(Job.id) == job_id,
                    col(Job.lease_owner) == worker,
                    col(Job.state) == JobState.RUNNING.value,
                )
                .values(**values)
            )
            return result.rowcount == 1

    # --- reading -----------------------------------------------------------------------------

    def next_due(self) -> datetime | None:
        """When the earliest queued job or running lease falls due (for a worker's sleep)."""
        with self.db.read() as s:
            queued = s.exec(
                select(func.min(Job.run_at)).where(Job.state == JobState.QUEUED.value)
            ).one()
            lease = s.exec(
                select(func.min(Job.lease_expires_at)).where(Job.state == JobState.RUNNING.value)
            ).one()
        times = [t for t in (queued, lease) if t is not None]
        return aware(min(times)) if times else None

    def counts(self) -> dict[str, int]:
        with self.db.read() as s:
            rows = s.exec(select(Job.state, func.count()).group_by(Job.state)).all()
        return {state: int(n) for state, n in rows}

    def get(self, job_id: int) -> Job | None:
        with self.db.read() as s:
            return s.get(Job, job_id)
