"""Rows of the drift table: made from an executed request's targets, scheduled, and read
back as ``Watch`` values (``approvals.drift``)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlmodel import Session, col, select

from approvals.drift_model import DriftWatch
from approvals.leases import aware
from approvals.models import ChangeRequest, RequestTarget, TargetOutcome

__all__ = ["Expect", "Watch", "dump", "loads", "new_row", "next_check", "targets_of", "watch_of"]

# (tenant, verb, target, the facts read back when it was verified) → the facts a read-back
# must show while the change is in force; None: this change is not watched.
Expect = Callable[[str, str, str, Mapping[str, object] | None], Mapping[str, object] | None]


@dataclass(frozen=True, slots=True)
class Watch:
    """One target of an executed change, as stored."""

    id: int
    request_id: int
    tenant: str
    verb: str
    target: str
    expected: Mapping[str, Any]
    seen_right_at: datetime | None
    drifted_at: datetime | None
    observed: Mapping[str, Any] | None


def targets_of(s: Session, request: ChangeRequest) -> list[RequestTarget]:
    return list(
        s.exec(
            select(RequestTarget)
            .where(RequestTarget.request_id == request.id)
            .order_by(col(RequestTarget.position))
        )
    )


def new_row(
    request: ChangeRequest,
    target: RequestTarget,
    interval: timedelta,
    expect: Expect,
    now: datetime,
) -> dict[str, Any]:
    ok = target.outcome == TargetOutcome.SUCCEEDED.value
    verb = target.verb or request.verb  # a request of steps: each target's own verb
    expected = expect(request.tenant, verb, target.target, loads(target.state)) if ok else None
    row: dict[str, Any] = {
        "request_id": request.id,
        "tenant": request.tenant,
        "verb": verb,
        "target": target.target,
        "expected": dump(expected) if expected is not None else None,
        "next_check_at": now + _offset(request.id or 0, target.target, interval),
        "seen_right_at": request.finished_at,  # verified by its own read-back then
        # every row has every key: one multi-row INSERT takes its columns from the first
        "ended_at": None if expected is not None else now,
        "ended_reason": None,
    }
    if expected is None:
        row["ended_reason"] = "not applied" if not ok else "not checked for drift"
    return row


def _offset(request_id: int, target: str, interval: timedelta) -> timedelta:
    """A stable place in the interval for this target, so checks are spread over it."""
    digest = hashlib.sha256(f"{request_id}:{target}".encode()).digest()
    return interval * (int.from_bytes(digest[:4], "big") / 2**32)


def next_check(row: DriftWatch, interval: timedelta, now: datetime) -> datetime:
    """One interval on, keeping the watch's place; after a long stop, spread out again."""
    following = aware(row.next_check_at) + interval
    if following > now:
        return following
    return now + _offset(row.request_id, row.target, interval)


def watch_of(row: DriftWatch) -> Watch:
    assert row.id is not None
    return Watch(
        id=row.id,
        request_id=row.request_id,
        tenant=row.tenant,
        verb=row.verb,
        target=row.target,
        expected=loads(row.expected) or {},
        seen_right_at=aware(row.seen_right_at) if row.seen_right_at else None,
        drifted_at=aware(row.drifted_at) if row.drifted_at else None,
        observed=loads(row.observed),
    )


def dump(value: Mapping[str, object]) -> str:
    return json.dumps(dict(value), sort_keys=True, default=str)


def loads(text: str | None) -> dict[str, Any] | None:
    if not text:
        return None
    try:
        value = json.loads(text)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None
