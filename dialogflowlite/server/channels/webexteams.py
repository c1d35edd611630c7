"""The Webex channel: Rasa's ``webexteams`` connector, Webex webhooks in and the Messages API out.

Webex notifies the bot of each new message with a webhook (resource
``messages``, event ``created``) that carries only the message's id; the bot
reads the message with ``GET {api_url}/messages/{id}`` and answers with
``POST {api_url}/messages``, with ``Authorization: Bearer <access_token>``.
credentials.yml, Rasa's keys first::

    webexteams:
      access_token: "..."     # the bot's access token (required)
      room: "Y2lzY29z..."      # every reply goes to this room (optional, see below)
      # settings of this channel only, not Rasa's:
      secret: "..."            # the webhooks' secret: verifies requests (optional)
      button_type: text        # buttons as Markdown lines (text) or an adaptive card (card)
      api_url: "https://webexapis.com/v1"   # Webex's REST API, or a test stub
      timeout: 10              # seconds per API call

Create the webhook with ``POST /v1/webhooks`` (as the bot: its token):
``{"name": "bot", "targetUrl": "https://<server>/webhooks/webexteams/webhook",
"resource": "messages", "event": "created", "secret": "..."}``; for
``button_type: card`` a second one with ``"resource": "attachmentActions"``.

Routes under ``/webhooks/webexteams``: ``GET /`` answers ``{"status": "ok"}``;
``POST /webhook`` takes notifications and answers 200 with an empty body once
the turn is handled and its replies sent, also when the turn fails or the
message cannot be read (both logged). Notifications of other resources or
events are answered and ignored; a body that is not a JSON object gets 400.
A message (or button press) notified again, its id as read from Webex
already taken by any worker sharing the lock store (:mod:`.deliveries`), is
answered and not handled twice.

Security (Rasa checks nothing): with ``secret``, a notification whose
``X-Spark-Signature`` header is not the hex HMAC-SHA1 of the raw body keyed
with the secret gets 403 and a log line and is not handled. Without it
anyone who finds the route can make the bot read and answer any message it
can see (logged at mount).

Incoming, as Rasa does since 1.10: the conversation id is the message's room
(``roomId``), so everyone in a group room shares one conversation, and the
text is the message's ``text``. The bot's own messages are ignored: its person
id is asked once with ``GET /people/me`` (asked again until known; until then
nothing is handled, for a bot that cannot tell its own messages would answer
itself) and compared with the notification's and the message's
``personId``. Beyond Rasa: in group rooms, where Webex only notifies the bot
of messages that mention it, the mention of the bot at the start of the text
is removed (``MyBot /greet`` reads ``/greet``); a press of a card button
(resource ``attachmentActions``, read with ``GET /attachment/actions/{id}``)
reads the button's payload (or the card's inputs as JSON). A message without
text (only files) is ignored. The metadata is ``{"webexteams": {"kind":
"message" | "action", "message_id", "room_id", "room_type", "person_id",
"person_email", "parent_id", "files", "inputs"}}`` (Rasa's is empty).

Outgoing, one ``POST /messages`` per part, in Rasa's order, to ``room`` when
it is set (Rasa's meaning: all replies go there, whatever room the message
came from; messages are not filtered by it) or else to the message's room,
in its thread when the message was a reply in one (``parentId``): text (each
paragraph a message, as ``text``, split beyond Webex's 7439 bytes); buttons
(or quick replies) with the last paragraph, as ``markdown`` with one
numbered line per button, ``1. Red (`/choose{"colour": "red"}`)`` (a link
button as a Markdown link); with ``button_type: card`` that Markdown is the
fallback of an adaptive card whose ``Action.Submit`` buttons send the payload
(``data: {"payload": ...}``); an image as ``files`` (Webex fetches the URL);
an attachment as the text ``Attachment: ...``; ``elements`` as ``title :
subtitle`` with their buttons; ``custom`` JSON as the message body (``roomId``
added unless it names ``roomId``, ``toPersonId`` or ``toPersonEmail``; Rasa
1's ``roomID`` is read as ``roomId``). Rasa sends buttons as one message per
button, ``1: Red (/choose...)``. A message Webex refuses or that gets no
answer in ``timeout`` is logged with the room and Webex's message and
tracking id, never the token; the turn stays stored and later messages are
still tried. Not supported: rate-limit retries (429), creating the webhooks,
uploading files, other card inputs than buttons.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from dialogflowlite.errors import DialogflowLiteError
from dialogflowlite.server.channels.base import (
    InputChannel,
    OnMessage,
    handle_and_send,
    refused,
)
from dialogflowlite.server.channels.deliveries import RecentDeliveries
from dialogflowlite.server.channels.json_fields import as_dict, text_id
from dialogflowlite.server.channels.settings import ChannelSettings
from dialogflowlite.server.channels.text_pieces import split_text, utf8_bytes
from dialogflowlite.server.channels.vendor_http import client_session, vendor_request

if TYPE_CHECKING:
    import aiohttp
    from sanic import Blueprint, Request
    from sanic.response import HTTPResponse

logger = logging.getLogger(__name__)

DEFAULT_API_URL = "https://webexapis.com/v1"

#: credentials.yml keys and their defaults; the first two are Rasa's
SETTINGS: dict[str, Any] = {
    "access_token": None,
    "room": None,
    "secret": None,
    "button_type": "text",
    "api_url": DEFAULT_API_URL,
    "timeout": 10.0,
}

BUTTON_TYPES = ("text", "card")
#: the header Webex puts a webhook's signature in
SIGNATURE_HEADER = "X-Spark-Signature"
#: the longest text or markdown of one message, in bytes
MAX_MESSAGE_BYTES = 7439
CARD_CONTENT_TYPE = "application/vnd.microsoft.card.adaptive"
#: the notifications the channel handles: (resource, event) -> kind
HANDLED = {("messages", "created"): "message", ("attachmentActions", "created"): "action"}
#: the keys of a message body that say where it goes
TARGET_KEYS = ("roomId", "toPersonId", "toPersonEmail")

_MENTION = re.compile(r'<spark-mention\b[^>]*\bdata-object-id="([^"]*)"[^>]*>(.*?)</spark-mention>',
                      re.DOTALL)

#: one ``POST /messages`` body
WebexMessage = dict[str, Any]


def signature(secret: str, body: bytes) -> str:
    """The ``X-Spark-Signature`` of a webhook body: hex HMAC-SHA1 keyed with the secret."""
    return hmac.new(secret.encode("utf-8"), body, hashlib.sha1).hexdigest()


# ------------------------------------------------------------------ messages in


@dataclass
class Notification:
    """What one webhook notification points at: a message or a card button press.

    ``item_id`` is the message's (or action's) id to read; None when the
    notification is not one to handle, and ``ignored`` then says why.
    """

    kind: str
    item_id: str | None = None
    person_id: str | None = None
    room_id: str | None = None
    ignored: str = ""


def read_notification(body: dict[str, Any]) -> Notification:
    """What a webhook body asks the bot to read."""
    resource, event = body.get("resource"), body.get("event")
    kind = HANDLED.get((resource, event)) if isinstance(resource, str) and \
        isinstance(event, str) else None
    if kind is None:
        return Notification(f"{resource}/{event}", ignored="notifications of this kind are "
                            "not handled")
    data = as_dict(body.get("data"))
    found = Notification(kind, item_id=text_id(data.get("id")),
                         person_id=text_id(data.get("personId")),
                         room_id=text_id(data.get("roomId")))
    if found.item_id is None:
        found.ignored = "it names no message"
    return found


def _same_person(given: str, own_id: str) -> bool:
    """Whether an id in a mention is the bot's: the API's id or the UUID inside it."""
    if given == own_id:
        return True
    try:
        decoded = base64.b64decode(own_id + "=" * (-len(own_id) % 4)).decode("utf-8")
    except ValueError:
        return False
    return decoded.rsplit("/", 1)[-1] == given


def without_mention(text: str, html: str | None, own_id: str) -> str:
    """``text`` without the leading mention of the bot (Webex puts it in group rooms)."""
    import html as html_module

    for person, name in _MENTION.findall(html or ""):
        shown = html_module.unescape(re.sub(r"<[^>]+>", "", name)).strip()
        if shown and _same_person(person, own_id) and text.lstrip().startswith(shown):
            rest = text.lstrip()[len(shown):].strip()
            return rest or text
    return text


def message_text(message: dict[str, Any], own_id: str) -> str | None:
    """What a message read with ``GET /messages/{id}`` says to the bot (None: nothing)."""
    text = message.get("text") if isinstance(message.get("text"), str) else ""
    if message.get("roomType") == "group":
        html = message.get("html") if isinstance(message.get("html"), str) else None
        text = without_mention(text, html, own_id)
    return text.strip() or None


def action_text(action: dict[str, Any]) -> str | None:
    """What a card button press says to the bot: the button's payload, or the inputs as JSON."""
    inputs = as_dict(action.get("inputs"))
    payload = inputs.get("payload")
    if isinstance(payload, str) and payload:
        return payload
    return json.dumps(inputs, ensure_ascii=False, sort_keys=True) if inputs else None


