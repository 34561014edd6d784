"""Prometheus metrics, one registry per running bot (tests and several runtimes never collide).

What the database already knows (requests, approvals, jobs, queue depth) is read from it at
scrape time, so every process reports the same truth and nothing drifts after a restart.
What only this process sees (provider latency, Slack API errors) is counted as it happens;
with a worker process (``share_across_processes``) both processes count into one directory
that the serving process reads at scrape time, Prometheus's own multi-process mode.
"""

from __future__ import annotations

import os
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
    values,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector
from sqlmodel import col, func, select

from approvals.models import Approval, ChangeRequest, Job, JobState, utcnow
from bot.ops.observed import Observed
from bot.ops.slack_metrics import instrument_client
from providers import Provider, Scope, Target, TargetResult, Verb

__all__ = [
    "CONTENT_TYPE",
    "MULTIPROCESS_ENV",
    "DatabaseCollector",
    "InstrumentedProvider",
    "Metrics",
    "attach_metrics",
    "busy_threads_gauge",
    "forget_process",
    "share_across_processes",
]

MULTIPROCESS_ENV = "PROMETHEUS_MULTIPROC_DIR"

# The classic text format: every Prometheus version reads it (our names need no UTF-8 escaping).
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
PROVIDER_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0)


class Metrics:
    """The registry and the counters this process updates; ``render`` is the /metrics body."""

    def __init__(self, rt: Observed | None = None) -> None:
        self.registry = CollectorRegistry()  # the counters below; /metrics unless shared
        self.provider_seconds = Histogram(
            "smtp_bot_provider_call_duration_seconds",
            "Time spent in one provider call.",
            ["tenant", "provider", "operation"],
            buckets=PROVIDER_BUCKETS,
            registry=self.registry,
        )
        self.provider_call_errors = Counter(
            "smtp_bot_provider_call_errors",
            "Provider calls that raised instead of returning results.",
            ["tenant", "operation", "error"],
            registry=self.registry,
        )
        self.provider_results = Counter(
            "smtp_bot_provider_target_results",
            "Per-target results returned by providers.",
            ["tenant", "operation", "outcome", "error_kind"],
            registry=self.registry,
        )
        self.slack_calls = Counter(
            "smtp_bot_slack_api_calls", "Slack Web API calls.", ["method"], registry=self.registry
        )
        self.slack_errors = Counter(
            "smtp_bot_slack_api_errors",
            "Slack Web API calls that failed, by Slack error code (ratelimited for HTTP 429).",
            ["method", "error"],
            registry=self.registry,
        )
        self.slack_rate_limited = Counter(
            "smtp_bot_slack_api_rate_limited",
            "HTTP 429 answers from Slack, retried ones included.",
            ["method"],
            registry=self.registry,
        )
        self.card_delivery_failures = Counter(
            "smtp_bot_card_delivery_failures",
            "Failed card posts, card updates and result posts, by Slack error code.",
            ["error"],
            registry=self.registry,
        )
        self.exposed = self.registry
        shared = os.environ.get(MULTIPROCESS_ENV)
        if shared and values.ValueClass is not values.MutexValue:
            # every process's counters, from their files (this process's included)
            self.exposed = CollectorRegistry()
            MultiProcessCollector(self.exposed, path=shared)
        if rt is not None:
            self.exposed.register(DatabaseCollector(rt))

    def render(self) -> bytes:
        return generate_latest(self.exposed)


