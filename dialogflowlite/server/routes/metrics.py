"""``GET /metrics`` (Prometheus text format) and the per-route request metrics behind it."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sanic import Blueprint, Request, Sanic
    from sanic.response import HTTPResponse

#: route label of requests that matched no route (keeps label values bounded)
UNMATCHED = "unmatched"


def route_label(request: Request) -> str:
    """The route's pattern (``/conversations/<conversation_id>/tracker``), not the raw path."""
    route = request.route
    if route is None:
        return UNMATCHED
    return "/" + route.path.lstrip("/")


def install_request_metrics(app: Sanic) -> None:
    """Count every answered request and time it, per route."""

    @app.on_request(priority=10_000)
    async def _start(request: Request) -> None:
        request.ctx.started = time.perf_counter()
        request.app.ctx.metrics.in_flight.inc()

    @app.on_response(priority=10_000)
    async def _record(request: Request, response: HTTPResponse) -> None:
        started = getattr(request.ctx, "started", None)
        if started is None:
            return
        metrics = request.app.ctx.metrics
        metrics.in_flight.dec()
        request.ctx.started = None
        label = route_label(request)
        status = str(response.status) if response is not None else "0"
        metrics.requests.inc(route=label, method=request.method, status=status)
        metrics.request_seconds.observe(time.perf_counter() - started, route=label)


def blueprint() -> Blueprint:
    from sanic import Blueprint
    from sanic.response import text

    from dialogflowlite.server.metrics import CONTENT_TYPE

    bp = Blueprint("metrics")

    @bp.get("/metrics", name="metrics", ctx_auth=True, ctx_no_model=True)
    async def metrics(request: Request) -> HTTPResponse:
        return text(request.app.ctx.metrics.render(), content_type=CONTENT_TYPE)

    return bp
