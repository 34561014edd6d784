"""Group targets: a request that names a group ("every account on the server") is given its
members when it starts executing, once, in one transaction, before any member is changed.

That transaction is what makes a crash harmless: the members and the facts stored with
each (its state before the change) are durable before the first changing call, so a run
resumed after a crash reads them back instead of listing the group again (by then it
would see its own changes as the state before). Members that need no change are finished
at once with their record; the rest are pending like any other target.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from sqlmodel import Session, col, select

from approvals import audit
from approvals.errors import InvalidTransition
from approvals.models import ChangeRequest, RequestStatus, RequestTarget, TargetOutcome
from approvals.supersession import skip_changed_later, superseded_many
from approvals.workflow_base import SYSTEM_ACTOR, Part, RequestView, TargetRecord

__all__ = ["Expansion", "Member"]


@dataclass(frozen=True, slots=True)
class Member:
    """One member of a group target: pending with ``facts`` stored, or already finished
    (``done``: no change needed, and what was verified)."""

    target: str
    facts: Mapping[str, object] | None = None
    done: TargetRecord | None = None


class Expansion(Part):
    """Replacing a pending group target by its members, and what later requests changed."""

    def expand_target(
        self,
        request_id: int,
        group: str,
        members: Sequence[Member],
        *,
        plan: str | None = None,
    ) -> RequestView:
        """Replace the pending target ``group`` of an executing request by ``members`` (and
        store ``plan`` in place of the request's plan). Does nothing if ``group`` was
        already expanded: the members stored then are the ones that count."""
        with self.db.transaction() as s:
            request = self._lock(s, request_id)
            if request.status != RequestStatus.EXECUTING.value:
                raise InvalidTransition(
                    f"Request #{request_id} is {request.status}, not executing.",
                    status=request.status,
                )
            rows = self._targets(s, request_id)
            placeholder = next((r for r in rows if r.target == group), None)
            if placeholder is None or placeholder.outcome != TargetOutcome.PENDING.value:
                return self._view(s, request)
            taken = {r.target for r in rows if r is not placeholder}
            s.delete(placeholder)
            s.flush()
            position = max((r.position for r in rows), default=0) + 1
            added = 0
            for member in members:
                if member.target in taken:
                    continue
                taken.add(member.target)
                s.add(_row(request_id, position, member))
                position += 1
                added += 1
                if member.done is not None:  # the trail says why it was left as it was
                    audit.record(
                        s,
                        "target_succeeded" if member.done.ok else "target_failed",
                        actor=SYSTEM_ACTOR,
                        tenant=request.tenant,
                        request_id=request_id,
                        target=member.target,
                        after=member.done.state,
                        detail={"message": member.done.message},
                    )
            s.flush()
            skipped = _skip_changed_later(s, request)
            if plan is not None:
                request.plan = plan
            request.revision += 1
            s.add(request)
            audit.record(
                s,
                "targets_expanded",
                actor=SYSTEM_ACTOR,
                tenant=request.tenant,
                request_id=request_id,
                target=group,
                detail={
                    "members": added,
                    "finished_at_once": sum(m.done is not None for m in members),
                    "skipped": skipped,
                },
            )
            s.flush()
            return self._view(s, request)

    def planned(self, tenant: str, verb: str, limit: int = 20) -> list[RequestView]:
        """The tenant's requests of ``verb`` that carry a plan, newest first."""
        with self.db.read() as s:
            rows = s.exec(
                select(ChangeRequest)
                .where(
                    ChangeRequest.tenant == tenant,
                    ChangeRequest.verb == verb,
                    col(ChangeRequest.plan).is_not(None),
                )
                .order_by(col(ChangeRequest.id).desc())
                .limit(limit)
            ).all()
            return [self._view(s, r) for r in rows]

    def changed_since(self, request_id: int, targets: Sequence[str]) -> dict[str, int]:
        """Of ``targets``, those a later request of the same tenant changed successfully:
        target → that request (the later change wins)."""
        with self.db.read() as s:
            request = s.get(ChangeRequest, request_id)
            if request is None:
                return {}
            return superseded_many(s, request, targets)


def _skip_changed_later(s: Session, request: ChangeRequest) -> int:
    """Members a later request has changed since are left to it (the later change wins, as
    for any execution that starts late): failed as skipped, before anything is changed."""
    assert request.id is not None
    pending = [
        r
        for r in s.exec(select(RequestTarget).where(RequestTarget.request_id == request.id))
        if r.outcome == TargetOutcome.PENDING.value
    ]
    return skip_changed_later(s, request, pending)


def _row(request_id: int, position: int, member: Member) -> RequestTarget:
    row = RequestTarget(request_id=request_id, position=position, target=member.target)
    if member.done is not None:
        row.outcome = (TargetOutcome.SUCCEEDED if member.done.ok else TargetOutcome.FAILED).value
        row.message = member.done.message[:2000]
        state = member.done.state
        row.state = json.dumps(dict(state), sort_keys=True) if state else None
    elif member.facts is not None:
        row.state = json.dumps(dict(member.facts), sort_keys=True)
    return row
