"""Delivering a request's UI card: interrupted posts, and a bounded, backed-off retry.

Two faults are handled here, both from the database so that any process can pick them up:

* A post is recorded as pending (``card_post_started_at``, and the channel) before the UI
  layer calls out, and cleared when the card's reference is stored. A crash in between leaves
  the marker: ``interrupted_posts`` lists those, and ``claim_post`` lets exactly one
  recoverer find the card or post a fresh one.
* A failed delivery (card update or result post) is not retried on every housekeeping tick.
  Each failure schedules the next try further out; a permanent failure (the UI layer
  classifies its errors) gives up after ``MAX_ATTEMPTS`` and records it in the audit trail.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlmodel import col, select

from approvals import audit
from approvals.db import Database
from approvals.models import ChangeRequest, utcnow
from approvals.workflow_base import SYSTEM_ACTOR

__all__ = [
    "MAX_ATTEMPTS",
    "POST_GRACE",
    "CardDelivery",
    "DeliveryFailure",
    "PendingPost",
    "Undeliverable",
    "due_for_delivery",
]

MAX_ATTEMPTS = 6  # permanent failures: tries at 0, 2, 6, 14, 30 and 62 minutes, then stop
PERMANENT_FIRST_DELAY = timedelta(minutes=2)
TRANSIENT_FIRST_DELAY = timedelta(seconds=1)  # 1, 2, 4 … s: a blip costs little
TRANSIENT_MAX_DELAY = timedelta(minutes=15)  # a Slack outage ends: transient never gives up
# a post started longer ago than this and still without a reference was interrupted (the
# Slack client gives up on one call well within it, retries included)
POST_GRACE = timedelta(minutes=2)
DELIVERY_FAILED_EVENT = "card_delivery_failed"


def due_for_delivery(now: datetime) -> sa.ColumnElement[bool]:
    """The request's card may be delivered now: not given up, and not backing off."""
    cr = ChangeRequest
    return sa.and_(
        col(cr.delivery_failed_at).is_(None),
        sa.or_(col(cr.delivery_retry_at).is_(None), col(cr.delivery_retry_at) <= now),
    )


@dataclass(frozen=True, slots=True)
class PendingPost:
    """A card post that started and never stored where the card is."""

    request_id: int
    channel: str
    started_at: datetime


@dataclass(frozen=True, slots=True)
class DeliveryFailure:
    """What one failed delivery did: when to try again, or that delivery was given up."""

    attempts: int
    retry_at: datetime | None
    gave_up: bool


@dataclass(frozen=True, slots=True)
class Undeliverable:
    """A request whose card delivery was given up."""

    request_id: int
    tenant: str
    channel: str | None
    error: str
    failed_at: datetime


