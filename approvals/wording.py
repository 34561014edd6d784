"""Sentences about a request's status that read right for every status.

"Request #1 is already succeeded" is what a template with the bare status name gives; this
table is the one place that says how each status is phrased in a refusal."""

from __future__ import annotations

from approvals.models import RequestStatus

__all__ = ["no_longer_pending"]

_S = RequestStatus

_PHRASES: dict[RequestStatus, str] = {
    _S.PENDING: "is still waiting for approval",
    _S.APPROVED: "is already approved and about to be executed",
    _S.EXECUTING: "is already approved and being executed",
    _S.SUCCEEDED: "has already succeeded",
    _S.FAILED: "has already failed",
    _S.DENIED: "has already been denied",
    _S.CANCELLED: "has already been cancelled",
    _S.EXPIRED: "has already expired",
}


def no_longer_pending(request_id: int, status: str | RequestStatus) -> str:
    """``Request #3 has already been denied.``: why a decision on it is refused."""
    try:
        phrase = _PHRASES[RequestStatus(status)]
    except ValueError:
        phrase = f"is {status}"  # a status this build does not know: say it as stored
    return f"Request #{request_id} {phrase}."
