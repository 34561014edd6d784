"""Drift: which executed changes are still meant to be in force, when each target is due a
read-back, and telling people once when a target no longer reads as the change left it.

A change is in force on a target while the target succeeded, no later request of the same
tenant reached execution on that target (the later change wins, as in
``approvals.supersession``), and, for a timed change, its revert has not started. Each such
target is one ``drift_watch`` row: created when a pass first meets the executed request
(``discover``), due every interval of its tenant at an offset of its own (so a bulk change's
targets are spread over the interval, not read all at once), and claimed by one process at a
time (``claim_due``: row locks, ``SKIP LOCKED`` on PostgreSQL, ``BEGIN IMMEDIATE`` on
SQLite). ``observe`` records a read-back under the row's lock: the first read that differs is
``drift_detected`` (told once: ``claim_notices``/``noticed``), the first that matches again is
``drift_resolved``. Tenants, verbs, targets and facts are opaque strings and JSON here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, col, select

from approvals import audit
from approvals.db import Database
from approvals.drift_model import DriftWatch
from approvals.drift_rows import (
    Expect,
    Watch,
    dump,
    loads,
    new_row,
    next_check,
    targets_of,
    watch_of,
)
from approvals.in_force import IN_FLIGHT, ended
from approvals.models import ChangeRequest, RequestStatus, utcnow
from approvals.workflow_base import SYSTEM_ACTOR

__all__ = ["DETECTED", "RESOLVED", "DriftWatches", "Expect", "Observation", "Watch"]

DETECTED = "drift_detected"
RESOLVED = "drift_resolved"
NOTICE_CLAIM = timedelta(minutes=2)  # a notice claimed longer ago than this was interrupted
_EXECUTED = (RequestStatus.SUCCEEDED.value, RequestStatus.FAILED.value)
_CHUNK = 500  # rows per INSERT


@dataclass(frozen=True, slots=True)
class Observation:
    """What a read-back changed: the drift is new, or it is over."""

    kind: Literal["detected", "resolved"]
    watch: Watch


class DriftWatches:
    """The watch list of applied changes and its checks, claimed once across processes."""

    def __init__(self, db: Database, clock: Callable[[], datetime] = utcnow) -> None:
        self.db = db
        self._clock = clock

    # --- finding what to watch -------------------------------------------------------------

    def discover(
        self,
        tenants: Mapping[str, timedelta],
        verbs: Iterable[str],
        expect: Expect,
        *,
        limit: int = 200,
    ) -> int:
        """Add a watch for each target of up to ``limit`` executed requests not seen yet
        (tenant → its check interval; ``verbs``: the changes worth watching). A target that
        failed, or whose change is not watched, gets a row that is ended at once, so that its
        request is not looked at again. Returns how many requests were added."""
        names, wanted = sorted(tenants), sorted(set(verbs))
        if not names or not wanted:
            return 0
        now = self._clock()
        seen = select(DriftWatch.id).where(col(DriftWatch.request_id) == col(ChangeRequest.id))
        with self.db.transaction() as s:
            requests = s.exec(
                select(ChangeRequest)
                .where(
                    col(ChangeRequest.status).in_(_EXECUTED),
                    col(ChangeRequest.verb).in_(wanted),
                    col(ChangeRequest.tenant).in_(names),
                    ~sa.exists(seen.correlate(ChangeRequest)),
                )
                .order_by(col(ChangeRequest.id))
                .limit(limit)
            ).all()
            rows: list[dict[str, Any]] = []
            for request in requests:
                for target in targets_of(s, request):
                    rows.append(new_row(request, target, tenants[request.tenant], expect, now))
            for start in range(0, len(rows), _CHUNK):
                self._insert(s, rows[start : start + _CHUNK])
        return len(requests)

    def _insert(self, s: Session, rows: list[dict[str, Any]]) -> None:
        """Insert, leaving alone rows another process inserted first."""
        dialect = sqlite if self.db.is_sqlite else postgresql
        table = DriftWatch.__table__  # type: ignore[attr-defined]
        statement = dialect.insert(table).values(rows)
        s.execute(statement.on_conflict_do_nothing(index_elements=["request_id", "target"]))

    # --- claiming checks -------------------------------------------------------------------

    def claim_due(
        self, tenants: Mapping[str, timedelta], *, force: bool = False, limit: int = 1000
    ) -> list[Watch]:
        """Claim the watches due now (``force``: every watch in force, due or not) and move
        each one's next check an interval on; a watch no longer in force is ended instead.
        Another process claiming at the same time gets other rows, or none."""
        if not tenants:
            return []
        now = self._clock()
        with self.db.transaction() as s:
            query = select(DriftWatch).where(
                col(DriftWatch.ended_at).is_(None), col(DriftWatch.tenant).in_(sorted(tenants))
            )
            if not force:
                query = query.where(col(DriftWatch.next_check_at) <= now)
            query = query.order_by(col(DriftWatch.next_check_at), col(DriftWatch.id)).limit(limit)
            if not self.db.is_sqlite:
                query = query.with_for_update(skip_locked=True)
            rows = list(s.exec(query))
            gone = ended(s, rows)
            claimed: list[Watch] = []
            for row in rows:
                row.next_check_at = next_check(row, tenants[row.tenant], now)
                reason = gone.get(row.id)
                if reason is not None and reason != IN_FLIGHT:
                    _end(s, row, reason, now)
                    continue
                s.add(row)
                if reason is None:
                    claimed.append(watch_of(row))
            return claimed

    def observe(
        self, watch_id: int, *, matches: bool, observed: Mapping[str, object], summary: str = ""
    ) -> Observation | None:
        """Record a read-back of a claimed watch: whether it ``matches`` the expected facts,
        what it showed, and that in words (``summary``). Returns the drift that starts or ends
        with it, for exactly one caller; None when nothing changed or the change is no longer
        in force (checked again here, under the row's lock)."""
        now = self._clock()
        with self.db.transaction() as s:
            query = select(DriftWatch).where(col(DriftWatch.id) == watch_id)
            if not self.db.is_sqlite:
                query = query.with_for_update()
            row = s.exec(query).first()
            if row is None or row.ended_at is not None:
                return None
            reason = ended(s, [row]).get(row.id)
            if reason == IN_FLIGHT:
                return None
            if reason is not None:
                _end(s, row, reason, now)
                return None
            row.checked_at = now
            s.add(row)
            if matches:
                row.seen_right_at = now
                if row.drifted_at is None:
                    return None
                watch = watch_of(row)
                _clear_drift(row)
                _record_resolved(s, row, watch, observed, "it reads as applied again")
                return Observation("resolved", watch)
            if row.drifted_at is not None:
                return None  # drifted before: told once already
            row.drifted_at = now
            row.observed = dump(observed)
            audit.record(
                s,
                "drift_detected",
                actor=SYSTEM_ACTOR,
                tenant=row.tenant,
                request_id=row.request_id,
                target=row.target,
                before=loads(row.expected),
                after=dict(observed),
                detail={"verb": row.verb, "message": summary, "seen_right_at": row.seen_right_at},
            )
            return Observation("detected", watch_of(row))

    # --- telling people once ---------------------------------------------------------------

    def pending_notices(self, tenants: Iterable[str], *, limit: int = 200) -> list[Watch]:
        """Drifted watches nobody has told about yet (or whose telling was interrupted)."""
        stale = self._clock() - NOTICE_CLAIM
        with self.db.read() as s:
            rows = s.exec(
                select(DriftWatch)
                .where(
                    col(DriftWatch.ended_at).is_(None),
                    col(DriftWatch.drifted_at).is_not(None),
                    col(DriftWatch.noticed_at).is_(None),
                    col(DriftWatch.tenant).in_(sorted(set(tenants))),
                    sa.or_(
                        col(DriftWatch.notice_claimed_at).is_(None),
                        col(DriftWatch.notice_claimed_at) < stale,
                    ),
                )
                .order_by(col(DriftWatch.request_id), col(DriftWatch.id))
                .limit(limit)
            ).all()
            return [watch_of(r) for r in rows]

    def claim_notices(self, watches: Sequence[Watch]) -> list[Watch]:
        """The watches this caller is now the one to tell about (each claimed once)."""
        now = self._clock()
        claimed: list[Watch] = []
        with self.db.transaction() as s:
            for watch in watches:
                result = s.execute(
                    sa.update(DriftWatch)
                    .where(
                        col(DriftWatch.id) == watch.id,
                        col(DriftWatch.ended_at).is_(None),
                        col(DriftWatch.drifted_at).is_not(None),
                        col(DriftWatch.noticed_at).is_(None),
                        sa.or_(
                            col(DriftWatch.notice_claimed_at).is_(None),
                            col(DriftWatch.notice_claimed_at) < now - NOTICE_CLAIM,
                        ),
                    )
                    .values(notice_claimed_at=now)
                )
                if result.rowcount == 1:  # type: ignore[attr-defined]
                    claimed.append(watch)
        return claimed

    def noticed(self, watch_ids: Sequence[int]) -> None:
        """People were told: never again for this drift."""
        self._set(watch_ids, noticed_at=self._clock())

    def release_notices(self, watch_ids: Sequence[int]) -> None:
        """Telling failed: let a later pass try again."""
        self._set(watch_ids, notice_claimed_at=None)

    def _set(self, watch_ids: Sequence[int], **values: object) -> None:
        if not watch_ids:
            return
        with self.db.transaction() as s:
            s.execute(
                sa.update(DriftWatch).where(col(DriftWatch.id).in_(list(watch_ids))).values(values)
            )

    # --- reading ---------------------------------------------------------------------------

    def drifted(self, request_id: int) -> list[Watch]:
        """The targets of a request that read otherwise now (what Re-apply re-applies)."""
        with self.db.read() as s:
            rows = s.exec(
                select(DriftWatch)
                .where(
                    col(DriftWatch.request_id) == request_id,
                    col(DriftWatch.ended_at).is_(None),
                    col(DriftWatch.drifted_at).is_not(None),
                )
                .order_by(col(DriftWatch.id))
            ).all()
            return [watch_of(r) for r in rows]

    def in_force(self, tenant: str | None = None) -> list[Watch]:
        """Every watch whose change is in force now (judged afresh, nothing written)."""
        with self.db.read() as s:
            query = select(DriftWatch).where(col(DriftWatch.ended_at).is_(None))
            if tenant is not None:
                query = query.where(col(DriftWatch.tenant) == tenant)
            rows = list(s.exec(query.order_by(col(DriftWatch.id))))
            gone = ended(s, rows)
            return [watch_of(r) for r in rows if gone.get(r.id) in (None, IN_FLIGHT)]


# --- ending a drift ----------------------------------------------------------------------


def _end(s: Session, row: DriftWatch, reason: str, now: datetime) -> None:
    row.ended_at = now
    row.ended_reason = reason[:200]
    if row.drifted_at is not None:  # a drift people were told of ends with the change
        watch = watch_of(row)
        _clear_drift(row)
        _record_resolved(s, row, watch, None, f"no longer checked: {reason}")
    s.add(row)


def _clear_drift(row: DriftWatch) -> None:
    row.drifted_at = None
    row.observed = None
    row.noticed_at = None
    row.notice_claimed_at = None


def _record_resolved(
    s: Session, row: DriftWatch, watch: Watch, observed: Mapping[str, object] | None, why: str
) -> None:
    audit.record(
        s,
        "drift_resolved",
        actor=SYSTEM_ACTOR,
        tenant=row.tenant,
        request_id=row.request_id,
        target=row.target,
        after=dict(observed) if observed is not None else None,
        detail={"verb": row.verb, "message": why, "drifted_at": watch.drifted_at},
    )
