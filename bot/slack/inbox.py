"""The Slack side of durable intake: store a task before the ack, carry it out after.

``accept`` commits the task to the intake table (``approvals.intake``) and is called before
the listener acknowledges. ``carry_out`` runs one stored task under a lease, whoever wakes it
(the worker process, this process's pool, or ``carry_out_next`` polling for rows a dead
process left behind), and marks it done; a row is carried out by one worker at a time.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace

from approvals.intake import Claimed, IntakeQueue
from bot.slack.task import Task, TaskError

__all__ = ["Inbox"]

log = logging.getLogger(__name__)

Run = Callable[[Task], None]  # carries out one task; never raises (bot.slack.after_ack.run)


class Inbox:
    """Accept tasks into the intake table and carry them out with ``run``."""

    def __init__(self, queue: IntakeQueue, worker: str) -> None:
        self.queue = queue
        self.worker = worker

    def accept(self, task: Task) -> Task | None:
        """Commit ``task``; the stored task (with its intake ID), or None for a replay."""
        intake_id = self.queue.accept(kind=task.kind, payload=task.to_json(), dedupe_key=task.key)
        if intake_id is None:
            log.info("ignoring a repeated delivery (%s)", task.kind)
            return None
        return replace(task, intake_id=intake_id)

    def carry_out(self, task: Task, run: Run) -> bool:
        """Claim ``task``'s row and run it; False if another worker has it or had it."""
        if task.intake_id is None:  # not stored (a test, or a task made here): just run it
            run(task)
            return True
        claimed = self.queue.claim(self.worker, intake_id=task.intake_id)
        if claimed is None:
            return False
        task = replace(
            task,
            received_at=claimed.received_at,
            attempt=claimed.attempts,
            gave_up=claimed.gave_up,
        )
        self._run(claimed, task, run)
        return True

    def carry_out_next(self, run: Run) -> bool:
        """Claim the oldest row nobody is carrying out and run it; False if there is none."""
        claimed = self.queue.claim(self.worker)
        if claimed is None:
            return False
        try:
            task = Task.from_line(claimed.payload)
        except TaskError as exc:  # a row an older or newer version wrote: never runs here
            log.error("intake %s is not a task this version knows: %s", claimed.id, exc)
            self.queue.complete(claimed.id, self.worker)
            return True
        task = replace(
            task,
            intake_id=claimed.id,
            received_at=claimed.received_at,
            attempt=claimed.attempts,
            gave_up=claimed.gave_up,
        )
        if claimed.attempts > 1:
            log.warning("carrying out intake %s again (attempt %s)", claimed.id, claimed.attempts)
        self._run(claimed, task, run)
        return True

    def _run(self, claimed: Claimed, task: Task, run: Run) -> None:
        if claimed.gave_up:  # already failed in the table: only the person is told
            run(task)
            return
        with self.queue.leased(claimed.id, self.worker):
            run(task)  # never raises: failures are told to the person and logged
        if not self.queue.complete(claimed.id, self.worker):
            log.warning("intake %s was taken over before it finished", claimed.id)
