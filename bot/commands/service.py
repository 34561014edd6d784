"""What a command means, independent of where it came from (Slack or the CLI).

Validates commands against the config and the live back end, then hands them to the
approval workflow. Every refusal is a CommandError whose text is shown to the person.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

from approvals import RequestView, Workflow
from approvals.limits import RequestLimit
from bot.commands import all_accounts
from bot.commands.grammar import Change, Queue, Status, Top
from bot.errors import CommandError
from bot.tenants import TenantRegistry
from providers import Provider, ProviderError, Scope, Target, TargetResult, Verb
from providers.whm_queue import QueueReport
from providers.whm_tracking import TopReport

__all__ = ["CommandService", "StatusReport"]

log = logging.getLogger(__name__)

_SCOPE_WORDS = {
    Scope.TENANT: "the whole tenant",
    Scope.ACCOUNT: "cPanel accounts",
    Scope.MAILBOX: "mailboxes",
    Scope.SETTING: "server settings",
    Scope.LOGIN: "mailbox logins",
    Scope.LIMIT: "accounts' hourly limits",
    Scope.ALL_ACCOUNTS: "every account",
}
_WHM_ONLY = {  # what a back end without these scopes is told (before anything is stored)
    Scope.LOGIN: "--login (suspending a mailbox's login) works on WHM tenants only",
    Scope.LIMIT: "limit (an account's hourly send limit) works on WHM tenants only",
}


@dataclass(frozen=True, slots=True)
class StatusReport:
    tenant: str
    results: tuple[TargetResult, ...]


class CommandService:
    """Turns parsed commands into workflow requests or live status reads."""

    def __init__(self, workflow: Workflow, tenants: TenantRegistry) -> None:
        self.workflow = workflow
        self.tenants = tenants

    def precheck(self, command: Change | Status | Queue | Top) -> Provider:
        """Checks that need only the config (no network): fast enough to run before the ack."""
        if isinstance(command, Top):
            provider = self.tenants.provider(command.tenant)
            if (Scope.TENANT, Verb.TOP) not in provider.capabilities():
                kind = self.tenants.get(command.tenant).provider
                raise CommandError(
                    f"{command.tenant} ({kind}) has no email tracking to read: top works on "
                    "WHM tenants only."
                )
            return provider
        if isinstance(command, Queue):
            provider = self.tenants.provider(command.tenant)
            if (Scope.TENANT, Verb.QUEUE) not in provider.capabilities():
                kind = self.tenants.get(command.tenant).provider
                raise CommandError(f"{command.tenant} ({kind}) has no mail queue to read.")
            return self._checked(command.tenant, Verb.QUEUE, [command.target or Target.tenant()])
        if isinstance(command, Change):
            return self._checked(command.tenant, command.verb, command.targets, command.revert_verb)
        return self._checked(command.tenant, Verb.STATUS, command.targets)

    def _checked(
        self, tenant: str, verb: Verb, targets: Sequence[Target], revert: Verb | None = None
    ) -> Provider:
        config = self.tenants.get(tenant)
        provider = self.tenants.provider(tenant)
        supported = provider.capabilities()
        if Target.all_accounts() in targets and (Scope.ALL_ACCOUNTS, verb) not in supported:
            raise CommandError(all_accounts.exchange_refusal(tenant, config.provider))
        for target in targets:
            if target.scope is Scope.SETTING and (target.scope, verb) not in supported:
                if (Scope.SETTING, Verb.STATUS) in supported:
                    raise CommandError("Server settings are changed only with set.")
                raise CommandError(
                    f"{tenant} ({config.provider}) has no WHM Tweak Settings: "
                    "policy and set work on WHM tenants only."
                )
            if target.scope in _WHM_ONLY and (target.scope, Verb.STATUS) not in supported:
                raise CommandError(
                    f"{_WHM_ONLY[target.scope]}: {tenant} is {config.provider}. Nothing was "
                    "requested."
                )
            if revert is not None and (target.scope, revert) not in supported:
                raise CommandError(
                    f"{tenant} ({config.provider}) cannot {revert.value} "
                    f"{_SCOPE_WORDS[target.scope]}, so --for cannot undo this change."
                )
            if (target.scope, verb) not in supported:
                raise CommandError(
                    f"{tenant} ({config.provider}) cannot {verb.value} "
                    f"{_SCOPE_WORDS[target.scope]}."
                )
            domain = target.domain
            if domain is not None and not config.serves(domain):
                raise CommandError(f"{tenant} does not serve the domain {domain}.")
        if Target.tenant() in targets and len(targets) > 1:
            raise CommandError("A whole-tenant change cannot be combined with other targets.")
        return provider

    def submit(
        self,
        command: Change,
        *,
        requester: str,
        intake_id: int | None = None,
        limit: RequestLimit | None = None,
    ) -> RequestView:
        """Validate a change against config and back end, then store it as a request
        (``intake_id``: the stored command it comes from, so it is stored once; ``limit``:
        the requester's limit, counted atomically with the insert)."""
        provider = self.precheck(command)
        if command.targets == (Target.all_accounts(),):  # listed at execution: all_accounts.py
            return all_accounts.submit(
                self.workflow,
                provider,
                command,
                requester=requester,
                intake_id=intake_id,
                limit=limit,
            )
        live = _live_check(provider, command.targets)
        problems = [r for r in live if not r.ok]
        if problems:
            lines = [f"• `{r.target}`: {r.message}" for r in problems[:20]]
            if len(problems) > 20:
                lines.append(f"• … and {len(problems) - 20} more")
            raise CommandError("Nothing was requested:\n" + "\n".join(lines))
        if command.duration is not None:
            _check_restorable(live)
        return self.workflow.submit(
            tenant=command.tenant,
            verb=command.verb.value,
            targets=[t.key() for t in command.targets],
            reason=command.reason,
            requester=requester,
            tenant_wide=_server_wide(command.targets),
            revert_verb=command.revert_verb.value if command.revert_verb else None,
            revert_after=command.duration,
            intake_id=intake_id,
            limit=limit,
            note=_warnings(live),
        )

    def status(self, command: Status) -> StatusReport:
        provider = self._checked(command.tenant, Verb.STATUS, command.targets)
        try:
            results = provider.status(list(command.targets))
        except ProviderError as exc:
            raise CommandError(f"Could not read the state: {exc.user_message}") from None
        return StatusReport(command.tenant, tuple(results))

    def queue(self, command: Queue) -> QueueReport:
        """Exim's queue read live (WHM), with the target's part when one is given."""
        provider = self.precheck(command)
        try:
            return provider.queue(command.target)  # type: ignore[attr-defined]
        except ProviderError as exc:
            raise CommandError(f"Could not read the mail queue: {exc.user_message}") from None

    def top(self, command: Top) -> TopReport:
        """The window's worst senders, read live from email tracking (WHM)."""
        provider = self.precheck(command)
        try:
            since_s = int(command.since.total_seconds())
            return provider.top(since_s, command.limit)  # type: ignore[attr-defined]
        except ProviderError as exc:
            raise CommandError(f"Could not read email tracking: {exc.user_message}") from None


def _server_wide(targets: Sequence[Target]) -> bool:
    """The whole tenant, a server setting or every account: the whole-server approval count."""
    return any(t.scope in (Scope.TENANT, Scope.SETTING, Scope.ALL_ACCOUNTS) for t in targets)


def _warnings(results: Sequence[TargetResult]) -> str | None:
    """What the back end warned of while checking the targets, for the card (once each)."""
    found = [r.state.facts.get("warning") for r in results if r.state is not None]
    texts = list(dict.fromkeys(str(w) for w in found if w))
    if not texts:
        return None
    shown = texts[:5] + ([f"… and {len(texts) - 5} more like it"] if len(texts) > 5 else [])
    return "\n".join(shown)


def _check_restorable(results: Sequence[TargetResult]) -> None:
    """--for must be able to put every previous value back."""
    for result in results:
        facts = result.state.facts if result.state is not None else {}
        if facts.get("restorable") is False:
            raise CommandError(
                f"Nothing was requested: `{facts.get('key')}` is {facts.get('value')} now, and "
                "set_tweaksetting cannot set it back to that, so --for could not undo this "
                "change. Request it without --for."
            )


def _live_check(provider: Provider, targets: Sequence[Target]) -> list[TargetResult]:
    try:
        return provider.check_targets(list(targets))
    except ProviderError as exc:
        raise CommandError(f"Could not check the targets: {exc.user_message}") from None
