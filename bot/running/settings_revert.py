"""What the timed revert of a ``/smtp set`` sets: each setting's value from before it.

The previous value was read by the provider just before the change and stored with the
target's verified state (``previous``), so the revert needs no guess and no new read."""

from __future__ import annotations

import json
from collections.abc import Sequence

from approvals import RequestView
from providers import Scope, Target

__all__ = ["previous_settings"]


def previous_settings(view: RequestView, keys: Sequence[str]) -> list[Target]:
    """``setting:key=previous`` for each target key still to revert."""
    states = {t.target: t.state for t in view.targets}
    targets = []
    for key in keys:
        target = Target.from_key(key)
        facts = json.loads(states.get(key) or "{}")
        previous = facts.get("previous") if isinstance(facts, dict) else None
        if target.scope is Scope.SETTING and isinstance(previous, str):
            name = target.name.partition("=")[0]
            targets.append(Target.parse(f"setting:{name}={previous}"))
        else:  # no previous value recorded: leave it, the provider refuses a bare key
            targets.append(Target(Scope.SETTING, target.name.partition("=")[0]))
    return targets
