"""What the Exchange back end can do, and which targets it refuses before sending anything.

Shared by both transports (WinRM and REST), so they offer the same verbs and refuse the
same targets with the same words.
"""

from __future__ import annotations

from providers.errors import InvalidTarget, ProviderError
from providers.exchange_results import DESIRED
from providers.targets import Scope, Target, Verb

__all__ = ["CAPABILITIES", "refusal"]

CAPABILITIES: frozenset[tuple[Scope, Verb]] = frozenset(
    {
        (Scope.TENANT, Verb.DISABLE),
        (Scope.TENANT, Verb.ENABLE),
        (Scope.TENANT, Verb.STATUS),
        (Scope.MAILBOX, Verb.DISABLE),
        (Scope.MAILBOX, Verb.ENABLE),
        (Scope.MAILBOX, Verb.RESET),
        (Scope.MAILBOX, Verb.STATUS),
    }
)


def refusal(op: str, verb: Verb, target: Target) -> ProviderError | None:
    """Why this target can't be sent, or None. Re-validates hand-built Targets."""
    if op == "apply" and verb not in DESIRED:
        return InvalidTarget(f"Exchange has no “{verb}” action.")
    if (target.scope, verb) not in CAPABILITIES:
        return InvalidTarget(f"Exchange cannot {verb} {target}.")
    if target.scope is Scope.MAILBOX:
        try:
            valid = Target.parse(target.name) == target
        except InvalidTarget as exc:
            return exc
        if not valid:
            return InvalidTarget(f"“{target}” is not a canonical mailbox identity.")
    return None
