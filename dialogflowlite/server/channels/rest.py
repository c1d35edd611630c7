"""The REST channel: Rasa's ``POST /webhooks/rest/webhook``.

The client posts ``{"sender": "...", "message": "...", "metadata": {...}}``
and gets the bot's replies as a JSON list of Rasa bot messages
(``recipient_id``, ``text``, ``buttons``, ``image``, ``custom``, ...). As in
Rasa, the body may name ``"input_channel"``: the channel the message is
recorded as coming from (``rest`` otherwise), which also picks a response's
variation for that channel, so a bridge to another platform can name it.
``GET /webhooks/rest/`` answers ``{"status": "ok"}``.

With ``?stream=true`` the answer is Rasa's streamed one: a
``text/event-stream`` response, one JSON reply per line, each action's replies
written as that action ends (the message's
:attr:`~dialogflowlite.dialogue.messages.IncomingMessage.reply_sink`). The
response starts with the first reply, so a turn that fails before it (no model
loaded) still gets its error status and JSON error, where Rasa's stream has
answered 200 already; one that fails later ends the stream (and is logged).
"""

from __future__ import annotations

import json
import logging
import re
from typing import TYPE_CHECKING, Any

from dialogflowlite.server.channels.base import InputChannel, OnMessage, handle_and_send

if TYPE_CHECKING:
    from sanic import Blueprint, Request
    from sanic.response import HTTPResponse

    from dialogflowlite.dialogue.messages import IncomingMessage

logger = logging.getLogger(__name__)

#: what an ``input_channel`` given in a body may be (it is stored and shown as a name)
CHANNEL_NAME = re.compile(r"[\w.-]{1,64}")
#: how many different ``input_channel`` names one server process takes: a bridge
#: names a few, and each is a label of the server's metrics, which must stay bounded
MAX_INPUT_CHANNELS = 100
#: the content type of a streamed answer, as Rasa sends it (the lines are JSON, not
#: server-sent events' ``data:`` frames)
STREAM_CONTENT_TYPE = "text/event-stream"


