"""The Socket.IO channel: Rasa's ``socketio`` channel, for Socket.IO chat widgets.

Chat widgets written for Rasa (and any ``socket.io-client`` 3 or newer) talk
to it unchanged, over the WebSocket transport: the client connects to
``ws://host:5005/socket.io/?EIO=4&transport=websocket``, which is what
``io(url, {transports: ["websocket"]})`` does. HTTP long-polling, the
transport a Socket.IO client tries first unless told otherwise, is not
served. credentials.yml (Rasa's keys)::

    socketio:
      user_message_evt: user_uttered     # the event the client sends messages with
      bot_message_evt: bot_uttered       # the event replies are sent with
      session_persistence: true          # the conversation id is the client's session_id
      metadata_key: metadata             # where user_uttered data carries metadata
      socketio_path: /socket.io          # the URL path

Events, as Rasa's channel has them:

* client ``session_request`` ``{"session_id": "..."}`` -> server
  ``session_confirm`` with the session id (a new one when none was given);
* client ``user_uttered`` ``{"message": "hi", "session_id": "..."}`` ->
  server ``bot_uttered`` once per reply part: ``{"text": ...}`` (with
  ``quick_replies`` for buttons), ``{"attachment": {"type": "image",
  "payload": {"src": ...}}}`` for an image, ``{"attachment": ...}``, and
  custom payloads as they are.

Without ``session_persistence`` every connection is a new conversation (its
Socket.IO id), as in Rasa. Messages of one connection are handled in order.

This module speaks the wire protocols itself (Engine.IO 4 and Socket.IO 5,
text packets only): ``0`` open, ``2``/``3`` ping/pong, ``4`` messages
holding Socket.IO packets ``0`` connect, ``1`` disconnect, ``2`` event,
``3`` acknowledgement, ``4`` connect error.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
import uuid
from typing import TYPE_CHECKING, Any

from dialogflowlite.errors import ConfigError
from dialogflowlite.server.channels.base import InputChannel, OnMessage

if TYPE_CHECKING:
    from sanic import Blueprint, Request

logger = logging.getLogger(__name__)

#: credentials.yml keys and their defaults (Rasa's)
SETTINGS: dict[str, Any] = {
    "user_message_evt": "user_uttered",
    "bot_message_evt": "bot_uttered",
    "session_persistence": False,
    "metadata_key": "metadata",
    "socketio_path": "/socket.io",
    "namespace": None,
}
PING_INTERVAL = 25.0
PING_TIMEOUT = 20.0
MAX_PAYLOAD = 1_000_000

# Engine.IO packet types
EIO_OPEN, EIO_CLOSE, EIO_PING, EIO_PONG, EIO_MESSAGE = "0", "1", "2", "3", "4"
# Socket.IO packet types
SIO_CONNECT, SIO_DISCONNECT, SIO_EVENT, SIO_ACK, SIO_CONNECT_ERROR = "0", "1", "2", "3", "4"


def parse_packet(text: str) -> tuple[str, str, int | None, Any]:
    """A Socket.IO packet's (type, namespace, acknowledgement id, data)."""
    if not text:
        raise ValueError("empty packet")
    kind, rest = text[0], text[1:]
    namespace = "/"
    if rest.startswith("/"):
        namespace, _, rest = rest.partition(",")
    digits = len(rest) - len(rest.lstrip("0123456789"))
    ack = int(rest[:digits]) if digits else None
    payload = rest[digits:]
    return kind, namespace, ack, json.loads(payload) if payload else None


def encode_packet(kind: str, namespace: str = "/", data: Any = None,
                  ack: int | None = None) -> str:
    """A Socket.IO packet as text (inside an Engine.IO message)."""
    text = kind
    if namespace != "/":
        text += namespace + ","
    if ack is not None:
        text += str(ack)
    if data is not None:
        text += json.dumps(data, ensure_ascii=False)
    return text


