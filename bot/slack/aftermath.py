"""What a finished change did to each target, and what to do next about the ones it did not.

Whether a target changed comes from what was recorded for it: a success is a verified
read-back; a failure carries the provider's error kind (``approvals.execution`` stores it),
and the kind says whether the back end can have made the change. A refusal, an unknown
target or rejected credentials cannot have changed anything; a timeout or an unreadable
answer may have, so those are said to be unknown, never guessed."""

from __future__ import annotations

import json
from enum import StrEnum

from approvals import RequestView, TargetOutcome
from approvals.models import RequestTarget
from bot.slack.labels import status_key
from bot.slack.mrkdwn import escape

__all__ = ["Change", "change_of", "change_summary", "next_step"]


class Change(StrEnum):
    """Whether the back end's state of a target was changed by the request."""

    CHANGED = "changed"
    UNCHANGED = "unchanged"
    UNKNOWN = "unknown"


# provider error kinds (providers.errors) raised before the back end changed anything, or
# meaning it refused to; "skipped" is a target left alone because a later request changed it
_NOTHING_DONE = {
    "invalid_target": "check the name and request again",
    "not_found": "check the name and request again",
    "ambiguous": "name it exactly (the back end has more than one match) and request again",
    "auth": "the back end refused the bot's credentials: fix the tenant's credentials, "
    "then request again",
    "rejected": "the back end refused it for the reason quoted; request again once that is "
    "resolved",
    "skipped": "the later request decides this target",
    "rolled_back": "request it again once the setting that failed is fixed",
    "held_back": "fix the earlier step's failures, then request again",
}
_MAYBE_DONE = {
    "unavailable": "request again when the back end answers (repeating the change is safe)",
    "protocol": "the back end's answer could not be read; request again once it answers normally",
    "verification_failed": "the back end accepted the change but reads back otherwise",
}


def _facts(target: RequestTarget) -> dict[str, object]:
    try:
        value = json.loads(target.state) if target.state else {}
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def change_of(target: RequestTarget) -> Change:
    """Changed (verified), unchanged (the recorded outcome says so), or unknown."""
    facts = _facts(target)
    if target.outcome == TargetOutcome.SUCCEEDED.value:
        return Change.UNCHANGED if "dry_run_planned" in facts else Change.CHANGED
    if target.outcome == TargetOutcome.PENDING.value:
        return Change.UNCHANGED  # never attempted
    if facts.get("before_change") or facts.get("error_kind") in _NOTHING_DONE:
        return Change.UNCHANGED
    return Change.UNKNOWN


def next_step(view: RequestView, target: RequestTarget) -> str:
    """For a target that did not succeed: whether it changed, and what to do now."""
    kind = str(_facts(target).get("error_kind") or "")
    if change_of(target) is Change.UNCHANGED:
        facts = _facts(target)
        if facts.get("before_change") and kind in _MAYBE_DONE:  # it never got to the change
            backend = str(facts.get("backend") or "the back end")
            return f"nothing was changed on this target; request again when {backend} answers"
        advice = _NOTHING_DONE.get(kind, "request again")
        return f"nothing was changed on this target; {advice}"
    check = f"`/smtp status {escape(view.request.tenant)} {escape(status_key(target.target))}`"
    advice = _MAYBE_DONE.get(kind, "see the bot's log")
    return f"it may or may not have changed: check with {check}; {advice}"


def change_summary(view: RequestView) -> str:
    """``Not changed: `b@x`. Unknown (check their status): `c@x`. Changed: `a@x`.`` for a
    request that did not succeed everywhere; empty when every target succeeded."""
    groups: dict[Change, list[str]] = {c: [] for c in Change}
    for target in view.targets:
        groups[change_of(target)].append(target.target)
    if not groups[Change.UNCHANGED] and not groups[Change.UNKNOWN]:
        return ""
    if not groups[Change.CHANGED] and not groups[Change.UNKNOWN]:
        return "Nothing was changed."
    parts = [
        f"{label}: {_names(groups[change])}."
        for change, label in (  # what needs attention first, as the result lines
            (Change.UNCHANGED, "Not changed"),
            (Change.UNKNOWN, "Unknown (check their status)"),
            (Change.CHANGED, "Changed"),
        )
        if groups[change]
    ]
    return " ".join(parts)


def _names(keys: list[str], shown: int = 10) -> str:
    names = ", ".join("the whole server" if k == "*" else f"`{escape(k)}`" for k in keys[:shown])
    return names + (f" and {len(keys) - shown} more" if len(keys) > shown else "")
