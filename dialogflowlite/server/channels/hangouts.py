"""The Hangouts channel: Rasa's ``hangouts`` connector, for Google Chat apps.

Google Chat posts each interaction event of an app built on an HTTP endpoint
(JSON) to that endpoint and shows the HTTP response as the app's answer, so
a turn's replies are collected into one Chat message. credentials.yml, Rasa's
keys first::

    hangouts:
      project_id: "123456789012"          # the Cloud project *number*; set, tokens are verified
      hangouts_user_added_intent_name: "/user_added"   # sent when added to a direct message
      hangouts_room_added_intent_name: "/room_added"   # sent when added to a space
      hangouts_removed_intent_name: "/bot_removed"     # sent when removed from a space
      # settings of this channel only, not Rasa's:
      certs_url: "https://..."   # where the certificates of chat@system.gserviceaccount.com are
      timeout: 10                         # seconds to fetch the certificates

Routes under ``/webhooks/hangouts``: ``GET /`` answers ``{"status": "ok"}``;
``POST /webhook`` (the app's HTTP endpoint URL in the Chat API configuration)
takes an event and answers with the bot's message, ``{}`` when there is none.
A ``MESSAGE`` event delivered again (its message's ``name`` already taken by
any worker sharing the lock store: :mod:`.deliveries`) is answered ``{}`` and
not handled twice.

Security, as Rasa: with ``project_id`` every request must carry the JWT
Google Chat signs for that project number
(:mod:`~dialogflowlite.server.channels.hangouts_auth`); others get 401 (with a
``Bearer`` challenge, as HTTP asks of a 401) and are not handled. While
Google's certificates cannot be fetched, a request whose token needs one the
bot does not have gets 503 with ``Retry-After`` instead (Rasa: 500) and is not
handled either. Without ``project_id`` nothing is verified (logged once when
mounted).

Incoming: ``MESSAGE`` events are the user's text (``argumentText``, the text
without the @mention of the app, unless it is a slash command; Rasa takes
``text``, mention included); ``CARD_CLICKED`` is the clicked button's payload
(its action's method name, as Rasa reads it); ``ADDED_TO_SPACE`` sends the room
intent in a space and the user intent in a direct message;
``REMOVED_FROM_SPACE`` sends the removed intent (an intent name set to ``""``
turns that event off). Other events are answered ``{}`` and ignored. The
conversation id is the user's id (``users/123`` read as ``123``); Rasa uses
the display name, which is neither unique nor a valid id here. Metadata:
Rasa's ``room`` (the space's name in a space, else None) and ``{"hangouts":
{"event_type", "space", "space_type", "thread", "message", "user_email",
"user_display_name", "action_parameters"}}``.

Outgoing, one message per turn: texts before any card are joined as the
message's ``text``, a blank line apart (Rasa: a space); from the first card
on, everything is a card (``cardsV2``), in order, a later text as a text
paragraph card, as Rasa keeps order. Text with buttons (or quick replies) is
one card with the text and a button per Rasa button (``onClick.action.function``
the payload; ``openLink`` for a ``url``); an image an image card; ``elements`` a card each
(header, image, buttons); ``attachment`` text as in Rasa; ``custom`` JSON is
merged in: its ``text`` as text, its ``cardsV2`` after the cards so far, its
deprecated v1 ``cards`` as given, any other field (``actionResponse``,
``privateMessageViewer``, ...) set on the message.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from dialogflowlite.errors import DialogflowLiteError
from dialogflowlite.server.channels.base import InputChannel, OnMessage, bearer_challenge, refused
from dialogflowlite.server.channels.deliveries import RecentDeliveries
from dialogflowlite.server.channels.hangouts_auth import DEFAULT_CERTS_URL, ChatTokenVerifier
from dialogflowlite.server.channels.json_fields import as_dict, as_list
from dialogflowlite.server.channels.settings import ChannelSettings
from dialogflowlite.shared import safe_json

if TYPE_CHECKING:
    from sanic import Blueprint, Request
    from sanic.response import HTTPResponse

logger = logging.getLogger(__name__)

#: credentials.yml keys and their defaults; the first four are Rasa's
SETTINGS: dict[str, Any] = {
    "project_id": None,
    "hangouts_user_added_intent_name": "/user_added",
    "hangouts_room_added_intent_name": "/room_added",
    "hangouts_removed_intent_name": "/bot_removed",
    "certs_url": DEFAULT_CERTS_URL,
    "timeout": 10.0,
}

#: the event types that make a user message, and the setting naming its text
INTENT_SETTINGS = {"user_added": "hangouts_user_added_intent_name",
                   "room_added": "hangouts_room_added_intent_name",
                   "removed": "hangouts_removed_intent_name"}


# ------------------------------------------------------------------ events in


@dataclass
class ChatEvent:
    """One Google Chat event as the bot sees it; ``text`` is None when there is nothing
    to handle (``ignored`` then says why)."""

    kind: str
    sender_id: str | None = None
    text: str | None = None
    room: str | None = None
    message_id: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    ignored: str = ""


def read_event(body: Any, intents: dict[str, str]) -> ChatEvent:
    """The user message in a Chat event; ``intents`` maps ``user_added``, ``room_added``
    and ``removed`` to the text each of those events sends (empty: not handled)."""
    from dialogflowlite.server.validation import is_sender_id

    if not isinstance(body, dict):
        return ChatEvent("unknown", ignored="the body is not a JSON object")
    kind = str(body.get("type") or "unknown")
    message, space = as_dict(body.get("message")), as_dict(body.get("space"))
    user = as_dict(body.get("user")) or as_dict(message.get("sender"))
    room = room_name(space)
    found = ChatEvent(kind, sender_id=user_id(user), room=room)
    if kind == "MESSAGE":
        found.text = message_text(message)
        found.message_id = message.get("name") if isinstance(message.get("name"), str) else None
    elif kind == "CARD_CLICKED":
        found.text = clicked_payload(body)
    elif kind == "ADDED_TO_SPACE":
        found.text = intents["room_added" if room is not None else "user_added"] or None
    elif kind == "REMOVED_FROM_SPACE":
        found.text = intents["removed"] or None
    else:
        found.ignored = "events of this type are not handled"
        return found
    details = {"event_type": kind, "space": space.get("name"),
               "space_type": space.get("spaceType") or space.get("type"),
               "thread": as_dict(message.get("thread")).get("name"),
               "message": message.get("name"), "user_email": user.get("email"),
               "user_display_name": user.get("displayName"),
               "action_parameters": as_dict(body.get("common")).get("parameters")}
    found.metadata = {"room": room,
                      "hangouts": {k: v for k, v in details.items() if v is not None}}
    if found.sender_id is None or not is_sender_id(found.sender_id):
        found.text, found.ignored = None, "it names no user id"
    elif found.text is None:
        found.ignored = "it has no text or payload (or its intent is turned off)"
    return found


def user_id(user: dict[str, Any]) -> str | None:
    """A Chat user's id: ``users/123`` as ``123``."""
    name = user.get("name")
    if not isinstance(name, str) or not name.strip():
        return None
    return name.rpartition("/")[2].strip() or None


