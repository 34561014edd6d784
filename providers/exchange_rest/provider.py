"""Exchange Online back end over REST (InvokeCommand / $batch): no Windows host, no PowerShell.

The same verbs, capabilities, results and wording as the WinRM provider (providers/exchange.py):
both build the per-target record the WinRM script prints (``before``, ``after``, ``org``,
``guid`` …) and ``exchange_results.to_result`` turns it into a verified result. A mailbox is
resolved with Get-CASMailbox (exactly one, its GUID kept), changed by GUID with Set-CASMailbox,
and read back by GUID; a read-back that still shows the old value is read again after a short
wait (Exchange Online answers from replicas that can lag), and only then is it a
VerificationFailed.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Mapping, Sequence

import httpx

from providers import deadline
from providers.base import TargetResult
from providers.errors import ProtocolError, ProviderError, TargetNotFound
from providers.exchange_errors import classify_error
from providers.exchange_rest.client import BATCH_LIMIT, ExoRestClient
from providers.exchange_rest.mailboxes import MailboxFlow, flag
from providers.exchange_rest.wire import Command, Outcome
from providers.exchange_results import DESIRED, to_result
from providers.exchange_scope import CAPABILITIES, refusal
from providers.microsoft.tokens import AccessTokens
from providers.targets import Scope, Target, Verb

__all__ = ["ExchangeRestProvider"]

_GUID = re.compile(r"^[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$")
_ORGANIZATION = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.onmicrosoft\.com$")
_ORG_PROPERTY = "SmtpClientAuthenticationDisabled"
CALLS_PER_APPLY = 8  # one apply() gets this many calls' worth of time, per round
ROUNDS_PER_APPLY = 5


class ExchangeRestProvider:
    """Provider for one Exchange Online tenant over HTTPS; thread-safe."""

    kind = "exchange"

    def __init__(
        self,
        *,
        tenant_id: str,
        organization: str,
        exchange_url: str,
        tokens: AccessTokens,
        max_concurrency: int = 4,
        dry_run: bool = False,
        verify_tls: bool | str = True,
        timeout_s: float = 30.0,
        retries: int = 4,
        backoff_s: float = 1.0,
        reread_delays_s: Sequence[float] = (0.5, 1.0, 2.0),
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if not (_GUID.match(tenant_id) or _ORGANIZATION.match(tenant_id)):
            raise ValueError("tenant_id must be a GUID or the tenant's *.onmicrosoft.com domain")
        if not _ORGANIZATION.match(organization):
            raise ValueError("organization must be the tenant's primary *.onmicrosoft.com domain")
        self.organization = organization
        # targets per apply() (a card update each): a whole number of rounds of full $batch
        # requests on every worker, so no phase ends with most workers idle
        self.batch_size = BATCH_LIMIT * max_concurrency * ROUNDS_PER_APPLY
        self._dry_run = dry_run
        self._timeout_s = timeout_s
        self._sleep = sleep
        self._client = ExoRestClient(
            tenant_id=tenant_id,
            exchange_url=exchange_url,
            tokens=tokens,
            verify_tls=verify_tls,
            timeout_s=timeout_s,
            max_concurrency=max_concurrency,
            retries=retries,
            backoff_s=backoff_s,
            transport=transport,
            sleep=sleep,
        )
        self._flow = MailboxFlow(self._client, reread=self._reread_delays(reread_delays_s))
        self._closed = False

    def __repr__(self) -> str:
        return f"ExchangeRestProvider(organization={self.organization!r})"

    def capabilities(self) -> frozenset[tuple[Scope, Verb]]:
        return CAPABILITIES

    def check_targets(self, targets: Sequence[Target]) -> list[TargetResult]:
        """Resolve every mailbox (exactly one each); an unknown or ambiguous one gets an error."""
        return self._batch("check", Verb.STATUS, targets)

    def status(self, targets: Sequence[Target]) -> list[TargetResult]:
        return self._batch("status", Verb.STATUS, targets)

    def apply(self, verb: Verb, targets: Sequence[Target]) -> list[TargetResult]:
        """Set, read back and verify every target (dry run: read only, say what would change)."""
        return self._batch("apply", verb, targets)

    def close(self) -> None:
        self._closed = True
        self._client.close()

    # -- one call ------------------------------------------------------------------------------

    def _batch(self, op: str, verb: Verb, targets: Sequence[Target]) -> list[TargetResult]:
        if self._closed:
            raise RuntimeError("ExchangeRestProvider is closed")
        results: dict[int, TargetResult] = {}
        mailboxes: list[tuple[int, Target]] = []
        tenants: list[tuple[int, Target]] = []
        for index, target in enumerate(targets):
            refused = refusal(op, verb, target)
            if refused is not None:
                results[index] = TargetResult(target, error=refused)
            elif target.scope is Scope.TENANT:
                tenants.append((index, target))
            else:
                mailboxes.append((index, target))
        if mailboxes or tenants:
            change = verb if op == "apply" else None
            dry = self._dry_run and change is not None
            rounds = -(-len(targets) // (self.batch_size // ROUNDS_PER_APPLY))
            with deadline.budget(self._timeout_s * CALLS_PER_APPLY * max(rounds, 1)):
                results.update(self._run(change, dry, mailboxes, tenants))
        return [results[i] for i in range(len(targets))]

    def _run(
        self,
        change: Verb | None,
        dry: bool,
        mailboxes: list[tuple[int, Target]],
        tenants: list[tuple[int, Target]],
    ) -> dict[int, TargetResult]:
        """Mailboxes first (exceptions before an org switch), then the organisation."""
        org_read = self._client.submit(self._read_org)
        items = self._flow.resolve([t for _, t in mailboxes])
        try:
            org = org_read.result()
        except ProviderError as exc:
            exc.before_change = True  # nothing is changed before the organisation is read
            return {i: TargetResult(t, error=exc) for i, t in (*mailboxes, *tenants)}
        out: dict[int, TargetResult] = {}
        if change is not None:
            self._flow.change(items, DESIRED[change], dry=dry)
        for (index, target), item in zip(mailboxes, items, strict=True):
            out[index] = self._result(target, item.record(org), change, dry)
        for index, target in tenants:
            out[index] = self._tenant(target, org, change, dry)
        return out

    def _result(
        self, target: Target, record: Mapping[str, object], change: Verb | None, dry: bool
    ) -> TargetResult:
        error = record.get("error")
        if isinstance(error, ProviderError):
            return TargetResult(target, error=error)
        try:
            return to_result(target, record, verb=change, dry_run=dry)
        except ProtocolError as exc:
            return TargetResult(target, error=exc)

    # -- the organisation ----------------------------------------------------------------------

    def _tenant(self, target: Target, org: bool, change: Verb | None, dry: bool) -> TargetResult:
        item: dict[str, object] = {
            "scope": "tenant", "identity": "", "before": org, "after": org, "org": org,
            "changed": False, "would_set": False, "error": None,
        }  # fmt: skip
        want = DESIRED[change] if change is not None else None
        if change is not None and org is not want:
            if dry:
                item["would_set"] = True
            else:
                try:
                    after = self._set_org(bool(want))
                except ProviderError as exc:
                    return TargetResult(target, error=exc)
                item.update(after=after, org=after, changed=True)
        return self._result(target, item, change, dry)

    def _set_org(self, want: bool) -> bool:
        """Set-TransportConfig, then Get-TransportConfig until it shows ``want`` (bounded)."""
        command = Command("Set-TransportConfig", {_ORG_PROPERTY: want})
        self._raise(self._client.invoke(command), target="the organisation")
        after = self._read_org()
        for delay in self._flow.reread:
            if after is want:
                break
            self._flow.wait(delay)
            after = self._read_org()
        return after

    def _read_org(self) -> bool:
        outcome = self._client.invoke(Command("Get-TransportConfig", select=(_ORG_PROPERTY,)))
        self._raise(outcome, target="the organisation")
        if len(outcome.value) != 1:
            raise ProtocolError(
                "Exchange Online returned no single transport configuration.",
                detail=f"{len(outcome.value)} records",
            )
        value = flag(outcome.value[0], _ORG_PROPERTY, what="the organisation")
        if value is None:
            raise ProtocolError(
                "Exchange Online returned no SmtpClientAuthenticationDisabled value for the "
                "organisation.",
                detail="Get-TransportConfig: property null",
            )
        return value

    @staticmethod
    def _raise(outcome: Outcome, *, target: str) -> None:
        if outcome.failure is not None:
            raise outcome.failure
        if outcome.record is not None:
            error = classify_error(outcome.record, target=target)
            if isinstance(error, TargetNotFound):  # the org always exists: not a mailbox
                raise ProtocolError("Exchange Online could not find the organisation's config.")
            raise error

    @staticmethod
    def _reread_delays(delays: Sequence[float]) -> tuple[float, ...]:
        if any(d < 0 for d in delays):
            raise ValueError("reread_delays_s must not be negative")
        return tuple(delays)
