"""Approving, denying, cancelling and expiring requests.

Each method is one transaction, serialised on the request row, and records refusals in the
audit trail before raising them."""

from __future__ import annotations

from sqlmodel import Session, col, select

from approvals import audit
from approvals.errors import (
    InvalidTransition,
    NotAllowed,
    NotAnApprover,
    SelfApproval,
    WorkflowError,
)
from approvals.models import (
    Approval,
    ChangeRequest,
    RequestStatus,
)
from approvals.policy import TenantPolicy
from approvals.states import move
from approvals.wording import no_longer_pending
from approvals.workflow_base import (
    EXECUTE,
    SYSTEM_ACTOR,
    ApproveOutcome,
    Part,
    RequestView,
)

__all__ = ["Decisions"]


class Decisions(Part):
    """Approving, denying, cancelling and expiring requests."""

    def approve(self, request_id: int, *, actor: str) -> ApproveOutcome:
        """Count ``actor``'s approval; the request becomes approved once it has enough."""
        error: WorkflowError | None = None
        with self.db.transaction() as s:
            request = self._locked_pending(s, request_id, actor=actor, step="approve")
            if isinstance(request, WorkflowError):
                error = request
            else:
                policy = self.ctx.policies(request.tenant)
                error = self._check_decider(s, request, actor, policy, step="approve")
            if error is None:
                assert not isinstance(request, WorkflowError)
                already = s.exec(
                    select(Approval).where(
                        Approval.request_id == request_id, Approval.approver == actor
                    )
                ).first()
                if already is None:
                    s.add(Approval(request_id=request_id, approver=actor, created_at=self.now()))
                    request.revision += 1
                    s.add(request)
                    s.flush()
                    audit.record(
                        s, "approved", actor=actor, tenant=request.tenant, request_id=request_id
                    )
                count = len(self._approvers(s, request_id))
                approved_now = count >= request.approvals_required
                if approved_now:
                    move(request, RequestStatus.APPROVED)
                    request.decided_at = self.now()
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
                outcome = ApproveOutcome(
                    self._view(s, request), approved_now, repeated=already is not None
                )
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
                policy = self.ctx.policies(request.tenant)
                error = self._check_decider(s, request, actor, policy, step=step)
            elif actor != request.requester:
                error = NotAllowed("Only the requester can cancel a request.")
                audit.record(
                    s, "refused_cancel", actor=actor, tenant=request.tenant, request_id=request_id
                )
            if error is None:
                assert not isinstance(request, WorkflowError)
                move(request, status)
                request.decided_at = self.now()
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
        now = self.now()
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

    def check_decider(self, view: RequestView, actor: str) -> WorkflowError | None:
        """Whether ``actor`` may approve or deny the request now, without recording anything
        (the UI uses it to refuse before opening a dialog; approve/deny check again)."""
        if view.status is not RequestStatus.PENDING:
            return InvalidTransition(
                no_longer_pending(view.id, view.status), status=view.status.value
            )
        if actor == view.request.requester:
            return SelfApproval("You cannot approve or deny your own request.")
        if not self.ctx.policies(view.request.tenant).may_approve(actor, self.ctx.membership):
            return NotAnApprover(f"You are not an approver for {view.request.tenant}.")
        return None

    def _locked_pending(
        self, s: Session, request_id: int, *, actor: str, step: str
    ) -> ChangeRequest | WorkflowError:
        """The locked request if it is still pending; else the error to raise after commit."""
        request = self._lock(s, request_id)
        if request.status == RequestStatus.PENDING.value and self.now() >= request.expires_at:
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
                no_longer_pending(request_id, request.status), status=request.status
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
        elif not policy.may_approve(actor, self.ctx.membership):
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
        move(request, RequestStatus.EXPIRED)
        request.decided_at = self.now()
        request.revision += 1
        s.add(request)
        audit.record(s, "expired", actor=SYSTEM_ACTOR, tenant=request.tenant, request_id=request.id)