def room_name(space: dict[str, Any]) -> str | None:
    """The space's display name when it is a space or group chat (Rasa's room), else None."""
    kind = space.get("spaceType")
    in_room = kind in ("SPACE", "GROUP_CHAT") if kind else space.get("type") == "ROOM"
    if not in_room:
        return None
    return str(space.get("displayName") or space.get("name") or "")


def message_text(message: dict[str, Any]) -> str | None:
    """What a MESSAGE event says: the text without the app's @mention (``argumentText``),
    or the whole ``text`` for a slash command (the command is the point)."""
    text, argument = message.get("text"), message.get("argumentText")
    if not message.get("slashCommand") and isinstance(argument, str) and argument.strip():
        return argument.strip()
    if isinstance(text, str) and text.strip():
        return text.strip()
    return None


def clicked_payload(body: dict[str, Any]) -> str | None:
    """The payload of a clicked button: its action's method name (cards v1, as Rasa sets it)
    or invoked function (cards v2)."""
    for value in (as_dict(body.get("action")).get("actionMethodName"),
                  as_dict(body.get("common")).get("invokedFunction")):
        if isinstance(value, str) and value.strip():
            return value
    return None


# ------------------------------------------------------------------ the answer out


def response_message(replies: list[dict[str, Any]]) -> dict[str, Any]:
    """The turn's bot replies (Rasa's REST shape) as one Google Chat message."""
    texts: list[str] = []
    cards: list[dict[str, Any]] = []
    legacy_cards: list[Any] = []
    fields: dict[str, Any] = {}
    for reply in replies:
        for kind, value in reply_parts(reply):
            if kind == "text" and not cards and not legacy_cards:
                texts.append(value)
            elif kind == "text":
                # after a card, a plain text would jump above it: a card keeps the order
                cards.append({"card": section_card([text_paragraph(value)])})
            elif kind == "card":
                cards.append(value)
            elif kind == "cards":
                legacy_cards.extend(value)
            else:
                fields.update(value)
    message = dict(fields)
    if texts:
        message["text"] = "\n\n".join(texts)
    if cards:
        # a message with several cards needs an id on each
        message["cardsV2"] = [{"cardId": f"reply-{number}", **card}
                              for number, card in enumerate(cards, start=1)]
    if legacy_cards:
        message["cards"] = legacy_cards
    return message


