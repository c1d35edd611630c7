"""The REST channel: Rasa's ``POST /webhooks/rest/webhook``.

The client posts ``{"sender": "...", "message": "...", "metadata": {...}}``
and gets the bot's replies as a JSON list of Rasa bot messages
(``recipient_id``, ``text``, ``buttons``, ``image``, ``custom``, ...).
``GET /webhooks/rest/`` answers ``{"status": "ok"}``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from dialogflowlite.server.channels.base import InputChannel, OnMessage

if TYPE_CHECKING:
    from sanic import Blueprint, Request
    from sanic.response import HTTPResponse


class RestChannel(InputChannel):
    """Request/response chat over HTTP; each request waits for all of the bot's replies."""

    channel_name = "rest"

    def blueprint(self, on_message: OnMessage) -> Blueprint:

        from dialogflowlite.dialogue.messages import IncomingMessage
        from dialogflowlite.server import validation

        blueprint = self.health_blueprint()
        name = self.name()
        max_chars = int(self.config.get("max_message_chars") or 0)

        @blueprint.post("/webhook", name="webhook")
        async def webhook(request: Request) -> HTTPResponse:
            body = validation.json_body(request)
            limit = max_chars or request.app.ctx.config.max_message_chars
            text = validation.message_text(body, "message", limit)
            sender = validation.sender_id(body.get("sender"))
            message = IncomingMessage(
                text, sender_id=sender, channel=name, metadata=validation.metadata(body),
                message_id=_optional_id(body))
            replies: list[dict[str, Any]] = await on_message(message)
            return await self.answer(replies)

        return blueprint

    async def answer(self, replies: list[dict[str, Any]]) -> HTTPResponse:
        """The HTTP response to a message: here, the bot's replies as a JSON list."""
        from sanic.response import json

        from dialogflowlite.components.generation.messages import rasa_shape

        return json([rasa_shape(reply) for reply in replies])


def _optional_id(body: dict[str, Any]) -> str | None:
    from dialogflowlite.server import validation

    value = validation.field(body, "message_id", (str, int), required=False)
    return None if value is None else str(value)
