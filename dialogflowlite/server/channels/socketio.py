"""The Socket.IO channel: Rasa's ``socketio`` channel, for Socket.IO chat widgets.

Chat widgets written for Rasa (and any ``socket.io-client`` 3 or newer) talk
to it unchanged, over HTTP long-polling upgraded to a WebSocket (a client's
default) or over a WebSocket from the start (``transports: ["websocket"]``).
credentials.yml (Rasa's keys)::

    socketio:
      user_message_evt: user_uttered     # the event the client sends messages with
      bot_message_evt: bot_uttered       # the event replies are sent with
      session_persistence: true          # the conversation id is the client's session_id
      metadata_key: metadata             # where user_uttered data carries metadata
      socketio_path: /socket.io          # the URL path
      jwt_key: ...                       # only clients with a token this key verifies
      jwt_method: HS256                  # the token's signing algorithm

Events, as Rasa's channel has them:

* client ``session_request`` ``{"session_id": "..."}`` -> server
  ``session_confirm`` with the session id (a new one when none was given);
* client ``user_uttered`` ``{"message": "hi", "session_id": "..."}`` ->
  server ``bot_uttered`` once per reply part: ``{"text": ...}`` (a text with
  buttons or quick replies one per paragraph, each with ``quick_replies``, the
  buttons on the last and ``[]`` on the others),
  ``{"attachment": {"type": "image", "payload": {"src": ...}}}`` for an image,
  ``{"attachment": ...}``, for each card of ``elements`` ``{"attachment":
  {"type": "template", "payload": {"template_type": "generic", "elements":
  <the card>}}}`` (one event per card, the card itself as ``elements``, as
  Rasa sends them), and custom payloads as they are, except that a payload
  with a ``data`` key sends that key's value alone, as Rasa does. The
  message's ``metadata`` may be an object or JSON text of one (Rasa decodes it).

With ``jwt_key``, a client must send a JWT in its connect packet's auth
data (``io(url, {auth: {token}})``, the token alone or after ``Bearer``,
as Rasa takes it), signed with that key (or, for RS/ES
methods, verified by that public key); other clients get a connect error and
every event they send is ignored, as in Rasa.

Without ``session_persistence`` every connection is a new conversation (its
Socket.IO id), as in Rasa. With it, the conversation is the ``session_id``
and, as in Rasa's rooms, every connection that sent ``session_request`` with
that id (the same chat open in two tabs) gets the session's replies.
Messages of one connection are handled in order.
``ping_interval`` and ``ping_timeout`` (seconds, 25 and 20) are settings of
this channel only.

``GET /webhooks/socketio/`` answers ``{"status": "ok"}``, as in Rasa.

The transports are :mod:`dialogflowlite.server.channels.engineio`; this
module speaks Socket.IO 5 over them (text packets only): ``0`` connect,
``1`` disconnect, ``2`` event, ``3`` acknowledgement, ``4`` connect error.
"""

from __future__ import annotations

import json
import logging
import uuid
from typing import TYPE_CHECKING, Any

from dialogflowlite.errors import ConfigError
from dialogflowlite.server.channels.base import InputChannel, OnMessage
from dialogflowlite.server.channels.settings import ChannelSettings
from dialogflowlite.shared import safe_json

if TYPE_CHECKING:
    from sanic import Blueprint, Request
    from sanic.response import HTTPResponse

    from dialogflowlite.server.channels.engineio import EngineSession

logger = logging.getLogger(__name__)

#: credentials.yml keys and their defaults (Rasa's)
SETTINGS: dict[str, Any] = {
    "user_message_evt": "user_uttered",
    "bot_message_evt": "bot_uttered",
    "session_persistence": False,
    "metadata_key": "metadata",
    "socketio_path": "/socket.io",
    "namespace": None,
    "jwt_key": None,
    "jwt_method": "HS256",
    # not Rasa's: seconds between the server's pings, and how long a client may
    # then stay silent before its session is dropped
    "ping_interval": 25.0,
    "ping_timeout": 20.0,
}
MAX_PAYLOAD = 1_000_000

