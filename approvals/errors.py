"""Typed workflow errors.

    WorkflowError               anything the approval workflow refuses
    ├── RequestNotFound         no request with that ID
    ├── InvalidTransition       the request is not in a state that allows this step
    │   └── IllegalTransition   a status change the state table forbids (a bug, not a user)
    └── NotAllowed              the actor may not take this step
        ├── SelfApproval        a requester tried to approve their own request
        ├── NotAnApprover       the actor is not an approver for the tenant
        └── NotARequester       the actor may not request changes for the tenant
    ├── AdmissionRefused        a new request was not stored (checked in its transaction)
    │   ├── RequestLimitReached the requester made too many requests in the window
    │   ├── DuplicateRequest    a pending request already asks for exactly this
    │   └── TargetsPending      some target is already in another pending request
    ├── ReadLimitReached        the reader made too many live-state reads in the window
    └── ProposalUnavailable     an offered change can no longer be requested (see message)

``str(error)`` is a sentence fit to show the actor.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "AdmissionRefused",
    "DuplicateRequest",
    "IllegalTransition",
    "InvalidTransition",
    "NotARequester",
    "NotAllowed",
    "NotAnApprover",
    "PendingTarget",
    "ProposalUnavailable",
    "ReadLimitReached",
    "RequestLimitReached",
    "RequestNotFound",
    "SelfApproval",
    "TargetsPending",
    "WorkflowError",
]


class WorkflowError(Exception):
    """Base class for every refusal of the approval workflow."""

    code = "workflow_error"


class RequestNotFound(WorkflowError):
    """No request has that ID."""

    code = "not_found"


class InvalidTransition(WorkflowError):
    """The request's current status does not allow the step (already decided, expired, …)."""

    code = "invalid_transition"

    def __init__(self, message: str, *, status: str) -> None:
        super().__init__(message)
        self.status = status


class IllegalTransition(InvalidTransition):
    """A status change that ``approvals.states.TRANSITIONS`` forbids: the code asked for a
    step that the request's state machine does not have."""

    code = "illegal_transition"

    def __init__(self, message: str, *, status: str, to: str) -> None:
        super().__init__(message, status=status)
        self.to = to


class NotAllowed(WorkflowError):
    """The actor may not take this step."""

    code = "not_allowed"


class SelfApproval(NotAllowed):
    """The requester tried to approve their own request."""

    code = "self_approval"


class NotAnApprover(NotAllowed):
    """The actor is not among the tenant's approvers."""

    code = "not_an_approver"


class NotARequester(NotAllowed):
    """The actor is not on the tenant's requester allowlist."""

    code = "not_a_requester"


class AdmissionRefused(WorkflowError):
    """A new request was refused by a rule checked in the transaction that would store it."""

    code = "admission_refused"
    audit_event = "refused_input"  # how the refusal is recorded in the audit trail


class RequestLimitReached(AdmissionRefused):
    """The requester already made the most change requests the window allows."""

    code = "request_limit"
    audit_event = "refused_access"

    def __init__(self, *, count: int, limit: int, window: str) -> None:
        super().__init__(
            f"You made {count} change requests in the last {window}; the limit is {limit}. "
            "Try again later, or ask another on-call engineer."
        )
        self.count = count
        self.limit = limit


class DuplicateRequest(AdmissionRefused):
    """A pending request of the same tenant has the same verb and the same set of targets."""

    code = "duplicate_request"

    def __init__(self, request_id: int, *, card_channel: str | None, card_ref: str | None) -> None:
        super().__init__(
            f"Nothing was requested: #{request_id} already asks for this (see its card)"
        )
        self.request_id = request_id
        self.card_channel = card_channel
        self.card_ref = card_ref


@dataclass(frozen=True, slots=True)
class PendingTarget:
    """A target of a new request that another pending request already holds."""

    target: str
    request_id: int
    verb: str

    def __str__(self) -> str:
        return f"`{self.target}` is already in pending #{self.request_id} ({self.verb})"


class TargetsPending(AdmissionRefused):
    """Some targets are already in other pending requests (any verb): decide those first."""

    code = "targets_pending"
    shown = 20

    def __init__(self, conflicts: tuple[PendingTarget, ...]) -> None:
        lines = [str(c) for c in conflicts[: self.shown]]
        if len(conflicts) > self.shown:
            lines.append(f"… and {len(conflicts) - self.shown} more")
        text = " " + lines[0] if len(lines) == 1 else "".join(f"\n• {line}" for line in lines)
        super().__init__(f"Nothing was requested:{text}")
        self.conflicts = conflicts


class ReadLimitReached(WorkflowError):
    """The reader already made the most live-state reads the window allows."""

    code = "read_limit"

    def __init__(self, *, count: int, limit: int, window: str) -> None:
        super().__init__(
            f"You read the live state {count} times in the last {window}; the limit is "
            f"{limit}. Try again in a moment."
        )
        self.count = count
        self.limit = limit


class ProposalUnavailable(WorkflowError):
    """An offered change cannot be requested: unknown, offered to someone else, expired, or
    requested already (``request_id``)."""

    code = "proposal_unavailable"

    def __init__(self, message: str, *, request_id: int | None = None) -> None:
        super().__init__(message)
        self.request_id = request_id
