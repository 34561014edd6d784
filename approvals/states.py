"""The request state machine, written once as data: which status may follow which.

Every change of ``ChangeRequest.status`` goes through ``move`` (a test checks that no other
code assigns it), so a bug elsewhere cannot, say, send a denied request to execution.

    pending ─┬─> approved ──> executing ─┬─> succeeded
             │                           └─> failed
             ├─> denied
             ├─> cancelled
             └─> expired
"""

from __future__ import annotations

from collections.abc import Mapping

from approvals.errors import IllegalTransition
from approvals.models import ChangeRequest, RequestStatus

__all__ = ["TRANSITIONS", "may_move", "move"]

_S = RequestStatus

TRANSITIONS: Mapping[RequestStatus, frozenset[RequestStatus]] = {
    _S.PENDING: frozenset({_S.APPROVED, _S.DENIED, _S.CANCELLED, _S.EXPIRED}),
    _S.APPROVED: frozenset({_S.EXECUTING}),
    _S.EXECUTING: frozenset({_S.SUCCEEDED, _S.FAILED}),
    _S.SUCCEEDED: frozenset(),
    _S.FAILED: frozenset(),
    _S.DENIED: frozenset(),
    _S.CANCELLED: frozenset(),
    _S.EXPIRED: frozenset(),
}


def may_move(current: RequestStatus | str, to: RequestStatus) -> bool:
    """Whether ``to`` may follow ``current`` (an unknown status may be followed by nothing)."""
    try:
        return to in TRANSITIONS[RequestStatus(current)]
    except ValueError:
        return False


def move(request: ChangeRequest, to: RequestStatus) -> None:
    """Set the request's status to ``to``; IllegalTransition if the table forbids it.

    The caller holds the request's row lock and adds the request to its session."""
    if not may_move(request.status, to):
        raise IllegalTransition(
            f"Request #{request.id} cannot go from {request.status} to {to.value}.",
            status=request.status,
            to=to.value,
        )
    request.status = to.value