class DatabaseCollector(Collector):
    """Reads counts from the database at scrape time; ``smtp_bot_database_up`` 0 if it can't."""

    def __init__(self, rt: Observed, clock: Callable[[], datetime] = utcnow) -> None:
        self.rt = rt
        self.clock = clock

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily("smtp_bot_database_up", "1 if the last scrape read the database.")
        try:
            families = list(self._from_database())
        except Exception:
            up.add_metric([], 0)
            families = []
        else:
            up.add_metric([], 1)
        yield up
        yield from families
        yield from self._worker()

    def _from_database(self) -> Iterator[Metric]:
        now = self.clock()
        requests = GaugeMetricFamily(
            "smtp_bot_requests", "Change requests by status.", labels=["tenant", "verb", "status"]
        )
        approvals = GaugeMetricFamily(
            "smtp_bot_approvals", "Approvals given, by tenant.", labels=["tenant"]
        )
        jobs = GaugeMetricFamily(
            "smtp_bot_jobs", "Jobs by kind and state.", labels=["kind", "state"]
        )
        depth = GaugeMetricFamily("smtp_bot_queue_depth", "Queued jobs that are due now.")
        oldest = GaugeMetricFamily(
            "smtp_bot_queue_oldest_due_seconds", "How long the longest-waiting due job has waited."
        )
        undeliverable = GaugeMetricFamily(
            "smtp_bot_cards_undeliverable",
            "Requests whose card delivery was given up (see smtp-bot check), by last error.",
            labels=["error"],
        )
        cr, job = ChangeRequest, Job
        with self.rt.db.read() as s:
            for tenant, verb, status, n in s.exec(
                select(cr.tenant, cr.verb, cr.status, func.count()).group_by(
                    cr.tenant, cr.verb, cr.status
                )
            ):
                requests.add_metric([tenant, verb, status], n)
            for tenant, n in s.exec(
                select(cr.tenant, func.count())
                .select_from(Approval)
                .join(cr, col(cr.id) == col(Approval.request_id))
                .group_by(cr.tenant)
            ):
                approvals.add_metric([tenant], n)
            for kind, state, n in s.exec(
                select(job.kind, job.state, func.count()).group_by(job.kind, job.state)
            ):
                jobs.add_metric([kind, state], n)
            for error, n in s.exec(
                select(cr.delivery_error, func.count())
                .where(col(cr.delivery_failed_at).is_not(None))
                .group_by(cr.delivery_error)
            ):
                undeliverable.add_metric([error or ""], n)
            n_due, first = s.exec(
                select(func.count(), func.min(job.run_at)).where(
                    col(job.state) == JobState.QUEUED.value, col(job.run_at) <= now
                )
            ).one()
        depth.add_metric([], n_due)
        waited = (now - _aware(first)).total_seconds() if first is not None else 0.0
        oldest.add_metric([], max(waited, 0.0))
        yield from (requests, approvals, jobs, depth, oldest, undeliverable)

    def _worker(self) -> Iterator[Metric]:
        worker = self.rt.worker
        if worker is None:
            return
        alive = GaugeMetricFamily("smtp_bot_worker_alive", "1 while every worker thread runs.")
        alive.add_metric([], 1 if worker.alive else 0)
        yield alive
        if worker.busy is not None:  # a worker process counts its busy threads itself
            busy = GaugeMetricFamily(
                "smtp_bot_worker_busy_threads", "Worker threads running a job."
            )
            busy.add_metric([], worker.busy)
            yield busy


