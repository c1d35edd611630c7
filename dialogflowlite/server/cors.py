"""Cross-origin requests: allowed only from the origins given with ``--cors``.

With no origins configured, responses carry no CORS headers, so browsers keep
pages from other sites out. ``*`` allows every origin (without credentials).
Preflight ``OPTIONS`` requests are answered here, before routing.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sanic import Request, Sanic
    from sanic.response import HTTPResponse

ALLOWED_METHODS = "GET, POST, PUT, DELETE, OPTIONS"
ALLOWED_HEADERS = "Authorization, Content-Type"
PREFLIGHT_MAX_AGE = "600"


def _allowed_origin(origin: str | None, origins: frozenset[str]) -> str | None:
    if not origin or not origins:
        return None
    if "*" in origins:
        return "*"
    return origin if origin.rstrip("/") in origins else None


def install_cors(app: Sanic, origins: Sequence[str]) -> None:
    """Add CORS headers for ``origins`` and answer preflight requests."""
    from sanic.response import empty

    allowed = frozenset(o.rstrip("/") for o in origins if o)
    app.ctx.cors_origins = allowed

    @app.on_request(priority=1000)
    async def _preflight(request: Request) -> HTTPResponse | None:
        if request.method != "OPTIONS" or "access-control-request-method" not in request.headers:
            return None
        origin = _allowed_origin(request.headers.get("origin"), allowed)
        if origin is None:
            # No CORS headers: the browser refuses the real request.
            return empty(status=204)
        return empty(status=204, headers={
            "Access-Control-Allow-Origin": origin,
            "Access-Control-Allow-Methods": ALLOWED_METHODS,
            "Access-Control-Allow-Headers": ALLOWED_HEADERS,
            "Access-Control-Max-Age": PREFLIGHT_MAX_AGE,
            "Vary": "Origin",
        })

    @app.on_response
    async def _cors_headers(request: Request, response: HTTPResponse) -> None:
        origin = _allowed_origin(request.headers.get("origin"), allowed)
        if origin is not None and response is not None:
            response.headers["Access-Control-Allow-Origin"] = origin
            response.headers["Vary"] = "Origin"
