"""What the timed revert of a ``/smtp set`` or ``/smtp limit`` sets: each setting's (or
account's hourly limit's) value from before it.

The previous value was read by the provider just before the change and stored with the
target's verified state (``previous``), so the revert needs no guess and no new read."""

from __future__ import annotations

import json
from collections.abc import Sequence

from approvals import RequestView
from providers import Scope, Target

__all__ = ["previous_settings"]

_PREFIXES = {Scope.SETTING: "setting:", Scope.LIMIT: "limit:"}


def previous_settings(view: RequestView, keys: Sequence[str]) -> list[Target]:
    """``setting:key=previous`` (``limit:NAME=previous``) for each target key to revert."""
    states = {t.target: t.state for t in view.targets}
    targets = []
    for key in keys:
        target = Target.from_key(key)
        facts = json.loads(states.get(key) or "{}")
        previous = facts.get("previous") if isinstance(facts, dict) else None
        prefix = _PREFIXES.get(target.scope, "setting:")
        if target.scope in _PREFIXES and isinstance(previous, str):
            name = target.name.partition("=")[0]
            targets.append(Target.parse(f"{prefix}{name}={previous}"))
        else:  # no previous value recorded: leave it, the provider refuses a bare key
            targets.append(Target(target.scope, target.name.partition("=")[0]))
    return targets
