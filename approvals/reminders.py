"""Reminders to approvers who have not acted, with a doubling wait, at most a few times.

A pending request is due for its n-th reminder ``remind_after * (2**n - 1)`` after it was
made (10 min, 30 min, 70 min for the default), while it is still pending and before it
expires. Each reminder is one audit row (``approvers_reminded``) written under the request's
row lock, so two replicas never send the same one and the count survives restarts.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlmodel import Session, col, func, select

from approvals import audit
from approvals.db import Database
from approvals.leases import aware
from approvals.models import AuditEvent, ChangeRequest, RequestStatus

__all__ = ["MAX_REMINDERS", "REMINDED", "DueReminder", "Reminders"]

MAX_REMINDERS = 3
REMINDED = "approvers_reminded"


@dataclass(frozen=True, slots=True)
class DueReminder:
    request_id: int
    number: int  # 1 for the first reminder


class Reminders:
    """Which pending requests are due a reminder, and claiming one (exactly once)."""

    def __init__(
        self, db: Database, clock: Callable[[], datetime], *, limit: int = MAX_REMINDERS
    ) -> None:
        self.db = db
        self._clock = clock
        self.limit = limit

    def due(self, remind_after: Callable[[str], timedelta | None]) -> list[DueReminder]:
        """Reminders due now; ``remind_after(tenant)`` is None where a tenant sends none."""
        now = self._clock()
        sent = (
            select(func.count())
            .where(col(AuditEvent.request_id) == col(ChangeRequest.id))
            .where(col(AuditEvent.event) == REMINDED)
            .correlate(ChangeRequest)
            .scalar_subquery()
        )
        query = select(
            ChangeRequest.id, ChangeRequest.tenant, ChangeRequest.created_at, sent
        ).where(
            col(ChangeRequest.status) == RequestStatus.PENDING.value,
            col(ChangeRequest.card_ref).is_not(None),
            col(ChangeRequest.expires_at) > now,
        )
        found: list[DueReminder] = []
        with self.db.read() as s:
            for request_id, tenant, created_at, count in s.exec(query).all():
                wait = remind_after(tenant)
                if wait is None or count >= self.limit:
                    continue
                number = int(count) + 1
                if now >= aware(created_at) + wait * (2**number - 1):
                    found.append(DueReminder(int(request_id), number))
        return found

    def claim(self, reminder: DueReminder) -> bool:
        """Record reminder ``number`` if it is still due and nobody sent it; True to send."""
        with self.db.transaction() as s:
            request = self._lock(s, reminder.request_id)
            if request is None or request.status != RequestStatus.PENDING.value:
                return False  # decided meanwhile: never remind after a decision
            if self._clock() >= aware(request.expires_at):
                return False
            count = s.exec(
                select(func.count()).where(
                    col(AuditEvent.request_id) == reminder.request_id,
                    col(AuditEvent.event) == REMINDED,
                )
            ).one()
            if count != reminder.number - 1:
                return False  # another worker sent it first
            audit.record(
                s,
                REMINDED,
                actor="system",
                tenant=request.tenant,
                request_id=request.id,
                detail={"number": reminder.number},
            )
            return True

    def _lock(self, s: Session, request_id: int) -> ChangeRequest | None:
        query = select(ChangeRequest).where(col(ChangeRequest.id) == request_id)
        if not self.db.is_sqlite:
            query = query.with_for_update()
        return s.exec(query).first()