class RestChannel(InputChannel):
    """Request/response chat over HTTP; each request waits for all of the bot's replies."""

    channel_name = "rest"
    #: whether ``?stream=true`` streams the replies (a channel that answers elsewhere does not)
    streams = True
    #: whether :meth:`answer` pushes the replies elsewhere (then they are sent even when
    #: the request is cancelled meanwhile) rather than answering them to the request
    pushes_replies = False
    #: its only setting: the longest message taken (0: the server's limit)
    SETTINGS: dict[str, Any] = {"max_message_chars": 0}

    def __init__(self, config: dict[str, Any] | None = None) -> None:
        from dialogflowlite.server.channels.settings import ChannelSettings

        super().__init__(config)
        # a key it does not take is refused, as every channel refuses one
        settings = ChannelSettings(self.channel_name, self.config, self.SETTINGS)
        limit = settings["max_message_chars"]
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 0:
            raise settings.error(f"`max_message_chars` must be a whole number, not {limit!r}",
                                 "leave it out to take the server's limit")
        self.max_chars = limit
        #: the ``input_channel`` names bodies have given so far
        self.input_channels: set[str] = set()

    def blueprint(self, on_message: OnMessage) -> Blueprint:

        from dialogflowlite.dialogue.messages import IncomingMessage
        from dialogflowlite.server import validation

        blueprint = self.health_blueprint()
        name = self.name()
        max_chars = self.max_chars

        @blueprint.post("/webhook", name="webhook")
        async def webhook(request: Request) -> HTTPResponse | None:
            body = validation.json_body(request)
            streamed = self.streams and validation.query_flag(request, "stream", False)
            limit = max_chars or request.app.ctx.config.max_message_chars
            text = validation.message_text(body, "message", limit)
            sender = validation.sender_id(body.get("sender"))
            message = IncomingMessage(
                text, sender_id=sender, channel=self.input_channel(body) or name,
                metadata=validation.metadata(body), message_id=_optional_id(body))
            if streamed:
                await self.stream(request, message, on_message)
                return None
            if self.pushes_replies:
                return await handle_and_send(request, self._handle(message, on_message))
            replies: list[dict[str, Any]] = await on_message(message)
            return await self.answer(replies)

        return blueprint

    def input_channel(self, body: dict[str, Any]) -> str | None:
        """The body's ``input_channel`` (Rasa's REST channel takes it), or None when not given."""
        from dialogflowlite.server import validation
        from dialogflowlite.server.errors import bad_request

        value = validation.field(body, "input_channel", str, required=False)
        if value is None or not value.strip():
            return None
        value = value.strip()
        if not CHANNEL_NAME.fullmatch(value):
            raise bad_request("the field 'input_channel' must be a channel name: 1 to 64 "
                              "letters, digits, `_`, `-` or `.`", parameter="input_channel")
        if value not in self.input_channels:
            if len(self.input_channels) >= MAX_INPUT_CHANNELS:
                raise bad_request(f"the field 'input_channel' names a channel after "
                                  f"{MAX_INPUT_CHANNELS} others; no more are taken",
                                  parameter="input_channel")
            self.input_channels.add(value)
        return value

    async def _handle(self, message: IncomingMessage, on_message: OnMessage) -> HTTPResponse:
        return await self.answer(await on_message(message))

    async def answer(self, replies: list[dict[str, Any]]) -> HTTPResponse:
        """The HTTP response to a message: here, the bot's replies as a JSON list, exactly
        as Rasa's REST channel answers."""
        from sanic.response import json as json_response

        from dialogflowlite.components.generation.messages import rasa_replies

        return json_response(rasa_replies(replies))

    async def stream(self, request: Request, message: IncomingMessage,
                     on_message: OnMessage) -> None:
        """Answer ``request`` with the bot's replies to ``message`` streamed as Rasa's
        ``?stream=true`` sends them: ``text/event-stream``, each reply in Rasa's REST
        shape as one line of JSON, each action's replies as that action ends."""
        stream = _ReplyStream(request)
        message.reply_sink = stream.send
        try:
            replies = await on_message(message)
        except Exception:
            if not stream.started:
                raise  # answered as any failed request: its status and JSON error
            # the answer's 200 is sent already: the stream is cut off without its last
            # chunk, so the client sees a broken transfer (curl's exit 18), not a turn
            # that went well
            logger.exception("conversation %r: the turn failed after its first replies "
                             "were streamed, and nothing of it was stored: the message is "
                             "lost unless the client sends it again; the stream is cut off",
                             message.sender_id)
            stream.abort()
            return
        if not stream.called:
            # a processor that does not stream (a plugin's) still answers them all
            await stream.send(replies)
        await stream.end()


class _ReplyStream:
    """The streamed answer of one request, started when the first replies come."""

    def __init__(self, request: Request) -> None:
        self.request = request
        self.response: Any = None
        #: whether the processor handed over replies at all (even ones that failed)
        self.called = False

    @property
    def started(self) -> bool:
        return self.response is not None

    async def send(self, replies: list[dict[str, Any]]) -> None:
        """Write ``replies`` as lines of JSON, in Rasa's REST shape."""
        from dialogflowlite.components.generation.messages import rasa_replies

        self.called = True
        if self.response is None:
            self.response = await self.request.respond(content_type=STREAM_CONTENT_TYPE)
        for reply in rasa_replies(replies):
            await self.response.send(json.dumps(reply) + "\n")

    def abort(self) -> None:
        """Close the connection without finishing the answer: its chunked body lacks its
        last chunk, which an HTTP client reports as an incomplete transfer."""
        transport = getattr(self.request, "transport", None)
        if transport is not None:
            transport.abort() if hasattr(transport, "abort") else transport.close()

    async def end(self) -> None:
        """Finish the answer (an empty stream when no reply came)."""
        try:
            if self.response is None:
                self.response = await self.request.respond(content_type=STREAM_CONTENT_TYPE)
            await self.response.eof()
        except Exception:
            # the client went away: the turn is stored, there is nobody to tell
            logger.debug("the streamed answer could not be finished", exc_info=True)


def _optional_id(body: dict[str, Any]) -> str | None:
    from dialogflowlite.server import validation

    value = validation.field(body, "message_id", (str, int), required=False)
    return None if value is None else str(value)

