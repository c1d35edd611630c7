"""Who may call the HTTP API: a shared token or a JWT.

Routes that need it are declared with ``ctx_auth=True`` (Sanic stores it on
``request.route.ctx``); one request middleware checks them all, so no handler
can forget. With neither a token nor a JWT secret configured, every route is
open (as in Rasa); the server warns about that when the API is enabled.

* token: ``?token=T`` (Rasa's way) or ``Authorization: Bearer T``;
* JWT: ``Authorization: Bearer <jwt>`` signed with the configured secret (or
  verified with the configured public key for RS/ES methods). As in Rasa, the
  payload's ``user.role`` decides: ``admin`` may call everything, ``user`` only
  the conversation whose id equals ``user.username``.

As in Rasa, a request that is not authenticated (no credentials, a wrong
token, a JWT that is forged, expired or malformed) gets 401 ``NotAuthenticated``
(with ``WWW-Authenticate: Bearer``, as HTTP asks of a 401), and a valid JWT
whose role does not reach the route gets 403 ``NotAuthorized``; both with
the API's error body.
"""

from __future__ import annotations

import hmac
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from dialogflowlite.errors import ApiError

if TYPE_CHECKING:
    from sanic import Request, Sanic

logger = logging.getLogger(__name__)

ADMIN_ROLE = "admin"
USER_ROLE = "user"


def forbidden(message: str) -> ApiError:
    """403: the caller is known, and may not use this route."""
    return ApiError(403, "NotAuthorized", message)


def not_authenticated(message: str) -> ApiError:
    """401: the request does not say who is calling (or says it with a bad credential)."""
    error = ApiError(401, "NotAuthenticated", message)
    # read by the error handler: HTTP asks a 401 to name the scheme to answer with
    error.headers = {"WWW-Authenticate": "Bearer"}
    return error


@dataclass(frozen=True)
class Authenticator:
    """Checks one request against the configured token and/or JWT secret."""

    token: str | None = None
    jwt_secret: str | None = None
    jwt_method: str = "HS256"

    @property
    def enabled(self) -> bool:
        return bool(self.token or self.jwt_secret)

    def _bearer(self, request: Request) -> str | None:
        header = request.headers.get("authorization") or ""
        scheme, _, value = header.partition(" ")
        return value.strip() if scheme.lower() == "bearer" and value.strip() else None

    def _token_matches(self, candidate: str | None) -> bool:
        if not self.token or not candidate:
            return False
        return hmac.compare_digest(candidate.encode("utf-8"), self.token.encode("utf-8"))

    def _jwt_payload(self, candidate: str) -> dict[str, Any] | None:
        import jwt

        try:
            payload = jwt.decode(candidate, self.jwt_secret, algorithms=[self.jwt_method])
        except jwt.PyJWTError as e:
            logger.info("rejected a JWT: %s", e)
            return None
        return payload if isinstance(payload, dict) else None

    def check(self, request: Request) -> None:
        """Raise a 401 (not authenticated) or 403 (not allowed) :class:`ApiError` unless
        ``request`` may use its route."""
        if not self.enabled:
            return
        bearer = self._bearer(request)
        if self._token_matches(request.args.get("token")) or self._token_matches(bearer):
            return
        if self.jwt_secret and bearer:
            payload = self._jwt_payload(bearer)
            if payload is None:
                raise not_authenticated("the JWT is invalid or expired")
            user = payload.get("user") if isinstance(payload.get("user"), dict) else {}
            role = user.get("role")
            if role == ADMIN_ROLE:
                return
            conversation = (request.match_info or {}).get("conversation_id")
            if role == USER_ROLE and conversation is not None \
                    and user.get("username") == conversation:
                return
            raise forbidden("the JWT does not grant access to this resource")
        raise not_authenticated("this route needs the API token (?token=...) or a valid JWT "
                                "(Authorization: Bearer ...)")


def install_auth(app: Sanic, authenticator: Authenticator) -> None:
    """Check every route declared with ``ctx_auth=True`` before its handler runs."""
    app.ctx.authenticator = authenticator

    @app.on_request(priority=100)
    async def _require_auth(request: Request) -> None:
        route = request.route
        if route is not None and getattr(route.ctx, "auth", False):
            authenticator.check(request)