#: the Engine.IO packet type that carries Socket.IO packets
EIO_MESSAGE = "4"
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
    return kind, namespace, ack, safe_json.loads(payload) if payload else None


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
    """One bot reply as the ``bot_uttered`` payloads Rasa's channel sends."""
    messages: list[dict[str, Any]] = []
    text = reply.get("text")
    buttons = [b for b in reply.get("buttons") or reply.get("quick_replies") or []
               if isinstance(b, dict)]
    if buttons:
        # as Rasa: each paragraph a message of its own, the buttons on the last one; the
        # others carry an empty `quick_replies`, so a widget reads them as Rasa's
        parts = [part for part in str(text or "").strip().split("\n\n") if part] or [""]
        messages += [{"text": part, "quick_replies": []} for part in parts]
        messages[-1]["quick_replies"] = [quick_reply(button) for button in buttons]
    elif text:
        messages.append({"text": text})
    if reply.get("image"):
        messages.append({"attachment": {"type": "image", "payload": {"src": reply["image"]}}})
    if reply.get("attachment"):
        messages.append({"attachment": reply["attachment"]})
    # Rasa's socketio sends each card alone, the card itself as `elements`
    messages += [{"attachment": {"type": "template", "payload": {
        "template_type": "generic", "elements": element}}}
        for element in reply.get("elements") or [] if isinstance(element, dict)]
    custom = reply.get("custom")
    if isinstance(custom, dict) and "data" in custom:
        # Rasa emits a custom payload's `data` alone (its other keys are Socket.IO's
        # emit options, such as `room`), so widgets written for Rasa read it unwrapped
        messages.append(custom["data"])
    elif custom is not None:
        messages.append(custom)
    return messages


def quick_reply(button: dict[str, Any]) -> dict[str, Any]:
    """A Rasa button as a ``quick_replies`` item; a button without a payload sends its title."""
    title = button.get("title")
    payload = button.get("payload")
    return {"content_type": "text", "title": title,
            "payload": title if payload is None else payload}