def item_metadata(kind: str, item: dict[str, Any]) -> dict[str, Any]:
    """The ``{"webexteams": {...}}`` metadata of a message or a button press."""
    details = {"kind": kind, "message_id": item.get("messageId") or item.get("id"),
               "room_id": item.get("roomId"), "room_type": item.get("roomType"),
               "person_id": item.get("personId"), "person_email": item.get("personEmail"),
               "parent_id": item.get("parentId"), "files": item.get("files"),
               "inputs": item.get("inputs") if kind == "action" else None}
    return {"webexteams": {k: v for k, v in details.items() if v not in (None, "", [], {})}}


# ------------------------------------------------------------------ replies out


def byte_pieces(text: str, limit: int = MAX_MESSAGE_BYTES) -> list[str]:
    """``text`` in pieces of at most ``limit`` UTF-8 bytes (Webex counts bytes)."""
    return split_text(text, limit, utf8_bytes)


def button_lines(buttons: list[dict[str, Any]]) -> list[str]:
    """Rasa buttons as numbered Markdown lines: ``1. Red (`/choose...`)``, links as links."""
    lines = []
    for number, button in enumerate(buttons, 1):
        title = str(button.get("title") or button.get("payload") or button.get("url") or "")
        payload = button.get("payload")
        if payload in (None, "") and button.get("url"):
            lines.append(f"{number}. [{title}]({button['url']})")
            continue
        payload = str(payload if payload not in (None, "") else title)
        if payload == title:
            lines.append(f"{number}. {title}")
        elif "`" in payload:
            # a code span shows the payload as written; with backticks inside it needs a longer
            # fence, and spaces so that one at either end is not taken for the fence
            lines.append(f"{number}. {title} (`` {payload} ``)")
        else:
            lines.append(f"{number}. {title} (`{payload}`)")
    return lines


