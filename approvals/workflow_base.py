"""What every part of the workflow shares: the context it runs in, snapshots and row locks.

The parts (decisions, execution, card sync, queries) are collaborators of ``Workflow``, each
built on one ``WorkflowContext``; none calls another, so each can be read on its own."""

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
    "Part",
    "TargetRecord",
    "WorkflowContext",
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
    """What an approval did: ``approved_now`` is True for exactly one caller per request;
    ``repeated``: the actor had already approved, so nothing was counted this time."""

    view: RequestView
    approved_now: bool
    repeated: bool = False

    @property
    def missing(self) -> int:
        """How many more distinct approvals the request still needs."""
        return max(self.view.request.approvals_required - len(self.view.approvers), 0)


@dataclass(frozen=True, slots=True)
class TargetRecord:
    """The result of executing one target, as the workflow stores it."""

    target: str
    ok: bool
    message: str
    state: Mapping[str, object] | None = None
    error: Mapping[str, object] | None = None  # kind and detail, for the audit trail


@dataclass(frozen=True, slots=True)
class WorkflowContext:
    """What each part of the workflow works with: the store, who may do what, the clock
    and the job queue. One is shared by all the parts of a ``Workflow``."""

    db: Database
    policies: Callable[[str], TenantPolicy]
    membership: Membership
    jobs: JobQueue
    clock: Callable[[], datetime]


class Part:
    """One collaborator of the workflow, with the helpers every part needs."""

    def __init__(self, ctx: WorkflowContext) -> None:
        self.ctx = ctx

    @property
    def db(self) -> Database:
        return self.ctx.db

    @property
    def jobs(self) -> JobQueue:
        return self.ctx.jobs

    def now(self) -> datetime:
        return self.ctx.clock()

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