def reply_parts(reply: dict[str, Any]) -> list[tuple[str, Any]]:
    """One bot reply as ``("text", str)``, ``("card", CardWithId)``, ``("cards", v1 cards)``
    and ``("fields", other message fields)`` parts, in Rasa's order."""
    parts: list[tuple[str, Any]] = []
    text = str(reply.get("text") or "").strip()
    # quick replies are buttons here, as Rasa's default send_quick_replies has them
    buttons = [b for b in as_list(reply.get("buttons") or reply.get("quick_replies"))
               if isinstance(b, dict)]
    if buttons:
        widgets = [text_paragraph(text)] if text else []
        parts.append(("card", {"card": section_card([*widgets, button_list(buttons)])}))
    elif text:
        parts.append(("text", text))
    custom = reply.get("custom")
    for item in custom if isinstance(custom, list) else [custom] if custom is not None else []:
        if isinstance(item, dict):
            parts.extend(custom_parts(item))
        else:
            logger.warning("hangouts: a custom payload that is not a JSON object was not sent "
                           "(%s)", type(item).__name__)
    if reply.get("image"):
        parts.append(("card", {"card": section_card([
            {"image": {"imageUrl": str(reply["image"])}}])}))
    attachment = reply.get("attachment")
    if attachment:
        parts.append(("text", attachment if isinstance(attachment, str)
                      else json.dumps(attachment, ensure_ascii=False)))
    for element in as_list(reply.get("elements")):
        if isinstance(element, dict):
            parts.append(("card", {"card": element_card(element)}))
    return parts


def custom_parts(custom: dict[str, Any]) -> list[tuple[str, Any]]:
    """A ``custom`` payload, a Chat message of its own, as parts to merge into the answer."""
    parts: list[tuple[str, Any]] = []
    if isinstance(custom.get("text"), str) and custom["text"].strip():
        parts.append(("text", custom["text"]))
    parts.extend(("card", card) for card in as_list(custom.get("cardsV2"))
                 if isinstance(card, dict))
    if as_list(custom.get("cards")):
        parts.append(("cards", custom["cards"]))
    rest = {k: v for k, v in custom.items() if k not in ("text", "cardsV2", "cards")}
    if rest:
        parts.append(("fields", rest))
    return parts


def section_card(widgets: list[dict[str, Any]],
                 header: dict[str, Any] | None = None) -> dict[str, Any]:
    """A card of one section holding ``widgets``."""
    card: dict[str, Any] = {"header": header} if header else {}
    card["sections"] = [{"widgets": widgets}]
    return card


def text_paragraph(text: str) -> dict[str, Any]:
    """A text paragraph widget."""
    return {"textParagraph": {"text": text}}


def button_list(buttons: list[dict[str, Any]]) -> dict[str, Any]:
    """A button list widget with a Chat button per Rasa button."""
    return {"buttonList": {"buttons": [chat_button(b) for b in buttons]}}


def chat_button(button: dict[str, Any]) -> dict[str, Any]:
    """A Rasa button as a Chat button: a link opens its ``url``; any other invokes its
    payload, which comes back as the CARD_CLICKED event's function."""
    title = str(button.get("title") or button.get("payload") or button.get("url") or "")
    if button.get("url"):
        return {"text": title, "onClick": {"openLink": {"url": str(button["url"])}}}
    payload = str(button.get("payload") or title)
    return {"text": title, "onClick": {"action": {"function": payload}}}


def element_card(element: dict[str, Any]) -> dict[str, Any]:
    """A Rasa carousel element (``title``, ``subtitle``, ``image_url``, ``buttons``) as a card."""
    header = {key: str(element[name]) for key, name in (("title", "title"),
                                                       ("subtitle", "subtitle"))
              if element.get(name)}
    widgets: list[dict[str, Any]] = []
    if element.get("image_url"):
        widgets.append({"image": {"imageUrl": str(element["image_url"])}})
    buttons = [b for b in as_list(element.get("buttons")) if isinstance(b, dict)]
    if buttons:
        widgets.append(button_list(buttons))
    if not widgets:
        # a card needs a section; a subtitle-only element shows its text instead
        widgets.append(text_paragraph(header.get("subtitle") or header.get("title") or ""))
    # Chat requires a title in a header
    return section_card(widgets, header if header.get("title") else None)


