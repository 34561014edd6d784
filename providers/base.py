"""The one interface every back end implements, and the results it returns.

Command code never sees WHM JSON or WinRM output: providers translate both into these types.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from providers.errors import ProviderError
from providers.targets import Scope, Target, Verb

__all__ = ["Provider", "TargetResult", "TargetState"]


@dataclass(frozen=True, slots=True)
class TargetState:
    """The outbound-SMTP state of one target as read from the back end.

    ``summary`` is one human line ("outgoing mail suspended"); ``facts`` holds the raw
    values it was built from (JSON-serialisable: bool, int, str or None).
    """

    target: Target
    summary: str
    facts: Mapping[str, object] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class TargetResult:
    """The outcome for one target of a status read or a change.

    Exactly one of ``state`` (success: the verified state) and ``error`` is set, except in a
    dry run, where ``planned`` lists the calls that would have changed state and ``state`` is
    the current state.
    """

    target: Target
    state: TargetState | None = None
    error: ProviderError | None = None
    planned: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def message(self) -> str:
        """One line for people: the verified state or the error's safe message."""
        if self.error is not None:
            return self.error.user_message
        if self.planned:
            return "dry run, would call: " + ", ".join(self.planned)
        return self.state.summary if self.state else ""


@runtime_checkable
class Provider(Protocol):
    """A back end that can read and change outbound SMTP for targets of one tenant.

    Implementations must be safe to call from several threads and must make every change
    idempotent (they set a state), so that a retried or re-run change is harmless.

    Optionally, ``batch_size`` (int) says how many targets one ``apply`` call should get, so
    callers can show progress on bulk changes; absent or None means "all in one call" (the
    Exchange provider's one WinRM command per batch).
    """

    kind: str

    def capabilities(self) -> frozenset[tuple[Scope, Verb]]:
        """The (scope, verb) pairs this provider supports, STATUS included."""
        ...

    def check_targets(self, targets: Sequence[Target]) -> list[TargetResult]:
        """Check that each target exists on the back end, before a request is stored.

        A result with ``error`` set (TargetNotFound, AmbiguousTarget, …) means the request
        must not be created for that target. Nothing is changed.
        """
        ...

    def status(self, targets: Sequence[Target]) -> list[TargetResult]:
        """Read the live state of each target. Nothing is changed."""
        ...

    def apply(self, verb: Verb, targets: Sequence[Target]) -> list[TargetResult]:
        """Change each target, read it back, and return one result per target, in order.

        A read-back that does not show the requested state is a VerificationFailed error.
        One target's failure never stops the others.
        """
        ...

    def close(self) -> None:
        """Release connections."""
        ...
