"""Who may use the bot from where, and how often: checked before anything is stored.

Fails closed: a command from a workspace or channel that is not allowed is refused with a
clear message and recorded in the audit trail.
"""

from __future__ import annotations

from dataclasses import dataclass

from approvals import Workflow
from approvals.limits import ReadLimit, RequestLimit, admit_read
from approvals.models import utcnow
from bot.config.schema import AppConfig
from bot.errors import CommandError

__all__ = ["AccessDenied", "AccessPolicy", "Origin"]


class AccessDenied(CommandError):
    """The command came from a workspace or channel that is not allowed, or too often."""


@dataclass(frozen=True, slots=True)
class Origin:
    """Where a command or click came from."""

    user: str
    team: str | None
    channel: str | None


class AccessPolicy:
    """Team allowlist, per-tenant channel allowlists and per-user limits on change requests
    and on live-state reads."""

    def __init__(self, config: AppConfig, workflow: Workflow) -> None:
        self.config = config
        self.workflow = workflow

    def check_team(self, origin: Origin) -> None:
        allowed = self.config.slack.allowed_team_ids
        if allowed is not None and origin.team not in allowed:
            raise AccessDenied("This Slack workspace is not allowed to use smtp-bot.")

    def channel_allowed(self, tenant: str, channel: str | None) -> bool:
        config = self.config.tenants.get(tenant)
        if config is None or config.channels is None:
            return True
        return channel in config.channels

    def may_list(self, tenant: str, origin: Origin) -> bool:
        """Whether a tenant's requests may be shown to ``origin``: from an allowed workspace,
        in a channel where that tenant's commands are accepted."""
        allowed = self.config.slack.allowed_team_ids
        if allowed is not None and origin.team not in allowed:
            return False
        return self.channel_allowed(tenant, origin.channel)

    def check_channel(self, tenant: str, origin: Origin) -> None:
        if not self.channel_allowed(tenant, origin.channel):
            channels = self.config.tenants[tenant].channels or []
            where = ", ".join(f"<#{c}>" for c in channels)
            raise AccessDenied(f"Commands for {tenant} are only accepted in {where}.")

    def check_rate(self, origin: Origin) -> None:
        limits = self.config.limits
        since = utcnow() - limits.window
        count = self.workflow.count_events(actor=origin.user, event="requested", since=since)
        if count >= limits.change_requests_per_user:
            raise AccessDenied(
                f"You made {count} change requests in the last {limits.change_requests_window}; "
                f"the limit is {limits.change_requests_per_user}. Try again later, or ask "
                "another on-call engineer."
            )

    @property
    def request_limit(self) -> RequestLimit:
        """The per-user limit ``Workflow.submit`` enforces in the transaction that stores
        (``check_rate`` is only the early answer that spares a back-end check)."""
        limits = self.config.limits
        return RequestLimit(
            limits.change_requests_per_user, limits.window, limits.change_requests_window
        )

    def check_read_size(self, targets: int) -> None:
        """Refuse a status read of more targets than ``limits.status_targets_max``."""
        most = self.config.limits.status_targets_max
        if targets > most:
            raise AccessDenied(
                f"Nothing was read: a status read takes at most {most} targets, not {targets}. "
                "Split it into smaller reads."
            )

    def admit_read(self, origin: Origin, *, tenant: str, targets: int) -> None:
        """Count one live-state read against the reader's limit, in the database so that
        every replica counts the same; raises AccessDenied or ReadLimitReached (recorded)."""
        self.check_read_size(targets)
        limits = self.config.limits
        limit = ReadLimit(
            limits.status_reads_per_user, limits.reads_window, limits.status_reads_window
        )
        admit_read(self.workflow.db, limit, reader=origin.user, tenant=tenant, targets=targets)

    def refuse(self, origin: Origin, *, tenant: str | None, problem: str) -> None:
        """Record the refusal in the audit trail."""
        self.workflow.refuse_access(
            actor=origin.user,
            tenant=tenant,
            detail={"team": origin.team, "channel": origin.channel, "problem": problem},
        )
