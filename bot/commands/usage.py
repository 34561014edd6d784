"""``/smtp usage``: who still authenticates with SMTP AUTH, and the one request that would
switch it off org-wide while keeping them allowed. Nothing of Slack here.

Exchange tenants only. The sign-in logs come from Microsoft Graph with the tenant's own app
and certificate (``certificate_path``; on a ``transport: winrm`` tenant too), the mailboxes'
settings from the tenant's Exchange provider, whichever transport it uses. The answer offers a
change (``approvals.proposals``): org ``disable`` plus ``enable`` (``$false``) for exactly the
mailboxes listed, exceptions first, requested only when the person presses the button.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from approvals import Workflow
from approvals.proposals import Offer
from bot.commands.grammar import Usage
from bot.config.durations import format_duration
from bot.config.schema import ExchangeTenant
from bot.errors import CommandError
from bot.tenants import TenantRegistry
from providers import ProviderError, Target, Verb
from providers.microsoft.graph_signins import GraphSignIns
from providers.microsoft.smtp_usage import UsageReport, read_usage

__all__ = ["OFFER_TTL", "UsageAnswer", "UsageService"]

OFFER_TTL = timedelta(hours=1)  # past it, the list may be stale: run usage again
_GRAPH_KEYS = (
    "`/smtp usage` reads the sign-in logs through Microsoft Graph with the tenant's own app "
    "and certificate, which `{tenant}` does not have: add `certificate_path` (the app's "
    "certificate with its private key, PEM or PKCS#12) and `certificate_password` if it "
    "has one (the bot signs in as `app_id` to `tenant_id`, default `organization`); the app needs "
    "the Microsoft Graph application permission AuditLog.Read.All with admin consent "
    "(docs/configuration.md)."
)


@dataclass(frozen=True, slots=True)
class UsageAnswer:
    """The report, the window it covers, and the offer made (None: nothing to offer, and
    ``why_no_offer`` says why)."""

    tenant: str
    since: timedelta
    read_at: datetime
    report: UsageReport
    offer: Offer | None = None
    why_no_offer: str = ""


class UsageService:
    """Reads usage for a tenant and stores the offer the answer makes."""

    def __init__(
        self,
        workflow: Workflow,
        tenants: TenantRegistry,
        *,
        graph: Callable[[str], GraphSignIns] | None = None,
    ) -> None:
        self.workflow = workflow
        self.tenants = tenants
        self._graph = graph  # tests inject; the default builds one client per tenant
        self._clients: dict[str, GraphSignIns] = {}
        self._lock = threading.Lock()

    def precheck(self, command: Usage) -> ExchangeTenant:
        """Config-only checks, fast enough for before the ack. Raises CommandError."""
        tenant = self.tenants.get(command.tenant)
        if not isinstance(tenant, ExchangeTenant):
            raise CommandError(
                f"`{command.tenant}` is a {tenant.provider.upper()} tenant: `usage` reads "
                "Microsoft Entra sign-in logs, so it works on Exchange tenants only."
            )
        if self._graph is None and tenant.microsoft_app() is None:
            raise CommandError(_GRAPH_KEYS.format(tenant=command.tenant))
        return tenant

    def read(self, command: Usage, *, offered_to: str, may_request: bool) -> UsageAnswer:
        """Read the sign-ins and the mailboxes' settings; store the offer when there is one
        (``may_request``: the reader may request changes for the tenant)."""
        tenant = self.precheck(command)
        now = self.workflow.now()
        since = now - command.since

        def refuse(target: Target) -> str | None:
            domain = target.domain
            if domain is not None and not tenant.serves(domain):
                return f"outside the domains of `{command.tenant}`: the bot does not act on it"
            return None

        try:
            report = read_usage(
                self._client(command.tenant),
                self.tenants.provider(command.tenant),
                since,
                refuse=refuse,
            )
        except ProviderError as exc:
            raise CommandError(f"Could not read the sign-in logs: {exc.user_message}") from None
        why = _why_no_offer(report, may_request, command.tenant)
        if why:
            return UsageAnswer(command.tenant, command.since, now, report, why_no_offer=why)
        window = format_duration(command.since)
        keep = report.exceptions
        offer = self.workflow.proposals.offer(
            tenant=command.tenant,
            verb=Verb.DISABLE.value,
            targets=[*((t.key(), Verb.ENABLE.value) for t in keep), (Target.tenant().key(), None)],
            reason=(
                f"Org-wide SMTP AUTH disable, keeping the {len(keep)} mailbox(es) that "
                f"authenticated with SMTP AUTH in the last {window} allowed (/smtp usage)."
            ),
            offered_to=offered_to,
            tenant_wide=True,
            ttl=OFFER_TTL,
        )
        return UsageAnswer(command.tenant, command.since, now, report, offer)

    def _client(self, tenant: str) -> GraphSignIns:
        if self._graph is not None:
            return self._graph(tenant)
        with self._lock:
            if tenant not in self._clients:
                config = self.tenants.get(tenant)
                assert isinstance(config, ExchangeTenant)
                app = config.microsoft_app()
                assert app is not None  # precheck
                tokens = self.tenants.tokens(tenant)  # shared with a REST tenant's provider
                assert tokens is not None  # a tenant with certificate_path has one
                self._clients[tenant] = GraphSignIns(
                    graph_url=app.graph_url,
                    tokens=tokens,
                    verify=app.verify_tls,
                    timeout_s=float(config.timeout or 30),
                )
            return self._clients[tenant]

    def close(self) -> None:
        with self._lock:
            for client in self._clients.values():
                client.close()
            self._clients.clear()


def _why_no_offer(report: UsageReport, may_request: bool, tenant: str) -> str:
    """Why the answer offers no request, or empty when it does."""
    if report.org_disabled is None:
        return f"The organisation's setting could not be read ({report.org_problem})."
    if report.org_disabled:
        return "SMTP AUTH is already off for the whole organisation."
    if report.truncated:
        return (
            f"The sign-in log has more than the {report.pages} pages read: the list is "
            "incomplete, so no exceptions are offered. Use a shorter --since."
        )
    if not may_request:
        return f"You may read this, but not request changes for `{tenant}`."
    return ""  # mailboxes that could not be read are listed; the offer leaves them out
