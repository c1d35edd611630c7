"""Routes whose work is large by nature: training and testing through the API, and
``PUT /model`` (loading or downloading a model).

Their bodies are whole projects and test sets, and their work takes minutes.

``--response-timeout`` (60 s by default) bounds how long a request may take,
so that a message held up by a stuck action server is answered with a 503
instead of leaving its client waiting. Training a model or replaying a test
set is slow by nature, and Rasa gives every request an hour: cut off at 60 s,
a training was killed half-way and its work lost, and the client got a 503.

Sanic keeps the timeout on each connection (read from the app's config when
the connection opens) and measures it from the last data the connection
received (for these routes, the end of the body); these
routes raise it on their own connection only, and the next request on that
kept-alive connection lowers it again (:func:`install`): a reverse proxy
keeps its connections to the server open and sends any client's requests
through them, so a message must not inherit a training's hour.

Bodies are limited to ``max_request_bytes`` (1 MB), which is plenty for a
message and keeps a flood of large bodies from filling memory; a project's
training data is often larger. These routes stream their body (Sanic then
reads it only once the handler asks, after authentication) and allow up to
:data:`LARGE_BODY_BYTES`, Sanic's own default, which Rasa keeps.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sanic import Request, Sanic

logger = logging.getLogger(__name__)

#: seconds a training or testing request may take (Rasa's response timeout)
LONG_RESPONSE_TIMEOUT = 3600.0
#: largest body a training or testing request may send (Sanic's default limit)
LARGE_BODY_BYTES = 100_000_000


def _protocol(request: Request) -> Any:
    """Sanic's protocol object of ``request``'s connection; None without one."""
    transport = getattr(request, "transport", None)
    get_protocol = getattr(transport, "get_protocol", None)
    return get_protocol() if callable(get_protocol) else None


def _connection_state(request: Request) -> Any:
    """What Sanic keeps per connection for the app (``conn_info.ctx``); None without it."""
    return getattr(getattr(request, "conn_info", None), "ctx", None)


def allow_long_response(request: Request, seconds: float = LONG_RESPONSE_TIMEOUT) -> None:
    """Let ``request`` take up to ``seconds`` (never less than the server allows already);
    the connection's next request has the usual timeout again (see :func:`install`).

    Without a connection of Sanic's own (the ASGI client of tests) there is no
    timeout to raise.
    """
    protocol = _protocol(request)
    current = getattr(protocol, "response_timeout", None)
    if isinstance(current, (int, float)) and current < seconds:
        state = _connection_state(request)
        if state is not None and getattr(state, "usual_response_timeout", None) is None:
            state.usual_response_timeout = current
        protocol.response_timeout = seconds


def install(app: Sanic) -> None:
    """Give every request the connection's usual response timeout back, where a long
    request before it on the same kept-alive connection raised it.

    Lowered at the start of the next request rather than as the long one ends:
    Sanic counts the time since the connection last received data, and the long
    request's answer is still to be written then.
    """

    @app.on_request(priority=20_000)
    async def _usual_response_timeout(request: Request) -> None:
        state = _connection_state(request)
        usual = getattr(state, "usual_response_timeout", None)
        if usual is None:
            return
        state.usual_response_timeout = None
        protocol = _protocol(request)
        if protocol is not None:
            protocol.response_timeout = usual


async def receive_large_body(request: Request, limit: int | None = None) -> None:
    """Read the body of a streamed route (``stream=True``), up to ``limit`` bytes
    (:data:`LARGE_BODY_BYTES`; never less than the server allows already); a larger
    body is a 413.

    Under the ASGI client of tests there is no limit to raise.
    """
    stream = getattr(request, "stream", None)
    if stream is None:
        return
    if hasattr(stream, "request_max_size"):  # Sanic's own HTTP/1 connection
        allowed = max(limit or LARGE_BODY_BYTES, request.app.config.REQUEST_MAX_SIZE)
        stream.request_max_size = allowed
    await request.receive_body()
