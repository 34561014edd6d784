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
from slack_sdk.signature import SignatureVerifier
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bot.ops.metrics import CONTENT_TYPE, Metrics
from bot.runtime import Runtime
from bot.slack.inbound import check_request

__all__ = ["build_asgi_app", "health"]

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 1_000_000


class _TooLarge(Exception):
    """The body is over MAX_BODY_BYTES (by its Content-Length, or once read that far)."""


async def read_capped(request: Request, cap: int = MAX_BODY_BYTES) -> bytes:
    """The body, refused by its Content-Length before any of it is read, and otherwise
    read no further than the cap: an unsigned client cannot make us hold 200 MB.

    Raises _TooLarge, or ValueError for a Content-Length that is not a number."""
    declared = request.headers.get("content-length")
    if declared is not None:
        if not (declared.isascii() and declared.isdigit()):
            raise ValueError("Content-Length is not a number")
        if int(declared) > cap:
            raise _TooLarge
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > cap:
            raise _TooLarge
        chunks.append(chunk)
    return b"".join(chunks)


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


def _signing_secret(rt: Runtime) -> str:
    secret = rt.settings.slack_signing_secret
    return secret.get_secret_value() if secret is not None else ""


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
    verifier = SignatureVerifier(_signing_secret(rt)) if slack_app is not None else None

    async def slack_events(request: Request) -> Response:
        assert slack_app is not None and verifier is not None
        try:
            body = await read_capped(request)
        except _TooLarge:
            log.warning("refused a request to /slack/events: body over %d bytes", MAX_BODY_BYTES)
            return Response(status_code=413, headers={"Connection": "close"})
        except ValueError:
            log.warning("refused a request to /slack/events: malformed Content-Length")
            return Response(status_code=400, headers={"Connection": "close"})
        refusal = check_request(request.headers, body, verifier)
        if refusal is not None:
            return Response(status_code=refusal.status)
        bolt_request = to_bolt_request(request, body)
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