def button_card(text: str, buttons: list[dict[str, Any]]) -> dict[str, Any]:
    """An adaptive card with ``text`` and the buttons (``Action.Submit`` with the payload)."""
    actions = []
    for button in buttons:
        title = str(button.get("title") or button.get("payload") or button.get("url") or "")
        payload = button.get("payload")
        if payload in (None, "") and button.get("url"):
            actions.append({"type": "Action.OpenUrl", "title": title, "url": str(button["url"])})
        else:
            actions.append({"type": "Action.Submit", "title": title, "data": {
                "payload": str(payload if payload not in (None, "") else title)}})
    content: dict[str, Any] = {
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard", "version": "1.2",
        "body": [{"type": "TextBlock", "text": text, "wrap": True}] if text else [],
        "actions": actions}
    return {"contentType": CARD_CONTENT_TYPE, "content": content}


def text_with_buttons(text: str, buttons: list[dict[str, Any]],
                      button_type: str = "text") -> list[WebexMessage]:
    """Messages of ``text`` (paragraphs apart) with the buttons on the last one."""
    paragraphs = [part.strip() for part in text.split("\n\n") if part.strip()]
    messages: list[WebexMessage] = [{"text": piece} for part in paragraphs[:-1]
                                    for piece in byte_pieces(part)]
    last = paragraphs[-1] if paragraphs else ""
    markdown = "\n\n".join(part for part in [last, "\n".join(button_lines(buttons))] if part)
    pieces = byte_pieces(markdown) or [""]
    messages += [{"markdown": piece} for piece in pieces]
    if button_type == "card":
        messages[-1]["attachments"] = [button_card(last, buttons)]
    return messages


