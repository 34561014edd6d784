"""Whether a new request may be stored: checked inside the transaction that stores it.

``Workflow.submit`` calls ``admit`` as the first step of its transaction. It takes the
tenant's lock (duplicates are per tenant) and then the requester's (the limit is per user,
across tenants), always in that order, then checks the duplicate rules and the per-user
limit. Whoever holds both locks sees every request committed before it and commits its own
before the next caller counts, so N concurrent submissions store exactly the limit.
A refusal stores nothing but itself: ``record_refusal`` writes it to the audit trail in the
same transaction (one write instead of a rolled-back one and another).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlmodel import Session

from approvals import audit
from approvals.duplicates import check_duplicates
from approvals.errors import AdmissionRefused
from approvals.limits import RequestLimit, check_request_limit, lock_key, serialise

__all__ = ["admit", "record_refusal"]


def admit(
    s: Session,
    *,
    tenant: str,
    verb: str,
    targets: Sequence[str],
    requester: str,
    now: datetime,
    limit: RequestLimit | None,
    target_verbs: Sequence[str | None] | None = None,
) -> None:
    """Raise an AdmissionRefused if the request may not be stored; hold the locks otherwise."""
    serialise(s, lock_key("tenant", tenant), lock_key("requester", requester))
    check_duplicates(
        s, tenant=tenant, verb=verb, targets=targets, now=now, target_verbs=target_verbs
    )
    if limit is not None:
        check_request_limit(s, limit, requester=requester)


def record_refusal(
    s: Session, refusal: AdmissionRefused, *, actor: str, tenant: str, verb: str
) -> None:
    """Write ``refusal`` to the audit trail in the transaction that refused the request
    (``admit`` only reads and locks, so that transaction holds nothing else to undo)."""
    audit.record(
        s,
        refusal.audit_event,
        actor=actor,
        tenant=tenant,
        detail={"verb": verb, "problem": str(refusal), "code": refusal.code},
    )
