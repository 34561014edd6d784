"""Executing approved requests and reverting timed restrictions.

Only the holder of the request's job calls these: the job's lease makes execution exclusive."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import timedelta

from sqlmodel import Session, col, select

from approvals import audit
from approvals.errors import InvalidTransition
from approvals.models import (
    ChangeRequest,
    Job,
    JobState,
    RequestStatus,
    RequestTarget,
    TargetOutcome,
)
from approvals.states import move
from approvals.workflow_base import (
    REVERT,
    SYSTEM_ACTOR,
    Part,
    RequestView,
    TargetRecord,
)

__all__ = ["Execution"]


class Execution(Part):
    """Executing approved requests and reverting timed restrictions."""

    def begin_execution(self, request_id: int) -> RequestView | None:
        """approved → executing, or resume a request left executing by a worker that died.

        Call it only while holding the request's execute job: the job's lease is what makes
        the execution exclusive. Returns None when there is nothing (more) to execute."""
        with self.db.transaction() as s:
            request = self._lock(s, request_id)
            if request.status == RequestStatus.EXECUTING.value:
                audit.record(
                    s,
                    "execution_resumed",
                    actor=SYSTEM_ACTOR,
                    tenant=request.tenant,
                    request_id=request_id,
                )
                return self._view(s, request)
            if request.status != RequestStatus.APPROVED.value:
                return None
            move(request, RequestStatus.EXECUTING)
            request.revision += 1
            s.add(request)
            audit.record(
                s,
                "execution_started",
                actor=SYSTEM_ACTOR,
                tenant=request.tenant,
                request_id=request_id,
            )
            s.flush()
            return self._view(s, request)

    def record_progress(self, request_id: int, records: Sequence[TargetRecord]) -> RequestView:
        """Store the results of some targets while the request is still executing, so a
        bulk change shows progress and a resumed run skips what is already done."""
        with self.db.transaction() as s:
            request = self._executing(s, request_id)
            self._store_results(s, request, records)
            request.revision += 1
            s.add(request)
            s.flush()
            return self._view(s, request)

    def finish_execution(
        self, request_id: int, records: Sequence[TargetRecord] = ()
    ) -> RequestView:
        """Store the last results; executing → succeeded (every target ok) or failed.

        A target with no result by now (it should not happen) counts as failed."""
        with self.db.transaction() as s:
            request = self._executing(s, request_id)
            targets = self._store_results(s, request, records)
            for row in targets.values():
                if row.outcome == TargetOutcome.PENDING.value:
                    row.outcome = TargetOutcome.FAILED.value
                    row.message = "not executed"
                    s.add(row)
            all_ok = all(t.outcome == TargetOutcome.SUCCEEDED.value for t in targets.values())
            move(request, RequestStatus.SUCCEEDED if all_ok else RequestStatus.FAILED)
            request.finished_at = self.now()
            request.revision += 1
            changed = [
                t.target for t in targets.values() if t.outcome == TargetOutcome.SUCCEEDED.value
            ]
            if request.revert_after_s and request.revert_verb and changed:
                request.revert_at = request.finished_at + timedelta(seconds=request.revert_after_s)
                self.jobs.enqueue(s, kind=REVERT, request_id=request_id, run_at=request.revert_at)
            s.add(request)
            audit.record(
                s, request.status, actor=SYSTEM_ACTOR, tenant=request.tenant, request_id=request_id
            )
            self._cancel_moot_reverts(s, request, changed)
            s.flush()
            view = self._view(s, request)
        self.jobs.ring()
        return view

    def _executing(self, s: Session, request_id: int) -> ChangeRequest:
        request = self._lock(s, request_id)
        if request.status != RequestStatus.EXECUTING.value:
            raise InvalidTransition(
                f"Request #{request_id} is {request.status}, not executing.",
                status=request.status,
            )
        return request

    def _store_results(
        self, s: Session, request: ChangeRequest, records: Sequence[TargetRecord]
    ) -> dict[str, RequestTarget]:
        assert request.id is not None
        targets = {t.target: t for t in self._targets(s, request.id)}
        for record in records:
            row = targets[record.target]
            row.outcome = (TargetOutcome.SUCCEEDED if record.ok else TargetOutcome.FAILED).value
            row.message = record.message[:2000]
            row.state = json.dumps(record.state, sort_keys=True) if record.state else None
            s.add(row)
            detail: dict[str, object] = {"message": record.message}
            if record.error:
                detail["error"] = record.error
            audit.record(
                s,
                "target_succeeded" if record.ok else "target_failed",
                actor=SYSTEM_ACTOR,
                tenant=request.tenant,
                request_id=request.id,
                target=record.target,
                after=record.state,
                detail=detail,
            )
        return targets

    def _superseded(self, s: Session, request: ChangeRequest, target: str) -> bool:
        """A later request changed this target successfully: the latest change wins."""
        later = s.exec(
            select(RequestTarget.id)
            .join(ChangeRequest, col(ChangeRequest.id) == col(RequestTarget.request_id))
            .where(
                ChangeRequest.tenant == request.tenant,
                col(ChangeRequest.id) > request.id,
                RequestTarget.target == target,
                RequestTarget.outcome == TargetOutcome.SUCCEEDED.value,
            )
            .limit(1)
        ).first()
        return later is not None

    def _cancel_moot_reverts(
        self, s: Session, request: ChangeRequest, changed: Sequence[str]
    ) -> None:
        """Cancel queued reverts of earlier requests whose every target this one superseded."""
        if not changed:
            return
        # Start from the few queued reverts (a partial index holds only those), not from the
        # requests: this runs after every execution, however large the tables grow.
        queued = list(
            s.exec(
                select(Job.request_id).where(
                    Job.kind == REVERT,
                    Job.state == JobState.QUEUED.value,
                    col(Job.request_id) < request.id,
                )
            )
        )
        if not queued:
            return
        earlier = s.exec(
            select(ChangeRequest)
            .join(RequestTarget, col(RequestTarget.request_id) == col(ChangeRequest.id))
            .where(
                col(ChangeRequest.id).in_(queued),
                ChangeRequest.tenant == request.tenant,
                col(RequestTarget.target).in_(list(changed)),
            )
            .distinct()
        ).all()
        for old in earlier:
            pending = [
                t.target
                for t in self._targets(s, old.id)
                if t.outcome == TargetOutcome.SUCCEEDED.value
                and not self._superseded(s, old, t.target)
            ]
            if not pending and self.jobs.cancel(s, kind=REVERT, request_id=old.id):
                audit.record(
                    s,
                    "revert_cancelled",
                    actor=SYSTEM_ACTOR,
                    tenant=old.tenant,
                    request_id=old.id,
                    detail={"superseded_by": request.id},
                )

    def begin_revert(self, request_id: int) -> tuple[RequestView, list[str]]:
        """The targets a timed restriction should now undo: those it changed that no later
        request has changed since."""
        with self.db.transaction() as s:
            request = self._lock(s, request_id)
            targets = [
                t.target
                for t in self._targets(s, request_id)
                if t.outcome == TargetOutcome.SUCCEEDED.value
                and not self._superseded(s, request, t.target)
            ]
            audit.record(
                s,
                "revert_started",
                actor=SYSTEM_ACTOR,
                tenant=request.tenant,
                request_id=request_id,
                detail={"targets": targets},
            )
            return self._view(s, request), targets

    def finish_revert(self, request_id: int, records: Sequence[TargetRecord]) -> RequestView:
        with self.db.transaction() as s:
            request = self._lock(s, request_id)
            for record in records:
                audit.record(
                    s,
                    "revert_succeeded" if record.ok else "revert_failed",
                    actor=SYSTEM_ACTOR,
                    tenant=request.tenant,
                    request_id=request_id,
                    target=record.target,
                    after=record.state,
                    detail={"message": record.message, "verb": request.revert_verb},
                )
            request.revision += 1
            s.add(request)
            s.flush()
            return self._view(s, request)

    def active_restrictions(self, tenant: str | None = None) -> list[RequestView]:
        """Timed restrictions still in force: their revert job is queued."""
        with self.db.read() as s:
            query = (
                select(ChangeRequest)
                .join(Job, col(Job.request_id) == col(ChangeRequest.id))
                .where(Job.kind == REVERT, Job.state == JobState.QUEUED.value)
            )
            if tenant is not None:
                query = query.where(ChangeRequest.tenant == tenant)
            rows = s.exec(query.order_by(col(ChangeRequest.revert_at))).all()
            return [self._view(s, r) for r in rows]
