"""Housekeeping that must happen even when nobody clicks: expiring requests, reminding
approvers, and bringing cards and result posts up to date after Slack was unreachable."""

from __future__ import annotations

import logging
import threading
import time
from datetime import timedelta

from approvals import Workflow
from approvals.intake import IntakeQueue
from bot.running.drift_checks import DriftChecker, DriftReport
from bot.slack.cards import Cards
from bot.slack.reminders import ApproverReminders

__all__ = ["Housekeeper"]

log = logging.getLogger(__name__)

JOB_RETENTION = timedelta(days=7)  # finished jobs; the audit trail keeps everything
# finished intake rows: far longer than a signed Slack request can be replayed (5 minutes)
INTAKE_RETENTION = timedelta(days=1)
PRUNE_EVERY_S = 3600.0
DRIFT_PASS_EVERY_S = 15.0  # how often due drift checks are looked for (each has its interval)


class Housekeeper:
    """A daemon thread that runs ``tick`` every ``interval_s`` seconds until stopped."""

    def __init__(
        self,
        workflow: Workflow,
        cards: Cards,
        *,
        interval_s: float = 5.0,
        intake: IntakeQueue | None = None,
        reminders: ApproverReminders | None = None,
        drift: DriftChecker | None = None,
    ) -> None:
        self.workflow = workflow
        self.drift = drift
        self.cards = cards
        self.intake = intake
        self.reminders = reminders
        self.interval_s = interval_s
        self._stop = threading.Event()
        self._last_prune = float("-inf")
        self._last_drift = float("-inf")
        self._drift_thread: threading.Thread | None = None
        self._thread = threading.Thread(target=self._run, name="housekeeper", daemon=True)

    def tick(self) -> None:
        """Expire overdue requests (their cards say so, the requester is told in the thread),
        remind approvers who have not acted, then retry stale cards and results."""
        for view in self.workflow.expire_due():
            log.info("request %s expired", view.id)
            self.cards.update(view)
            if self.reminders is not None:
                self.reminders.tell_expired(view)
        if self.reminders is not None:
            self.reminders.run()
        self.cards.sync()
        now = time.monotonic()
        if self.drift is not None and now - self._last_drift >= DRIFT_PASS_EVERY_S:
            self._last_drift = now
            self._start_drift_pass()
        if now - self._last_prune >= PRUNE_EVERY_S:
            self._last_prune = now
            pruned = self.workflow.jobs.prune(JOB_RETENTION)
            if pruned:
                log.info("pruned %d finished job(s) older than %s", pruned, JOB_RETENTION)
            if self.intake is not None and (pruned := self.intake.prune(INTAKE_RETENTION)):
                log.info("pruned %d finished intake row(s) older than %s", pruned, INTAKE_RETENTION)
            if pruned := self.workflow.proposals.prune(self.workflow.now()):
                log.info("pruned %d expired offer(s) nobody requested", pruned)

    def _start_drift_pass(self) -> None:
        """A drift pass reads back ends: on a thread of its own, one at a time, so a slow
        back end never holds up expiry, reminders or card sync."""
        if self._drift_thread is not None and self._drift_thread.is_alive():
            return
        self._drift_thread = threading.Thread(target=self._drift_pass, name="drift", daemon=True)
        self._drift_thread.start()

    def _drift_pass(self) -> None:
        try:
            self.run_drift_pass()
        except Exception:  # a database or Slack outage: the next pass tries again
            log.exception("drift pass failed; retrying in %.0f s", DRIFT_PASS_EVERY_S)

    def run_drift_pass(self, *, force: bool = False) -> DriftReport | None:
        """One drift pass now, on the caller's thread (``force``: every change in force, due
        or not); None without drift checks, or while a pass is running."""
        return self.drift.run_pass(force=force) if self.drift is not None else None

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            try:
                self.tick()
            except Exception:  # keep housekeeping alive through a database or Slack outage
                log.exception("housekeeping failed; retrying in %.0f s", self.interval_s)

    def start(self) -> Housekeeper:
        self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout)
