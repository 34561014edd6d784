"""Workers: claim jobs from the database and run them, woken at once when work arrives.

In-process, approving a request rings a doorbell; across processes on PostgreSQL a listener
thread turns ``NOTIFY smtp_bot_jobs`` into the same ring. SQLite has no notifications, so
separate worker processes on SQLite poll (``poll_s``); the in-process worker never has to.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import timedelta

import sqlalchemy as sa

from approvals.jobs import CHANNEL, JobQueue
from approvals.leases import holder_name
from approvals.models import Job, utcnow
from bot.running.executor import Executor

__all__ = ["Worker", "worker_id"]

log = logging.getLogger(__name__)


def worker_id() -> str:
    return holder_name()


class Worker:
    """``concurrency`` threads that claim and run jobs until stopped."""

    def __init__(
        self,
        queue: JobQueue,
        executor: Executor,
        *,
        concurrency: int = 2,
        poll_s: float = 30.0,
        name: str | None = None,
        on_busy: Callable[[int], None] | None = None,
    ) -> None:
        self.queue = queue
        self.executor = executor
        self.concurrency = concurrency
        self.poll_s = poll_s
        self.name = name or worker_id()
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []
        self._busy = 0
        self._busy_lock = threading.Lock()
        self._on_busy = on_busy  # told the new count (a metric where /metrics is elsewhere)
        self._listener: threading.Thread | None = None
        self.last_beat = utcnow()

    # --- lifecycle ---------------------------------------------------------------------------

    def start(self) -> Worker:
        for i in range(self.concurrency):
            thread = threading.Thread(target=self._loop, name=f"worker-{i}", daemon=True)
            thread.start()
            self._threads.append(thread)
        if not self.queue.db.is_sqlite:
            self._listener = threading.Thread(target=self._listen, name="job-listener", daemon=True)
            self._listener.start()
        log.info("worker %s started with %d thread(s)", self.name, self.concurrency)
        return self

    def stop(self, timeout: float = 30.0) -> bool:
        """Stop claiming; wait up to ``timeout`` for jobs in flight. True if all finished."""
        self._stopping.set()
        self.queue.ring()
        deadline = utcnow() + timedelta(seconds=timeout)
        for thread in self._threads:
            remaining = (deadline - utcnow()).total_seconds()
            thread.join(max(remaining, 0))
        finished = not any(t.is_alive() for t in self._threads)
        if not finished:
            log.warning("worker %s stopped with jobs running; their leases expire", self.name)
        return finished

    @property
    def alive(self) -> bool:
        return bool(self._threads) and all(t.is_alive() for t in self._threads)

    @property
    def busy(self) -> int:
        return self._busy

    # --- work --------------------------------------------------------------------------------

    def _loop(self) -> None:
        while not self._stopping.is_set():
            self.last_beat = utcnow()
            try:
                job = self.queue.claim(self.name)
            except Exception:
                log.exception("could not claim a job; retrying")
                self._sleep(min(self.poll_s, 5.0))
                continue
            if job is None:
                self._sleep(self._idle_timeout())
                continue
            self._run(job)

    def _sleep(self, timeout: float) -> None:
        """Until the doorbell rings, ``timeout`` passes, or ``stop`` (which rings after
        setting the flag, so a thread that was busy when it rang does not sleep on)."""
        self.queue.doorbell.wait(timeout, unless=self._stopping.is_set)

    def _idle_timeout(self) -> float:
        try:
            due = self.queue.next_due()
        except Exception:
            return min(self.poll_s, 5.0)
        if due is None:
            return self.poll_s
        return max(0.0, min(self.poll_s, (due - utcnow()).total_seconds()))

    def _run(self, job: Job) -> None:
        assert job.id is not None
        self._count_busy(+1)
        try:
            self.executor.handle(job, worker=self.name)
        except Exception as exc:
            log.exception("job %s (%s for request %s) failed", job.id, job.kind, job.request_id)
            delay = timedelta(seconds=min(300, 5 * 2 ** min(job.attempts, 6)))
            self.queue.retry_later(job.id, self.name, error=type(exc).__name__, delay=delay)
        finally:
            self._count_busy(-1)

    def _count_busy(self, change: int) -> None:
        with self._busy_lock:
            self._busy += change
            if self._on_busy is not None:
                self._on_busy(self._busy)

    def _listen(self) -> None:
        """Ring the doorbell on every NOTIFY from another process (PostgreSQL only)."""
        import psycopg

        url = sa.engine.make_url(self.queue.db.url).set(drivername="postgresql")
        conninfo = url.render_as_string(hide_password=False)
        while not self._stopping.is_set():
            try:
                with psycopg.connect(conninfo, autocommit=True) as conn:
                    conn.execute(f"LISTEN {CHANNEL}")
                    while not self._stopping.is_set():
                        for _ in conn.notifies(timeout=1.0, stop_after=1):
                            self.queue.ring()
            except Exception as exc:
                reason = type(exc).__name__
                log.warning("job listener lost its connection (%s); reconnecting", reason)
                self._stopping.wait(2.0)