# ------------------------------------------------------------------ the channel


class HangoutsChannel(InputChannel):
    """Rasa's Hangouts connector: Google Chat events in, the turn's message as the answer."""

    channel_name = "hangouts"
    rich_replies = True

    def __init__(self, config: dict[str, Any] | None = None) -> None:
        super().__init__(config)
        settings = ChannelSettings(self.channel_name, self.config, SETTINGS)
        self.project_id: str | None = None
        if settings["project_id"] is not None:
            self.project_id = settings.required_text(
                "project_id", "the number of the Google Cloud project of the Chat app")
            if not self.project_id.isdigit():
                raise settings.error(
                    f"`project_id` must be the project number, not {self.project_id!r}",
                    "Google Chat signs its tokens for the project *number* (digits), shown on "
                    "the Cloud console's dashboard beside the project ID")
        self.intents: dict[str, str] = {}
        for event, key in INTENT_SETTINGS.items():
            value = settings[key]
            if not isinstance(value, str):
                raise settings.error(f"`{key}` must be text, the message the event sends",
                                     f'leave it out for "{SETTINGS[key]}", or write "" to '
                                     "ignore the event")
            self.intents[event] = value.strip()
        self.timeout = settings.positive_seconds("timeout")
        certs_url = str(settings.http_url("certs_url"))
        self.verifier: ChatTokenVerifier | None = None
        if self.project_id is not None:
            self.verifier = ChatTokenVerifier(self.project_id, certs_url, timeout=self.timeout)
        self.deliveries = RecentDeliveries(self.name())

    def metadata(self, event: ChatEvent) -> dict[str, Any]:
        """The metadata of the user message (Rasa's ``room`` and more); override to change it."""
        return event.metadata

    def blueprint(self, on_message: OnMessage) -> Blueprint:
        from sanic.response import json as json_response

        blueprint = self.health_blueprint()
        if self.verifier is None:
            logger.warning("hangouts: no project_id in credentials.yml, so requests to "
                           "/webhooks/hangouts/webhook are not verified; anyone who finds it "
                           "can write as any user")

        @blueprint.post("/webhook", name="webhook")
        async def webhook(request: Request) -> HTTPResponse:
            if self.verifier is not None:
                authorization = request.headers.get("authorization")
                problem = await self.verifier.problem(authorization)
                if problem:
                    # Google Chat sends its token as a bearer token (Rasa answers 401 too)
                    raise refused("hangouts", request, problem,
                                  "the request carries no valid Google Chat token",
                                  challenge=bearer_challenge("hangouts", authorization))
            try:
                body = safe_json.loads(request.body or b"")
            except (ValueError, UnicodeDecodeError):
                body = None
            event = read_event(body, self.intents)
            if event.text is None:
                logger.debug("hangouts: an event (%s) was ignored: %s", event.kind, event.ignored)
                return json_response({})
            # checked after the token, so that nobody else can make the bot skip one
            if not await self.deliveries.is_new_for(request, event.message_id):
                logger.info("hangouts: message %s came again and was not handled again",
                            event.message_id)
                return json_response({})
            replies = await self.handle(request, on_message, event)
            return json_response(response_message(replies))

        return blueprint

    async def handle(self, request: Request, on_message: OnMessage,
                     event: ChatEvent) -> list[dict[str, Any]]:
        """Run the event's message through the bot; its replies (none when the turn fails)."""
        from dialogflowlite.dialogue.messages import IncomingMessage

        user_text, sender = str(event.text), str(event.sender_id)
        limit = request.app.ctx.config.max_message_chars
        if len(user_text) > limit:
            logger.info("hangouts: a message of %d characters from %s was ignored (at most %d "
                        "are accepted)", len(user_text), sender, limit)
            return []
        try:
            message = IncomingMessage(user_text, sender_id=sender, channel=self.name(),
                                      metadata=dict(self.metadata(event)),
                                      message_id=event.message_id)
            return await on_message(message)
        except Exception as e:
            # answered {} all the same: Chat shows an error status as "not responding", and
            # does not send the message again
            logger.error("hangouts: the message of conversation %r could not be handled and "
                         "is lost (Google Chat does not send it again): %s", sender, e,
                         exc_info=not isinstance(e, DialogflowLiteError))
        return []
