"""The approval workflow: every state change of a request, atomic and audited.

Each public method is one transaction. Concurrent callers are serialised on the request row
(``FOR UPDATE`` on PostgreSQL, ``BEGIN IMMEDIATE`` on SQLite), so two approvers pressing at
the same instant produce one transition, and a replayed click changes nothing. The work is
done by collaborators in their own modules (decisions, execution, cardsync, queries), each
built on one shared ``WorkflowContext``; ``Workflow`` is the facade the bot calls, and
creates requests itself. Status changes follow the table in ``approvals/states.py``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, timedelta

from approvals import audit
from approvals.admission import admit, record_refusal
from approvals.cardsync import CardSync
from approvals.db import Database
from approvals.decisions import Decisions
from approvals.errors import (
    AdmissionRefused,
    NotARequester,
    WorkflowError,
)
from approvals.execution import Execution
from approvals.expansion import Expansion, Member
from approvals.jobs import JobQueue
from approvals.limits import RequestLimit
from approvals.models import (
    AuditEvent,
    ChangeRequest,
    RequestTarget,
    utcnow,
)
from approvals.policy import DirectMembership, Membership, TenantPolicy
from approvals.proposals import Proposals
from approvals.queries import Queries
from approvals.workflow_base import (
    EXECUTE,
    REVERT,
    ApproveOutcome,
    RequestView,
    TargetRecord,
    WorkflowContext,
)

__all__ = ["EXECUTE", "REVERT", "ApproveOutcome", "RequestView", "TargetRecord", "Workflow"]


class Workflow:
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
        ctx = WorkflowContext(
            db=db, policies=policies, membership=self._membership, jobs=self.jobs, clock=clock
        )
        self.decisions = Decisions(ctx)
        self.execution = Execution(ctx)
        self.cards = CardSync(ctx)
        self.queries = Queries(ctx)
        self.expansion = Expansion(ctx)
        self.proposals = Proposals(ctx)
        # a job given up after max_attempts ends what it was doing, in the same transaction
        self.jobs.on_give_up(EXECUTE, self.execution.give_up)
        self.jobs.on_give_up(REVERT, self.execution.give_up_revert)

    def now(self) -> datetime:
        """The workflow's clock (injected in tests)."""
        return self._clock()

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
        note: str | None = None,
        plan: str | None = None,
        target_verbs: Sequence[str | None] | None = None,
        proposal_id: int | None = None,
    ) -> RequestView:
        """Store a new pending request; raises NotARequester if the policy forbids it.

        ``target_verbs`` (one per target; None: the request's ``verb``) gives targets a verb
        of their own: the request then runs as steps in position order (approvals.steps). A
        request with several verbs has no timed revert. ``proposal_id``: the offer this
        request is made from, claimed in the same transaction (``approvals.proposals``).

        With ``revert_after``, a successful change is undone by ``revert_verb`` after that
        long, without a new approval (it was approved with the original). ``intake_id``: the
        stored command it comes from (unique: one request per command). Duplicates and, with
        ``limit``, the requester's limit are checked in the storing transaction (admission).
        ``note``: text for the approvers, shown with the request (at most 2,000 characters).
        ``plan``: how the caller chose the targets (opaque JSON, handed back with the request)."""
        if not targets:
            raise ValueError("a request needs at least one target")
        verbs = _own_verbs(verb, targets, target_verbs)
        if any(verbs) and revert_after:
            raise ValueError("a request with several verbs cannot be reverted automatically")
        policy = self._policies(tenant)
        if not policy.may_request(requester, self._membership):
            with self.db.transaction() as s:
                audit.record(
                    s, "refused_requester", actor=requester, tenant=tenant, detail={"verb": verb}
                )
            raise NotARequester(f"You are not allowed to request changes for {tenant}.")
        now = self._clock()
        with self.db.transaction() as s:
            try:
                admit(
                    s,
                    tenant=tenant,
                    verb=verb,
                    targets=targets,
                    requester=requester,
                    now=now,
                    limit=limit,
                    target_verbs=verbs,
                )
            except AdmissionRefused as exc:  # recorded here: the transaction stored nothing else
                record_refusal(s, exc, actor=requester, tenant=tenant, verb=verb)
                refused = exc
            else:
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
                    note=note[:2000] if note else None,
                    plan=plan,
                )
                s.add(request)
                s.flush()
                if proposal_id is not None:
                    self.proposals.claim(s, proposal_id, actor=requester, request=request)
                rows = [
                    RequestTarget(request_id=request.id, position=position, target=target, verb=own)
                    for position, (target, own) in enumerate(zip(targets, verbs, strict=True))
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
                        **_verbs_detail(targets, verbs),
                    }
                    | ({"note": request.note} if request.note else {}),
                )
                s.flush()
                return RequestView(request=request, targets=tuple(rows), approvers=())  # as stored
        raise refused

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

    # --- decisions ---------------------------------------------------------------------------

    def approve(self, request_id: int, *, actor: str) -> ApproveOutcome:
        """Count ``actor``'s approval; the request becomes approved once it has enough."""
        return self.decisions.approve(request_id, actor=actor)

    def deny(self, request_id: int, *, actor: str, note: str | None = None) -> RequestView:
        """An approver refuses the request."""
        return self.decisions.deny(request_id, actor=actor, note=note)

    def cancel(self, request_id: int, *, actor: str) -> RequestView:
        """The requester withdraws the request."""
        return self.decisions.cancel(request_id, actor=actor)

    def expire_due(self) -> list[RequestView]:
        """Expire every pending request past its deadline; returns the ones expired now."""
        return self.decisions.expire_due()

    def check_decider(self, view: RequestView, actor: str) -> WorkflowError | None:
        """Whether ``actor`` may approve or deny the request now, recording nothing."""
        return self.decisions.check_decider(view, actor)

    # --- execution ---------------------------------------------------------------------------

    def begin_execution(self, request_id: int) -> RequestView | None:
        """approved → executing, or resume a request left executing by a worker that died."""
        return self.execution.begin_execution(request_id)

    def record_progress(self, request_id: int, records: Sequence[TargetRecord]) -> RequestView:
        """Store the results of some targets while the request is still executing."""
        return self.execution.record_progress(request_id, records)

    def finish_execution(
        self, request_id: int, records: Sequence[TargetRecord] = ()
    ) -> RequestView:
        """Store the last results; executing → succeeded (every target ok) or failed."""
        return self.execution.finish_execution(request_id, records)

    def begin_revert(self, request_id: int) -> tuple[RequestView, list[str]]:
        """The targets a timed restriction should now undo."""
        return self.execution.begin_revert(request_id)

    def finish_revert(self, request_id: int, records: Sequence[TargetRecord]) -> RequestView:
        return self.execution.finish_revert(request_id, records)

    def active_restrictions(self, tenant: str | None = None) -> list[RequestView]:
        """Timed restrictions still in force: their revert job is queued."""
        return self.execution.active_restrictions(tenant)

    def expand_target(
        self, request_id: int, group: str, members: Sequence[Member], *, plan: str | None = None
    ) -> RequestView:
        """Replace an executing request's pending group target by its members, once."""
        return self.expansion.expand_target(request_id, group, members, plan=plan)

    def planned(self, tenant: str, verb: str, limit: int = 20) -> list[RequestView]:
        """The tenant's requests of ``verb`` that carry a plan, newest first."""
        return self.expansion.planned(tenant, verb, limit)

    def changed_since(self, request_id: int, targets: Sequence[str]) -> dict[str, int]:
        """Of ``targets``, those a later request changed: target → that request."""
        return self.expansion.changed_since(request_id, targets)

    # --- cards -------------------------------------------------------------------------------

    def attach_card(self, request_id: int, *, channel: str, ref: str, revision: int) -> None:
        """Remember where the request's card is and which revision it shows."""
        self.cards.attach_card(request_id, channel=channel, ref=ref, revision=revision)

    def cards_to_sync(self, limit: int = 50) -> list[RequestView]:
        """Requests whose card shows an older revision than the request has."""
        return self.cards.cards_to_sync(limit)

    def mark_card_synced(self, request_id: int, revision: int) -> int:
        """The card now shows ``revision``; returns the request's revision now."""
        return self.cards.mark_card_synced(request_id, revision)

    def mark_card_stale(self, request_id: int) -> None:
        """The card may show an old revision: let the next sync redraw it."""
        self.cards.mark_card_stale(request_id)

    def results_to_post(self, limit: int = 50) -> list[RequestView]:
        """Finished requests whose result has not been posted in the card's thread yet."""
        return self.cards.results_to_post(limit)

    def claim_result_post(self, request_id: int) -> bool:
        """True for exactly one caller: the one that should post the result."""
        return self.cards.claim_result_post(request_id)

    def release_result_post(self, request_id: int) -> None:
        """Posting failed: let a later sync try again."""
        self.cards.release_result_post(request_id)

    # --- reading -----------------------------------------------------------------------------

    def get(self, request_id: int) -> RequestView:
        return self.queries.get(request_id)

    def by_intake(self, intake_id: int) -> RequestView | None:
        """The request stored from intake row ``intake_id``, if any."""
        return self.queries.by_intake(intake_id)

    def pending(self, tenant: str | None = None) -> list[RequestView]:
        return self.queries.pending(tenant)

    def open_requests(self, requester: str, limit: int = 20) -> list[RequestView]:
        """A requester's requests that are not finished yet, newest first."""
        return self.queries.open_requests(requester, limit)

    def history(
        self,
        *,
        tenant: str | None = None,
        target: str | None = None,
        limit: int = 20,
        target_prefixes: Sequence[str] = (),
    ) -> list[AuditEvent]:
        """Audit events, newest first (``target_prefixes``: see ``audit.history``)."""
        return self.queries.history(
            tenant=tenant, target=target, limit=limit, target_prefixes=target_prefixes
        )

    def count_events(self, *, actor: str, event: str, since: datetime) -> int:
        """How many ``event`` rows ``actor`` caused since ``since``."""
        return self.queries.count_events(actor=actor, event=event, since=since)


def _own_verbs(
    verb: str, targets: Sequence[str], target_verbs: Sequence[str | None] | None
) -> list[str | None]:
    """Each target's own verb where it differs from the request's, else None."""
    if target_verbs is None:
        return [None] * len(targets)
    if len(target_verbs) != len(targets):
        raise ValueError("target_verbs needs one entry per target")
    return [v if v and v != verb else None for v in target_verbs]


def _verbs_detail(targets: Sequence[str], verbs: Sequence[str | None]) -> dict[str, object]:
    """For the audit trail: the targets that have a verb of their own, and which."""
    own = {t: v for t, v in zip(targets, verbs, strict=True) if v}
    return {"target_verbs": own} if own else {}
