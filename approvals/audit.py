"""The append-only audit trail: writing events and reading them back.

There is deliberately no function that updates or deletes an event.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from approvals.models import AuditEvent, RequestTarget

__all__ = ["export", "history", "record"]


def record(
    session: Session,
    event: str,
    *,
    actor: str,
    tenant: str | None = None,
    request_id: int | None = None,
    target: str | None = None,
    before: Any = None,
    after: Any = None,
    detail: Any = None,
) -> AuditEvent:
    """Append one event in the caller's transaction."""
    row = AuditEvent(
        event=event,
        actor=actor,
        tenant=tenant,
        request_id=request_id,
        target=target,
        before=_dump(before),
        after=_dump(after),
        detail=_dump(detail),
    )
    session.add(row)
    return row


def _dump(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value
    return json.dumps(value, sort_keys=True, default=str)


def history(
    session: Session,
    *,
    tenant: str | None = None,
    target: str | None = None,
    request_id: int | None = None,
    since: datetime | None = None,
    limit: int | None = 50,
    newest_first: bool = True,
    exclude: Iterable[str] = (),
    target_prefixes: Iterable[str] = (),
) -> list[AuditEvent]:
    """Events matching every filter given (``exclude``: event names left out;
    ``target_prefixes``: with ``target``, also requests whose targets begin with one of
    these, e.g. the same name with a value)."""
    query = select(AuditEvent)
    excluded = list(exclude)
    if excluded:
        query = query.where(col(AuditEvent.event).not_in(excluded))
    if tenant is not None:
        query = query.where(AuditEvent.tenant == tenant)
    if target is not None:
        same = [col(RequestTarget.target) == target] + [
            col(RequestTarget.target).startswith(p, autoescape=True) for p in target_prefixes
        ]
        requests_with_target = select(RequestTarget.request_id).where(sa.or_(*same))
        query = query.where(
            sa.or_(
                col(AuditEvent.target) == target,
                col(AuditEvent.request_id).in_(requests_with_target),
            )
        )
    if request_id is not None:
        query = query.where(AuditEvent.request_id == request_id)
    if since is not None:
        query = query.where(col(AuditEvent.at) >= since)
    order = col(AuditEvent.id).desc() if newest_first else col(AuditEvent.id).asc()
    query = query.order_by(order)
    if limit is not None:
        query = query.limit(limit)
    return list(session.exec(query))


_FIELDS = ("id", "at", "event", "actor", "tenant", "request_id", "target", "before", "after")


def export(events: Iterable[AuditEvent], *, fmt: str = "jsonl") -> Iterator[str]:
    """Render events as JSON lines or CSV, oldest first as given."""
    if fmt == "jsonl":
        for event in events:
            row = {name: getattr(event, name) for name in (*_FIELDS, "detail")}
            row["at"] = event.at.isoformat()
            yield json.dumps(row, sort_keys=True) + "\n"
        return
    if fmt != "csv":
        raise ValueError(f"unknown export format {fmt!r}: use jsonl or csv")
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow((*_FIELDS, "detail"))
    yield _take(buffer)
    for event in events:
        values = [getattr(event, name) for name in (*_FIELDS, "detail")]
        values[1] = event.at.isoformat()
        writer.writerow(values)
        yield _take(buffer)


def _take(buffer: io.StringIO) -> str:
    text = buffer.getvalue()
    buffer.seek(0)
    buffer.truncate()
    return text
