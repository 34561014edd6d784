"""The later change wins: a request never undoes what a later request for the same tenant
and target has changed since, whether it is a timed revert or an execution that resumed (or
started late) after the later one ran.

A target written ``name=value`` (a server setting and its new value) is the same target as
any other ``name=…``: a later request that set that name to anything supersedes it."""

from __future__ import annotations

import json
from collections.abc import Sequence

from sqlalchemy import ColumnElement, or_
from sqlmodel import Session, col, func, select

from approvals import audit
from approvals.jobs import JobQueue
from approvals.models import ChangeRequest, Job, JobState, RequestTarget, TargetOutcome
from approvals.workflow_base import REVERT, SYSTEM_ACTOR

__all__ = [
    "LEAVES_STATE",
    "cancel_moot_reverts",
    "same_target",
    "skip_changed_later",
    "superseded_by",
    "superseded_many",
]

# Verbs that act on a target without setting its restriction (deleting its queued mail):
# never "a later change" that ends or overrides a timed restriction.
LEAVES_STATE = ("purge",)
_CHUNK = 500  # targets per IN list (well below every driver's parameter limit)


def _sets_state() -> ColumnElement[bool]:
    """The target's own verb (else its request's) is one that sets a state."""
    verb = func.coalesce(col(RequestTarget.verb), col(ChangeRequest.verb))
    return verb.not_in(LEAVES_STATE)


def same_target(target: str) -> ColumnElement[bool]:
    """Rows naming ``target``: equal, or the same ``name=`` with another value."""
    column = col(RequestTarget.target)
    if "=" not in target:
        return column == target
    name = target.split("=", 1)[0] + "="
    return or_(column == target, column.startswith(name, autoescape=True))


def superseded_by(s: Session, request: ChangeRequest, target: str) -> int | None:
    """The latest later request of the same tenant that changed ``target`` successfully."""
    return s.exec(
        select(ChangeRequest.id)
        .join(RequestTarget, col(ChangeRequest.id) == col(RequestTarget.request_id))
        .where(
            ChangeRequest.tenant == request.tenant,
            col(ChangeRequest.id) > request.id,
            _sets_state(),
            same_target(target),
            RequestTarget.outcome == TargetOutcome.SUCCEEDED.value,
        )
        .order_by(col(ChangeRequest.id).desc())
        .limit(1)
    ).first()


def superseded_many(s: Session, request: ChangeRequest, targets: Sequence[str]) -> dict[str, int]:
    """``superseded_by`` for many targets at once: target → the latest later request that
    changed it, for those a later request changed (a few queries, not one per target)."""
    found: dict[str, int] = {}
    for target in (t for t in targets if "=" in t):  # settings: few, matched by name
        later = superseded_by(s, request, target)
        if later is not None:
            found[target] = later
    targets = [t for t in targets if "=" not in t]
    for start in range(0, len(targets), _CHUNK):
        chunk = list(targets[start : start + _CHUNK])
        rows = s.exec(
            select(RequestTarget.target, func.max(ChangeRequest.id))
            .join(ChangeRequest, col(ChangeRequest.id) == col(RequestTarget.request_id))
            .where(
                ChangeRequest.tenant == request.tenant,
                col(ChangeRequest.id) > request.id,
                _sets_state(),
                col(RequestTarget.target).in_(chunk),
                RequestTarget.outcome == TargetOutcome.SUCCEEDED.value,
            )
            .group_by(RequestTarget.target)
        )
        found.update({target: int(later) for target, later in rows})
    return found


def _changed(s: Session, request_id: int | None) -> list[str]:
    rows = s.exec(
        select(RequestTarget.target).where(
            RequestTarget.request_id == request_id,
            RequestTarget.outcome == TargetOutcome.SUCCEEDED.value,
        )
    )
    return list(rows)


def _named(changed: Sequence[str]) -> list[ColumnElement[bool]]:
    """For ``name=value`` targets, rows of the same name with any value."""
    names = {t.split("=", 1)[0] + "=" for t in changed if "=" in t}
    return [col(RequestTarget.target).startswith(n, autoescape=True) for n in sorted(names)]


def cancel_moot_reverts(
    s: Session, jobs: JobQueue, request: ChangeRequest, changed: Sequence[str]
) -> None:
    """Cancel queued reverts of earlier requests whose every target this one superseded."""
    if not changed or request.verb in LEAVES_STATE:
        return
    # Start from the few queued reverts (a partial index holds only those), not from the
    # requests: this runs after every execution, however large the tables grow.
    queued = list(
        s.exec(
            select(Job.request_id).where(
                Job.kind == REVERT,
                Job.state == JobState.QUEUED.value,
                col(Job.request_id) < request.id,
            )
        )
    )
    if not queued:
        return
    earlier = s.exec(
        select(ChangeRequest)
        .join(RequestTarget, col(RequestTarget.request_id) == col(ChangeRequest.id))
        .where(
            col(ChangeRequest.id).in_(queued),
            ChangeRequest.tenant == request.tenant,
            or_(col(RequestTarget.target).in_(list(changed)), *_named(changed)),
        )
        .distinct()
    ).all()
    for old in earlier:
        pending = [t for t in _changed(s, old.id) if superseded_by(s, old, t) is None]
        if not pending and jobs.cancel(s, kind=REVERT, request_id=old.id):
            audit.record(
                s,
                "revert_cancelled",
                actor=SYSTEM_ACTOR,
                tenant=old.tenant,
                request_id=old.id,
                detail={"superseded_by": request.id},
            )


def skip_changed_later(s: Session, request: ChangeRequest, pending: Sequence[RequestTarget]) -> int:
    """Leave every ``pending`` target a later request has changed since to that request (the
    later change wins, as with timed reverts): failed as skipped, each with its audit event,
    before anything is changed. Returns how many were skipped."""
    assert request.id is not None
    latest = superseded_many(s, request, [r.target for r in pending])
    skipped = 0
    for row in pending:
        later = latest.get(row.target)
        if later is None:
            continue
        row.outcome = TargetOutcome.FAILED.value
        row.message = f"skipped: #{later} changed it later"
        row.state = json.dumps({"error_kind": "skipped", "later_request": later})
        s.add(row)
        audit.record(
            s,
            "target_skipped",
            actor=SYSTEM_ACTOR,
            tenant=request.tenant,
            request_id=request.id,
            target=row.target,
            detail={"message": row.message, "later_request": later},
        )
        skipped += 1
    return skipped
