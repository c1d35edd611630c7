"""Server information anyone may read: ``GET /``, ``/version`` and ``/health``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from dialogflowlite import __version__

if TYPE_CHECKING:
    from sanic import Blueprint, Request
    from sanic.response import HTTPResponse

#: the oldest dialogflowlite version whose models this one loads
MINIMUM_COMPATIBLE_VERSION = "0.1.0"


def blueprint() -> Blueprint:
    from sanic import Blueprint
    from sanic.response import json, text

    from dialogflowlite.server.errors import error_body

    bp = Blueprint("info")

    @bp.get("/", name="root", ctx_no_model=True)
    async def root(request: Request) -> HTTPResponse:
        return text(f"Hello from dialogflowlite: {__version__}")

    @bp.get("/version", name="version", ctx_no_model=True)
    async def version(request: Request) -> HTTPResponse:
        return json({"version": __version__,
                     "minimum_compatible_version": MINIMUM_COMPATIBLE_VERSION})

    @bp.get("/health", name="health", ctx_no_model=True)
    async def health(request: Request) -> HTTPResponse:
        from dialogflowlite.server.models import start_following

        app = request.app
        loading = getattr(app.ctx, "loading", None)
        if loading is not None and not loading.done():
            return json(error_body(503, "ServiceUnavailable", "no model is loaded yet"),
                        status=503)
        # under --workers, what another worker's PUT or DELETE /model makes of this one
        # (one stat of the shared record while nothing changed); a probe never waits
        # for a model to load: the model this worker has answers meanwhile
        following = start_following(app)
        if app.ctx.agent is None or (following is not None
                                     and following.get("model_file") is None):
            return json(error_body(503, "ServiceUnavailable",
                                   "no model is loaded; load one with PUT /model"),
                        status=503)
        return json({"status": "ok"})

    return bp
