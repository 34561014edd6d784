"""Workers: claim jobs from the database and run them, woken at once when work arrives.

In-process, approving a request rings a doorbell; across processes on PostgreSQL a listener
thread turns ``NOTIFY smtp_bot_jobs`` into the same ring. SQLite has no notifications, so
separate worker processes on SQLite poll (``poll_s``); the in-process worker never has to.
"""

from __future__ import annotations

import logging
import math
import threading
from collections import Counter
from collections.abc import Callable
from datetime import timedelta

import sqlalchemy as sa

from approvals.jobs import CHANNEL, JobQueue
from approvals.leases import holder_name
from approvals.models import ChangeRequest, Job, utcnow
from bot.running.executor import Executor

__all__ = ["Worker", "worker_id"]

log = logging.getLogger(__name__)

SHARE_RECHECK_S = 1.0  # idle look-again while a due job waits for its tenant's share


def worker_id() -> str:
    return holder_name()


class Worker:
    """``concurrency`` threads that claim and run jobs until stopped.

    No tenant holds more than ``per_tenant_max`` of the threads (default: half, rounded up):
    while one tenant's back end hangs, another tenant's approved change still runs.
    """

    def __init__(
        self,
        queue: JobQueue,
        executor: Executor,
        *,
        concurrency: int = 2,
        poll_s: float = 30.0,
        name: str | None = None,
        on_busy: Callable[[int], None] | None = None,
        per_tenant_max: int | None = None,
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
        self.per_tenant_max = per_tenant_max or max(1, math.ceil(concurrency / 2))
        self._claim_lock = threading.Lock()  # a claim and its tenant's count move together
        self._by_tenant: Counter[str] = Counter()
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
                job, tenant = self._claim()
            except Exception:
                log.exception("could not claim a job; retrying")
                self._sleep(min(self.poll_s, 5.0))
                continue
            if job is None:
                # a due job left for a tenant at its share must not make the thread spin: a
                # finishing job rings the bell; otherwise look again after SHARE_RECHECK_S
                floor = SHARE_RECHECK_S if self._some_tenant_full() else 0.0
                self._sleep(max(floor, self._idle_timeout()))
                continue
            try:
                self._run(job)
            finally:
                with self._claim_lock:
                    self._by_tenant[tenant] -= 1
                self.queue.ring()  # a job skipped for this tenant's share may be claimed now

    def _some_tenant_full(self) -> bool:
        with self._claim_lock:
            return any(n >= self.per_tenant_max for n in self._by_tenant.values())

    def _claim(self) -> tuple[Job | None, str]:
        """Claim a job of a tenant below its share of threads, and count it for the tenant."""
        with self._claim_lock:
            full = frozenset(t for t, n in self._by_tenant.items() if n >= self.per_tenant_max)
            job = self.queue.claim(self.name, skip_tenants=full)
            if job is None:
                return None, ""
            try:
                with self.queue.db.read() as s:
                    request = s.get(ChangeRequest, job.request_id)
                    tenant = request.tenant if request is not None else ""
            except Exception:  # the job is ours now: run it, counted under no tenant
                log.exception("could not read the tenant of job %s", job.id)
                tenant = ""
            self._by_tenant[tenant] += 1
            return job, tenant

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
