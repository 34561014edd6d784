"""Proposals: a change a read worked out, offered to the person who asked, until they
request it (one change request, at most once) or it expires.

A read-only answer can offer a change it computed (``/smtp usage`` offers "disable org-wide,
keeping these N"). The offer is stored, not carried in the button: a button's value holds
2,000 characters, a list of mailboxes may not fit, and what the person saw is exactly what
gets requested. Opaque here: tenants, verbs and targets are strings.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlmodel import Field, Session, SQLModel, col, delete, select

from approvals.errors import ProposalUnavailable
from approvals.models import ChangeRequest, UTCDateTime, utcnow
from approvals.workflow_base import Part

__all__ = ["Offer", "Proposal", "Proposals"]


class Proposal(SQLModel, table=True):
    """A change a read worked out and offered to its reader, stored until they request it.

    ``targets`` is JSON: ``[[target, verb or null], …]`` in execution order (null: ``verb``).
    Requesting it stores one change request (``request_id``); it expires unrequested. (Its
    own module, not approvals.models: the migrations' env imports this one too.)"""

    __tablename__ = "proposal"

    id: int | None = Field(default=None, primary_key=True)
    tenant: str = Field(max_length=64)
    verb: str = Field(max_length=32)
    targets: str = Field(sa_type=sa.Text())
    reason: str = Field(default="", max_length=2000)
    tenant_wide: bool = False
    offered_to: str = Field(max_length=128)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime())
    expires_at: datetime = Field(sa_type=UTCDateTime(), index=True)
    request_id: int | None = Field(default=None, foreign_key="change_request.id")


@dataclass(frozen=True, slots=True)
class Offer:
    """A stored proposal as plain data."""

    id: int
    tenant: str
    verb: str
    targets: tuple[tuple[str, str | None], ...]  # (target, its own verb or None), in order
    reason: str
    tenant_wide: bool
    offered_to: str
    expires_at: datetime
    request_id: int | None

    @property
    def target_keys(self) -> list[str]:
        return [t for t, _ in self.targets]

    @property
    def target_verbs(self) -> list[str | None]:
        return [v for _, v in self.targets]


def _offer(row: Proposal) -> Offer:
    assert row.id is not None
    pairs = tuple((str(t), None if v is None else str(v)) for t, v in json.loads(row.targets))
    return Offer(
        id=row.id,
        tenant=row.tenant,
        verb=row.verb,
        targets=pairs,
        reason=row.reason,
        tenant_wide=row.tenant_wide,
        offered_to=row.offered_to,
        expires_at=row.expires_at,
        request_id=row.request_id,
    )


class Proposals(Part):
    """Offer a change, check it may be requested, and tie it to the request it became."""

    def offer(
        self,
        *,
        tenant: str,
        verb: str,
        targets: Sequence[tuple[str, str | None]],
        reason: str,
        offered_to: str,
        tenant_wide: bool,
        ttl: timedelta,
    ) -> Offer:
        if not targets:
            raise ValueError("a proposal needs at least one target")
        now = self.now()
        row = Proposal(
            tenant=tenant,
            verb=verb,
            targets=json.dumps([list(pair) for pair in targets]),
            reason=reason,
            tenant_wide=tenant_wide,
            offered_to=offered_to,
            created_at=now,
            expires_at=now + ttl,
        )
        with self.db.transaction() as s:
            s.add(row)
            s.flush()
            return _offer(row)

    def check(self, proposal_id: int, *, actor: str) -> Offer:
        """The offer, if ``actor`` may request it now; ProposalUnavailable otherwise."""
        with self.db.read() as s:
            row = s.get(Proposal, proposal_id)
            if row is None:
                raise ProposalUnavailable("That offer is no longer stored; run the command again.")
            return self._usable(row, actor)

    def _usable(self, row: Proposal, actor: str) -> Offer:
        if row.offered_to != actor:
            raise ProposalUnavailable(
                "That button belongs to the answer someone else asked for; run the command "
                "yourself to get your own."
            )
        if row.request_id is not None:
            raise ProposalUnavailable(
                f"That offer was requested already, as request #{row.request_id}.",
                request_id=row.request_id,
            )
        if row.expires_at <= self.now():
            raise ProposalUnavailable(
                "That answer is too old to act on (its list may have changed); run the "
                "command again for a current one."
            )
        return _offer(row)

    def claim(self, s: Session, proposal_id: int, *, actor: str, request: ChangeRequest) -> None:
        """In the transaction that stores ``request``: check the offer once more under its
        row lock and tie it to the request, so it becomes at most one request."""
        row = s.exec(select(Proposal).where(Proposal.id == proposal_id).with_for_update()).first()
        if row is None:
            raise ProposalUnavailable("That offer is no longer stored; run the command again.")
        self._usable(row, actor)
        row.request_id = request.id
        s.add(row)

    def prune(self, before: datetime) -> int:
        """Delete offers that expired before ``before`` and were never requested."""
        with self.db.transaction() as s:
            result = s.exec(  # type: ignore[call-overload]
                delete(Proposal).where(
                    col(Proposal.expires_at) < before, col(Proposal.request_id).is_(None)
                )
            )
            return int(result.rowcount or 0)
