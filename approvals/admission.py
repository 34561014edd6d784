"""Whether a new request may be stored: checked inside the transaction that stores it.

``Workflow.submit`` calls ``admit`` as the first step of its transaction. It takes the
tenant's lock (duplicates are per tenant) and then the requester's (the limit is per user,
across tenants), always in that order, then checks the duplicate rules and the per-user
limit. Whoever holds both locks sees every request committed before it and commits its own
before the next caller counts, so N concurrent submissions store exactly the limit.
A refusal rolls the transaction back; ``refusals_recorded`` then writes it to the audit trail.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime

from sqlmodel import Session

from approvals import audit
from approvals.db import Database
from approvals.duplicates import check_duplicates
from approvals.errors import AdmissionRefused
from approvals.limits import RequestLimit, check_request_limit, lock_key, serialise

__all__ = ["admit", "refusals_recorded"]


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


@contextmanager
def refusals_recorded(db: Database, *, actor: str, tenant: str, verb: str) -> Iterator[None]:
    """Record an AdmissionRefused raised inside (after its transaction rolled back)."""
    try:
        yield
    except AdmissionRefused as exc:
        with db.transaction() as s:
            audit.record(
                s,
                exc.audit_event,
                actor=actor,
                tenant=tenant,
                detail={"verb": verb, "problem": str(exc), "code": exc.code},
            )
        raise