class SocketIOChannel(InputChannel):
    """Rasa's Socket.IO channel: long-polling and WebSocket transports."""

    channel_name = "socketio"
    rich_replies = True

    def __init__(self, config: dict[str, Any] | None = None) -> None:
        super().__init__(config)
        settings = ChannelSettings(self.channel_name, self.config, SETTINGS)
        self.user_event = str(settings["user_message_evt"])
        self.bot_event = str(settings["bot_message_evt"])
        self.session_persistence = settings.flag("session_persistence")
        self.metadata_key = str(settings["metadata_key"])
        # clients name a namespace with its leading "/", which YAML files often leave out
        self.namespace = "/" + str(settings["namespace"] or "").strip().strip("/")
        self.path = "/" + str(settings["socketio_path"]).strip("/")
        self.jwt_key = str(settings["jwt_key"]) if settings["jwt_key"] else None
        self.jwt_method = str(settings["jwt_method"])
        if self.jwt_key:
            self._check_jwt_key()
        # zero would ping without pause, or drop every client at once
        self.ping_interval = settings.positive_seconds("ping_interval")
        self.ping_timeout = settings.positive_seconds("ping_timeout")
        #: the server's longest accepted message, read from the app on each request
        self.max_message_chars = 5_000
        #: with session_persistence, the connections that asked for each session id
        #: (Rasa's rooms): every one of them gets the session's replies
        self.rooms: dict[str, set[SocketIOConnection]] = {}

    def _check_jwt_key(self) -> None:
        """A ConfigError at start for a method that signs nothing (``none``) or a key its
        method cannot use (an RS256 key that is no PEM public key): PyJWT takes both,
        then refuses every client's token as if the token were wrong."""
        from jwt.algorithms import get_default_algorithms
        from jwt.exceptions import InvalidKeyError

        methods = sorted(m for m in get_default_algorithms() if m != "none")
        if self.jwt_method not in methods:
            raise ConfigError(
                f"credentials.yml socketio: jwt_method {self.jwt_method!r} is not a JWT "
                "signing algorithm", hint=f"one of: {', '.join(methods)}")
        try:
            get_default_algorithms()[self.jwt_method].prepare_key(self.jwt_key)
        except (InvalidKeyError, ValueError, TypeError) as e:
            raise ConfigError(
                f"credentials.yml socketio: jwt_key is no key for {self.jwt_method}: {e}",
                hint="an HS method takes the shared secret; RS, PS, ES and EdDSA methods "
                     "take the public key in PEM form") from e
    def join(self, connection: SocketIOConnection, session_id: str) -> None:
        """Put ``connection`` in the room of ``session_id`` (and out of any other)."""
        self.leave(connection)
        self.rooms.setdefault(session_id, set()).add(connection)
        connection.room = session_id

    def leave(self, connection: SocketIOConnection) -> None:
        """Take ``connection`` out of its room; an empty room goes."""
        room = connection.room
        connection.room = None
        members = self.rooms.get(room) if room is not None else None
        if members is not None:
            members.discard(connection)
            if not members:
                del self.rooms[room]

    def recipients(self, sender: SocketIOConnection, session_id: str) -> list[SocketIOConnection]:
        """Who gets the replies to ``sender``'s message: its session's room, and itself."""
        members = [c for c in self.rooms.get(session_id, ()) if c is not sender]
        return [sender, *members]

    def refuse_connect(self, auth: Any) -> str | None:
        """Why a client with this connect-packet auth data may not connect, or None."""
        if not self.jwt_key:
            return None
        token = auth.get("token") if isinstance(auth, dict) else None
        if not token or not isinstance(token, str):
            return "Not authorized: the connection needs a token in its auth data"
        import jwt

        # Rasa takes the token with or without "Bearer " before it, so clients send both
        scheme, _, rest = token.strip().partition(" ")
        if scheme.lower() == "bearer" and rest.strip():
            token = rest.strip()
        try:
            jwt.decode(token, self.jwt_key, algorithms=[self.jwt_method])
        except jwt.PyJWTError as e:
            logger.info("socketio: a connection with an invalid JWT was refused (%s)", e)
            return "Not authorized: the token is invalid or expired"
        return None

    def blueprint(self, on_message: OnMessage) -> Blueprint:
        from sanic import Blueprint
        from sanic.response import json as json_response
        from sanic.response import text

        from dialogflowlite.server.channels.engineio import EngineServer

        blueprint = Blueprint(f"channel_{self.name()}")
        # the socket at socketio_path; Rasa's health route under /webhooks/socketio
        socket_path = self.path.rstrip("/") + "/"

        @blueprint.get(self.url_prefix() + "/", name="health")
        async def health(request: Request) -> HTTPResponse:
            return json_response({"status": "ok"})

        engine = EngineServer(lambda session: SocketIOConnection(self, session, on_message),
                              ping_interval=self.ping_interval,
                              ping_timeout=self.ping_timeout, max_payload=MAX_PAYLOAD)

        def refused(request: Request) -> HTTPResponse | None:
            if request.args.get("EIO") != "4":
                # Engine.IO 3 (socket.io-client 2) frames its packets differently
                return text('{"code": 5, "message": "Unsupported protocol version: this '
                            'server speaks Engine.IO 4 (socket.io-client 3 or newer)"}',
                            status=400, content_type="application/json")
            return None

        @blueprint.on_request
        async def polling(request: Request) -> HTTPResponse | None:
            # the GET of long-polling shares its URL with the WebSocket route: it is
            # answered here, before that route's handshake
            self.max_message_chars = request.app.ctx.config.max_message_chars
            if request.method != "GET" or request.args.get("transport") != "polling":
                return None
            refusal = refused(request)
            if refusal is not None:
                return refusal
            status, body = await engine.polling_get(request.args.get("sid"))
            return text(body, status=status)

        @blueprint.post(socket_path, name="polling")
        async def polling_post(request: Request) -> HTTPResponse:
            refusal = refused(request)
            if refusal is not None:
                return refusal
            body = request.body.decode("utf-8", errors="replace")
            status, answer = engine.polling_post(request.args.get("sid"), body)
            return text(answer, status=status)

        @blueprint.before_server_stop
        async def end_sessions(app: Any) -> None:
            # ends waiting polls at once, so a stopping server does not wait for them
            await engine.close_all()

        @blueprint.websocket(socket_path, name="socket")
        async def socket(request: Request, ws: Any) -> None:
            if request.args.get("EIO") != "4":
                await ws.close(1002, "only Engine.IO 4 (socket.io-client 3 or newer) is served")
                return
            await engine.websocket(ws, request.args.get("sid"))

        return blueprint


