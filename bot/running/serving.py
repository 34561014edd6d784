"""Running the bot: the HTTP server, the worker and housekeeping beside it, and their orderly
shutdown (SIGTERM: stop claiming, finish in-flight work within a bound, exit 0).

Beside the Slack listeners runs one of (``WorkerMode``):
- ``process`` (the CLI's default): a worker process (``bot.worker_process``) that runs jobs,
  housekeeping and the listeners' after-ack work, so acknowledgements never wait for the GIL;
- ``thread``: the same on threads of this process;
- ``none``: no jobs here (``smtp-bot worker`` runs them); after-ack work and housekeeping stay.
"""

from __future__ import annotations

import functools
import gc
import logging
import shutil
import signal
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import BinaryIO, Literal

from starlette.applications import Starlette

from approvals.drift import DriftWatches
from bot.ops.metrics import attach_metrics, forget_process, share_across_processes
from bot.running.ack_first import AckFirst
from bot.running.drift_checks import DriftChecker
from bot.running.housekeeping import Housekeeper
from bot.running.intake_pump import IntakePump
from bot.running.server import build_asgi_app
from bot.running.worker import Worker
from bot.running.worker_process import READY, WorkerProcess, child_argv
from bot.runtime import Runtime
from bot.slack.bolt_app import build_slack_app
from bot.slack.drift import DriftNotices
from bot.slack.reminders import ApproverReminders
from bot.slack.task import Task, TaskError

__all__ = [
    "SHUTDOWN_GRACE_S",
    "Beside",
    "WorkerMode",
    "run_http",
    "run_worker",
    "serve_in_thread",
    "shut_down",
    "start_beside",
    "start_housekeeper",
    "start_pump",
    "start_worker",
]

log = logging.getLogger(__name__)

SHUTDOWN_GRACE_S = 30.0

WorkerMode = Literal["process", "thread", "none"]


@dataclass
class Beside:
    """What runs beside the Slack listeners, by ``WorkerMode``."""

    worker: Worker | None = None
    housekeeper: Housekeeper | None = None
    process: WorkerProcess | None = None
    pump: IntakePump | None = None
    metrics_dir: str | None = None

    @property
    def worker_died(self) -> bool:
        """A worker thread died (a worker process is started again instead)."""
        return self.worker is not None and not self.worker.alive


def start_beside(
    rt: Runtime,
    mode: WorkerMode,
    *,
    on_busy: Callable[[int], None] | None = None,
    hold: Callable[[], object] | None = None,
) -> Beside:
    """Start the worker (process or threads) and housekeeping as ``mode`` says. In ``process``
    mode call it before ``attach_metrics``: both processes then count into one place.
    ``hold``: what the intake pump waits for before each claim (bot.running.ack_first)."""
    if mode == "process":
        metrics_dir = share_across_processes()
        process = WorkerProcess(child_argv(), on_exit=forget_process).start()
        rt.worker = rt.worker_process = process
        return Beside(process=process, metrics_dir=metrics_dir)
    housekeeper = start_housekeeper(rt)
    worker = start_worker(rt, on_busy=on_busy) if mode == "thread" else None
    return Beside(worker, housekeeper, pump=start_pump(rt, hold=hold))


def start_worker(rt: Runtime, *, on_busy: Callable[[int], None] | None = None) -> Worker:
    """The job worker, as the settings say, registered on the runtime for /healthz."""
    settings = rt.settings
    worker = Worker(
        rt.workflow.jobs,
        rt.executor,
        concurrency=settings.worker_concurrency,
        poll_s=settings.worker_poll_s,
        on_busy=on_busy,
    )
    rt.worker = worker
    return worker.start()


def start_pump(rt: Runtime, *, hold: Callable[[], object] | None = None) -> IntakePump:
    """The safety net for stored after-ack work that nobody was woken for."""
    pump = IntakePump(rt.inbox, rt.run_task, poll_s=rt.settings.intake_poll_s, hold=hold)
    return pump.start()


def drift_checker(rt: Runtime) -> DriftChecker:
    """Drift passes for this runtime: its tenants, database and Slack client."""
    watches = DriftWatches(rt.db, rt.workflow.now)
    notices = DriftNotices(
        rt.client, rt.workflow, watches, channel_of=lambda tenant: rt.tenants.get(tenant).channel
    )
    return DriftChecker(watches, rt.tenants, notices)


def start_housekeeper(rt: Runtime) -> Housekeeper:
    interval_s = rt.settings.housekeeping_interval_s
    reminders = ApproverReminders(
        rt.workflow,
        rt.cards,
        rt.notifier,
        asked=lambda tenant: rt.tenants.get(tenant).approvers,
        wait=lambda tenant: rt.tenants.get(tenant).reminder_wait,
    )
    return Housekeeper(
        rt.workflow,
        rt.cards,
        interval_s=interval_s,
        intake=rt.inbox.queue,
        reminders=reminders,
        drift=drift_checker(rt),
    ).start()


