"""Whether an executed change is still meant to be in force on a target.

It is, while no later request of the same tenant reached execution on that target (the later
change wins, as in ``approvals.supersession``; a server setting is the same target whatever
its value), and, for a timed change, while its revert has not started (``revert_started``
in the audit trail, which outlives the pruned job rows). A later request that is approved
but not executing yet is ``IN_FLIGHT``: the target is about to change, so it is not judged
now."""

from __future__ import annotations

from collections.abc import Sequence

from sqlmodel import Session, col, func, select

from approvals.drift_model import DriftWatch
from approvals.models import AuditEvent, ChangeRequest, RequestStatus, RequestTarget
from approvals.supersession import LEAVES_STATE, same_target

__all__ = ["IN_FLIGHT", "ended"]

IN_FLIGHT = "in flight"
_REACHED = (
    RequestStatus.EXECUTING.value,
    RequestStatus.SUCCEEDED.value,
    RequestStatus.FAILED.value,
)
_CHUNK = 500  # targets per IN list


def ended(s: Session, rows: Sequence[DriftWatch]) -> dict[int | None, str]:
    """Watch id → why its change is no longer in force (or ``IN_FLIGHT``), for those."""
    found: dict[int | None, str] = {}
    groups: dict[int, list[DriftWatch]] = {}
    for row in rows:
        groups.setdefault(row.request_id, []).append(row)
    for request_id, group in groups.items():
        request = s.get(ChangeRequest, request_id)
        if request is None:
            found.update({r.id: "its request is gone" for r in group})
            continue
        if request.revert_at is not None and _revert_started(s, request_id):
            found.update({r.id: "its timed end ran" for r in group})
            continue
        later = _later(s, request, [r.target for r in group])
        found.update({r.id: later[r.target] for r in group if r.target in later})
    return found


def _revert_started(s: Session, request_id: int) -> bool:
    count = s.exec(
        select(func.count()).where(
            col(AuditEvent.request_id) == request_id, col(AuditEvent.event) == "revert_started"
        )
    ).one()
    return bool(count)


def _later(s: Session, request: ChangeRequest, targets: Sequence[str]) -> dict[str, str]:
    """Target → the later request of the tenant that changed it (or ``IN_FLIGHT``)."""
    base = (
        select(RequestTarget.target, ChangeRequest.id, ChangeRequest.status)
        .join(ChangeRequest, col(ChangeRequest.id) == col(RequestTarget.request_id))
        .where(
            ChangeRequest.tenant == request.tenant,
            col(ChangeRequest.id) > request.id,
            col(ChangeRequest.verb).not_in(LEAVES_STATE),
            col(ChangeRequest.status).in_((RequestStatus.APPROVED.value, *_REACHED)),
        )
    )
    hits: dict[str, list[tuple[int, str]]] = {}
    for target in (t for t in targets if "=" in t):  # settings: any value of the same name
        for _, later_id, status in s.exec(base.where(same_target(target))):
            hits.setdefault(target, []).append((int(later_id), status))
    plain = [t for t in targets if "=" not in t]
    for start in range(0, len(plain), _CHUNK):
        chunk = plain[start : start + _CHUNK]
        for target, later_id, status in s.exec(base.where(col(RequestTarget.target).in_(chunk))):
            hits.setdefault(target, []).append((int(later_id), status))
    found: dict[str, str] = {}
    for target, later in hits.items():
        reached = [i for i, status in later if status in _REACHED]
        found[target] = f"#{max(reached)} changed it later" if reached else IN_FLIGHT
    return found
