"""The one JSON error shape of the HTTP API, and the handler that produces it.

Every failed request answers ``{"version", "status": "failure", "message",
"reason", "details", "help", "code"}`` (Rasa's error body) with the matching
HTTP status. Handlers raise :class:`~dialogflowlite.errors.ApiError`; Sanic's
own exceptions (not found, payload too large, ...) and errors of the framework
are translated here, in one place. Responses never carry a traceback or a path
on the server's disk. A request cut short without a fault of the server (the
client hung up, ``response_timeout`` passed) is logged in one line, not as an
unexpected error (:func:`cut_short`).
"""

from __future__ import annotations

import asyncio
import logging
import re
from typing import TYPE_CHECKING, Any

from dialogflowlite import __version__
from dialogflowlite.errors import (
    ActionNotFoundError,
    ApiError,
    DialogflowLiteError,
    DialogueError,
    ModelLoadError,
    TrackerStoreError,
)

if TYPE_CHECKING:
    from sanic import Request, Sanic
    from sanic.response import HTTPResponse

logger = logging.getLogger(__name__)

#: Rasa's reason codes by HTTP status, for errors raised without one
REASONS = {
    400: "BadRequest",
    401: "NotAuthenticated",
    403: "NotAuthorized",
    404: "NotFound",
    405: "MethodNotAllowed",
    406: "NotAcceptable",
    409: "Conflict",
    413: "PayloadTooLarge",
    415: "UnsupportedMediaType",
    500: "ServerError",
    503: "ServiceUnavailable",
}

# Absolute paths (/a/b/c.tar, C:\a\b) are cut to their last part before a
# message leaves the server: the client named the file, not the folder it is in.
_ABSOLUTE_PATH = re.compile(r"(?<![\w:/])(?:/[^\s/:'\"()]+)+/([^\s/:'\"()]+)")
_WINDOWS_PATH = re.compile(r"\b[A-Za-z]:\\(?:[^\s\\:'\"()]+\\)*([^\s\\:'\"()]+)")


def public_message(text: str) -> str:
    """``text`` with absolute file paths shortened to their file names."""
    text = _ABSOLUTE_PATH.sub(r"\1", text)
    return _WINDOWS_PATH.sub(r"\1", text)


def error_body(status: int, reason: str | None, message: str,
               details: dict[str, Any] | None = None) -> dict[str, Any]:
    """Rasa's error JSON."""
    return {
        "version": __version__,
        "status": "failure",
        "message": message,
        "reason": reason or REASONS.get(status, "Error"),
        "details": details or {},
        "help": None,
        "code": status,
    }


def bad_request(message: str, *, parameter: str | None = None,
                location: str = "body") -> ApiError:
    """A 400 naming the offending field (``details: {"parameter", "in"}``)."""
    error = ApiError(400, "BadRequest", message)
    error.details = {"parameter": parameter, "in": location} if parameter else {}
    return error


def _status_of(error: DialogflowLiteError) -> tuple[int, str]:
    if isinstance(error, ApiError):
        return error.status, error.reason
    if isinstance(error, ModelLoadError):
        return 400, "LoadingError"
    if isinstance(error, ActionNotFoundError):
        return 400, "BadRequest"
    if isinstance(error, TrackerStoreError):
        return 503, "ServiceUnavailable"
    if isinstance(error, DialogueError):
        return 500, "ConversationError"
    return 400, "BadRequest"


def response_for(error: BaseException) -> tuple[int, dict[str, Any]]:
    """The HTTP status and JSON body for any exception a handler let through."""
    from sanic.exceptions import SanicException

    if isinstance(error, DialogflowLiteError):
        status, reason = _status_of(error)
        details = getattr(error, "details", None)
        return status, error_body(status, reason, public_message(error.render()), details)
    if isinstance(error, SanicException):
        status = int(getattr(error, "status_code", 500) or 500)
        if status >= 500:
            return status, error_body(status, None, "An unexpected error occurred.")
        message = public_message(str(error.message if hasattr(error, "message") else error))
        return status, error_body(status, None, message or REASONS.get(status, "Error"))
    return 500, error_body(500, "ServerError", "An unexpected error occurred.")


#: The status recorded (in ``/metrics``) for a request whose client closed the
#: connection before the answer (nginx's "client closed request"). It never
#: reaches the client; it keeps hang-ups apart from the server's own errors.
CLIENT_CLOSED = 499


def cut_short(request: Request, error: BaseException) -> tuple[int, int, str] | None:
    """``(status, log level, what happened)`` for a request Sanic ended before its handler
    answered: the client closed the connection, ``response_timeout`` passed, or the
    request was cancelled (a stopping server); None for any other error.

    None of these is a fault of the server's code, so none is logged as one (no
    traceback). A message's turn goes on and is stored all the same (see
    :mod:`dialogflowlite.server.handling`).
    """
    from sanic.exceptions import RequestCancelled, ServiceUnavailable

    if isinstance(error, RequestCancelled):
        return CLIENT_CLOSED, logging.INFO, "the client closed the connection before the answer"
    if isinstance(error, ServiceUnavailable) and str(error) == "Response Timeout":
        # Sanic's own 503 when the handler outlasts RESPONSE_TIMEOUT; the client gets it
        config = getattr(getattr(request, "app", None), "config", None)
        limit = getattr(config, "RESPONSE_TIMEOUT", None)
        within = f" ({limit:g} s)" if isinstance(limit, int | float) else ""
        return 503, logging.WARNING, f"not answered within response_timeout{within}"
    if isinstance(error, asyncio.CancelledError):
        # a stopping server cancels the requests still running after its grace period
        return 503, logging.WARNING, "cancelled before the answer"
    return None


