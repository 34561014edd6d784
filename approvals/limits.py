"""Per-user limits that hold under concurrency, on one process or many replicas.

A limit is counted and its new row written in one transaction that first serialises every
other transaction counting the same thing: on PostgreSQL a transaction-scoped advisory lock
(``pg_advisory_xact_lock``) on a stable hash of what is counted, on SQLite the write lock
``BEGIN IMMEDIATE`` already takes (and ``Database``'s per-process lock). Counting before the
lock, or outside the transaction that writes, lets N concurrent callers all see N-1.

Counts come from the audit trail (``actor, event, at`` is indexed), so every replica sees
the same numbers and no table is needed for them.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlmodel import Session, col, func, select

from approvals import audit
from approvals.db import Database
from approvals.errors import ReadLimitReached, RequestLimitReached
from approvals.models import AuditEvent, utcnow

__all__ = [
    "READ_EVENT",
    "REQUESTED_EVENT",
    "ReadLimit",
    "RequestLimit",
    "admit_read",
    "check_request_limit",
    "count_recent",
    "lock_key",
    "serialise",
]

REQUESTED_EVENT = "requested"  # written by ``Workflow.submit`` for every stored request
READ_EVENT = "status_read"  # one per admitted live-state read


@dataclass(frozen=True, slots=True)
class RequestLimit:
    """At most ``per_user`` change requests per ``window`` (``window_text`` as configured)."""

    per_user: int
    window: timedelta
    window_text: str


@dataclass(frozen=True, slots=True)
class ReadLimit:
    """At most ``per_user`` live-state reads per ``window``."""

    per_user: int
    window: timedelta
    window_text: str


def lock_key(*parts: str) -> int:
    """A stable signed 64-bit key for ``parts`` (the same on every replica and every run,
    unlike ``hash()``), as ``pg_advisory_xact_lock`` takes it."""
    digest = hashlib.blake2b("\x1f".join(("smtp-bot", *parts)).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def serialise(s: Session, *keys: int) -> None:
    """Wait for, then hold until this transaction ends, the advisory locks ``keys``, in the
    order given (callers keep one order, so two of them never wait on each other). On
    SQLite the transaction already holds the database's only write lock."""
    if s.get_bind().dialect.name != "postgresql":
        return
    for key in keys:
        s.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})


def count_recent(s: Session, *, actor: str, event: str, since: datetime) -> int:
    """How many ``event`` rows ``actor`` caused since ``since``, as this transaction sees."""
    query = (
        select(func.count())
        .select_from(AuditEvent)
        .where(AuditEvent.actor == actor, AuditEvent.event == event, col(AuditEvent.at) >= since)
    )
    return int(s.exec(query).one())


def check_request_limit(s: Session, limit: RequestLimit, *, requester: str) -> None:
    """Raise RequestLimitReached if ``requester`` has no request left in the window. Call it
    holding the requester's lock, in the transaction that then stores the request."""
    count = count_recent(s, actor=requester, event=REQUESTED_EVENT, since=utcnow() - limit.window)
    if count >= limit.per_user:
        raise RequestLimitReached(count=count, limit=limit.per_user, window=limit.window_text)


def admit_read(db: Database, limit: ReadLimit, *, reader: str, tenant: str, targets: int) -> None:
    """Count this live-state read against ``reader``'s limit and record it, or raise
    ReadLimitReached (and record the refusal). Committed before the read is made."""
    with db.transaction() as s:
        serialise(s, lock_key("reads", reader))
        count = count_recent(s, actor=reader, event=READ_EVENT, since=utcnow() - limit.window)
        if count < limit.per_user:
            audit.record(s, READ_EVENT, actor=reader, tenant=tenant, detail={"targets": targets})
            return
        refusal = ReadLimitReached(count=count, limit=limit.per_user, window=limit.window_text)
        audit.record(
            s, "refused_access", actor=reader, tenant=tenant, detail={"problem": str(refusal)}
        )
    raise refusal
