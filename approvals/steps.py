"""One request, several verbs: its targets as steps, in position order.

A request's targets normally share its verb. A request may give some targets a verb of their
own (``RequestTarget.verb``), e.g. "enable these mailboxes, then disable the organisation":
its steps are the runs of targets with the same verb, in position order, and each step runs
only once every target of the steps before it succeeded, so a failed exception never leaves
the organisation switched without it. Verbs stay opaque strings here.
"""

from __future__ import annotations

from dataclasses import dataclass

from approvals.models import ChangeRequest, RequestTarget, TargetOutcome
from approvals.workflow_base import RequestView

__all__ = ["HELD_BACK", "Step", "held_back_message", "is_mixed", "steps", "verb_of"]

HELD_BACK = "held_back"  # the error kind of a target not attempted because a step failed


def verb_of(request: ChangeRequest, target: RequestTarget) -> str:
    """The verb this target is changed with."""
    return target.verb or request.verb


def is_mixed(view: RequestView) -> bool:
    """True when the request's targets do not all share its verb."""
    return any(t.verb and t.verb != view.request.verb for t in view.targets)


@dataclass(frozen=True, slots=True)
class Step:
    """A run of targets that share a verb, carried out together."""

    verb: str
    targets: tuple[RequestTarget, ...]

    @property
    def failed(self) -> bool:
        return any(t.outcome == TargetOutcome.FAILED.value for t in self.targets)

    @property
    def pending(self) -> list[RequestTarget]:
        return [t for t in self.targets if t.outcome == TargetOutcome.PENDING.value]


def steps(view: RequestView) -> list[Step]:
    """The request's steps in execution order (one step when every target shares the verb)."""
    found: list[tuple[str, list[RequestTarget]]] = []
    for target in sorted(view.targets, key=lambda t: t.position):
        verb = verb_of(view.request, target)
        if found and found[-1][0] == verb:
            found[-1][1].append(target)
        else:
            found.append((verb, [target]))
    return [Step(verb, tuple(targets)) for verb, targets in found]


def held_back_message(verb: str, targets: int, failed: int) -> str:
    """Why a later step's target was not attempted: the step ``verb`` on ``targets`` targets
    failed on ``failed`` of them."""
    return (
        f"not attempted: the earlier step ({verb} on {targets} target(s)) failed on {failed}, "
        "so the later steps were not carried out"
    )
