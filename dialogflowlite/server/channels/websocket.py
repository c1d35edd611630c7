"""The WebSocket channel: a conversation over one socket at ``/webhooks/websocket/ws``.

Protocol (JSON text frames):

* connect to ``/webhooks/websocket/ws?sender=ID`` (without ``sender`` the
  server picks a random id); the server confirms with
  ``{"event": "session_confirm", "sender": ID}``;
* send ``{"message": "hello", "metadata": {...}}`` for each user message;
* the server answers every reply as ``{"event": "bot_uttered", "data": {...}}``
  (Rasa's REST bot message) and then ``{"event": "turn_done"}``; a bad frame
  gets ``{"event": "error", "data": <error body>}`` and the socket stays open.

Messages on one socket are handled one after the other, in order.
"""

from __future__ import annotations

import json
import uuid
from typing import TYPE_CHECKING, Any

from dialogflowlite.errors import JsonContentError
from dialogflowlite.server.channels.base import InputChannel, OnMessage
from dialogflowlite.shared import safe_json

if TYPE_CHECKING:
    from sanic import Blueprint, Request


class WebSocketChannel(InputChannel):
    """Chat over a WebSocket; replies are pushed as they are ready."""

    channel_name = "websocket"

    def __init__(self, config: dict[str, Any] | None = None) -> None:
        from dialogflowlite.server.channels.settings import ChannelSettings

        super().__init__(config)
        ChannelSettings(self.channel_name, self.config, {})  # it takes no settings

    def blueprint(self, on_message: OnMessage) -> Blueprint:

        from dialogflowlite.dialogue.messages import IncomingMessage
        from dialogflowlite.errors import ApiError
        from dialogflowlite.server import validation
        from dialogflowlite.server.errors import response_for

        blueprint = self.health_blueprint()
        name = self.name()

        @blueprint.websocket("/ws", name="socket")
        async def socket(request: Request, ws: Any) -> None:
            sender = request.args.get("sender")
            try:
                sender = validation.sender_id(sender, parameter="sender", location="query") \
                    if sender else f"ws-{uuid.uuid4().hex}"
            except ApiError as e:
                await ws.send(json.dumps({"event": "error", "data": response_for(e)[1]}))
                await ws.close()
                return
            await ws.send(json.dumps({"event": "session_confirm", "sender": sender}))
            max_chars = request.app.ctx.config.max_message_chars
            async for frame in ws:
                try:
                    try:
                        data = safe_json.loads(frame)
                    except JsonContentError as e:
                        raise validation.bad_request(f"the frame is refused: {e.render()}",
                                                     parameter="frame") from e
                    except (TypeError, ValueError) as e:
                        raise validation.bad_request("the frame is not valid JSON",
                                                     parameter="frame") from e
                    if not isinstance(data, dict):
                        raise validation.bad_request("the frame must be a JSON object",
                                                     parameter="frame")
                    key = "message" if "message" in data else "text"
                    text = validation.message_text(data, key, max_chars)
                    message = IncomingMessage(text, sender_id=sender, channel=name,
                                              metadata=validation.metadata(data))
                    replies = await on_message(message)
                except Exception as e:  # the socket survives a bad frame or a failed turn
                    await ws.send(json.dumps({"event": "error", "data": response_for(e)[1]}))
                    continue
                for reply in replies:
                    await ws.send(json.dumps({"event": "bot_uttered", "data": reply}))
                await ws.send(json.dumps({"event": "turn_done"}))

        return blueprint
