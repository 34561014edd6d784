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
from approvals.supersession import (
    cancel_moot_reverts,
    skip_changed_later,
    superseded_by,
)
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
                if self._skip_superseded(s, request):
                    request.revision += 1
                    s.add(request)
                    s.flush()
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
            self._skip_superseded(s, request)
            s.flush()
            return self._view(s, request)

    def _skip_superseded(self, s: Session, request: ChangeRequest) -> int:
        """Before (re)starting, leave alone every target a later request has changed since:
        the later change wins, as with timed reverts. Returns how many were skipped."""
        assert request.id is not None
        pending = [
            t for t in self._targets(s, request.id) if t.outcome == TargetOutcome.PENDING.value
        ]
        return skip_changed_later(s, request, pending)

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
            self._finish(s, request, records, unfinished="not executed")
            view = self._view(s, request)
        self.jobs.ring()
        return view

    def give_up(self, s: Session, job: Job) -> None:
        """The request's execute job was given up (its workers died or failed max_attempts
        times): end the request in that transaction, keeping every result already recorded;
        the rest count as failed. Its card and thread catch up through the card sync."""
        request = self._lock(s, job.request_id)
        if request.status not in (RequestStatus.APPROVED.value, RequestStatus.EXECUTING.value):
            return  # finished before its worker died: nothing to end
        message = job.last_error or f"gave up after {job.attempts} attempts"
        audit.record(
            s,
            "gave_up",
            actor=SYSTEM_ACTOR,
            tenant=request.tenant,
            request_id=request.id,
            detail={"message": message, "job": job.id, "attempts": job.attempts},
        )
        if request.status == RequestStatus.APPROVED.value:
            move(request, RequestStatus.EXECUTING)
        self._finish(s, request, (), unfinished=f"not executed: {message}")
        s.flush()

    def give_up_revert(self, s: Session, job: Job) -> None:
        """A timed revert was given up: the audit trail says the restriction stays."""
        request = self._lock(s, job.request_id)
        audit.record(
            s,
            "revert_gave_up",
            actor=SYSTEM_ACTOR,
            tenant=request.tenant,
            request_id=request.id,
            detail={
                "message": job.last_error or f"gave up after {job.attempts} attempts",
                "verb": request.revert_verb,
            },
        )

    def _finish(
        self,
        s: Session,
        request: ChangeRequest,
        records: Sequence[TargetRecord],
        *,
        unfinished: str,
    ) -> None:
        """executing → succeeded (every target ok) or failed; targets still without a result
        fail with ``unfinished``. Schedules the timed revert of what changed."""
        assert request.id is not None
        targets = self._store_results(s, request, records)
        for row in targets.values():
            if row.outcome == TargetOutcome.PENDING.value:
                row.outcome = TargetOutcome.FAILED.value
                row.message = unfinished[:2000]
                s.add(row)
        all_ok = all(t.outcome == TargetOutcome.SUCCEEDED.value for t in targets.values())
        move(request, RequestStatus.SUCCEEDED if all_ok else RequestStatus.FAILED)
        request.finished_at = self.now()
        request.revision += 1
        changed = [t.target for t in targets.values() if t.outcome == TargetOutcome.SUCCEEDED.value]
        if request.revert_after_s and request.revert_verb and changed:
            request.revert_at = request.finished_at + timedelta(seconds=request.revert_after_s)
            self.jobs.enqueue(s, kind=REVERT, request_id=request.id, run_at=request.revert_at)
        s.add(request)
        audit.record(
            s, request.status, actor=SYSTEM_ACTOR, tenant=request.tenant, request_id=request.id
        )
        cancel_moot_reverts(s, self.jobs, request, changed)
        s.flush()

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
            row.state = _stored_state(record)
            s.add(row)
            detail: dict[str, object] = {"message": record.message}
            if row.verb:  # a target with a verb of its own (a request of several steps)
                detail["verb"] = row.verb
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

    def begin_revert(self, request_id: int) -> tuple[RequestView, list[str]]:
        """The targets a timed restriction should now undo: those it changed that no later
        request has changed since."""
        with self.db.transaction() as s:
            request = self._lock(s, request_id)
            targets = [
                t.target
                for t in self._targets(s, request_id)
                if t.outcome == TargetOutcome.SUCCEEDED.value
                and superseded_by(s, request, t.target) is None
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


def _stored_state(record: TargetRecord) -> str | None:
    """The verified facts of a target; for a failure without any, the error's kind (which
    says whether the back end can have changed it: a refusal cannot, a timeout may)."""
    if record.state:
        return json.dumps(record.state, sort_keys=True)
    if not record.ok and record.error and record.error.get("kind"):
        stored: dict[str, object] = {"error_kind": record.error["kind"]}
        if record.error.get("before_change"):
            stored["before_change"] = True  # failed before any changing call: unchanged
            stored["backend"] = record.error.get("backend")
        return json.dumps(stored)
    return None