class CardDelivery:
    """The delivery state of request cards, read and written in the database."""

    def __init__(self, db: Database, clock: Callable[[], datetime] = utcnow) -> None:
        self.db = db
        self._clock = clock

    def now(self) -> datetime:
        return self._clock()

    # --- posting ---------------------------------------------------------------------------

    def begin_post(self, request_id: int, channel: str) -> None:
        """Record that the card is about to be posted in ``channel`` (before calling out)."""
        self.db.write(
            sa.update(ChangeRequest)
            .where(col(ChangeRequest.id) == request_id, col(ChangeRequest.card_ref).is_(None))
            .values(card_channel=channel, card_post_started_at=self._clock())
        )

    def post_refused(self, request_id: int) -> None:
        """The UI refused the post outright (nothing was posted): nothing to recover."""
        self.db.write(
            sa.update(ChangeRequest)
            .where(col(ChangeRequest.id) == request_id, col(ChangeRequest.card_ref).is_(None))
            .values(card_post_started_at=None)
        )

    def posted(self, request_id: int, *, channel: str, ref: str, revision: int) -> None:
        """Store where the card is and clear the pending marker and any failed delivery."""
        self.db.write(
            sa.update(ChangeRequest)
            .where(col(ChangeRequest.id) == request_id)
            .values(
                card_channel=channel,
                card_ref=ref,
                card_revision=revision,
                card_post_started_at=None,
                # a card that landed is deliverable again (an operator re-posted it)
                delivery_attempts=0,
                delivery_retry_at=None,
                delivery_error=None,
                delivery_failed_at=None,
            )
        )

    def interrupted_posts(self, limit: int = 20) -> list[PendingPost]:
        """Posts started more than ``POST_GRACE`` ago whose card reference was never stored."""
        now = self._clock()
        cr = ChangeRequest
        with self.db.read() as s:
            rows = s.exec(
                select(cr.id, cr.card_channel, cr.card_post_started_at)
                .where(
                    col(cr.card_post_started_at).is_not(None),
                    col(cr.card_ref).is_(None),
                    col(cr.card_post_started_at) <= now - POST_GRACE,
                    due_for_delivery(now),
                )
                .order_by(col(cr.id))
                .limit(limit)
            ).all()
        return [PendingPost(int(i), str(c or ""), t) for i, c, t in rows if t is not None]

    def claim_post(self, pending: PendingPost) -> bool:
        """True for exactly one recoverer of ``pending``; its post is pending again from now
        (a recoverer that crashes too is recovered in turn)."""
        with self.db.transaction() as s:
            result = s.execute(
                sa.update(ChangeRequest)
                .where(
                    col(ChangeRequest.id) == pending.request_id,
                    col(ChangeRequest.card_ref).is_(None),
                    col(ChangeRequest.card_post_started_at) == pending.started_at,
                )
                .values(card_post_started_at=self._clock())
            )
            return result.rowcount == 1

    # --- failures --------------------------------------------------------------------------

    def failed(
        self,
        request_id: int,
        error: str,
        *,
        permanent: bool,
        retry_after_s: float = 0.0,
        final: bool = False,
    ) -> DeliveryFailure:
        """Record one failed delivery; back off, and after ``MAX_ATTEMPTS`` permanent
        failures (or at once if ``final``: nothing will retry it) give up, recorded in the
        audit trail as "card delivery failed: <error>"."""
        now = self._clock()
        error = error[:200]
        with self.db.transaction() as s:
            req = s.get(ChangeRequest, request_id, with_for_update=True)
            if req is None or req.delivery_failed_at is not None:
                return DeliveryFailure(req.delivery_attempts if req else 0, None, req is not None)
            attempts = req.delivery_attempts + 1
            gave_up = final or (permanent and attempts >= MAX_ATTEMPTS)
            retry_at = None if gave_up else now + _delay(attempts, permanent, retry_after_s)
            s.execute(
                sa.update(ChangeRequest)
                .where(col(ChangeRequest.id) == request_id)
                .values(
                    delivery_attempts=attempts,
                    delivery_error=error,
                    delivery_retry_at=retry_at,
                    delivery_failed_at=now if gave_up else None,
                )
            )
            if gave_up:
                audit.record(
                    s,
                    DELIVERY_FAILED_EVENT,
                    actor=SYSTEM_ACTOR,
                    tenant=req.tenant,
                    request_id=request_id,
                    detail=f"card delivery failed: {error} (after {attempts} attempts)",
                )
            return DeliveryFailure(attempts, retry_at, gave_up)

    def succeeded(self, request_id: int) -> None:
        """A delivery landed: the next failure starts the back-off afresh."""
        self.db.write(
            sa.update(ChangeRequest)
            .where(col(ChangeRequest.id) == request_id, col(ChangeRequest.delivery_attempts) > 0)
            .values(delivery_attempts=0, delivery_retry_at=None, delivery_error=None)
        )

    def undeliverable(self, limit: int = 50) -> list[Undeliverable]:
        """Requests whose card delivery was given up, newest first."""
        cr = ChangeRequest
        with self.db.read() as s:
            rows = s.exec(
                select(cr)
                .where(col(cr.delivery_failed_at).is_not(None))
                .order_by(col(cr.id).desc())
                .limit(limit)
            ).all()
            return [
                Undeliverable(
                    int(r.id or 0), r.tenant, r.card_channel, r.delivery_error or "", failed
                )
                for r in rows
                if (failed := r.delivery_failed_at) is not None
            ]

    def count_undeliverable(self) -> int:
        with self.db.read() as s:
            n = s.exec(
                select(sa.func.count())
                .select_from(ChangeRequest)
                .where(col(ChangeRequest.delivery_failed_at).is_not(None))
            ).one()
            return int(n)


def _delay(attempts: int, permanent: bool, retry_after_s: float) -> timedelta:
    if permanent:
        return PERMANENT_FIRST_DELAY * 2 ** (attempts - 1)
    backoff = min(TRANSIENT_FIRST_DELAY * 2 ** min(attempts - 1, 20), TRANSIENT_MAX_DELAY)
    return max(backoff, timedelta(seconds=max(retry_after_s, 0.0)))
