"""The web chat page at ``/chat``: talk to the bot in a browser through the REST channel."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sanic import Blueprint, Request
    from sanic.response import HTTPResponse

WEBCHAT_DIR = Path(__file__).resolve().parent.parent / "webchat"

#: the only files served, with their content types
ASSETS = {
    "chat.js": "application/javascript; charset=utf-8",
    "chat.css": "text/css; charset=utf-8",
}

# The page loads nothing from elsewhere except the images bots send.
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src * data:; connect-src 'self'; "
                               "script-src 'self'; style-src 'self'; frame-ancestors 'self'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


@cache
def _read(name: str) -> bytes:
    return (WEBCHAT_DIR / name).read_bytes()


def blueprint() -> Blueprint:
    from sanic import Blueprint
    from sanic.exceptions import NotFound
    from sanic.response import raw, redirect

    bp = Blueprint("webchat")

    @bp.get("/chat", name="page", strict_slashes=True, ctx_no_model=True)
    async def page(request: Request) -> HTTPResponse:
        return raw(_read("index.html"), content_type="text/html; charset=utf-8",
                   headers=SECURITY_HEADERS)

    @bp.get("/chat/", name="page_slash", strict_slashes=True, ctx_no_model=True)
    async def page_slash(request: Request) -> HTTPResponse:
        return redirect("/chat")

    @bp.get("/chat/static/<name:str>", name="asset", ctx_no_model=True)
    async def asset(request: Request, name: str) -> HTTPResponse:
        if name not in ASSETS:
            raise NotFound(f"no file {name!r} in the web chat")
        return raw(_read(name), content_type=ASSETS[name], headers=SECURITY_HEADERS)

    return bp