def socketio_messages(reply: dict[str, Any]) -> list[dict[str, Any]]:
    """One REST-shaped bot reply as the ``bot_uttered`` payloads Rasa's channel sends."""
    messages: list[dict[str, Any]] = []
    text = reply.get("text")
    buttons = reply.get("buttons") or reply.get("quick_replies")
    if text or buttons:
        message: dict[str, Any] = {"text": text or ""}
        if buttons:
            message["quick_replies"] = [
                {"content_type": "text", "title": b.get("title"), "payload": b.get("payload")}
                for b in buttons]
        messages.append(message)
    if reply.get("image"):
        messages.append({"attachment": {"type": "image", "payload": {"src": reply["image"]}}})
    if reply.get("attachment"):
        messages.append({"attachment": reply["attachment"]})
    if reply.get("elements"):
        messages.append({"attachment": {"type": "template", "payload": {
            "template_type": "generic", "elements": reply["elements"]}}})
    if reply.get("custom") is not None:
        messages.append(reply["custom"])
    return messages


class SocketIOChannel(InputChannel):
    """Rasa's Socket.IO channel over the WebSocket transport."""

    channel_name = "socketio"

    def __init__(self, config: dict[str, Any] | None = None) -> None:
        super().__init__(config)
        from dialogflowlite.io.formats import did_you_mean

        unknown = [k for k in self.config if k not in SETTINGS]
        if unknown:
            key = unknown[0]
            hint = ("JWT checks are not supported on this channel; remove the key"
                    if key in ("jwt_key", "jwt_method") else
                    did_you_mean(key, list(SETTINGS)) or f"its settings are: {', '.join(SETTINGS)}")
            raise ConfigError(f"credentials.yml socketio: no setting {key!r}", hint=hint)
        settings = {**SETTINGS, **{k: v for k, v in self.config.items() if v is not None}}
        self.user_event = str(settings["user_message_evt"])
        self.bot_event = str(settings["bot_message_evt"])
        self.session_persistence = bool(settings["session_persistence"])
        self.metadata_key = str(settings["metadata_key"])
        self.namespace = str(settings["namespace"] or "/")
        path = "/" + str(settings["socketio_path"]).strip("/")
        self.path = path

    def blueprint(self, on_message: OnMessage) -> Blueprint:
        from sanic import Blueprint

        blueprint = Blueprint(f"channel_{self.name()}", url_prefix=self.path)

        @blueprint.on_request
        async def websocket_only(request: Request) -> None:
            from dialogflowlite.server.errors import bad_request

            if request.args.get("transport", "websocket") != "websocket":
                raise bad_request(
                    "this server speaks Socket.IO over WebSocket only, not long-polling: "
                    "connect with the option transports: ['websocket']", parameter="transport")

        @blueprint.websocket("/", name="socket")
        async def socket(request: Request, ws: Any) -> None:
            await SocketIOConnection(self, ws, request, on_message).run()

        return blueprint


