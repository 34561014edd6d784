"""Carrying out an approved request on its back end, exactly once."""

from __future__ import annotations

import logging

from approvals import TargetRecord, Workflow
from bot.cards import Cards
from bot.tenants import TenantRegistry
from providers import Target, TargetResult, Verb

__all__ = ["Executor"]

log = logging.getLogger(__name__)


class Executor:
    """approved → executing → succeeded | failed, with the card kept in step."""

    def __init__(self, workflow: Workflow, tenants: TenantRegistry, cards: Cards) -> None:
        self.workflow = workflow
        self.tenants = tenants
        self.cards = cards

    def run(self, request_id: int) -> None:
        view = self.workflow.begin_execution(request_id)
        if view is None:
            return  # another click or worker got there first
        self.cards.update(view)
        targets = [Target.from_key(t.target) for t in view.targets]
        try:
            provider = self.tenants.provider(view.request.tenant)
            results = provider.apply(Verb(view.request.verb), targets)
            records = [_record(r) for r in results]
        except Exception:
            log.exception("provider failed unexpectedly on request %s", request_id)
            records = [
                TargetRecord(
                    target=t.key(),
                    ok=False,
                    message="internal error: see the bot's log",
                    error={"kind": "internal"},
                )
                for t in targets
            ]
        final = self.workflow.finish_execution(request_id, records)
        self.cards.post_result(final)


def _record(result: TargetResult) -> TargetRecord:
    state = dict(result.state.facts) if result.state is not None else None
    error = None
    if result.error is not None:
        error = {"kind": result.error.kind, "detail": result.error.detail}
    if result.planned:
        state = {**(state or {}), "dry_run_planned": list(result.planned)}
    return TargetRecord(
        target=result.target.key(),
        ok=result.ok,
        message=result.message,
        state=state,
        error=error,
    )