def request_name(request: Request) -> str:
    """``METHOD /path`` of ``request``, and the conversation it is about where the route
    names one (``/conversations/{id}/...``), for a log line."""
    name = f"{getattr(request, 'method', '?')} {getattr(request, 'path', '?')}"
    match_info = getattr(request, "match_info", None) or {}
    conversation = match_info.get("conversation_id") if isinstance(match_info, dict) else None
    return f"{name} (conversation {conversation!r})" if conversation else name


#: the paths that only exist with ``--enable-api``: these, and everything under the prefixes
API_PATHS = frozenset({"/model", "/domain", "/status"})
API_PREFIXES = ("/model/", "/conversations/")


def not_found_message(request: Request) -> str:
    """What a 404 says: the path asked for (a URL, not a file: kept whole), and
    how to turn the HTTP API on when it is an API path and the API is off."""
    path = getattr(request, "path", "") or ""
    message = f"Requested URL {path} not found"
    config = getattr(getattr(getattr(request, "app", None), "ctx", None), "config", None)
    api_off = config is not None and not getattr(config, "enable_api", True)
    if api_off and (path.rstrip("/") in API_PATHS or path.startswith(API_PREFIXES)):
        message += " (the HTTP API is off: start the server with --enable-api)"
    return message


def allowed_methods(request: Request, error: BaseException) -> list[str]:
    """The methods the path of a 405 takes, sorted; [] when they cannot be found.

    Sanic names them only for routes without parameters, so the others are
    found by asking the router for the path with each method.
    """
    found = getattr(error, "allowed_methods", None) or _routable_methods(request)
    return sorted({str(method).upper() for method in found})


def _routable_methods(request: Request) -> list[str]:
    from sanic.constants import HTTP_METHODS

    router = getattr(getattr(request, "app", None), "router", None)
    path = getattr(request, "path", None)
    if router is None or not path:
        return []
    found = []
    for method in HTTP_METHODS:
        try:
            router.resolve(path=path, method=method)
        except Exception:  # NotFound, NoMethod: this method has no route here
            continue
        found.append(method)
    return found


def method_not_allowed_message(request: Request, error: BaseException,
                               allowed: list[str]) -> str:
    """What a 405 says: the method, the path asked for (kept whole, like a 404's) and
    the ``allowed`` methods, when known."""
    method = getattr(request, "method", "") or getattr(error, "method", "")
    message = f"Method {method} not allowed for URL {getattr(request, 'path', '') or ''}"
    return f"{message} (allowed: {', '.join(allowed)})" if allowed else message


def _log_level(error: BaseException) -> int:
    """How loud ``error`` asks to be logged (its ``log_level``); ERROR when it names none,
    or something that is no level: a plugin's error must not break the error handler."""
    level = getattr(error, "log_level", None)
    if isinstance(level, int) and not isinstance(level, bool):
        return level
    return logging.ERROR


def install_error_handler(app: Sanic) -> None:
    """Route every exception of ``app`` through :func:`response_for`."""
    from sanic.handlers import ErrorHandler
    from sanic.response import json

    class JsonErrorHandler(ErrorHandler):
        """Answers every error with the API's JSON body; logs unexpected ones in full."""

        def default(self, request: Request, exception: Exception) -> HTTPResponse:
            interrupted = cut_short(request, exception)
            if interrupted is not None:
                status, level, what = interrupted
                sent = "" if status == CLIENT_CLOSED else f"; answered {status}"
                logger.log(level, "%s: %s%s", request_name(request), what, sent)
                reason = "ClientClosedRequest" if status == CLIENT_CLOSED else None
                return json(error_body(status, reason, what[:1].upper() + what[1:] + "."),
                            status=status)
            status, body = response_for(exception)
            if status == 404 and not isinstance(exception, DialogflowLiteError):
                body["message"] = not_found_message(request)
            # an error may name headers its status needs (WWW-Authenticate for a 401)
            headers = dict(getattr(exception, "headers", None) or {}) \
                if isinstance(exception, DialogflowLiteError) else {}
            if status == 405 and not isinstance(exception, DialogflowLiteError):
                allowed = allowed_methods(request, exception)
                # public_message() would take the URL for a file path and cut it
                body["message"] = method_not_allowed_message(request, exception, allowed)
                headers = {**(getattr(exception, "headers", None) or {}),
                           **({"Allow": ", ".join(allowed)} if allowed else {})}
            if status >= 500 and not isinstance(exception, DialogflowLiteError):
                logger.error("unexpected error on %s %s", getattr(request, "method", "?"),
                             getattr(request, "path", "?"), exc_info=exception)
            elif status >= 500:
                # an error whose cause is logged where it arose (a channel's 503 asking for
                # a re-delivery, each refusal of a signing-key outage) says how loud it is
                logger.log(_log_level(exception), "%s on %s: %s",
                           type(exception).__name__, getattr(request, "path", "?"),
                           exception)
            return json(body, status=status, headers=headers)

    app.error_handler = JsonErrorHandler()
