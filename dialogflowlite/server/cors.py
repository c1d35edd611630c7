r"""Cross-origin requests: allowed only from the origins given with ``--cors``.

With no origins configured, responses carry no CORS headers, so browsers keep
pages from other sites out. ``*`` allows every origin (without credentials).
As with Rasa's CORS set-up, an origin with a regular expression's marks in it
(``https://.*\.example\.com``) is a pattern the page's origin must match, and
origins are compared without regard to case. The whole origin must match (Rasa's
library matches from the start only, so that ``https://.*\.example\.com`` let
``https://a.example.com.elsewhere.net`` in).
Preflight ``OPTIONS`` requests are answered here, before routing.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sanic import Request, Sanic
    from sanic.response import HTTPResponse

ALLOWED_METHODS = "GET, POST, PUT, DELETE, OPTIONS"
ALLOWED_HEADERS = "Authorization, Content-Type"
PREFLIGHT_MAX_AGE = "600"
#: an HTTP header name (RFC 9110's token)
_HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]{1,128}")


#: what makes a ``--cors`` origin a regular expression, as Rasa's CORS library reads it
_REGEX_MARKS = frozenset("*\\]?$^[()")
#: a ``*`` meant as a shell-style wildcard (``https://*.example.com``,
#: ``http://localhost:*``): one right after a slash or a colon repeats nothing useful
_GLOB_STAR = re.compile(r"(?<=[/:])\*")


def _as_pattern(origin: str) -> str:
    """The regular expression a shell-style ``origin`` means: its wildcards as ``.*``,
    everything else literal."""
    return ".*".join(re.escape(part) for part in _GLOB_STAR.split(origin))

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class AllowedOrigins:
    """The origins of ``--cors``: every one (``*``), exact origins, and patterns."""

    any: bool = False
    exact: frozenset[str] = frozenset()
    patterns: tuple[re.Pattern[str], ...] = ()

    @classmethod
    def of(cls, origins: Sequence[str]) -> AllowedOrigins:
        """``origins`` as given; one that is no valid pattern is a ConfigError."""
        from dialogflowlite.errors import ConfigError

        given = [o for o in origins if o]
        patterns = []
        for origin in given:
            if origin == "*" or not _REGEX_MARKS & set(origin):
                continue
            try:
                patterns.append(re.compile(origin, re.IGNORECASE))
            except re.error as e:
                raise ConfigError(f"--cors {origin!r} is no valid pattern: {e}",
                                  hint="give an origin (https://shop.example), or a regular "
                                       "expression such as https://.*\\.example\\.com") from e
            if _GLOB_STAR.search(origin):
                # `https://*.example.com` as a regular expression repeats the slash and
                # allows no web site: the shell-style wildcard it was meant as is said
                logger.warning("--cors '%s' is read as a regular expression, in which '*' "
                               "repeats what comes before it, so it allows no origin it "
                               "seems meant for; write '%s'", origin, _as_pattern(origin))
        exact = frozenset(o.rstrip("/").lower() for o in given
                          if o != "*" and not _REGEX_MARKS & set(o))
        return cls("*" in given, exact, tuple(patterns))

    def __bool__(self) -> bool:
        return self.any or bool(self.exact) or bool(self.patterns)

    def allows(self, origin: str) -> bool:
        plain = origin.rstrip("/")
        return plain.lower() in self.exact or any(p.fullmatch(plain) for p in self.patterns)


def _allowed_origin(origin: str | None, origins: AllowedOrigins) -> str | None:
    if not origin or not origins:
        return None
    if origins.any:
        return "*"
    return origin if origins.allows(origin) else None


def _allowed_headers(requested: str | None) -> str:
    """The headers a preflight allows: those the page asks for (a widget's
    ``X-Requested-With``, a tracing header), as Rasa's CORS set-up allows any, with
    Authorization and Content-Type always; a name that is no header token is left out."""
    names = [name.strip() for name in (requested or "").split(",")]
    asked = [name for name in names if _HEADER_NAME.fullmatch(name)]
    always = [name for name in ALLOWED_HEADERS.split(", ")
              if name.lower() not in {a.lower() for a in asked}]
    return ", ".join([*always, *asked])


def install_cors(app: Sanic, origins: Sequence[str]) -> None:
    """Add CORS headers for ``origins`` and answer preflight requests."""
    from sanic.response import empty

    allowed = AllowedOrigins.of(origins)
    app.ctx.cors_origins = allowed

    @app.on_request(priority=1000)
    async def _preflight(request: Request) -> HTTPResponse | None:
        if request.method != "OPTIONS" or "access-control-request-method" not in request.headers:
            return None
        origin = _allowed_origin(request.headers.get("origin"), allowed)
        if origin is None:
            # No CORS headers: the browser refuses the real request. (Vary: a cache
            # must not answer an allowed origin with this.)
            return empty(status=204, headers={"Vary": "Origin"})
        return empty(status=204, headers={
            "Access-Control-Allow-Origin": origin,
            "Access-Control-Allow-Methods": ALLOWED_METHODS,
            "Access-Control-Allow-Headers": _allowed_headers(
                request.headers.get("access-control-request-headers")),
            "Access-Control-Max-Age": PREFLIGHT_MAX_AGE,
            "Vary": "Origin, Access-Control-Request-Headers",
        })

    @app.on_response
    async def _cors_headers(request: Request, response: HTTPResponse) -> None:
        origin = _allowed_origin(request.headers.get("origin"), allowed)
        if origin is not None and response is not None:
            response.headers["Access-Control-Allow-Origin"] = origin
            vary = response.headers.get("Vary")
            if not vary:
                response.headers["Vary"] = "Origin"
            elif "origin" not in {name.strip().lower() for name in vary.split(",")}:
                response.headers["Vary"] = f"{vary}, Origin"
