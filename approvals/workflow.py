"""The approval workflow: every state change of a request, atomic and audited.

Each public method is one transaction. Concurrent callers are serialised on the request row
(``FOR UPDATE`` on PostgreSQL, ``BEGIN IMMEDIATE`` on SQLite), so two approvers pressing at
the same instant produce one transition, and a replayed click changes nothing.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlmodel import Session, col, select

from approvals import audit
from approvals.db import Database
from approvals.errors import (
    InvalidTransition,
    NotAllowed,
    NotAnApprover,
    NotARequester,
    RequestNotFound,
    SelfApproval,
    WorkflowError,
)
from approvals.jobs import JobQueue
from approvals.models import (
    Approval,
    AuditEvent,
    ChangeRequest,
    Job,
    JobState,
    RequestStatus,
    RequestTarget,
    TargetOutcome,
    utcnow,
)
from approvals.policy import DirectMembership, Membership, TenantPolicy

__all__ = ["EXECUTE", "REVERT", "ApproveOutcome", "RequestView", "TargetRecord", "Workflow"]

SYSTEM_ACTOR = "system"
EXECUTE = "execute"  # job kinds
REVERT = "revert"
_EXECUTED = (RequestStatus.SUCCEEDED.value, RequestStatus.FAILED.value)


@dataclass(frozen=True, slots=True)
class RequestView:
    """A consistent snapshot of one request, its targets and who approved it."""

    request: ChangeRequest
    targets: tuple[RequestTarget, ...]
    approvers: tuple[str, ...]

    @property
    def id(self) -> int:
        assert self.request.id is not None
        return self.request.id

    @property
    def status(self) -> RequestStatus:
        return RequestStatus(self.request.status)


@dataclass(frozen=True, slots=True)
class ApproveOutcome:
    """What an approval did: ``approved_now`` is True for exactly one caller per request."""

    view: RequestView
    approved_now: bool


@dataclass(frozen=True, slots=True)
class TargetRecord:
    """The result of executing one target, as the workflow stores it."""

    target: str
    ok: bool
    message: str
    state: Mapping[str, object] | None = None
    error: Mapping[str, object] | None = None  # kind and detail, for the audit trail


class Workflow:
    """Creates requests and moves them through their lifecycle."""

    def __init__(
        self,
        db: Database,
        policies: Callable[[str], TenantPolicy],
        *,
        membership: Membership | None = None,
        jobs: JobQueue | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.db = db
        self._policies = policies
        self._membership = membership or DirectMembership()
        self._clock = clock
        self.jobs = jobs or JobQueue(db, clock=clock)

    # --- creating ----------------------------------------------------------------------------

    def submit(
        self,
        *,
        tenant: str,
        verb: str,
        targets: Sequence[str],
        reason: str,
        requester: str,
        tenant_wide: bool = False,
        revert_verb: str | None = None,
        revert_after: timedelta | None = None,
    ) -> RequestView:
        """Store a new pending request; raises NotARequester if the policy forbids it.

        With ``revert_after``, a successful change is undone by ``revert_verb`` after that
        long, without a new approval (it was approved with the original)."""
        if not targets:
            raise ValueError("a request needs at least one target")
        policy = self._policies(tenant)
        if not policy.may_request(requester, self._membership):
            with self.db.transaction() as s:
                audit.record(
                    s, "refused_requester", actor=requester, tenant=tenant, detail={"verb": verb}
                )
            raise NotARequester(f"You are not allowed to request changes for {tenant}.")
        now = self._clock()
        with self.db.transaction() as s:
            request = ChangeRequest(
                tenant=tenant,
                verb=verb,
                reason=reason,
                requester=requester,
                tenant_wide=tenant_wide,
                approvals_required=policy.required_for(tenant_wide=tenant_wide),
                created_at=now,
                expires_at=now + policy.request_ttl,
                revert_verb=revert_verb if revert_after else None,
                revert_after_s=int(revert_after.total_seconds()) if revert_after else None,
            )
            s.add(request)
            s.flush()
            for position, target in enumerate(targets):
                s.add(RequestTarget(request_id=request.id, position=position, target=target))
            audit.record(
                s,
                "requested",
                actor=requester,
                tenant=tenant,
                request_id=request.id,
                target=",".join(targets) if len(targets) <= 5 else f"{len(targets)} targets",
                detail={
                    "verb": verb,
                    "reason": reason,
                    "targets": list(targets),
                    "revert_after_s": request.revert_after_s,
                },
            )
            s.flush()
            return self._view(s, request)

    def refuse_input(self, *, actor: str, tenant: str | None, verb: str, problem: str) -> None:
        """Record a change command that was refused before any request existed."""
        with self.db.transaction() as s:
            audit.record(
                s,
                "refused_input",
                actor=actor,
                tenant=tenant,
                detail={"verb": verb, "problem": problem},
            )

    # --- deciding ----------------------------------------------------------------------------

    def approve(self, request_id: int, *, actor: str) -> ApproveOutcome:
        """Count ``actor``'s approval; the request becomes approved once it has enough."""
        error: WorkflowError | None = None
        with self.db.transaction() as s:
            request = self._locked_pending(s, request_id, actor=actor, step="approve")
            if isinstance(request, WorkflowError):
                error = request
            else:
                policy = self._policies(request.tenant)
                error = self._check_decider(s, request, actor, policy, step="approve")
            if error is None:
                assert not isinstance(request, WorkflowError)
                already = s.exec(
                    select(Approval).where(
                        Approval.request_id == request_id, Approval.approver == actor
                    )
                ).first()
                if already is None:
                    s.add(Approval(request_id=request_id, approver=actor, created_at=self._clock()))
                    request.revision += 1
                    s.add(request)
                    s.flush()
                    audit.record(
                        s, "approved", actor=actor, tenant=request.tenant, request_id=request_id
                    )
                count = len(self._approvers(s, request_id))
                approved_now = count >= request.approvals_required
                if approved_now:
                    request.status = RequestStatus.APPROVED.value
                    request.decided_at = self._clock()
                    request.decided_by = actor
                    s.add(request)
                    audit.record(
                        s,
                        "status_approved",
                        actor=actor,
                        tenant=request.tenant,
                        request_id=request_id,
                        detail={"approvals": count},
                    )
                    self.jobs.enqueue(s, kind=EXECUTE, request_id=request_id)
                s.flush()
                outcome = ApproveOutcome(self._view(s, request), approved_now)
        if error is not None:
            raise error
        if outcome.approved_now:
            self.jobs.ring()
        return outcome

    def deny(self, request_id: int, *, actor: str, note: str | None = None) -> RequestView:
        """An approver refuses the request."""
        return self._close(request_id, actor=actor, status=RequestStatus.DENIED, note=note)

    def cancel(self, request_id: int, *, actor: str) -> RequestView:
        """The requester withdraws the request."""
        return self._close(request_id, actor=actor, status=RequestStatus.CANCELLED, note=None)

    def _close(
        self, request_id: int, *, actor: str, status: RequestStatus, note: str | None
    ) -> RequestView:
        error: WorkflowError | None = None
        step = "deny" if status is RequestStatus.DENIED else "cancel"
        with self.db.transaction() as s:
            request = self._locked_pending(s, request_id, actor=actor, step=step)
            if isinstance(request, WorkflowError):
                error = request
            elif status is RequestStatus.DENIED:
                policy = self._policies(request.tenant)
                error = self._check_decider(s, request, actor, policy, step=step)
            elif actor != request.requester:
                error = NotAllowed("Only the requester can cancel a request.")
                audit.record(
                    s, "refused_cancel", actor=actor, tenant=request.tenant, request_id=request_id
                )
            if error is None:
                assert not isinstance(request, WorkflowError)
                request.status = status.value
                request.decided_at = self._clock()
                request.decided_by = actor
                request.decision_note = note or None
                request.revision += 1
                s.add(request)
                audit.record(
                    s,
                    status.value,
                    actor=actor,
                    tenant=request.tenant,
                    request_id=request_id,
                    detail={"note": note} if note else None,
                )
                s.flush()
                return self._view(s, request)
        assert error is not None
        raise error

    def expire_due(self) -> list[RequestView]:
        """Expire every pending request past its deadline; returns the ones expired now."""
        now = self._clock()
        expired: list[RequestView] = []
        with self.db.transaction() as s:
            rows = s.exec(
                select(ChangeRequest)
                .where(
                    ChangeRequest.status == RequestStatus.PENDING.value,
                    col(ChangeRequest.expires_at) <= now,
                )
                .with_for_update(skip_locked=True)
            ).all()
            for request in rows:
                self._expire(s, request)
                expired.append(self._view(s, request))
        return expired

    # --- executing ---------------------------------------------------------------------------

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
            request.status = RequestStatus.EXECUTING.value
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

    def finish_execution(self, request_id: int, records: Sequence[TargetRecord]) -> RequestView:
        """Store per-target results; executing → succeeded (all ok) or failed."""
        with self.db.transaction() as s:
            request = self._lock(s, request_id)
            if request.status != RequestStatus.EXECUTING.value:
                raise InvalidTransition(
                    f"Request #{request_id} is {request.status}, not executing.",
                    status=request.status,
                )
            targets = {t.target: t for t in self._targets(s, request_id)}
            for record in records:
                row = targets[record.target]
                row.outcome = (TargetOutcome.SUCCEEDED if record.ok else TargetOutcome.FAILED).value
                row.message = record.message[:2000]
                row.state = json.dumps(record.state, sort_keys=True) if record.state else None
                s.add(row)
                audit.record(
                    s,
                    "target_succeeded" if record.ok else "target_failed",
                    actor=SYSTEM_ACTOR,
                    tenant=request.tenant,
                    request_id=request_id,
                    target=record.target,
                    after=record.state,
                    detail={"message": record.message, "error": record.error}
                    if record.error
                    else {"message": record.message},
                )
            all_ok = all(t.outcome == TargetOutcome.SUCCEEDED.value for t in targets.values())
            request.status = (RequestStatus.SUCCEEDED if all_ok else RequestStatus.FAILED).value
            request.finished_at = self._clock()
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

    # --- timed restrictions ------------------------------------------------------------------

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
        earlier = s.exec(
            select(ChangeRequest)
            .join(Job, col(Job.request_id) == col(ChangeRequest.id))
            .join(RequestTarget, col(RequestTarget.request_id) == col(ChangeRequest.id))
            .where(
                ChangeRequest.tenant == request.tenant,
                col(ChangeRequest.id) < request.id,
                Job.kind == REVERT,
                Job.state == JobState.QUEUED.value,
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
        with self.db.transaction() as s:
            query = (
                select(ChangeRequest)
                .join(Job, col(Job.request_id) == col(ChangeRequest.id))
                .where(Job.kind == REVERT, Job.state == JobState.QUEUED.value)
            )
            if tenant is not None:
                query = query.where(ChangeRequest.tenant == tenant)
            rows = s.exec(query.order_by(col(ChangeRequest.revert_at))).all()
            return [self._view(s, r) for r in rows]

    # --- cards and reads ---------------------------------------------------------------------

    def attach_card(self, request_id: int, *, channel: str, ref: str, revision: int) -> None:
        """Remember where the request's card is and which revision it shows."""
        with self.db.transaction() as s:
            request = self._lock(s, request_id)
            request.card_channel = channel
            request.card_ref = ref
            request.card_revision = revision
            s.add(request)

    def cards_to_sync(self, limit: int = 50) -> list[RequestView]:
        """Requests whose card shows an older revision than the request has."""
        with self.db.transaction() as s:
            rows = s.exec(
                select(ChangeRequest)
                .where(
                    col(ChangeRequest.card_ref).is_not(None),
                    col(ChangeRequest.card_revision) < col(ChangeRequest.revision),
                )
                .order_by(col(ChangeRequest.id))
                .limit(limit)
            ).all()
            return [self._view(s, r) for r in rows]

    def mark_card_synced(self, request_id: int, revision: int) -> None:
        """The card now shows ``revision`` (never moves backwards)."""
        with self.db.transaction() as s:
            s.execute(
                sa.update(ChangeRequest)
                .where(
                    col(ChangeRequest.id) == request_id,
                    col(ChangeRequest.card_revision) < revision,
                )
                .values(card_revision=revision)
            )

    def results_to_post(self, limit: int = 50) -> list[RequestView]:
        """Finished requests whose result has not been posted in the card's thread yet."""
        with self.db.transaction() as s:
            rows = s.exec(
                select(ChangeRequest)
                .where(
                    col(ChangeRequest.card_ref).is_not(None),
                    col(ChangeRequest.status).in_(_EXECUTED),
                    col(ChangeRequest.result_posted).is_(False),
                )
                .order_by(col(ChangeRequest.id))
                .limit(limit)
            ).all()
            return [self._view(s, r) for r in rows]

    def claim_result_post(self, request_id: int) -> bool:
        """True for exactly one caller: the one that should post the result."""
        with self.db.transaction() as s:
            result = s.execute(
                sa.update(ChangeRequest)
                .where(
                    col(ChangeRequest.id) == request_id,
                    col(ChangeRequest.result_posted).is_(False),
                    col(ChangeRequest.status).in_(_EXECUTED),
                )
                .values(result_posted=True)
            )
            return result.rowcount == 1

    def release_result_post(self, request_id: int) -> None:
        """Posting failed: let a later sync try again."""
        with self.db.transaction() as s:
            s.execute(
                sa.update(ChangeRequest)
                .where(col(ChangeRequest.id) == request_id)
                .values(result_posted=False)
            )

    def get(self, request_id: int) -> RequestView:
        with self.db.transaction() as s:
            request = s.get(ChangeRequest, request_id)
            if request is None:
                raise RequestNotFound(f"There is no request #{request_id}.")
            return self._view(s, request)

    def check_decider(self, view: RequestView, actor: str) -> WorkflowError | None:
        """Whether ``actor`` may approve or deny the request now, without recording anything
        (the UI uses it to refuse before opening a dialog; approve/deny check again)."""
        if view.status is not RequestStatus.PENDING:
            return InvalidTransition(
                f"Request #{view.id} is already {view.status.value}.", status=view.status.value
            )
        if actor == view.request.requester:
            return SelfApproval("You cannot approve or deny your own request.")
        if not self._policies(view.request.tenant).may_approve(actor, self._membership):
            return NotAnApprover(f"You are not an approver for {view.request.tenant}.")
        return None

    def open_requests(self, requester: str, limit: int = 20) -> list[RequestView]:
        """A requester's requests that are not finished yet, newest first."""
        open_states = (
            RequestStatus.PENDING.value,
            RequestStatus.APPROVED.value,
            RequestStatus.EXECUTING.value,
        )
        with self.db.transaction() as s:
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
        self, *, tenant: str | None = None, target: str | None = None, limit: int = 20
    ) -> list[AuditEvent]:
        """Audit events, newest first."""
        with self.db.transaction() as s:
            return audit.history(s, tenant=tenant, target=target, limit=limit)

    def pending(self, tenant: str | None = None) -> list[RequestView]:
        with self.db.transaction() as s:
            query = select(ChangeRequest).where(ChangeRequest.status == RequestStatus.PENDING.value)
            if tenant is not None:
                query = query.where(ChangeRequest.tenant == tenant)
            rows = s.exec(query.order_by(col(ChangeRequest.id))).all()
            return [self._view(s, r) for r in rows]

    # --- internals ---------------------------------------------------------------------------

    def _lock(self, s: Session, request_id: int) -> ChangeRequest:
        request = s.exec(
            select(ChangeRequest).where(ChangeRequest.id == request_id).with_for_update()
        ).first()
        if request is None:
            raise RequestNotFound(f"There is no request #{request_id}.")
        return request

    def _locked_pending(
        self, s: Session, request_id: int, *, actor: str, step: str
    ) -> ChangeRequest | WorkflowError:
        """The locked request if it is still pending; else the error to raise after commit."""
        request = self._lock(s, request_id)
        if request.status == RequestStatus.PENDING.value and self._clock() >= request.expires_at:
            self._expire(s, request)
        if request.status != RequestStatus.PENDING.value:
            audit.record(
                s,
                f"refused_{step}",
                actor=actor,
                tenant=request.tenant,
                request_id=request_id,
                detail={"reason": "not_pending", "status": request.status},
            )
            return InvalidTransition(
                f"Request #{request_id} is already {request.status}.", status=request.status
            )
        return request

    def _check_decider(
        self, s: Session, request: ChangeRequest, actor: str, policy: TenantPolicy, *, step: str
    ) -> WorkflowError | None:
        error: WorkflowError | None = None
        if actor == request.requester:
            error = SelfApproval(
                "You cannot approve your own request."
                if step == "approve"
                else "You cannot deny your own request; cancel it instead."
            )
        elif not policy.may_approve(actor, self._membership):
            error = NotAnApprover(f"You are not an approver for {request.tenant}.")
        if error is not None:
            audit.record(
                s,
                f"refused_{step}",
                actor=actor,
                tenant=request.tenant,
                request_id=request.id,
                detail={"reason": error.code},
            )
        return error

    def _expire(self, s: Session, request: ChangeRequest) -> None:
        request.status = RequestStatus.EXPIRED.value
        request.decided_at = self._clock()
        request.revision += 1
        s.add(request)
        audit.record(s, "expired", actor=SYSTEM_ACTOR, tenant=request.tenant, request_id=request.id)

    @staticmethod
    def _targets(s: Session, request_id: int) -> list[RequestTarget]:
        return list(
            s.exec(
                select(RequestTarget)
                .where(RequestTarget.request_id == request_id)
                .order_by(col(RequestTarget.position))
            )
        )

    @staticmethod
    def _approvers(s: Session, request_id: int) -> list[str]:
        rows = s.exec(
            select(Approval.approver)
            .where(Approval.request_id == request_id)
            .order_by(col(Approval.id))
        )
        return list(rows)

    def _view(self, s: Session, request: ChangeRequest) -> RequestView:
        assert request.id is not None
        return RequestView(
            request=request,
            targets=tuple(self._targets(s, request.id)),
            approvers=tuple(self._approvers(s, request.id)),
        )
