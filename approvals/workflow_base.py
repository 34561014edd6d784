"""What every part of the workflow shares: snapshots, row locks and the state they need."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, col, select

from approvals.db import Database
from approvals.errors import (
    RequestNotFound,
)
from approvals.jobs import JobQueue
from approvals.models import (
    Approval,
    ChangeRequest,
    RequestStatus,
    RequestTarget,
)
from approvals.policy import Membership, TenantPolicy

__all__ = [
    "EXECUTE",
    "REVERT",
    "SYSTEM_ACTOR",
    "ApproveOutcome",
    "RequestView",
    "TargetRecord",
    "WorkflowBase",
]

SYSTEM_ACTOR = "system"
EXECUTE = "execute"  # job kinds
REVERT = "revert"
EXECUTED = (RequestStatus.SUCCEEDED.value, RequestStatus.FAILED.value)


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


class WorkflowBase:
    """State and helpers shared by the workflow's parts (mixed into ``Workflow``)."""

    db: Database
    jobs: JobQueue
    _policies: Callable[[str], TenantPolicy]
    _membership: Membership
    _clock: Callable[[], datetime]

    def _lock(self, s: Session, request_id: int) -> ChangeRequest:
        request = s.exec(
            select(ChangeRequest).where(ChangeRequest.id == request_id).with_for_update()
        ).first()
        if request is None:
            raise RequestNotFound(f"There is no request #{request_id}.")
        return request

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