def _keep_signals_after_uvicorn() -> None:
    """uvicorn handles SIGTERM/SIGINT while it runs, then restores the handlers it found and
    raises the signal again. Without a handler of ours that second signal kills the process
    (exit -15) before the worker is stopped; with this one the stop below runs and we exit 0.
    It does nothing on purpose: we are stopping already, and a handler must not log."""
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_args: None)


def _freeze_startup_objects() -> None:
    """Move everything built so far (~100,000 objects: libraries, config, runtime) out of the
    garbage collector's reach. A full collection otherwise walks them all, ~90 ms during
    which no request is answered; they live as long as the process anyway."""
    gc.collect()
    gc.freeze()


def shut_down(rt: Runtime, beside: Beside) -> None:
    """No new jobs; jobs in flight get SHUTDOWN_GRACE_S to finish; then release everything."""
    if beside.process is not None:
        beside.process.stop(SHUTDOWN_GRACE_S + 10.0)
    if beside.pump is not None:
        beside.pump.stop(SHUTDOWN_GRACE_S)
    if beside.worker is not None:
        beside.worker.stop(SHUTDOWN_GRACE_S)
    if beside.housekeeper is not None:
        beside.housekeeper.stop()
    rt.close()
    if beside.metrics_dir is not None:
        shutil.rmtree(beside.metrics_dir, ignore_errors=True)


def run_http(rt: Runtime, *, listener: socket.socket, worker: WorkerMode = "thread") -> int:
    """Serve Slack over HTTP on ``listener`` (bound by the caller before anything else
    started: see bot.running.listen) until SIGINT/SIGTERM (uvicorn handles both gracefully)."""
    import uvicorn

    host, port = listener.getsockname()[:2]
    beside = start_beside(rt, worker)
    try:
        app = build_asgi_app(rt, build_slack_app(rt), metrics=attach_metrics(rt))
        log.info("listening on %s:%s with %d tenant(s)", host, port, len(rt.tenants.names))
        _freeze_startup_objects()
        _keep_signals_after_uvicorn()
        config = uvicorn.Config(app, log_level="warning", access_log=False)
        uvicorn.Server(config).run(sockets=[listener])
    finally:
        listener.close()
        shut_down(rt, beside)
    return 0


class ThreadedServer:
    """uvicorn on a daemon thread (for /healthz and /metrics beside Socket Mode)."""

    def __init__(self, app: Starlette, *, listener: socket.socket) -> None:
        import uvicorn

        config = uvicorn.Config(app, log_level="warning", access_log=False)
        self.server = uvicorn.Server(config)  # off the main thread it leaves signals alone
        self.listener = listener
        self.thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [listener]}, name="http", daemon=True
        )

    def stop(self, timeout: float = 5.0) -> None:
        self.server.should_exit = True
        self.thread.join(timeout)
        self.listener.close()


def serve_in_thread(app: Starlette, *, listener: socket.socket) -> ThreadedServer:
    server = ThreadedServer(app, listener=listener)
    server.thread.start()
    return server


def run_worker(
    rt: Runtime,
    *,
    tasks: BinaryIO | None = None,
    ready: BinaryIO | None = None,
    on_busy: Callable[[int], None] | None = None,
) -> int:
    """Run workers (and housekeeping) without the HTTP server until SIGINT/SIGTERM.

    As a bot's worker process: also carry out the stored tasks that ``tasks`` lines name, say
    ``ready`` on ``ready``, and stop when ``tasks`` closes (the bot is stopping or gone);
    signals are the bot's to handle, so they are ignored here. ``on_busy`` hears how many
    worker threads are running a job, whenever that changes."""
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        if tasks is None:
            signal.signal(sig, lambda *_args: stop.set())
        else:
            signal.signal(sig, signal.SIG_IGN)
    # a bot's worker process: its work waits while a burst of acknowledgements lasts (a
    # standalone worker hears of no acknowledgement, so it never waits)
    gate = AckFirst(max_wait_s=rt.settings.ack_first_max_s)
    beside = start_beside(rt, "thread", on_busy=on_busy, hold=gate.wait_now)
    if tasks is not None:
        _freeze_startup_objects()
        reader = threading.Thread(
            target=_read_tasks, args=(rt, tasks, stop, gate), name="task-feed"
        )
        reader.daemon = True
        reader.start()
        if ready is not None:
            ready.write(READY)
            ready.flush()
    try:
        while not stop.wait(1.0):
            if beside.worker_died:
                log.error("a worker thread died; exiting")
                return 1
    finally:
        log.info("stopping: no new jobs, finishing the ones in flight")
        shut_down(rt, beside)
    return 0


def _read_tasks(rt: Runtime, tasks: BinaryIO, stop: threading.Event, gate: AckFirst) -> None:
    for line in iter(tasks.readline, b""):
        arrived = gate.arrived()  # every line is an interaction the bot just acknowledged
        try:
            task = Task.from_line(line)
        except TaskError as exc:
            log.warning("ignoring a task line: %s", exc)
            continue
        # stored by the bot already: the line only says where to look
        rt.run_here(task, hold=functools.partial(gate.wait, arrived))
    log.info("the bot is stopping or gone (its pipe to this worker closed); stopping")
    stop.set()
