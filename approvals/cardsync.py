"""Keeping the UI card of each request in step, retried from the database."""

from __future__ import annotations

import sqlalchemy as sa
from sqlmodel import col, select

from approvals.delivery import due_for_delivery
from approvals.errors import RequestNotFound
from approvals.models import ChangeRequest, Job, JobState
from approvals.workflow_base import EXECUTED, Part, RequestView

__all__ = ["CardSync"]


class CardSync(Part):
    """Keeping the UI card of each request in step, retried from the database.

    While a worker holds a live lease on a request's job, that worker keeps the card and
    posts the result; retries leave such requests alone so that the card never shows a
    later step before an earlier one, nor the result before the card says it is done."""

    def _unleased(self) -> sa.ColumnElement[bool]:
        """The request has no job whose worker is alive and working on it."""
        live = (
            select(Job.id)
            .where(
                col(Job.request_id) == col(ChangeRequest.id),
                col(Job.state) == JobState.RUNNING.value,
                col(Job.lease_expires_at) >= self.now(),
            )
            .exists()
        )
        return sa.not_(live)

    def attach_card(self, request_id: int, *, channel: str, ref: str, revision: int) -> None:
        """Remember where the request's card is and which revision it shows."""
        with self.db.transaction() as s:
            result = s.execute(
                sa.update(ChangeRequest)
                .where(col(ChangeRequest.id) == request_id)
                .values(card_channel=channel, card_ref=ref, card_revision=revision)
            )
            if result.rowcount != 1:
                raise RequestNotFound(f"There is no request #{request_id}.")

    def cards_to_sync(self, limit: int = 50) -> list[RequestView]:
        """Requests whose card shows an older revision than the request has."""
        with self.db.read() as s:
            rows = s.exec(
                select(ChangeRequest)
                .where(
                    col(ChangeRequest.card_ref).is_not(None),
                    col(ChangeRequest.card_revision) < col(ChangeRequest.revision),
                    self._unleased(),
                    due_for_delivery(self.now()),  # not given up, not backing off
                )
                .order_by(col(ChangeRequest.id))
                .limit(limit)
            ).all()
            return [self._view(s, r) for r in rows]

    def mark_card_synced(self, request_id: int, revision: int) -> int:
        """The card now shows ``revision`` (never moves backwards). Returns the request's
        revision now: if it is later, the card was drawn from a stale view and must be
        drawn again (another worker may have drawn the newer one before ours landed)."""
        with self.db.transaction() as s:
            s.execute(
                sa.update(ChangeRequest)
                .where(
                    col(ChangeRequest.id) == request_id,
                    col(ChangeRequest.card_revision) < revision,
                )
                .values(card_revision=revision)
            )
            current = s.exec(
                select(ChangeRequest.revision).where(col(ChangeRequest.id) == request_id)
            ).first()
            return revision if current is None else current

    def mark_card_stale(self, request_id: int) -> None:
        """The card may show an old revision: let the next sync redraw it."""
        with self.db.transaction() as s:
            s.execute(
                sa.update(ChangeRequest)
                .where(col(ChangeRequest.id) == request_id)
                .values(card_revision=0)
            )

    def results_to_post(self, limit: int = 50) -> list[RequestView]:
        """Finished requests whose result has not been posted in the card's thread yet."""
        with self.db.read() as s:
            rows = s.exec(
                select(ChangeRequest)
                .where(
                    col(ChangeRequest.card_ref).is_not(None),
                    col(ChangeRequest.status).in_(EXECUTED),
                    sa.not_(col(ChangeRequest.result_posted)),  # as ix_..._result_unposted says
                    self._unleased(),
                    due_for_delivery(self.now()),
                )
                .order_by(col(ChangeRequest.id))
                .limit(limit)
            ).all()
            return [self._view(s, r) for r in rows]

    def claim_result_post(self, request_id: int) -> bool:
        """True for exactly one caller: the one that should post the result."""
        with self.db.transaction() as s:
            result = s.execute(
                sa.update(ChangeRequest)
                .where(
                    col(ChangeRequest.id) == request_id,
                    col(ChangeRequest.result_posted).is_(False),
                    col(ChangeRequest.status).in_(EXECUTED),
                )
                .values(result_posted=True)
            )
            return result.rowcount == 1

    def release_result_post(self, request_id: int) -> None:
        """Posting failed: let a later sync try again."""
        with self.db.transaction() as s:
            s.execute(
                sa.update(ChangeRequest)
                .where(col(ChangeRequest.id) == request_id)
                .values(result_posted=False)
            )
