"""``GET /openapi.yml``: the OpenAPI description of this server's HTTP API."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sanic import Blueprint, Request
    from sanic.response import HTTPResponse

OPENAPI_FILE = Path(__file__).resolve().parent.parent / "openapi.yml"


@cache
def _spec() -> bytes:
    return OPENAPI_FILE.read_bytes()


def blueprint() -> Blueprint:
    from sanic import Blueprint
    from sanic.response import raw

    bp = Blueprint("openapi")

    @bp.get("/openapi.yml", name="spec", ctx_no_model=True)
    async def spec(request: Request) -> HTTPResponse:
        return raw(_spec(), content_type="application/yaml; charset=utf-8")

    return bp
