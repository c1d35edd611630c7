"""What every input channel is: a name, its settings, and a Sanic blueprint.

A channel turns its own wire format into
:class:`~dialogflowlite.dialogue.messages.IncomingMessage` objects, hands them
to ``on_message`` (which runs the bot and returns its replies in Rasa's REST
shape) and sends the replies back its own way. The server mounts the
blueprint under ``/webhooks/<name>/``; ``credentials.yml`` enables a channel by
its name and passes the keys below that name as ``config``.

A channel that shows quick replies or cards sets :attr:`InputChannel.rich_replies`:
its ``on_message`` then keeps a text's ``quick_replies`` as they are and the
cards of ``elements`` together in one ``{"elements": [...]}`` reply (as Rasa
calls ``send_quick_replies`` and ``send_elements``). Every other channel gets
them flattened, as Rasa's default output channel sends them: quick replies as
buttons, each card a ``title : subtitle`` text with its buttons.

A channel that reaches a user by the conversation id alone (a Telegram chat
id, a Facebook page-scoped id, a phone number) implements
:meth:`InputChannel.send_to`: the HTTP API's ``output_channel`` pushes the
bot's messages through it, unasked by the user.

A channel that pushes its replies through the platform's API after the
turn (rather than answering them to the webhook request) runs "handle, then
send" through :func:`handle_and_send`: a platform that hangs up on a slow turn
(Facebook after about 20 s, Slack after 3 s) makes Sanic cancel the request,
and the replies of the turn, stored all the same, must still be sent.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Coroutine
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from sanic import Blueprint

    from dialogflowlite.dialogue.messages import IncomingMessage
    from dialogflowlite.errors import ApiError

logger = logging.getLogger(__name__)

T = TypeVar("T")

#: runs one user message through the bot and returns the replies
OnMessage = Callable[["IncomingMessage"], Awaitable[list[dict[str, Any]]]]


def refused(channel: str, request: Any, problem: str, message: str, *,
            challenge: str | None = None, what: str = "a request") -> ApiError:
    """The error that refuses a request the channel could not verify, once the refusal is
    logged.

    The log, for the operator, names where the request came from and exactly
    what was wrong (``problem``); the response says only ``message``, so that a
    caller probing the webhook learns nothing more. With ``challenge`` (the
    ``WWW-Authenticate`` value naming the scheme to authenticate with) the
    answer is 401, which HTTP allows only with such a header (RFC 9110); a
    request that fails a check of the platform's own (a token or signature
    compared outside HTTP authentication) gets 403.
    """
    from dialogflowlite.errors import ApiError

    logger.warning("%s: %s from %s was refused: %s", channel, what,
                   request.remote_addr or request.ip, problem)
    if challenge is None:
        return ApiError(403, "NotAuthorized", message)
    error = ApiError(401, "NotAuthenticated", message)
    # read by the server's error handler
    error.headers = {"WWW-Authenticate": challenge}
    return error


def bearer_challenge(realm: str, authorization: str | None) -> str:
    """The ``WWW-Authenticate`` value refusing a bearer token (RFC 6750, section 3): the
    error ``invalid_token`` only when the request carried credentials at all."""
    challenge = f'Bearer realm="{realm}"'
    return f'{challenge}, error="invalid_token"' if authorization else challenge


class InputChannel:
    """Base class of input channels; subclasses set :attr:`channel_name`."""

    channel_name = ""
    #: False for channels that do not speak HTTP (the console)
    serves_http = True
    #: True for channels that send ``quick_replies`` and ``elements`` replies their own
    #: way; the others get them in Rasa's REST shape (see :func:`replies_for`)
    rich_replies = False

    def __init__(self, config: dict[str, Any] | None = None) -> None:
        self.config = dict(config or {})

    @classmethod
    def name(cls) -> str:
        """The channel's name in credentials.yml and in its URL prefix."""
        return cls.channel_name

    @classmethod
    def url_prefix(cls) -> str:
        return f"/webhooks/{cls.name()}"

    def health_blueprint(self) -> Blueprint:
        """A blueprint under :meth:`url_prefix` with Rasa's health route (``GET /`` answers
        ``{"status": "ok"}``), for a channel's own routes to be added to."""
        from sanic import Blueprint
        from sanic.response import json

        blueprint = Blueprint(f"channel_{self.name()}", url_prefix=self.url_prefix())

        @blueprint.get("/", name="health")
        async def health(request: Any) -> Any:
            return json({"status": "ok"})

        return blueprint

    def blueprint(self, on_message: OnMessage) -> Blueprint | None:
        """A blueprint with the channel's routes (``None`` for non-HTTP channels)."""
        raise NotImplementedError

    async def send_to(self, sender_id: str, replies: list[dict[str, Any]]) -> bool:
        """Send the bot's ``replies`` to the user ``sender_id`` without a message of theirs
        to answer (Rasa's output channel: ``output_channel`` of the HTTP API).

        ``replies`` come in the shape the channel takes (see :func:`send_unasked`).
        Returns whether the channel sends this way; the default, False, is for
        channels that can only answer a request (REST, WebSocket) or need more
        than the conversation id to address the user: the server then collects
        the replies and answers them to the API's caller instead. A channel that
        sends returns True even when the platform refused a reply: that is
        logged, as for replies to the user's own messages.
        """
        return False


async def handle_and_send(request: Any, work: Coroutine[Any, Any, T]) -> T:
    """Await ``work``, which hands messages to ``on_message`` and then sends their
    replies through the platform's API, so that it finishes even when Sanic
    cancels ``request`` (the platform hung up, or ``response_timeout`` passed);
    the server's stop waits for it.

    The request answers as before when it is not cancelled. Without the
    server's message handler (a channel run on its own), ``work`` is awaited.
    """
    handler = getattr(getattr(getattr(request, "app", None), "ctx", None), "handler", None)
    see_through = getattr(handler, "see_through", None)
    if see_through is None:
        return await work
    return await see_through(work)


def replies_for(channel: Any, on_message: OnMessage) -> OnMessage:
    """``on_message`` as ``channel`` takes it.

    The server's ``on_message`` keeps quick replies and cards for the channels
    that show them; a channel without :attr:`InputChannel.rich_replies` (a
    plugin's too) gets every reply in Rasa's REST shape instead, so that a
    card or a quick reply it has no code for still reaches the user as text
    and buttons.
    """
    if getattr(channel, "rich_replies", False):
        return on_message

    async def flattened(message: IncomingMessage) -> list[dict[str, Any]]:
        from dialogflowlite.components.generation.messages import flatten_replies

        return flatten_replies(await on_message(message))

    return flattened


async def send_unasked(channel: Any, sender_id: str, replies: list[dict[str, Any]]) -> bool:
    """Send ``replies`` to ``sender_id`` through ``channel``'s
    :meth:`InputChannel.send_to`; whether the channel sent them.

    Flattened for a channel without :attr:`InputChannel.rich_replies`, as
    :func:`replies_for` gives it the answers to user messages; a plugin's
    channel without ``send_to`` cannot send this way.
    """
    send_to = getattr(channel, "send_to", None)
    if send_to is None:
        return False
    if not getattr(channel, "rich_replies", False):
        from dialogflowlite.components.generation.messages import flatten_replies

        replies = flatten_replies(replies)
    return bool(await send_to(sender_id, replies))
