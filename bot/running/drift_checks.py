"""One drift pass: read back what is due of the changes still in force, and say what drifted.

Run by the housekeeper on its own thread (a slow back end never holds up expiry or card
sync), and by ``smtp-bot drift-check`` for one pass now. Only ``Provider.status`` is called,
so it works the same for every back end: what a change must leave behind is
``providers.drift``'s, which watch is due and claimed by whom is ``approvals.drift``'s, and the
Slack notices are ``bot.slack.drift``'s. At most ``readers`` tenants are read at once, each one
``status`` call at a time of at most ``READ_CHUNK`` targets.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta

from approvals.drift import DriftWatches, Watch
from bot.errors import CommandError
from bot.slack.drift import DriftNotices
from bot.tenants import TenantRegistry
from providers import ProviderError, Target, TargetResult
from providers.drift import WATCHED_VERBS, differences, expected_facts
from providers.errors import InvalidTarget

__all__ = ["DriftChecker", "DriftReport"]

log = logging.getLogger(__name__)

READERS = 4  # tenants read at once
READ_CHUNK = 100  # targets per status call
_VERBS = frozenset(v.value for v in WATCHED_VERBS)


@dataclass(slots=True)
class DriftReport:
    """What one pass did."""

    checked: int = 0  # targets read back
    unread: int = 0  # reads that failed (the back end did not answer): tried next interval
    detected: int = 0  # new drifts
    resolved: int = 0  # drifts that read right again
    told: int = 0  # requests whose drift was posted


class DriftChecker:
    """Runs drift passes; one at a time in this process."""

    def __init__(
        self,
        watches: DriftWatches,
        tenants: TenantRegistry,
        notices: DriftNotices,
        *,
        readers: int = READERS,
    ) -> None:
        self.watches = watches
        self.tenants = tenants
        self.notices = notices
        self.readers = readers
        self._running = threading.Lock()

    def intervals(self, only: str | None = None) -> dict[str, timedelta]:
        """Tenant → its check interval, for tenants with checks on (a dry-run tenant changes
        nothing, so there is nothing of its own to hold)."""
        found: dict[str, timedelta] = {}
        for name in self.tenants.names:
            tenant = self.tenants.get(name)
            if (only is None or name == only) and tenant.drift_interval and not tenant.dry_run:
                found[name] = tenant.drift_interval
        return found

    def expect(
        self, tenant: str, verb: str, target: str, verified: Mapping[str, object] | None
    ) -> Mapping[str, object] | None:
        """What a status read of the target must show while this change is in force."""
        try:
            kind = self.tenants.get(tenant).provider
            return expected_facts(kind, verb, Target.from_key(target), verified)
        except (CommandError, InvalidTarget):  # a tenant gone from the config: not watched
            return None

    def run_pass(self, *, force: bool = False, tenant: str | None = None) -> DriftReport | None:
        """Discover new changes, check the due ones (``force``: every one in force), record
        what drifted and post it. None if a pass is already running in this process."""
        if not self._running.acquire(blocking=False):
            return None
        try:
            return self._pass(force=force, only=tenant)
        finally:
            self._running.release()

    def _pass(self, *, force: bool, only: str | None) -> DriftReport:
        report = DriftReport()
        intervals = self.intervals(only)
        if not intervals:
            return report
        while self.watches.discover(intervals, _VERBS, self.expect) and force:
            pass  # a forced pass takes in every executed change first; a timed one, a batch
        due = self.watches.claim_due(intervals, force=force)
        groups: dict[str, list[Watch]] = {}
        for watch in due:
            groups.setdefault(watch.tenant, []).append(watch)
        if groups:
            with ThreadPoolExecutor(min(self.readers, len(groups)), "drift") as pool:
                for part in pool.map(self._check_tenant, groups.items()):
                    report.checked += part.checked
                    report.unread += part.unread
                    report.detected += part.detected
                    report.resolved += part.resolved
        report.told = self.notices.post_pending(intervals)
        if report.detected or report.resolved or report.unread:
            log.info(
                "drift pass: %d checked, %d drifted, %d right again, %d not read",
                report.checked,
                report.detected,
                report.resolved,
                report.unread,
            )
        return report

    def _check_tenant(self, item: tuple[str, Sequence[Watch]]) -> DriftReport:
        tenant, watches = item
        report = DriftReport()
        try:
            provider = self.tenants.provider(tenant)
        except Exception as exc:
            log.warning("drift: no back end for %s (%s)", tenant, type(exc).__name__)
            report.unread += len(watches)
            return report
        for start in range(0, len(watches), READ_CHUNK):
            chunk = list(watches[start : start + READ_CHUNK])
            try:
                results = provider.status([Target.from_key(w.target) for w in chunk])
            except (ProviderError, InvalidTarget) as exc:
                log.warning("drift: could not read %s: %s", tenant, _said(exc))
                report.unread += len(chunk)
                continue
            failed = [r for r in results if r.state is None or r.error is not None]
            if failed:  # one line per call, however many targets it could not read
                log.warning(
                    "drift: could not read %d target(s) of %s (first: %s: %s)",
                    len(failed),
                    tenant,
                    failed[0].target,
                    _said(failed[0].error),
                )
            for watch, result in zip(chunk, results, strict=True):
                self._observe(watch, result, report)
        return report

    def _observe(self, watch: Watch, result: TargetResult, report: DriftReport) -> None:
        state = result.state
        if state is None or result.error is not None:
            report.unread += 1  # not a drift: read again next interval (logged by the caller)
            return
        report.checked += 1
        changed = differences(watch.expected, state.facts)
        observed = {"facts": dict(state.facts), "summary": state.summary}
        outcome = self.watches.observe(
            watch.id, matches=not changed, observed=observed, summary=state.summary
        )
        if outcome is not None and outcome.kind == "detected":
            report.detected += 1
            log.warning(
                "drift: %s on %s no longer holds request #%s (%s)",
                watch.target,
                watch.tenant,
                watch.request_id,
                ", ".join(str(d) for d in changed),
            )
        elif outcome is not None:
            report.resolved += 1


def _said(error: BaseException | None) -> str:
    if isinstance(error, ProviderError):
        return error.user_message
    return type(error).__name__
