"""Running the bot: the HTTP server, the in-process worker and housekeeping, and their
orderly shutdown (SIGTERM: stop claiming, finish in-flight work within a bound, exit 0)."""

from __future__ import annotations

import logging
import signal
import threading

from starlette.applications import Starlette

from bot.app import Runtime, build_slack_app
from bot.background import Housekeeper
from bot.metrics import attach_metrics
from bot.server import build_asgi_app
from bot.worker import Worker

__all__ = [
    "SHUTDOWN_GRACE_S",
    "run_http",
    "run_worker",
    "serve_in_thread",
    "shut_down",
    "start_housekeeper",
    "start_worker",
]

log = logging.getLogger(__name__)

SHUTDOWN_GRACE_S = 30.0


def start_worker(rt: Runtime) -> Worker:
    """The job worker, as the settings say, registered on the runtime for /healthz."""
    settings = rt.settings
    worker = Worker(
        rt.workflow.jobs,
        rt.executor,
        concurrency=settings.worker_concurrency,
        poll_s=settings.worker_poll_s,
    )
    rt.worker = worker
    return worker.start()


def start_housekeeper(rt: Runtime) -> Housekeeper:
    return Housekeeper(
        rt.workflow, rt.cards, interval_s=rt.settings.housekeeping_interval_s
    ).start()


def shut_down(rt: Runtime, worker: Worker | None, housekeeper: Housekeeper) -> None:
    """No new jobs; jobs in flight get SHUTDOWN_GRACE_S to finish; then release everything."""
    if worker is not None:
        worker.stop(SHUTDOWN_GRACE_S)
    housekeeper.stop()
    rt.close()


def run_http(rt: Runtime, *, host: str, port: int, with_worker: bool = True) -> int:
    """Serve Slack over HTTP until SIGINT/SIGTERM (uvicorn handles both gracefully)."""
    import uvicorn

    app = build_asgi_app(rt, build_slack_app(rt), metrics=attach_metrics(rt))
    housekeeper = start_housekeeper(rt)
    worker = start_worker(rt) if with_worker else None
    log.info("listening on %s:%s with %d tenant(s)", host, port, len(rt.tenants.names))
    try:
        uvicorn.run(app, host=host, port=port, log_level="warning", access_log=False)
    finally:
        shut_down(rt, worker, housekeeper)
    return 0


class ThreadedServer:
    """uvicorn on a daemon thread (for /healthz and /metrics beside Socket Mode)."""

    def __init__(self, app: Starlette, *, host: str, port: int) -> None:
        import uvicorn

        config = uvicorn.Config(app, host=host, port=port, log_level="warning", access_log=False)
        self.server = uvicorn.Server(config)  # off the main thread it leaves signals alone
        self.thread = threading.Thread(target=self.server.run, name="http", daemon=True)

    def stop(self, timeout: float = 5.0) -> None:
        self.server.should_exit = True
        self.thread.join(timeout)


def serve_in_thread(app: Starlette, *, host: str, port: int) -> ThreadedServer:
    server = ThreadedServer(app, host=host, port=port)
    server.thread.start()
    return server


def run_worker(rt: Runtime) -> int:
    """Run workers (and housekeeping) without the HTTP server until SIGINT/SIGTERM."""
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_args: stop.set())
    housekeeper = start_housekeeper(rt)
    worker = start_worker(rt)
    try:
        while not stop.wait(1.0):
            if not worker.alive:
                log.error("a worker thread died; exiting")
                return 1
    finally:
        log.info("stopping: no new jobs, finishing the ones in flight")
        shut_down(rt, worker, housekeeper)
    return 0