def reply_messages(reply: dict[str, Any], button_type: str = "text") -> list[WebexMessage]:
    """One REST-shaped bot reply as ``POST /messages`` bodies (without a target), in order.

    A response's own ``button_type`` (``text`` or ``card``) wins over the channel's.
    """
    if reply.get("button_type") in ("text", "card"):
        button_type = reply["button_type"]
    messages: list[WebexMessage] = []
    text = str(reply.get("text") or "").strip()
    buttons = [b for b in reply.get("buttons") or reply.get("quick_replies") or []
               if isinstance(b, dict)]
    if buttons:
        messages += text_with_buttons(text, buttons, button_type)
    else:
        # Rasa sends each paragraph on its own
        messages += [{"text": piece} for part in text.split("\n\n")
                     for piece in byte_pieces(part.strip())]
    if reply.get("image"):
        messages.append({"files": [str(reply["image"])]})
    attachment = reply.get("attachment")
    if attachment:
        shown = attachment if isinstance(attachment, str) else json.dumps(attachment)
        messages += [{"text": piece} for piece in byte_pieces(f"Attachment: {shown}")]
    for element in reply.get("elements") or []:
        if isinstance(element, dict):
            title = f"{element.get('title', '')} : {element.get('subtitle', '')}"
            messages += text_with_buttons(title, [b for b in element.get("buttons") or []
                                                  if isinstance(b, dict)], button_type)
    custom = reply.get("custom")
    if isinstance(custom, dict):
        message = dict(custom)
        if "roomID" in message:
            message.setdefault("roomId", message.pop("roomID"))
        messages.append(message)
    elif custom is not None:
        logger.warning("webexteams: a custom payload that is not a JSON object was not sent "
                       "(%s)", type(custom).__name__)
    return messages


# ------------------------------------------------------------------ the channel


@dataclass
class Incoming:
    """A message or button press read from Webex, ready for the bot."""

    kind: str
    item: dict[str, Any]
    room_id: str
    text: str
    metadata: dict[str, Any] = field(default_factory=dict)


