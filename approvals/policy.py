"""Who may request and approve, and how many approvals a request needs.

Pure rules: group membership is answered by an injected ``Membership`` so that this module
knows nothing of Slack user groups.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Protocol

__all__ = ["CLI_ACTOR_PREFIX", "DirectMembership", "Membership", "TenantPolicy", "is_cli_actor"]

CLI_ACTOR_PREFIX = "cli:"


def is_cli_actor(actor: str) -> bool:
    """Actors from the break-glass CLI are recorded as ``cli:<os-user>``."""
    return actor.startswith(CLI_ACTOR_PREFIX)


class Membership(Protocol):
    """Answers whether an actor is one of a set of principals (users or groups)."""

    def is_member(self, actor: str, principals: frozenset[str]) -> bool: ...


class DirectMembership:
    """Membership by exact ID only: no groups."""

    def is_member(self, actor: str, principals: frozenset[str]) -> bool:
        return actor in principals


@dataclass(frozen=True, slots=True)
class TenantPolicy:
    """A tenant's approval policy, as configured."""

    approvers: frozenset[str]
    approvals_required: int = 1
    approvals_required_tenant_wide: int = 2
    request_ttl: timedelta = timedelta(hours=1)
    requesters: frozenset[str] | None = None  # None: anyone may request
    cli_can_approve: bool = False

    def required_for(self, *, tenant_wide: bool) -> int:
        return self.approvals_required_tenant_wide if tenant_wide else self.approvals_required

    def may_request(self, actor: str, membership: Membership) -> bool:
        if self.requesters is None or is_cli_actor(actor):
            return True
        return membership.is_member(actor, self.requesters)

    def may_approve(self, actor: str, membership: Membership) -> bool:
        if is_cli_actor(actor):
            return self.cli_can_approve
        return membership.is_member(actor, self.approvers)
