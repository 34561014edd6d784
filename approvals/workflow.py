"""The approval workflow: every state change of a request, atomic and audited.

Each public method is one transaction. Concurrent callers are serialised on the request row
(``FOR UPDATE`` on PostgreSQL, ``BEGIN IMMEDIATE`` on SQLite), so two approvers pressing at
the same instant produce one transition, and a replayed click changes nothing. The parts live
in their own modules (decisions, execution, cardsync, queries); ``Workflow`` is all of them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, timedelta

from approvals import audit
from approvals.admission import admit, refusals_recorded
from approvals.cardsync import CardSync
from approvals.db import Database
from approvals.decisions import Decisions
from approvals.errors import (
    NotARequester,
)
from approvals.execution import Execution
from approvals.jobs import JobQueue
from approvals.limits import RequestLimit
from approvals.models import (
    ChangeRequest,
    RequestTarget,
    utcnow,
)
from approvals.policy import DirectMembership, Membership, TenantPolicy
from approvals.queries import Queries
from approvals.workflow_base import (
    EXECUTE,
    REVERT,
    ApproveOutcome,
    RequestView,
    TargetRecord,
)

__all__ = ["EXECUTE", "REVERT", "ApproveOutcome", "RequestView", "TargetRecord", "Workflow"]


class Workflow(Decisions, Execution, CardSync, Queries):
    """Creates requests and moves them through their lifecycle."""

    def __init__(
        self,
        db: Database,
        policies: Callable[[str], TenantPolicy],
        *,
        membership: Membership | None = None,
        jobs: JobQueue | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.db = db
        self._policies = policies
        self._membership = membership or DirectMembership()
        self._clock = clock
        self.jobs = jobs or JobQueue(db, clock=clock)

    def submit(
        self,
        *,
        tenant: str,
        verb: str,
        targets: Sequence[str],
        reason: str,
        requester: str,
        tenant_wide: bool = False,
        revert_verb: str | None = None,
        revert_after: timedelta | None = None,
        intake_id: int | None = None,
        limit: RequestLimit | None = None,
    ) -> RequestView:
        """Store a new pending request; raises NotARequester if the policy forbids it.

        With ``revert_after``, a successful change is undone by ``revert_verb`` after that
        long, without a new approval (it was approved with the original). ``intake_id``: the
        stored command it comes from (unique: one request per command). Duplicates and, with
        ``limit``, the requester's limit are checked in the storing transaction (admission)."""
        if not targets:
            raise ValueError("a request needs at least one target")
        policy = self._policies(tenant)
        if not policy.may_request(requester, self._membership):
            with self.db.transaction() as s:
                audit.record(
                    s, "refused_requester", actor=requester, tenant=tenant, detail={"verb": verb}
                )
            raise NotARequester(f"You are not allowed to request changes for {tenant}.")
        now = self._clock()
        with (
            refusals_recorded(self.db, actor=requester, tenant=tenant, verb=verb),
            self.db.transaction() as s,
        ):
            admit(
                s,
                tenant=tenant,
                verb=verb,
                targets=targets,
                requester=requester,
                now=now,
                limit=limit,
            )
            request = ChangeRequest(
                tenant=tenant,
                verb=verb,
                reason=reason,
                requester=requester,
                tenant_wide=tenant_wide,
                approvals_required=policy.required_for(tenant_wide=tenant_wide),
                created_at=now,
                expires_at=now + policy.request_ttl,
                revert_verb=revert_verb if revert_after else None,
                revert_after_s=int(revert_after.total_seconds()) if revert_after else None,
                intake_id=intake_id,
            )
            s.add(request)
            s.flush()
            rows = [
                RequestTarget(request_id=request.id, position=position, target=target)
                for position, target in enumerate(targets)
            ]
            s.add_all(rows)
            audit.record(
                s,
                "requested",
                actor=requester,
                tenant=tenant,
                request_id=request.id,
                target=",".join(targets) if len(targets) <= 5 else f"{len(targets)} targets",
                detail={
                    "verb": verb,
                    "reason": reason,
                    "targets": list(targets),
                    "revert_after_s": request.revert_after_s,
                },
            )
            s.flush()
            return RequestView(request=request, targets=tuple(rows), approvers=())  # as stored

    def refuse_input(self, *, actor: str, tenant: str | None, verb: str, problem: str) -> None:
        """Record a change command that was refused before any request existed."""
        with self.db.transaction() as s:
            audit.record(
                s,
                "refused_input",
                actor=actor,
                tenant=tenant,
                detail={"verb": verb, "problem": problem},
            )

    def refuse_access(self, *, actor: str, tenant: str | None, detail: dict[str, object]) -> None:
        """Record a command refused because of where it came from or how often."""
        with self.db.transaction() as s:
            audit.record(s, "refused_access", actor=actor, tenant=tenant, detail=detail)