class SocketIOConnection:
    """The Socket.IO session on one Engine.IO session: Rasa's events."""

    def __init__(self, channel: SocketIOChannel, session: EngineSession,
                 on_message: OnMessage) -> None:
        self.channel = channel
        self.session = session
        self.on_message = on_message
        self.socket_id: str | None = None
        #: the session id whose room this connection is in (session_persistence)
        self.room: str | None = None

    def on_close(self) -> None:
        """The Engine.IO session ended: the connection leaves its room."""
        self.channel.leave(self)

    async def send(self, packet: str) -> None:
        await self.session.send(EIO_MESSAGE + packet)

    async def emit(self, event: str, data: Any) -> None:
        await self.send(encode_packet(SIO_EVENT, self.channel.namespace, [event, data]))

    async def handle(self, text: str) -> None:
        """One Socket.IO packet from the client."""
        try:
            kind, namespace, ack, data = parse_packet(text)
        except ValueError as e:
            logger.warning("socketio: a malformed packet %r was ignored (%s)", text[:80], e)
            return
        if namespace != self.channel.namespace:
            if kind == SIO_CONNECT:
                await self.send(encode_packet(SIO_CONNECT_ERROR, namespace,
                                              {"message": "Invalid namespace"}))
            return
        if kind == SIO_CONNECT:
            refusal = self.channel.refuse_connect(data)
            if refusal:
                await self.send(encode_packet(SIO_CONNECT_ERROR, namespace, {"message": refusal}))
                return
            self.socket_id = uuid.uuid4().hex
            await self.send(encode_packet(SIO_CONNECT, namespace, {"sid": self.socket_id}))
        elif kind == SIO_DISCONNECT:
            self.socket_id = None
            self.channel.leave(self)
        elif kind == SIO_EVENT and self.socket_id and isinstance(data, list) and data:
            answer = await self._event(str(data[0]), data[1:])
            if ack is not None:
                await self.send(encode_packet(SIO_ACK, namespace, answer, ack))
    async def _event(self, event: str, args: list[Any]) -> list[Any]:
        data = args[0] if args else None
        if event == "session_request":
            given = data.get("session_id") if isinstance(data, dict) else None
            session_id = str(given) if given else uuid.uuid4().hex
            if self.channel.session_persistence:
                # as in Rasa, every connection of the session sees its replies (two tabs)
                self.channel.join(self, session_id)
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
                sender = self.socket_id or self.session.sid
            text = validation.message_text(data, "message", self.channel.max_message_chars)
            message = IncomingMessage(text, sender_id=sender, channel=self.channel.name(),
                                      metadata=self._metadata(data))
        except DialogflowLiteError as e:
            logger.warning("socketio: %s", e)
            await self.emit("error", {"message": str(e)})
            return
        try:
            replies = await self.on_message(message)
        except Exception as e:  # the connection survives a failed turn
            # nothing of the turn was stored, and Socket.IO sends nothing again: only the
            # client, told by the `error` event, can send the message once more
            known = isinstance(e, DialogflowLiteError)
            logger.error("socketio: the message of conversation %r could not be handled and "
                         "is lost unless the client sends it again: %s", sender, e,
                         exc_info=not known)
            await self.emit("error", {"message": str(e) if known else
                                      "the message could not be handled"})
            return
        recipients = (self.channel.recipients(self, sender)
                      if self.channel.session_persistence else [self])
        for reply in replies:
            for payload in socketio_messages(reply):
                for connection in recipients:
                    await connection.emit(self.channel.bot_event, payload)

    def _metadata(self, data: dict[str, Any]) -> dict[str, Any]:
        """The message's metadata: an object, or (as Rasa takes it) JSON text of one."""
        from dialogflowlite.server import validation
        from dialogflowlite.server.errors import bad_request

        key = self.channel.metadata_key
        given = data.get(key)
        if isinstance(given, str):
            try:
                given = safe_json.loads(given) if given.strip() else None
            except ValueError:
                raise bad_request(f"the field {key!r} is text that is not JSON",
                                  parameter=key) from None
            data = {key: given}
        return validation.metadata(data, key)
