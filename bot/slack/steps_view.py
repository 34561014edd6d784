"""How a request of several steps reads on its card, in lists and in its result.

A request whose targets carry verbs of their own runs as steps (``approvals.steps``). The one
the bot makes today is ``/smtp usage``'s: ``enable`` (``$false``) on the mailboxes to keep,
then ``disable`` on the organisation; it reads "Disable SMTP AUTH org-wide, keeping these 3
mailboxes allowed: …". Any other mix reads as its steps in order.
"""

from __future__ import annotations

import json

from approvals import RequestView, TargetOutcome
from approvals.steps import HELD_BACK, Step, is_mixed, steps
from bot.slack.mrkdwn import escape

__all__ = ["change_text", "held_back_line", "short_text"]

_SHOWN = 10


def _names(step: Step, shown: int = _SHOWN) -> str:
    keys = [t.target for t in step.targets]
    text = ", ".join("*WHOLE TENANT*" if k == "*" else f"`{escape(k)}`" for k in keys[:shown])
    return text + (f" and {len(keys) - shown} more" if len(keys) > shown else "")


def _keeping(view: RequestView) -> tuple[Step, Step] | None:
    """(exceptions, org switch) for "disable org-wide, keeping these allowed", else None."""
    plan = steps(view)
    if len(plan) != 2:
        return None
    keep, org = plan
    whole = [t.target for t in org.targets] == ["*"]
    if keep.verb == "enable" and org.verb == "disable" and whole and "*" not in _keys(keep):
        return keep, org
    return None


def _keys(step: Step) -> list[str]:
    return [t.target for t in step.targets]


def change_text(view: RequestView) -> str | None:
    """The card's sentence for a request of several steps (None: a one-verb request)."""
    if not is_mixed(view):
        return None
    pair = _keeping(view)
    if pair is not None:
        keep, _org = pair
        count = len(keep.targets)
        noun = "mailbox" if count == 1 else "mailboxes"
        these = "this" if count == 1 else "these"
        return (
            f"Disable SMTP AUTH org-wide, keeping {these} {count} {noun} allowed: "
            f"{_names(keep)}.\nOrder: the {noun} first (`$false`, each read back), then the "
            "organisation (`$true`, read back); if any of them fails, the organisation is "
            "not switched."
        )
    parts = [f"{i}. {step.verb} {_names(step)}" for i, step in enumerate(steps(view), 1)]
    return "In order, each step only once the one before succeeded:\n" + "\n".join(parts)


def short_text(view: RequestView) -> str | None:
    """One line for lists and App Home (None: a one-verb request)."""
    if not is_mixed(view):
        return None
    pair = _keeping(view)
    if pair is not None:
        return f"org-wide disable, keeping {len(pair[0].targets)} allowed"
    return "; then ".join(f"{s.verb} {len(s.targets)} target(s)" for s in steps(view))


def held_back_line(view: RequestView) -> str:
    """For a finished request whose later steps were not carried out: which and why."""
    held = [t for t in view.targets if _kind(t.state) == HELD_BACK]
    if not held:
        return ""
    failed = [t for t in view.targets if t.outcome == TargetOutcome.FAILED.value and t not in held]
    pair = _keeping(view)
    if pair is not None:
        return (
            f":no_entry: The organisation was NOT switched: {len(failed)} of "
            f"{len(pair[0].targets)} exception(s) failed, so SMTP AUTH stays as it was for "
            "the whole organisation."
        )
    return (
        f":no_entry: {len(held)} target(s) of later steps were not carried out: an earlier "
        "step failed."
    )


def _kind(state: str | None) -> str:
    try:
        facts = json.loads(state) if state else {}
    except ValueError:
        return ""
    return str(facts.get("error_kind") or "") if isinstance(facts, dict) else ""