class WebexTeamsChannel(InputChannel):
    """Rasa's Webex connector: webhook notifications in, ``POST /messages`` out."""

    channel_name = "webexteams"

    def __init__(self, config: dict[str, Any] | None = None) -> None:
        super().__init__(config)
        from dialogflowlite.io.formats import did_you_mean

        settings = ChannelSettings(self.channel_name, self.config, SETTINGS)
        self.access_token = settings.required_text(
            "access_token", "the bot's access token (developer.webex.com > My Webex Apps)")
        self.room = (None if settings["room"] is None else settings.required_text(
            "room", "the id of the room every reply goes to (leave it out to answer in the "
            "message's room)"))
        self.secret = (None if settings["secret"] is None else settings.required_text(
            "secret", "the secret given when the webhooks were created"))
        self.button_type = str(settings["button_type"])
        if self.button_type not in BUTTON_TYPES:
            raise settings.error(f"`button_type` {self.button_type!r} is not a kind of buttons",
                                 did_you_mean(self.button_type, BUTTON_TYPES)
                                 or f"one of: {', '.join(BUTTON_TYPES)}")
        self.api_url = str(settings.http_url("api_url"))
        self.timeout = settings.positive_seconds("timeout")
        self._own_id: str | None = None
        self.deliveries = RecentDeliveries(self.name())

    # -------------------------------------------------------------- REST API

    def _session(self) -> aiohttp.ClientSession:
        return client_session(self.timeout,
                              headers={"Authorization": f"Bearer {self.access_token}"})

    async def call(self, session: aiohttp.ClientSession, method: str, path: str,
                   body: WebexMessage | None = None) -> tuple[Any, str | None]:
        """One API call: Webex's JSON answer, and why it failed (None when it did not)."""
        answer = await vendor_request(session, method, self.api_url + path, json=body,
                                      secrets=[self.access_token])
        if answer.failure is not None:
            return None, answer.failure
        if answer.ok:
            return answer.body, None
        said, tracking = answer.field("message"), answer.field("trackingId")
        problem = f"status {answer.status}" + (f": {said}" if said else "")
        return answer.body, problem + (f", tracking id {tracking}" if tracking else "")

    async def own_person_id(self, session: aiohttp.ClientSession) -> str | None:
        """The bot's person id (``GET /people/me``), asked until known; None till then."""
        if self._own_id is None:
            answer, problem = await self.call(session, "GET", "/people/me")
            found = text_id(as_dict(answer).get("id"))
            if problem or found is None:
                logger.error("webexteams: the bot's own person id could not be read from "
                             "%s/people/me (%s); messages are not handled until it can, so "
                             "the bot does not answer itself", self.api_url,
                             problem or "no id in the answer")
            else:
                self._own_id = found
        return self._own_id

    def target(self, item: dict[str, Any]) -> dict[str, str]:
        """Where the replies to a message go: ``room``, else its room (and thread)."""
        if self.room:
            return {"roomId": self.room}
        found = {"roomId": str(item["roomId"])}
        # a reply inside a thread is answered there; parentId names the thread's first message
        if isinstance(item.get("parentId"), str) and item["parentId"]:
            found["parentId"] = item["parentId"]
        return found

    async def send(self, target: dict[str, str], replies: list[dict[str, Any]]) -> int:
        """Send the bot's replies to ``target`` (``roomId`` ...) in order; how many Webex took."""
        messages = [message for reply in replies
                    for message in reply_messages(reply, self.button_type)]
        if not messages:
            return 0
        sent = 0
        async with self._session() as session:
            for message in messages:
                if not any(key in message for key in TARGET_KEYS):
                    message = {**target, **message}
                _, problem = await self.call(session, "POST", "/messages", message)
                if problem is None:
                    sent += 1
                else:
                    where = next((message[k] for k in TARGET_KEYS if k in message), None)
                    logger.error("webexteams: a message to %s was not sent (%s)", where, problem)
        return sent

    async def send_to(self, sender_id: str, replies: list[dict[str, Any]]) -> bool:
        """Send ``replies`` to the room ``sender_id`` (the conversation id is the room id), or
        to ``room`` when credentials.yml names one, as the answers to messages go."""
        await self.send({"roomId": self.room or sender_id}, replies)
        return True

    # -------------------------------------------------------------- incoming

    def refusal(self, request: Request) -> str | None:
        """Why ``secret`` refuses a request (a short reason), or None when it passes."""
        if self.secret is None:
            return None
        given = (request.headers.get(SIGNATURE_HEADER) or "").strip().lower()
        if not given:
            return f"no {SIGNATURE_HEADER} header"
        expected = signature(self.secret, request.body or b"")
        if hmac.compare_digest(given.encode(), expected.encode()):
            return None
        return f"its {SIGNATURE_HEADER} is not the body's signature with the secret"

    async def read(self, session: aiohttp.ClientSession,
                   notification: Notification) -> Incoming | None:
        """The message or press a notification points at, read from Webex; None to ignore."""
        own_id = await self.own_person_id(session)
        if own_id is None:
            return None
        if notification.person_id == own_id:
            logger.debug("webexteams: the bot's own message was ignored")
            return None
        path = ("/messages/" if notification.kind == "message" else "/attachment/actions/")
        item, problem = await self.call(session, "GET", path + str(notification.item_id))
        item = as_dict(item)
        if problem:
            logger.error("webexteams: the %s %s in room %s could not be read (%s)",
                         notification.kind, notification.item_id, notification.room_id, problem)
            return None
        room_id = text_id(item.get("roomId")) or notification.room_id
        if item.get("personId") == own_id or room_id is None:
            logger.debug("webexteams: a %s was ignored: %s", notification.kind,
                         "it is the bot's own" if room_id else "it names no room")
            return None
        text = (message_text(item, own_id) if notification.kind == "message"
                else action_text(item))
        if text is None:
            logger.debug("webexteams: a %s without text was ignored", notification.kind)
            return None
        item = {**item, "roomId": room_id}
        return Incoming(notification.kind, item, room_id, text,
                        item_metadata(notification.kind, item))

    def metadata(self, incoming: Incoming) -> dict[str, Any]:
        """The user message's metadata (Rasa's ``get_metadata``); override to change it."""
        return incoming.metadata

    def blueprint(self, on_message: OnMessage) -> Blueprint:
        from sanic.response import text

        from dialogflowlite.server import validation

        blueprint = self.health_blueprint()
        if self.secret is None:
            logger.warning("webexteams: no secret in credentials.yml, so requests to "
                           "/webhooks/webexteams/webhook are not verified; anyone who finds it "
                           "can make the bot answer messages it can read")
        if self.room:
            logger.info("webexteams: every reply goes to the room in credentials.yml (%s), "
                        "whichever room the message came from", self.room)

        @blueprint.post("/webhook", name="webhook")
        async def webhook(request: Request) -> HTTPResponse:
            problem = self.refusal(request)
            if problem:
                raise refused("webexteams", request, problem,
                              f"the {SIGNATURE_HEADER} header is missing or wrong")
            notification = read_notification(validation.json_body(request))
            if notification.item_id is None:
                logger.debug("webexteams: a notification (%s) was ignored: %s",
                             notification.kind, notification.ignored)
                return text("")
            async with self._session() as session:
                incoming = await self.read(session, notification)
            if incoming is None:
                return text("")
            # checked once the message is read: a notification whose message could not be
            # read (or is not one to handle) is not remembered, so its re-delivery is tried
            item_id = text_id(incoming.item.get("id"))
            delivery = None if item_id is None else f"{incoming.kind}:{item_id}"
            if not await self.deliveries.is_new_for(request, delivery):
                logger.info("webexteams: the %s %s in room %s came again and was not handled "
                            "again", incoming.kind, item_id, incoming.room_id)
                return text("")
            await handle_and_send(request, self.handle(request, on_message, incoming))
            return text("")

        return blueprint

    async def handle(self, request: Request, on_message: OnMessage, incoming: Incoming) -> int:
        """Run one message through the bot and send its replies; how many Webex took."""
        from dialogflowlite.dialogue.messages import IncomingMessage
        from dialogflowlite.server import validation

        limit = request.app.ctx.config.max_message_chars
        if len(incoming.text) > limit:
            logger.info("webexteams: a message of %d characters in room %s was ignored (at "
                        "most %d are accepted)", len(incoming.text), incoming.room_id, limit)
            return 0
        try:
            replies = await on_message(IncomingMessage(
                incoming.text, sender_id=validation.sender_id(incoming.room_id,
                                                              parameter="roomId"),
                channel=self.name(), metadata=dict(self.metadata(incoming)),
                message_id=text_id(incoming.item.get("id"))))
        except Exception as e:
            # answered 200 all the same: the turn is lost either way, and Webex disables
            # webhooks that keep failing; the traceback only where the failure is not ours
            logger.error("webexteams: the message of conversation %r could not be handled "
                         "and is lost (Webex does not deliver it again): %s", incoming.room_id,
                         e, exc_info=not isinstance(e, DialogflowLiteError))
            return 0
        return await self.send(self.target(incoming.item), replies)
