"""Executing ``disable --all-accounts``: list the server's accounts once, and store each
with its state before the change, before any account is changed.

The listing becomes the request's targets (``account:NAME``, one per account) in one
transaction (``Workflow.expand_target``). An account already suspended is finished at once
("already suspended before this request: left as it was", marked ``left_as_it_was``), so
the matching ``enable --all-accounts`` never lifts it; every other account is pending with
``{"before": …}`` and is suspended by the usual batches, with progress on the card. A run
resumed after a crash finds the targets stored and does not list again: by then it would
take its own suspensions for the state before.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import replace

from approvals import RequestView, TargetOutcome, TargetRecord, Workflow
from approvals.expansion import Member
from bot.commands.all_accounts_plan import LEFT_AS_IT_WAS, AllAccountsPlan
from bot.tenants import TenantRegistry
from providers import ProviderError
from providers.targets import ACCOUNT_PREFIX, ALL_ACCOUNTS_KEY

__all__ = ["expand", "keep_before"]

log = logging.getLogger(__name__)

_SHOWN_NAMES = 20
LEFT = "already suspended before this request: left as it was"


def expand(workflow: Workflow, tenants: TenantRegistry, view: RequestView) -> RequestView:
    """The request with its accounts listed (a no-op for any other request, and for one
    listed already)."""
    plan = AllAccountsPlan.of(view.request)
    group = [t for t in view.targets if t.target == ALL_ACCOUNTS_KEY]
    if plan is None or plan.verb != "disable" or not group:
        return view
    if group[0].outcome != TargetOutcome.PENDING.value:
        return view
    try:
        accounts = tenants.provider(view.request.tenant).accounts()  # type: ignore[attr-defined]
    except ProviderError as exc:
        log.warning("request %s: listaccts failed: %s (%s)", view.id, exc.user_message, exc.kind)
        failed = TargetRecord(
            ALL_ACCOUNTS_KEY,
            ok=False,
            message=f"could not list the accounts (listaccts): {exc.user_message}; "
            "no account was changed",
            error={"kind": exc.kind, "detail": exc.detail, "before_change": True, "backend": "WHM"},
        )
        return workflow.record_progress(view.id, [failed])
    members: list[Member] = []
    refused: list[str] = []
    already = 0
    for account in accounts:
        if not account.usable:
            refused.append(account.user[:40])
            continue
        key = ACCOUNT_PREFIX + account.user
        before = {
            "outgoing_mail_suspended": account.outgoing_mail_suspended,
            "outgoing_mail_hold": account.outgoing_mail_hold,
        }
        if account.outgoing_mail_suspended:
            already += 1
            state = {**before, "before": before, LEFT_AS_IT_WAS: True}
            members.append(Member(key, done=TargetRecord(key, ok=True, message=LEFT, state=state)))
        else:
            members.append(Member(key, facts={"before": before}))
    if refused or not members:
        members.append(Member(ALL_ACCOUNTS_KEY, done=_not_covered(refused)))
    listed = plan.listed_now(len(accounts), already, refused[:_SHOWN_NAMES])
    log.info(
        "request %s: listaccts listed %d account(s), %d already suspended",
        view.id,
        len(accounts),
        already,
    )
    return workflow.expand_target(view.id, ALL_ACCOUNTS_KEY, members, plan=listed.to_json())


def _not_covered(refused: Sequence[str]) -> TargetRecord:
    if not refused:
        message = "listaccts listed no accounts: nothing was suspended"
    else:
        names = ", ".join(json.dumps(n, ensure_ascii=True) for n in refused[:_SHOWN_NAMES])
        message = (
            f"listaccts listed {len(refused)} account name(s) the bot does not use as "
            f"targets ({names}); their outgoing mail was NOT suspended: check them in WHM"
        )
    return TargetRecord(ALL_ACCOUNTS_KEY, ok=False, message=message, error={"kind": "refused"})


def keep_before(view: RequestView, records: Sequence[TargetRecord]) -> list[TargetRecord]:
    """Each verified result keeps the state its target had before (stored at listing)."""
    before: dict[str, object] = {}
    for row in view.targets:
        if row.outcome == TargetOutcome.PENDING.value and row.state:
            try:
                facts = json.loads(row.state)
            except ValueError:
                continue
            if isinstance(facts, dict) and "before" in facts:
                before[row.target] = facts["before"]
    if not before:
        return list(records)
    return [
        replace(r, state={**r.state, "before": before[r.target]})
        if r.ok and r.state is not None and r.target in before
        else r
        for r in records
    ]
