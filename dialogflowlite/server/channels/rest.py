"""The REST channel: Rasa's ``POST /webhooks/rest/webhook``.

The client posts ``{"sender": "...", "message": "...", "metadata": {...}}``
and gets the bot's replies as a JSON list of Rasa bot messages
(``recipient_id``, ``text``, ``buttons``, ``image``, ``custom``, ...). As in
Rasa, the body may name ``"input_channel"``: the channel the message is
recorded as coming from (``rest`` otherwise), which also picks a response's
variation for that channel, so a bridge to another platform can name it.
``GET /webhooks/rest/`` answers ``{"status": "ok"}``.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from dialogflowlite.server.channels.base import InputChannel, OnMessage

if TYPE_CHECKING:
    from sanic import Blueprint, Request
    from sanic.response import HTTPResponse

#: what an ``input_channel`` given in a body may be (it is stored and shown as a name)
CHANNEL_NAME = re.compile(r"[\w.-]{1,64}")
#: how many different ``input_channel`` names one server process takes: a bridge
#: names a few, and each is a label of the server's metrics, which must stay bounded
MAX_INPUT_CHANNELS = 100


class RestChannel(InputChannel):
    """Request/response chat over HTTP; each request waits for all of the bot's replies."""

    channel_name = "rest"
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
        async def webhook(request: Request) -> HTTPResponse:
            body = validation.json_body(request)
            limit = max_chars or request.app.ctx.config.max_message_chars
            text = validation.message_text(body, "message", limit)
            sender = validation.sender_id(body.get("sender"))
            message = IncomingMessage(
                text, sender_id=sender, channel=self.input_channel(body) or name,
                metadata=validation.metadata(body), message_id=_optional_id(body))
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

    async def answer(self, replies: list[dict[str, Any]]) -> HTTPResponse:
        """The HTTP response to a message: here, the bot's replies as a JSON list, exactly
        as Rasa's REST channel answers."""
        from sanic.response import json

        from dialogflowlite.components.generation.messages import rasa_replies

        return json(rasa_replies(replies))


def _optional_id(body: dict[str, Any]) -> str | None:
    from dialogflowlite.server import validation

    value = validation.field(body, "message_id", (str, int), required=False)
    return None if value is None else str(value)

