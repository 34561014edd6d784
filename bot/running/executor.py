"""Carrying out approved requests and timed reverts on their back ends.

Only the holder of a request's job executes it (the job's lease makes that exclusive), so a
request runs once even with several workers, and again (idempotently) only if its worker died.
"""

from __future__ import annotations

import contextvars
import logging
import threading
import time
from collections.abc import Sequence

from approvals import RequestView, TargetOutcome, TargetRecord, Workflow
from approvals.models import Job
from approvals.steps import HELD_BACK, held_back_message, steps
from approvals.workflow import EXECUTE, REVERT
from bot.ops.logs import log_context
from bot.running import all_accounts
from bot.running.settings_revert import previous_settings
from bot.slack.cards import Cards
from bot.slack.views import escape, mention
from bot.tenants import TenantRegistry
from providers import Target, TargetResult, Verb, deadline

__all__ = ["Executor"]

log = logging.getLogger(__name__)

_SUCCEEDED = TargetOutcome.SUCCEEDED.value
_FAILED = TargetOutcome.FAILED.value
PROGRESS_INTERVAL_S = 1.5  # chat.update is Tier 3; a card need not change faster than this
JOB_BUDGET_S = 1800.0  # one job's provider calls, all of them; Exchange commands allow 900 s


class Executor:
    """Runs jobs: approved → executing → succeeded | failed, and reverts, cards in step."""

    def __init__(
        self,
        workflow: Workflow,
        tenants: TenantRegistry,
        cards: Cards,
        *,
        job_budget_s: float = JOB_BUDGET_S,
    ) -> None:
        self.workflow = workflow
        self.tenants = tenants
        self.cards = cards
        self.job_budget_s = job_budget_s

    def run(self, request_id: int, *, worker: str = "inline") -> bool:
        """Execute an approved request now, in this thread, if nobody else holds its job.

        Returns False if another worker has it (or it already ran)."""
        job = self.workflow.jobs.claim(worker, request_id=request_id, kind=EXECUTE)
        if job is None:
            return False
        self.handle(job, worker=worker)
        return True

    def handle(self, job: Job, *, worker: str) -> None:
        """Run one claimed job to completion, renewing its lease, and mark it done; its log
        lines carry the request's ID. Its provider calls share ``job_budget_s``: past it they
        fail as timeouts, and the lease is no longer renewed."""
        assert job.id is not None
        with (
            log_context(request_id=job.request_id),
            deadline.budget(self.job_budget_s) as until,
            self.workflow.jobs.leased(job.id, worker, until=until),
        ):
            self._handle(job, worker=worker)

    def _handle(self, job: Job, *, worker: str) -> None:
        assert job.id is not None
        if job.kind == EXECUTE:
            self._execute(job.request_id)
        elif job.kind == REVERT:
            self._revert(job.request_id)
        else:
            self.workflow.jobs.fail(job.id, worker, error=f"unknown job kind {job.kind!r}")
            return
        self.workflow.jobs.complete(job.id, worker)

    def _execute(self, request_id: int) -> None:
        view = self.workflow.begin_execution(request_id)
        if view is None:
            return  # already finished by an earlier run of this job
        view = all_accounts.expand(self.workflow, self.tenants, view)  # --all-accounts, once
        redraw = self._redraw_meanwhile(view)
        req = view.request
        plan = steps(view)  # one step unless targets carry verbs of their own
        log.info(
            "executing %s on %s: %d target(s) in %d step(s)",
            req.verb,
            req.tenant,
            sum(len(step.pending) for step in plan),
            len(plan),
        )
        size = self._batch_size(req.tenant)
        unstored: list[TargetRecord] = []  # the last chunk's records go with the finish
        last_card = time.monotonic()
        failed: tuple[str, int, int] | None = None  # the step that failed: verb, size, failures
        for step in plan:
            # a resumed run skips the targets an earlier run already finished
            todo = [Target.from_key(t.target) for t in step.pending]
            if failed is not None:  # a later step runs only once every earlier one succeeded
                unstored += [_held_back(t, failed, self._backend(req.tenant)) for t in todo]
                continue
            bad = sum(t.outcome == _FAILED for t in step.targets)
            chunk_size = size or max(len(todo), 1)
            for chunk in (todo[i : i + chunk_size] for i in range(0, len(todo), chunk_size)):
                if unstored:
                    view = self.workflow.record_progress(request_id, unstored)
                    if time.monotonic() - last_card >= PROGRESS_INTERVAL_S:
                        redraw.join()  # the card's updates land in order
                        self.cards.update(view)  # "420 of 1,000 done", at most every 1.5 s
                        last_card = time.monotonic()
                unstored = self._apply(req.tenant, Verb(step.verb), chunk, request_id)
                unstored = all_accounts.keep_before(view, unstored)
                bad += sum(not r.ok for r in unstored)
            if bad and len(plan) > 1:
                failed = (step.verb, len(step.targets), bad)
        final = self.workflow.finish_execution(request_id, unstored)
        redraw.join()
        ok = sum(t.outcome == _SUCCEEDED for t in final.targets)
        log.info("finished: %s, %d of %d target(s) ok", final.status.value, ok, len(final.targets))
        self.cards.post_result(final)

    def _backend(self, tenant: str) -> str:
        try:
            return _BACKENDS.get(getattr(self.tenants.provider(tenant), "kind", ""), "the back end")
        except Exception:
            return "the back end"

    def _redraw_meanwhile(self, view: RequestView) -> threading.Thread:
        """Show "executing" on the card while the change goes ahead: the provider call does
        not wait for Slack's round trip. Join the thread before the card's next update."""

        def redraw() -> None:
            try:
                self.cards.update(view)
            except Exception:  # the housekeeper redraws a card left out of date
                log.exception("could not redraw the card of request %s", view.id)

        context = contextvars.copy_context()  # keeps the request ID of the log lines
        thread = threading.Thread(target=context.run, args=(redraw,), name="card", daemon=True)
        thread.start()
        return thread

    def _batch_size(self, tenant: str) -> int | None:
        try:
            return getattr(self.tenants.provider(tenant), "batch_size", None)
        except Exception:
            return None  # _apply reports the provider problem per target

    def _revert(self, request_id: int) -> None:
        view, keys = self.workflow.begin_revert(request_id)
        verb = view.request.revert_verb
        if not keys or verb is None:
            self.cards.reply(view, f"Request #{view.id}: nothing left to revert (changed since).")
            self.workflow.finish_revert(request_id, [])
            return
        targets = [Target.from_key(k) for k in keys]
        if verb in (Verb.SET, Verb.LIMIT):  # undone by setting each previous value back
            targets = previous_settings(view, keys)
        records = self._apply(view.request.tenant, Verb(verb), targets, request_id)
        final = self.workflow.finish_revert(request_id, records)
        ok = sum(r.ok for r in records)
        lines = [
            f"{':white_check_mark:' if r.ok else ':x:'} `{escape(r.target)}`: {escape(r.message)}"
            for r in records[:30]
        ]
        self.cards.reply(
            final,
            f"The timed restriction of request #{view.id} ended: {verb} on {ok} of "
            f"{len(records)} target(s), approved with the original request by "
            f"{', '.join(mention(a) for a in view.approvers)}.\n" + "\n".join(lines),
        )

    def _apply(
        self, tenant: str, verb: Verb, targets: Sequence[Target], request_id: int
    ) -> list[TargetRecord]:
        try:
            provider = self.tenants.provider(tenant)
            results = provider.apply(verb, list(targets))
        except Exception:
            log.exception("provider failed unexpectedly on request %s", request_id)
            return [
                TargetRecord(
                    target=t.key(),
                    ok=False,
                    message="internal error: see the bot's log",
                    error={"kind": "internal"},
                )
                for t in targets
            ]
        _log_failures(request_id, verb, results)
        backend = _BACKENDS.get(getattr(provider, "kind", ""), "the back end")
        return [_record(r, backend) for r in results]


