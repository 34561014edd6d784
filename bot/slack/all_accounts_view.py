"""How a ``--all-accounts`` request reads on its card and in its one result post: how many
accounts the server had when it was requested, how many were listed when it ran, which were
left as they were, and the failures by name."""

from __future__ import annotations

from approvals import RequestStatus, RequestView, TargetOutcome
from bot.commands.all_accounts_plan import AllAccountsPlan
from bot.slack.mrkdwn import escape
from providers.targets import ALL_ACCOUNTS_KEY

__all__ = ["plan_of", "result_text", "targets_text"]

_SHOWN_NAMES = 10
_SHOWN_FAILURES = 40
_LIMIT = 3900

_HEAD = {
    RequestStatus.SUCCEEDED: ":white_check_mark: Done, verified",
    RequestStatus.FAILED: ":x: Failed",
}


def plan_of(view: RequestView) -> AllAccountsPlan | None:
    return AllAccountsPlan.of(view.request)


def targets_text(view: RequestView, plan: AllAccountsPlan) -> str:
    """The card's *Targets* for an --all-accounts request."""
    if plan.verb == "disable":
        text = (
            f"*Every cPanel account on the server*: {plan.accounts_at_request:,} when "
            f"requested ({plan.suspended_at_request:,} of them already suspended)"
        )
        if plan.listed is None:
            return text + "; listed again with listaccts when it executes."
        text += (
            f"; {plan.listed:,} listed when it executed, {plan.already_suspended:,} already "
            "suspended: left as they were."
        )
        return text
    names = [t.target for t in view.targets]
    shown = ", ".join(f"`{escape(n)}`" for n in names[:_SHOWN_NAMES])
    if len(names) > _SHOWN_NAMES:
        shown += f" and {len(names) - _SHOWN_NAMES:,} more"
    return (
        f"*The suspensions request #{plan.lifts} (`disable --all-accounts`) set*: "
        f"{len(names):,} accounts ({shown}). {plan.left_suspended:,} accounts suspended "
        f"before #{plan.lifts} stay suspended; {plan.changed_later:,} changed by a later "
        "request are left to it."
    )


def result_text(view: RequestView, plan: AllAccountsPlan, note: str = "") -> str:
    """The one summary at the end: counts, then every failure by name (bounded)."""
    req = view.request
    rows = [t for t in view.targets if t.target != ALL_ACCOUNTS_KEY]
    group = [t for t in view.targets if t.target == ALL_ACCOUNTS_KEY]
    ok = [t for t in rows if t.outcome == TargetOutcome.SUCCEEDED.value]
    failed = [t for t in view.targets if t.outcome != TargetOutcome.SUCCEEDED.value]
    head = _HEAD.get(view.status, view.status.value)
    tenant = escape(req.tenant)
    if plan.verb == "disable":
        changed = len(ok) - plan.already_suspended
        listed = plan.listed if plan.listed is not None else len(rows)
        lines = [
            f"{head}: request #{view.id}, disable --all-accounts on `{tenant}`: outgoing mail "
            f"suspended for {changed:,} of {listed:,} accounts listed "
            f"({plan.accounts_at_request:,} when requested); {plan.already_suspended:,} "
            f"were suspended already and were left as they were; {len(failed):,} failed."
        ]
    else:
        lines = [
            f"{head}: request #{view.id}, enable --all-accounts on `{tenant}`: suspension "
            f"lifted for {len(ok):,} of {len(rows):,} accounts that #{plan.lifts} suspended; "
            f"{plan.left_suspended:,} suspended before #{plan.lifts} stay suspended; "
            f"{len(failed):,} failed."
        ]
    for row in group:  # the listing itself failed, or named accounts the bot would not use
        if row.outcome != TargetOutcome.SUCCEEDED.value:
            lines.append(f":x: {escape(row.message or '')}")
    bad = [t for t in failed if t.target != ALL_ACCOUNTS_KEY]
    if bad:
        lines.append(f"*Failed ({len(bad):,}):*")
        lines += [
            f"• `{escape(t.target)}`: {escape(t.message or '')}" for t in bad[:_SHOWN_FAILURES]
        ]
        if len(bad) > _SHOWN_FAILURES:
            lines.append(
                f"… and {len(bad) - _SHOWN_FAILURES:,} more (`/smtp history {tenant}` has "
                "every result)."
            )
    if note and view.status is RequestStatus.SUCCEEDED:
        lines.append(f"_{escape(note)}_")
    if plan.verb == "disable" and ok:
        lines.append(
            f"To lift it: `/smtp enable {tenant} --all-accounts` (the "
            f"{plan.already_suspended:,} suspended before stay suspended)."
        )
    text = "\n".join(lines)
    return text if len(text) <= _LIMIT else text[: _LIMIT - 1] + "…"
