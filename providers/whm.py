"""WHM/cPanel back end: outbound SMTP for the whole server, one account or one mailbox.

Scopes map to documented WHM API 1 / UAPI calls (see /work/shared/reference/whm.md):
the server-wide SMTP Restrictions tweak (``smtpmailgidonly``), the account-level
``*_outgoing_email`` functions, and UAPI ``Email::*_outgoing`` through ``uapi_cpanel``.
Every change is read back; the result carries the state the server reports afterwards.

CSF ``SMTP_BLOCK`` / Imunify360 ``SMTP_BLOCKING`` are not reported: no documented WHM API 1
call exposes them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextvars import copy_context
from dataclasses import dataclass, field
from functools import partial
from types import TracebackType

import httpx

from providers import (
    deadline,
    whm_accounts,
    whm_limits,
    whm_login,
    whm_queue,
    whm_states,
    whm_tracking,
)
from providers.base import TargetResult, TargetState
from providers.errors import (
    InvalidTarget,
    ProviderError,
    VerificationFailed,
)
from providers.targets import Scope, Target, Verb
from providers.whm_client import WhmClient
from providers.whm_owners import DomainOwners
from providers.whm_settings import TweakSettings

__all__ = ["WhmProvider", "WhmSettings"]

log = logging.getLogger(__name__)

TWEAK_KEY = "smtpmailgidonly"
REQUEST_BUDGET_CALLS = 4  # one status/apply request gets this many calls' worth of time

# verb -> (WHM function, accountsummary field, value expected on read-back)
_ACCOUNT_CALLS = {
    Verb.DISABLE: ("suspend_outgoing_email", "outgoing_mail_suspended", 1),
    Verb.ENABLE: ("unsuspend_outgoing_email", "outgoing_mail_suspended", 0),
    Verb.HOLD: ("hold_outgoing_email", "outgoing_mail_hold", 1),
    Verb.RELEASE: ("release_outgoing_email", "outgoing_mail_hold", 0),
}
# verb -> (UAPI Email function, list_pops_with_disk field, value expected on read-back)
_MAILBOX_CALLS = {
    Verb.DISABLE: ("suspend_outgoing", "suspended_outgoing", 1),
    Verb.ENABLE: ("unsuspend_outgoing", "suspended_outgoing", 0),
    Verb.HOLD: ("hold_outgoing", "hold_outgoing", 1),
    Verb.RELEASE: ("release_outgoing", "hold_outgoing", 0),
}
_TENANT_VALUES = {Verb.DISABLE: 1, Verb.ENABLE: 0}

_CAPABILITIES = frozenset(
    {(Scope.TENANT, v) for v in (*_TENANT_VALUES, Verb.STATUS)}
    | {(s, v) for s in (Scope.ACCOUNT, Scope.MAILBOX) for v in (*_ACCOUNT_CALLS, Verb.STATUS)}
    | whm_queue.CAPABILITIES
    | whm_login.CAPABILITIES  # a mailbox's login: disable/enable --login
    | whm_limits.CAPABILITIES  # an account's hourly limit: /smtp limit
    | whm_tracking.CAPABILITIES
    | {(Scope.SETTING, Verb.SET), (Scope.SETTING, Verb.STATUS)}  # Tweak Settings: whm_settings
    # --all-accounts: listed (whm_accounts), then changed one account:NAME at a time
    | {(Scope.ALL_ACCOUNTS, v) for v in (Verb.DISABLE, Verb.ENABLE, Verb.STATUS)}
)


@dataclass(frozen=True)
class WhmSettings:
    """Connection settings for one WHM server (one tenant)."""

    url: str
    username: str
    token: str = field(repr=False)
    verify_tls: bool | str = True
    timeout_s: float = 30.0  # wall clock per HTTP call: connect and every read together
    max_concurrency: int = 8
    retries: int = 3
    dry_run: bool = False


class WhmProvider:
    """Reads and changes outbound SMTP on one WHM server; safe to share between threads."""

    kind = "whm"
    batch_size = 100  # targets per apply() when callers report progress on a bulk change

    def __init__(
        self,
        settings: WhmSettings,
        *,
        transport: httpx.BaseTransport | None = None,
        backoff_s: float = 0.25,
    ) -> None:
        self._settings = settings
        self._client = WhmClient(
            url=settings.url,
            username=settings.username,
            token=settings.token,
            verify=settings.verify_tls,
            timeout_s=settings.timeout_s,
            max_concurrency=settings.max_concurrency,
            retries=settings.retries,
            backoff_s=backoff_s,
            transport=transport,
        )
        self._pool = ThreadPoolExecutor(settings.max_concurrency, thread_name_prefix="whm")
        self.purge_settings = whm_queue.PurgeSettings(dry_run=settings.dry_run)

    def __repr__(self) -> str:
        return f"WhmProvider(url={self._settings.url!r}, dry_run={self._settings.dry_run})"

    def __enter__(self) -> WhmProvider:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)
        self._client.close()

    def capabilities(self) -> frozenset[tuple[Scope, Verb]]:
        return _CAPABILITIES

    def privileges(self) -> dict[str, bool]:
        """The token's ACLs from ``myprivs``, to report missing permissions up front."""
        return self._client.privileges()

    def check_targets(self, targets: Sequence[Target]) -> list[TargetResult]:
        return self._each(targets, self._check)

    def status(self, targets: Sequence[Target]) -> list[TargetResult]:
        return self._each(targets, self._status)

    def apply(self, verb: Verb, targets: Sequence[Target]) -> list[TargetResult]:
        if verb is Verb.STATUS:
            return self.status(targets)
        if verb is Verb.PURGE:  # queue clean-up: providers/whm_queue.py
            purge = partial(whm_queue.purge, self._client, self.purge_settings)
            return self._each(targets, lambda t, owners: purge(t, owners.owner))
        if verb is Verb.LIMIT:  # hourly limits: providers/whm_limits.py
            limit = partial(whm_limits.apply, self._client, dry_run=self._settings.dry_run)
            return self._each(targets, lambda t, _owners: limit(t))
        if verb is Verb.SET:  # settings apply together, in order (they are put back together)
            with deadline.budget(self._settings.timeout_s * REQUEST_BUDGET_CALLS * len(targets)):
                return self._tweaks().apply(targets)
        return self._each(targets, partial(self._apply, verb))

    def queue(self, target: Target | None) -> whm_queue.QueueReport:
        """Exim's queue, and the target's part of it (``/smtp queue``)."""
        return whm_queue.report(self._client, target, DomainOwners(self._client).owner)

    def accounts(self) -> list[whm_accounts.ServerAccount]:
        """Every account on the server with its outgoing-mail state (``listaccts``)."""
        with deadline.budget(self._settings.timeout_s * REQUEST_BUDGET_CALLS):
            return whm_accounts.list_accounts(self._client)

    def top(self, since_s: int, limit: int) -> whm_tracking.TopReport:
        """The worst senders of the window, from email tracking (``/smtp top``)."""
        with deadline.budget(self._settings.timeout_s * REQUEST_BUDGET_CALLS):
            return whm_tracking.top(self._client, since_s=since_s, limit=limit)

    def _tweaks(self) -> TweakSettings:
        return TweakSettings(self._client, dry_run=self._settings.dry_run)

    # -- per-request fan-out ---------------------------------------------------------------

    def _each(
        self, targets: Sequence[Target], work: Callable[[Target, DomainOwners], TargetResult]
    ) -> list[TargetResult]:
        owners = DomainOwners(self._client)
        # one request's calls share a budget, so a slow server cannot hold the caller forever
        with deadline.budget(self._settings.timeout_s * REQUEST_BUDGET_CALLS):
            if len(targets) <= 1:
                return [self._guarded(work, t, owners) for t in targets]
            # each pool thread runs in a copy of this context: the caller's deadline goes along
            futures = [
                self._pool.submit(copy_context().run, self._guarded, work, t, owners)
                for t in targets
            ]
            return [f.result() for f in futures]

    @staticmethod
    def _guarded(
        work: Callable[[Target, DomainOwners], TargetResult], target: Target, owners: DomainOwners
    ) -> TargetResult:
        """One target's failure becomes its result and never stops the others."""
        try:
            return work(target, owners)
        except ProviderError as exc:
            return TargetResult(target, error=exc)
        except Exception as exc:
            log.exception("unexpected error handling WHM target %s", target)
            return TargetResult(
                target,
                error=ProviderError(
                    "internal error while handling this target", detail=type(exc).__name__
                ),
            )

    # -- the three operations ----------------------------------------------------------------

    def _check(self, target: Target, owners: DomainOwners) -> TargetResult:
        self._require(target, Verb.STATUS)
        if target.scope is Scope.TENANT:
            return TargetResult(target, state=TargetState(target, "the whole WHM server"))
        return TargetResult(target, state=self._read(target, owners))

    def _status(self, target: Target, owners: DomainOwners) -> TargetResult:
        self._require(target, Verb.STATUS)
        return TargetResult(target, state=self._read(target, owners))

    def _apply(self, verb: Verb, target: Target, owners: DomainOwners) -> TargetResult:
        self._require(target, verb)
        if target.scope is Scope.ALL_ACCOUNTS:  # the caller lists them and changes each one
            raise InvalidTarget(
                "every account is changed one account at a time: list them with accounts()",
                before_change=True,
            )
        try:
            plan, change, fact, expected = self._plan(verb, target, owners)
        except ProviderError as exc:
            exc.before_change = True  # resolving the target (getdomainowner, …) changes nothing
            raise
        if self._settings.dry_run:
            return TargetResult(target, state=self._read(target, owners), planned=(plan,))
        change()
        state = self._read(target, owners)
        if state.facts.get(fact) != expected:
            raise VerificationFailed(
                f"WHM accepted {plan} but {target} now reads: {state.summary}",
                detail=f"{fact}={state.facts.get(fact)!r}, expected {expected}",
            )
        verified = dict(state.facts, verified=True)
        return TargetResult(target, state=TargetState(target, state.summary, verified))

    def _plan(
        self, verb: Verb, target: Target, owners: DomainOwners
    ) -> tuple[str, Callable[[], object], str, int]:
        """The change as (description, call, fact to read back, expected value)."""
        call = self._client.call
        if target.scope is Scope.TENANT:
            value = str(_TENANT_VALUES[verb])
            params = {"key": TWEAK_KEY, "value": value}
            plan = f"set_tweaksetting key={TWEAK_KEY} value={value}"
            return plan, partial(call, "set_tweaksetting", params), TWEAK_KEY, int(value)
        if target.scope is Scope.LOGIN:
            owner = owners.owner(self._domain(target))
            return whm_login.plan(self._client, verb, target, owner)
        if target.scope is Scope.ACCOUNT:
            function, fact, expected = _ACCOUNT_CALLS[verb]
            change = partial(call, function, {"user": target.name})
            return f"{function} user={target.name}", change, fact, expected
        function, fact, expected = _MAILBOX_CALLS[verb]
        owner = owners.owner(self._domain(target))
        change = partial(self._client.uapi, owner, "Email", function, {"email": target.name})
        return f"uapi_cpanel Email::{function} email={target.name}", change, fact, expected

    # -- reads ---------------------------------------------------------------------------------

    def _read(self, target: Target, owners: DomainOwners) -> TargetState:
        if target.scope is Scope.SETTING:
            return self._tweaks().state(target)
        if target.scope is Scope.LIMIT:
            return whm_limits.state(self._client, target)
        if target.scope is Scope.LOGIN:
            owner = owners.owner(self._domain(target))
            mailbox = whm_states.mailbox_state(
                self._client, Target(Scope.MAILBOX, target.name), owner
            )
            return whm_login.state(target, mailbox)
        if target.scope is Scope.TENANT:
            return whm_states.tenant_state(self._client, target, TWEAK_KEY)
        if target.scope is Scope.ALL_ACCOUNTS:
            return whm_accounts.census(target, whm_accounts.list_accounts(self._client))
        if target.scope is Scope.ACCOUNT:
            return whm_states.account_state(self._client, target)
        return whm_states.mailbox_state(self._client, target, owners.owner(self._domain(target)))

    # -- validation ----------------------------------------------------------------------------

    @staticmethod
    def _require(target: Target, verb: Verb) -> None:
        if target.is_guid:
            raise InvalidTarget(
                f"{target} is an Exchange mailbox GUID; WHM needs an address (user@domain)."
            )
        if (target.scope, verb) in _CAPABILITIES:
            return
        if verb is Verb.RESET:
            raise InvalidTarget("WHM has no reset; use enable and release instead.")
        raise InvalidTarget(
            f"WHM cannot {verb} the whole server: hold and release apply to accounts and mailboxes."
        )

    @staticmethod
    def _domain(target: Target) -> str:
        domain = target.domain
        if domain is None:
            raise InvalidTarget(f"{target} is not an email address.")
        return domain