def _aware(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


class InstrumentedProvider:
    """A Provider that times each call and counts per-target outcomes, then delegates."""

    def __init__(self, inner: Provider, tenant: str, metrics: Metrics) -> None:
        self.inner = inner
        self.tenant = tenant
        self.kind = inner.kind
        self.batch_size: int | None = getattr(inner, "batch_size", None)
        self._metrics = metrics

    def capabilities(self) -> frozenset[tuple[Scope, Verb]]:
        return self.inner.capabilities()

    def check_targets(self, targets: Sequence[Target]) -> list[TargetResult]:
        return self._timed("check_targets", self.inner.check_targets, targets)

    def status(self, targets: Sequence[Target]) -> list[TargetResult]:
        return self._timed("status", self.inner.status, targets)

    def apply(self, verb: Verb, targets: Sequence[Target]) -> list[TargetResult]:
        return self._timed(f"apply_{verb.value}", lambda t: self.inner.apply(verb, t), targets)

    def queue(self, target: Target | None) -> object:
        """The mail-queue read (WHM only: ``/smtp queue``), timed like the other reads."""
        start = time.perf_counter()
        try:
            return self.inner.queue(target)  # type: ignore[attr-defined]
        finally:
            elapsed = time.perf_counter() - start
            self._metrics.provider_seconds.labels(self.tenant, self.kind, "queue").observe(elapsed)

    def accounts(self) -> object:
        """Every account and its outgoing-mail state (WHM only: ``--all-accounts``), timed."""
        start = time.perf_counter()
        try:
            return self.inner.accounts()  # type: ignore[attr-defined]
        finally:
            elapsed = time.perf_counter() - start
            self._metrics.provider_seconds.labels(self.tenant, self.kind, "accounts").observe(
                elapsed
            )

    def top(self, since_s: int, limit: int) -> object:
        """The email-tracking read (WHM only: ``/smtp top``), timed like the other reads."""
        start = time.perf_counter()
        try:
            return self.inner.top(since_s, limit)  # type: ignore[attr-defined]
        finally:
            elapsed = time.perf_counter() - start
            self._metrics.provider_seconds.labels(self.tenant, self.kind, "top").observe(elapsed)

    def close(self) -> None:
        self.inner.close()

    def _timed(
        self,
        operation: str,
        call: Callable[[Sequence[Target]], list[TargetResult]],
        targets: Sequence[Target],
    ) -> list[TargetResult]:
        m, start = self._metrics, time.perf_counter()
        try:
            results = call(targets)
        except Exception as exc:
            m.provider_call_errors.labels(self.tenant, operation, type(exc).__name__).inc()
            raise
        finally:
            elapsed = time.perf_counter() - start
            m.provider_seconds.labels(self.tenant, self.kind, operation).observe(elapsed)
        for result in results:
            kind = result.error.kind if result.error is not None else ""
            outcome = "error" if result.error is not None else "ok"
            m.provider_results.labels(self.tenant, operation, outcome, kind).inc()
        return results


def attach_metrics(rt: Observed) -> Metrics:
    """A Metrics for ``rt`` that also instruments its Slack client and tenant providers.

    app.py and tenants.py build those objects; wrapping them here keeps metrics a layer on
    top that a runtime without it (the break-glass CLI) never pays for.
    """
    metrics = Metrics(rt)
    instrument_client(rt.client, metrics)
    cards = getattr(rt, "cards", None)  # the break-glass and worker runtimes have cards too
    if cards is not None:
        cards.on_failure = lambda error: metrics.card_delivery_failures.labels(error).inc()
    registry_provider = rt.tenants.provider
    wrapped: dict[str, InstrumentedProvider] = {}
    lock = threading.Lock()

    def provider(name: str) -> Provider:
        inner = registry_provider(name)
        with lock:
            current = wrapped.get(name)
            if current is None or current.inner is not inner:  # rebuilt after close()
                current = wrapped[name] = InstrumentedProvider(inner, name, metrics)
            return current

    rt.tenants.provider = provider  # type: ignore[method-assign]
    return metrics


def busy_threads_gauge(metrics: Metrics) -> Gauge:
    """The worker process's ``smtp_bot_worker_busy_threads``, which the bot's /metrics reads
    from the shared directory (summed over live processes: a dead child's value goes with
    ``forget_process``)."""
    return Gauge(
        "smtp_bot_worker_busy_threads",
        "Worker threads running a job.",
        multiprocess_mode="livesum",
        registry=metrics.registry,
    )


def forget_process(pid: int) -> None:
    """A worker process exited: drop its live gauges from the shared directory."""
    if os.environ.get(MULTIPROCESS_ENV):
        multiprocess.mark_process_dead(pid)


def share_across_processes() -> str:
    """Count into files in a new directory that child processes (which inherit the
    environment) count into as well; returns it. Call before the first ``Metrics``."""
    directory = tempfile.mkdtemp(prefix="smtp-bot-metrics-")
    os.environ[MULTIPROCESS_ENV] = directory
    values.ValueClass = values.get_value_class()
    return directory
