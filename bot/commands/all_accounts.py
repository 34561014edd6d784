"""``/smtp disable|enable <tenant> --all-accounts``: which request, with which targets.

``disable`` stores one group target (``account:*``): the accounts themselves are listed when
it executes (bot/running/all_accounts.py), because an account created meanwhile must be
covered too; the card says how many the server had when it was requested.
``enable`` lifts the latest executed ``disable --all-accounts`` of the tenant that is not
lifted yet: its targets are that request's accounts that it suspended (or may have: a
failure that was not refused before any change), less those a later request changed
since (the later change wins). Accounts that were suspended before it are never among
them. A second ``disable --all-accounts`` while one is in force is refused: it would see
every account as "suspended before" and make the first one impossible to lift.
"""

from __future__ import annotations

import json

from approvals import RequestStatus, RequestView, TargetOutcome, Workflow
from approvals.limits import RequestLimit
from bot.commands.all_accounts_plan import LEFT_AS_IT_WAS, AllAccountsPlan
from bot.commands.grammar import Change
from bot.errors import CommandError
from providers import Provider, ProviderError, Target, Verb
from providers.targets import ALL_ACCOUNTS_KEY

__all__ = ["changed_accounts", "exchange_refusal", "submit"]

_IN_FLIGHT = (RequestStatus.PENDING, RequestStatus.APPROVED, RequestStatus.EXECUTING)
_EXECUTED = (RequestStatus.SUCCEEDED, RequestStatus.FAILED)
_KINDS = {"exchange": "Exchange", "whm": "WHM"}


def exchange_refusal(tenant: str, kind: str) -> str:
    """Why --all-accounts is refused on a back end other than WHM."""
    return (
        f"{tenant} is an {_KINDS.get(kind, kind)} tenant: --all-accounts works on WHM "
        "tenants only (it suspends the outgoing mail of every cPanel account). Nothing was "
        f"requested. On Exchange, `/smtp disable {tenant}` turns SMTP AUTH off for the "
        "whole organisation."
    )


def submit(
    workflow: Workflow,
    provider: Provider,
    command: Change,
    *,
    requester: str,
    intake_id: int | None,
    limit: RequestLimit | None,
) -> RequestView:
    """Store the request, or raise CommandError saying why nothing was requested."""
    if command.verb is Verb.DISABLE:
        targets, plan = _disable(workflow, provider, command.tenant)
    else:
        targets, plan = _enable(workflow, command.tenant)
    return workflow.submit(
        tenant=command.tenant,
        verb=command.verb.value,
        targets=targets,
        reason=command.reason,
        requester=requester,
        tenant_wide=True,  # the whole server: the tenant-wide approval count
        intake_id=intake_id,
        limit=limit,
        plan=plan.to_json(),
    )


def _disable(
    workflow: Workflow, provider: Provider, tenant: str
) -> tuple[list[str], AllAccountsPlan]:
    found = _in_force(workflow, tenant)
    if found is not None:
        view, remaining = found
        raise CommandError(
            f"Nothing was requested: request #{view.id} (`disable --all-accounts`) is still "
            f"in force ({len(remaining):,} accounts it suspended are still its own). Lift it "
            f"first with `/smtp enable {tenant} --all-accounts`, or name single accounts."
        )
    try:
        [checked] = provider.check_targets([Target.all_accounts()])
    except ProviderError as exc:
        raise CommandError(f"Could not list the accounts: {exc.user_message}") from None
    if checked.error is not None or checked.state is None:
        raise CommandError(f"Could not list the accounts: {checked.message}")
    facts = checked.state.facts
    accounts, suspended = int(facts.get("accounts", 0)), int(facts.get("suspended", 0))
    if accounts == 0:
        raise CommandError(f"Nothing was requested: {tenant} lists no cPanel accounts.")
    plan = AllAccountsPlan("disable", accounts_at_request=accounts, suspended_at_request=suspended)
    return [ALL_ACCOUNTS_KEY], plan


def _enable(workflow: Workflow, tenant: str) -> tuple[list[str], AllAccountsPlan]:
    found = _in_force(workflow, tenant)
    if found is None:
        raise CommandError(
            f"Nothing was requested: no `disable --all-accounts` of {tenant} is in force "
            "(none was executed, or every one was lifted already), so there is no suspension "
            "of its to lift. Name accounts to enable them one by one."
        )
    view, remaining = found
    changed = changed_accounts(view)
    left = sum(_left_as_it_was(t.state) for t in view.targets)
    plan = AllAccountsPlan(
        "enable", lifts=view.id, left_suspended=left, changed_later=len(changed) - len(remaining)
    )
    return remaining, plan


def _in_force(workflow: Workflow, tenant: str) -> tuple[RequestView, list[str]] | None:
    """The latest executed disable --all-accounts with suspensions still its own, and those
    accounts; raises CommandError while a newer one has not finished."""
    for view in workflow.planned(tenant, Verb.DISABLE.value):
        if AllAccountsPlan.of(view.request) is None:
            continue
        if view.status in _IN_FLIGHT:
            raise CommandError(
                f"Nothing was requested: request #{view.id} (`disable --all-accounts`) is "
                f"{view.status.value}; wait until it has finished."
            )
        if view.status not in _EXECUTED:
            continue  # denied, cancelled or expired: it changed nothing
        changed = changed_accounts(view)
        later = workflow.changed_since(view.id, changed)
        remaining = [t for t in changed if t not in later]
        if remaining:
            return view, remaining
    return None


def changed_accounts(view: RequestView) -> list[str]:
    """The accounts a disable --all-accounts suspended, or may have (a failure not known
    to have come before any change): never one it found suspended and left as it was."""
    out: list[str] = []
    for row in view.targets:
        if row.target == ALL_ACCOUNTS_KEY or _left_as_it_was(row.state):
            continue
        if row.outcome == TargetOutcome.SUCCEEDED.value:
            out.append(row.target)
        elif row.outcome == TargetOutcome.FAILED.value and _may_have_changed(row.state):
            out.append(row.target)
    return out


def _facts(state: str | None) -> dict[str, object]:
    try:
        facts = json.loads(state) if state else {}
    except ValueError:
        return {}
    return facts if isinstance(facts, dict) else {}


def _left_as_it_was(state: str | None) -> bool:
    return _facts(state).get(LEFT_AS_IT_WAS) is True


def _may_have_changed(state: str | None) -> bool:
    facts = _facts(state)
    return not facts.get("before_change") and facts.get("error_kind") != "skipped"
