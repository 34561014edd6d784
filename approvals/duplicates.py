"""One pending request per change: a new request may not repeat or overlap a pending one.

Twenty-five identical ``disable`` commands used to give twenty-five cards and, once approved,
twenty-five suspend calls. A request whose tenant, verb and set of targets equal a pending
request's is refused (DuplicateRequest, naming the pending one); a request that shares any
target with another pending request, whatever its verb, is refused too (TargetsPending, naming
each such target), so approvers never see two open decisions about one target. Checked in the
transaction that stores the request, under the tenant's lock (``approvals.admission``).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime

from sqlmodel import Session, col, select

from approvals.errors import DuplicateRequest, PendingTarget, TargetsPending
from approvals.models import ChangeRequest, RequestStatus, RequestTarget

__all__ = ["check_duplicates"]

_CHUNK = 500  # targets per IN (...) list: well under every driver's parameter limit


def check_duplicates(
    s: Session,
    *,
    tenant: str,
    verb: str,
    targets: Sequence[str],
    now: datetime,
    target_verbs: Sequence[str | None] | None = None,
) -> None:
    """Raise DuplicateRequest or TargetsPending if pending requests of ``tenant`` (not yet
    expired at ``now``) already hold ``targets``. A duplicate also has the same verb for
    every target (``target_verbs``: each target's own, None for the request's)."""
    wanted = list(dict.fromkeys(targets))
    own = dict(zip(targets, target_verbs or [None] * len(targets), strict=True))
    mine = {t: own.get(t) or verb for t in wanted}
    hits: dict[int, dict[str, str]] = defaultdict(dict)
    requests: dict[int, ChangeRequest] = {}
    for start in range(0, len(wanted), _CHUNK):
        rows = s.exec(
            select(RequestTarget.target, RequestTarget.verb, ChangeRequest)
            .join(ChangeRequest, col(ChangeRequest.id) == col(RequestTarget.request_id))
            .where(
                ChangeRequest.tenant == tenant,
                ChangeRequest.status == RequestStatus.PENDING.value,
                col(ChangeRequest.expires_at) > now,
                col(RequestTarget.target).in_(wanted[start : start + _CHUNK]),
            )
        ).all()
        for target, target_verb, request in rows:
            assert request.id is not None
            hits[request.id][target] = target_verb or request.verb
            requests[request.id] = request
    if not hits:
        return
    for request_id in sorted(hits):
        request = requests[request_id]
        if request.verb == verb and hits[request_id] == mine:
            if _target_count(s, request_id) == len(wanted):
                raise DuplicateRequest(
                    request_id, card_channel=request.card_channel, card_ref=request.card_ref
                )
    conflicts = tuple(
        PendingTarget(target, request_id, requests[request_id].verb)
        for target in wanted
        for request_id in sorted(hits)
        if target in hits[request_id]
    )
    raise TargetsPending(conflicts)


def _target_count(s: Session, request_id: int) -> int:
    rows = s.exec(select(RequestTarget.target).where(RequestTarget.request_id == request_id))
    return len(set(rows.all()))
