"""Whether the approvals a tenant asks for can ever be given by the approvers it lists.

Nobody approves their own request, and one person counts once. A tenant that needs 2
approvals for a whole-server change but lists one approver (the README's own example did)
stores requests that can only expire. User IDs are counted exactly; a user group's members
are not known at load time, so a group makes any count possible here and is checked against
Slack when a request is made (bot.commands.reachable)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol

__all__ = ["approval_warnings", "unreachable_approvals", "user_approvers"]

_KEYS = ("approvals_required", "approvals_required_tenant_wide")


class _Tenant(Protocol):
    approvers: list[str]
    approvals_required: int
    approvals_required_tenant_wide: int
    requesters: list[str] | None


class _Config(Protocol):
    @property
    def tenants(self) -> dict[str, _Tenant]: ...  # pragma: no branch


def user_approvers(tenant: _Tenant) -> set[str]:
    """The approvers listed as users (U… or W…), not as groups (S…)."""
    return {a for a in tenant.approvers if a[:1] in ("U", "W")}


def _has_group(tenant: _Tenant) -> bool:
    return any(a.startswith("S") for a in tenant.approvers)


def unreachable_approvals(config: _Config) -> Iterator[tuple[tuple[str, ...], str]]:
    """(key path, problem) for each required count the listed users can never give."""
    for name, tenant in config.tenants.items():
        if _has_group(tenant):
            continue
        users = len(user_approvers(tenant))
        for key in _KEYS:
            needed = getattr(tenant, key)
            if needed > users:
                yield (
                    ("tenants", name, key),
                    f"needs {needed} approvers, {users} listed: list more users (or a user "
                    f"group) in `approvers`, or set `{key}: {users}`",
                )


def approval_warnings(config: _Config) -> Iterator[str]:
    """Counts that are reachable only when the requester is not an approver."""
    for name, tenant in config.tenants.items():
        if _has_group(tenant):
            continue
        users = user_approvers(tenant)
        if tenant.requesters is not None and not users & set(tenant.requesters):
            continue  # approvers cannot request: every approver can approve every request
        for key in _KEYS:
            needed = getattr(tenant, key)
            if needed == len(users):
                yield (
                    f"tenant {name}: `{key}: {needed}` with {needed} approver(s): a request by "
                    f"one of them can get at most {needed - 1} approval(s) and will expire"
                )
