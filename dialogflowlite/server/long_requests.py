"""Routes whose work takes minutes by nature: training and testing through the API.

``--response-timeout`` (60 s by default) bounds how long a request may take,
so that a message held up by a stuck action server is answered with a 503
instead of leaving its client waiting. Training a model or replaying a test
set is slow by nature, and Rasa gives every request an hour: cut off at 60 s,
a training was killed half-way and its work lost, and the client got a 503.

Sanic keeps the timeout on each connection (read from the app's config when
the connection opens) and measures it from the start of the request; these
routes raise it on their own connection only. It stays raised for later
requests on that kept-alive connection, which is harmless: they are the same
client's.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sanic import Request

logger = logging.getLogger(__name__)

#: seconds a training or testing request may take (Rasa's response timeout)
LONG_RESPONSE_TIMEOUT = 3600.0


def allow_long_response(request: Request, seconds: float = LONG_RESPONSE_TIMEOUT) -> None:
    """Let ``request`` take up to ``seconds`` (never less than the server allows already).

    Without a connection of Sanic's own (the ASGI client of tests) there is no
    timeout to raise.
    """
    transport = getattr(request, "transport", None)
    get_protocol = getattr(transport, "get_protocol", None)
    protocol = get_protocol() if callable(get_protocol) else None
    current = getattr(protocol, "response_timeout", None)
    if isinstance(current, (int, float)) and current < seconds:
        protocol.response_timeout = seconds  # type: ignore[union-attr]
