"""Read-only views of requests and the audit trail."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlmodel import col, func, select

from approvals import audit
from approvals.errors import RequestNotFound
from approvals.limits import READ_EVENT
from approvals.models import (
    AuditEvent,
    ChangeRequest,
    RequestStatus,
)
from approvals.workflow_base import (
    Part,
    RequestView,
)

__all__ = ["Queries"]


class Queries(Part):
    """Read-only views of requests and the audit trail."""

    def get(self, request_id: int) -> RequestView:
        with self.db.read() as s:
            request = s.get(ChangeRequest, request_id)
            if request is None:
                raise RequestNotFound(f"There is no request #{request_id}.")
            return self._view(s, request)

    def by_intake(self, intake_id: int) -> RequestView | None:
        """The request stored from intake row ``intake_id``, if any."""
        with self.db.read() as s:
            request = s.exec(
                select(ChangeRequest).where(ChangeRequest.intake_id == intake_id)
            ).first()
            return None if request is None else self._view(s, request)

    def pending(self, tenant: str | None = None) -> list[RequestView]:
        with self.db.read() as s:
            query = select(ChangeRequest).where(ChangeRequest.status == RequestStatus.PENDING.value)
            if tenant is not None:
                query = query.where(ChangeRequest.tenant == tenant)
            rows = s.exec(query.order_by(col(ChangeRequest.id))).all()
            return [self._view(s, r) for r in rows]

    def open_requests(self, requester: str, limit: int = 20) -> list[RequestView]:
        """A requester's requests that are not finished yet, newest first."""
        open_states = (
            RequestStatus.PENDING.value,
            RequestStatus.APPROVED.value,
            RequestStatus.EXECUTING.value,
        )
        with self.db.read() as s:
            rows = s.exec(
                select(ChangeRequest)
                .where(
                    ChangeRequest.requester == requester,
                    col(ChangeRequest.status).in_(open_states),
                )
                .order_by(col(ChangeRequest.id).desc())
                .limit(limit)
            ).all()
            return [self._view(s, r) for r in rows]

    def history(
        self,
        *,
        tenant: str | None = None,
        target: str | None = None,
        limit: int = 20,
        target_prefixes: Sequence[str] = (),
    ) -> list[AuditEvent]:
        """Audit events, newest first; not the log of status reads (kept for the read limit
        and the export, but it would crowd out every change)."""
        with self.db.read() as s:
            return audit.history(
                s,
                tenant=tenant,
                target=target,
                limit=limit,
                exclude=(READ_EVENT,),
                target_prefixes=target_prefixes,
            )

    def count_events(self, *, actor: str, event: str, since: datetime) -> int:
        """How many ``event`` rows ``actor`` caused since ``since`` (rate limits, across
        every replica, because it counts in the database)."""
        with self.db.read() as s:
            query = (
                select(func.count())
                .select_from(AuditEvent)
                .where(
                    AuditEvent.actor == actor,
                    AuditEvent.event == event,
                    col(AuditEvent.at) >= since,
                )
            )
            return int(s.exec(query).one())
