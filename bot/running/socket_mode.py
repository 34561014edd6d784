"""Socket Mode: the same listeners over a WebSocket the bot opens to Slack, so no public URL
is needed. ``SLACK_APP_TOKEN`` (``xapp-…``) opens it; no signing secret is involved because
Slack authenticates the connection, not each request.

The worker and housekeeping run beside it as with ``serve`` (a worker process by default);
SIGTERM closes the socket first (no new envelopes), then lets jobs in flight finish within the
grace period, then exits 0.
"""

from __future__ import annotations

import logging
import signal
import socket
import threading

from slack_bolt import App
from slack_bolt.adapter.socket_mode import SocketModeHandler
from slack_sdk.errors import SlackApiError

from bot.errors import ConfigError
from bot.ops.metrics import attach_metrics
from bot.running.server import build_asgi_app
from bot.running.serving import ThreadedServer, WorkerMode, serve_in_thread, shut_down, start_beside
from bot.runtime import Runtime
from bot.slack.bolt_app import quiet_token_warning
from bot.slack.listeners import register

__all__ = ["build_socket_app", "run_socket"]

log = logging.getLogger(__name__)

# slack_sdk drops a connection after four pings without a pong and then opens a new one: a
# connection that died without a word is replaced after 12-20 s, not ~40 s (Bolt: 10 s).
PING_INTERVAL_S = 3.0


def build_socket_app(rt: Runtime) -> App:
    """The Bolt app for Socket Mode: same listeners, no request signature to verify."""
    if rt.settings.slack_bot_token is None:
        raise ConfigError("SLACK_BOT_TOKEN is not set")
    quiet_token_warning()
    app = App(
        client=rt.client,
        signing_secret="",
        token_verification_enabled=False,
        request_verification_enabled=False,
        ssl_check_enabled=False,
        url_verification_enabled=False,
        process_before_response=True,  # listeners only ack and hand work on: answer at once
    )
    register(app, rt)
    return app


def _handler(rt: Runtime, app: App) -> SocketModeHandler:
    token = rt.settings.slack_app_token
    if token is None or not token.get_secret_value():
        raise ConfigError("SLACK_APP_TOKEN is not set: Socket Mode needs an app-level token")
    # rt.client honours SLACK_API_URL, so apps.connections.open goes where the Web API does.
    return SocketModeHandler(
        app,
        app_token=token.get_secret_value(),
        web_client=rt.client,
        logger=log,
        ping_interval=PING_INTERVAL_S,
    )


def _stop_on_signals() -> threading.Event:
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_args: stop.set())
    return stop


def run_socket(
    rt: Runtime,
    *,
    health: socket.socket | None = None,
    stop: threading.Event | None = None,
    worker: WorkerMode = "thread",
) -> int:
    """Run until SIGINT/SIGTERM (or ``stop`` is set). ``health``, a bound listener (see
    bot.running.listen), also serves /healthz and /metrics over HTTP. Returns 1 if a worker
    thread dies; ConfigError if Slack refuses the app token."""
    app = build_socket_app(rt)
    handler = _handler(rt, app)
    stop = stop if stop is not None else _stop_on_signals()
    beside = start_beside(rt, worker)
    metrics = attach_metrics(rt)
    http: ThreadedServer | None = None
    try:
        if health is not None:
            asgi = build_asgi_app(rt, None, metrics=metrics)
            http = serve_in_thread(asgi, listener=health)
        try:
            handler.connect()
        except SlackApiError as exc:
            error = exc.response.get("error") if exc.response is not None else None
            raise ConfigError(
                f"Slack refused to open a Socket Mode connection ({error or 'error'}): "
                "check SLACK_APP_TOKEN and that Socket Mode is on for the app"
            ) from None
        log.info("connected in Socket Mode with %d tenant(s)", len(rt.tenants.names))
        while not stop.wait(0.5):
            if beside.worker_died:
                log.error("a worker thread died; exiting")
                return 1
    finally:
        log.info("stopping: closing the socket, finishing the jobs in flight")
        handler.close()
        if http is not None:
            http.stop()
        shut_down(rt, beside)
    return 0
