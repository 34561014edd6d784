"""Stopping a worker: every thread notices at once, even one that was busy when stop rang."""

from __future__ import annotations

from approvals import Database, TenantPolicy, Workflow
from approvals.jobs import JobQueue
from bot.running.worker import Worker


class _NoJobs:
    """An executor that is never called: the queue is empty."""

    def handle(self, *_args: object, **_kwargs: object) -> None:
        raise AssertionError("no job should run")


def test_stop_ends_every_idle_thread_long_before_the_poll(db: Database) -> None:
    queue = JobQueue(db)
    Workflow(db, lambda _t: TenantPolicy(approvers=frozenset()), jobs=queue)
    for _ in range(20):  # each round races stop() against threads between claim and sleep
        worker = Worker(queue, _NoJobs(), concurrency=4, poll_s=3600).start()  # type: ignore[arg-type]
        assert worker.stop(timeout=20)  # would wait out the hour-long poll before the fix
        assert not worker.alive
