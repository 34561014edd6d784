"""HTTP mode: ``POST /slack/events`` for Slack, ``GET /healthz`` for load balancers.

Bolt's dispatch is synchronous; it runs on a thread so the event loop keeps accepting
requests while a listener acknowledges.
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

from bot.app import Runtime

__all__ = ["build_asgi_app"]

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 1_000_000


def build_asgi_app(rt: Runtime, slack_app: App) -> Starlette:
    async def slack_events(request: Request) -> Response:
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
        try:
            await run_in_threadpool(rt.db.ping)
        except Exception as exc:
            log.warning("health check: database unreachable: %s", type(exc).__name__)
            return JSONResponse({"status": "unavailable", "database": "unreachable"}, 503)
        return JSONResponse({"status": "ok", "database": "ok", "tenants": len(rt.tenants.names)})

    return Starlette(
        routes=[
            Route("/slack/events", slack_events, methods=["POST"]),
            Route("/healthz", healthz, methods=["GET"]),
        ]
    )