def _log_failures(request_id: int, verb: Verb, results: Sequence[TargetResult]) -> None:
    """One line per failed target with the back end's own reason (already scrubbed of
    secrets by the provider wrapper), so the cause is in the log and not only in Slack."""
    for result in results:
        if result.error is None:
            continue
        log.warning(
            "request %s: %s %s failed (%s): %s; cause: %s",
            request_id,
            verb.value,
            result.target.key(),
            result.error.kind,
            result.message,
            result.error.detail or "none given",
        )


_BACKENDS = {"whm": "WHM", "exchange": "Exchange Online"}  # as the result text names them


def _held_back(target: Target, failed: tuple[str, int, int], backend: str) -> TargetRecord:
    """A target of a later step, not attempted because an earlier step failed."""
    return TargetRecord(
        target=target.key(),
        ok=False,
        message=held_back_message(*failed),
        error={"kind": HELD_BACK, "before_change": True, "backend": backend},
    )


def _record(result: TargetResult, backend: str = "the back end") -> TargetRecord:
    state = dict(result.state.facts) if result.state is not None else None
    error = None
    if result.error is not None:
        error: dict[str, object] = {"kind": result.error.kind, "detail": result.error.detail}
        if result.error.before_change:
            error["before_change"] = True
            error["backend"] = backend
    if result.planned:
        state = {**(state or {}), "dry_run_planned": list(result.planned)}
    return TargetRecord(
        target=result.target.key(),
        ok=result.ok,
        message=result.message,
        state=state,
        error=error,
    )