class SocketIOConnection:
    """One client's Engine.IO connection and its Socket.IO session."""

    def __init__(self, channel: SocketIOChannel, ws: Any, request: Request,
                 on_message: OnMessage) -> None:
        self.channel = channel
        self.ws = ws
        self.request = request
        self.on_message = on_message
        self.engine_id = uuid.uuid4().hex
        self.socket_id: str | None = None
        self.last_pong = time.monotonic()

    async def send(self, packet: str) -> None:
        await self.ws.send(packet)

    async def emit(self, event: str, data: Any) -> None:
        await self.send(EIO_MESSAGE + encode_packet(SIO_EVENT, self.channel.namespace,
                                                    [event, data]))

    async def run(self) -> None:
        if self.request.args.get("EIO") != "4":
            # Engine.IO 3 (socket.io-client 2) frames its packets differently
            await self.ws.close(1002, "only Engine.IO 4 (socket.io-client 3 or newer) is served")
            return
        await self.send(EIO_OPEN + json.dumps({
            "sid": self.engine_id, "upgrades": [], "pingInterval": int(PING_INTERVAL * 1000),
            "pingTimeout": int(PING_TIMEOUT * 1000), "maxPayload": MAX_PAYLOAD}))
        pinger = asyncio.get_running_loop().create_task(self._ping())
        try:
            async for frame in self.ws:
                if not isinstance(frame, str) or not frame:
                    continue  # binary attachments are not part of this channel
                kind = frame[0]
                if kind == EIO_PONG:
                    self.last_pong = time.monotonic()
                elif kind == EIO_CLOSE:
                    break
                elif kind == EIO_MESSAGE:
                    await self._socketio_packet(frame[1:])
        finally:
            pinger.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await pinger

    async def _ping(self) -> None:
        while True:
            await asyncio.sleep(PING_INTERVAL)
            if time.monotonic() - self.last_pong > PING_INTERVAL + PING_TIMEOUT:
                await self.ws.close(1000, "ping timeout")
                return
            await self.send(EIO_PING)

    async def _socketio_packet(self, text: str) -> None:
        try:
            kind, namespace, ack, data = parse_packet(text)
        except ValueError as e:
            logger.warning("socketio: a malformed packet %r was ignored (%s)", text[:80], e)
            return
        if namespace != self.channel.namespace:
            if kind == SIO_CONNECT:
                await self.send(EIO_MESSAGE + encode_packet(
                    SIO_CONNECT_ERROR, namespace, {"message": "Invalid namespace"}))
            return
        if kind == SIO_CONNECT:
            self.socket_id = uuid.uuid4().hex
            await self.send(EIO_MESSAGE + encode_packet(SIO_CONNECT, namespace,
                                                        {"sid": self.socket_id}))
        elif kind == SIO_DISCONNECT:
            self.socket_id = None
        elif kind == SIO_EVENT and self.socket_id and isinstance(data, list) and data:
            answer = await self._event(str(data[0]), data[1:])
            if ack is not None:
                await self.send(EIO_MESSAGE + encode_packet(SIO_ACK, namespace, answer, ack))

    async def _event(self, event: str, args: list[Any]) -> list[Any]:
        data = args[0] if args else None
        if event == "session_request":
            given = data.get("session_id") if isinstance(data, dict) else None
            session_id = str(given) if given else uuid.uuid4().hex
            await self.emit("session_confirm", session_id)
            return [session_id]
        if event == self.channel.user_event:
            await self._user_message(data)
        return []

    async def _user_message(self, data: Any) -> None:
        from dialogflowlite.dialogue.messages import IncomingMessage
        from dialogflowlite.errors import DialogflowLiteError
        from dialogflowlite.server import validation
        from dialogflowlite.server.errors import bad_request

        try:
            if not isinstance(data, dict):
                raise bad_request(f"{self.channel.user_event} data must be an "
                                             "object", parameter="data")
            if self.channel.session_persistence:
                if not data.get("session_id"):
                    raise bad_request(
                        "the message has no session_id, which session_persistence needs "
                        "(send session_request first)", parameter="session_id")
                sender = validation.sender_id(data["session_id"], parameter="session_id")
            else:
                sender = self.socket_id or self.engine_id
            text = validation.message_text(data, "message",
                                           self.request.app.ctx.config.max_message_chars)
            message = IncomingMessage(text, sender_id=sender, channel=self.channel.name(),
                                      metadata=validation.metadata(data,
                                                                   self.channel.metadata_key))
            replies = await self.on_message(message)
        except DialogflowLiteError as e:
            logger.warning("socketio: %s", e)
            await self.emit("error", {"message": str(e)})
            return
        except Exception as e:  # the connection survives a failed turn
            logger.error("socketio: the message could not be handled: %s", e, exc_info=True)
            await self.emit("error", {"message": "the message could not be handled"})
            return
        for reply in replies:
            for payload in socketio_messages(reply):
                await self.emit(self.channel.bot_event, payload)
