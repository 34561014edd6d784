"""Typed workflow errors.

    WorkflowError               anything the approval workflow refuses
    ├── RequestNotFound         no request with that ID
    ├── InvalidTransition       the request is not in a state that allows this step
    │   └── IllegalTransition   a status change the state table forbids (a bug, not a user)
    └── NotAllowed              the actor may not take this step
        ├── SelfApproval        a requester tried to approve their own request
        ├── NotAnApprover       the actor is not an approver for the tenant
        └── NotARequester       the actor may not request changes for the tenant

``str(error)`` is a sentence fit to show the actor.
"""

from __future__ import annotations

__all__ = [
    "IllegalTransition",
    "InvalidTransition",
    "NotARequester",
    "NotAllowed",
    "NotAnApprover",
    "RequestNotFound",
    "SelfApproval",
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
