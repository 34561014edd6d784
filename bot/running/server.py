"""HTTP mode: ``POST /slack/events`` for Slack, ``GET /healthz`` for load balancers and
``GET /metrics`` for Prometheus.

Bolt's dispatch is synchronous; it runs on a thread so the event loop keeps accepting
requests while a listener acknowledges. The health check and the scrape read the database,
so they run on a thread too.
"""

from __future__ import annotations

import logging

from slack_bolt import App
from slack_bolt.adapter.starlette.handler import to_bolt_request, to_starlette_response
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bot.ops.metrics import CONTENT_TYPE, Metrics
from bot.runtime import Runtime

__all__ = ["build_asgi_app", "health"]

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 1_000_000


def health(rt: Runtime) -> tuple[int, dict[str, object]]:
    """(HTTP status, body): 503 when the database is unreachable, or the worker (threads or
    process) died or is still starting."""
    database = "ok"
    try:
        rt.db.ping()
    except Exception as exc:
        log.warning("health check: database unreachable: %s", type(exc).__name__)
        database = "unreachable"
    worker = _worker_state(rt)
    healthy = database == "ok" and worker in ("none", "ok")
    body: dict[str, object] = {
        "status": "ok" if healthy else "unavailable",
        "database": database,
        "worker": worker,
        "tenants": len(rt.tenants.names),
    }
    return (200 if healthy else 503), body


def _worker_state(rt: Runtime) -> str:
    if rt.worker is None:
        return "none"
    if rt.worker.alive:
        return "ok"
    return "starting" if getattr(rt.worker, "starting", False) else "dead"


def build_asgi_app(
    rt: Runtime, slack_app: App | None, *, metrics: Metrics | None = None
) -> Starlette:
    """The ASGI app; without ``slack_app`` (Socket Mode) only /healthz and /metrics.

    Without ``metrics`` /metrics still reports what the database knows."""
    metrics = metrics or Metrics(rt)

    async def slack_events(request: Request) -> Response:
        assert slack_app is not None
        body = await request.body()
        if len(body) > MAX_BODY_BYTES:
            return Response(status_code=413)
        try:
            bolt_request = to_bolt_request(request, body)
        except UnicodeDecodeError:
            return Response(status_code=400)
        bolt_response = await run_in_threadpool(slack_app.dispatch, bolt_request)
        return to_starlette_response(bolt_response)

    async def healthz(_request: Request) -> Response:
        status, body = await run_in_threadpool(health, rt)
        return JSONResponse(body, status)

    async def scrape(_request: Request) -> Response:
        body = await run_in_threadpool(metrics.render)
        return Response(body, media_type=CONTENT_TYPE)

    routes = [
        Route("/healthz", healthz, methods=["GET"]),
        Route("/metrics", scrape, methods=["GET"]),
    ]
    if slack_app is not None:
        routes.append(Route("/slack/events", slack_events, methods=["POST"]))
    return Starlette(routes=routes)
