"""The Telegram channel: Rasa's ``telegram`` connector over the Telegram Bot API.

Telegram posts each *update* (a message, an edited message, a button press)
as JSON to the bot's webhook; the bot answers through Bot API calls
(``POST {api_url}/bot{access_token}/{method}`` with a JSON body).
credentials.yml, Rasa's keys first::

    telegram:
      access_token: "123456789:AAF..."   # the bot token BotFather gave (required)
      verify: "my_bot"                   # the bot's username (optional here, see below)
      webhook_url: "https://example.com/webhooks/telegram/webhook"
      # settings of this channel only, not Rasa's:
      secret_token: "a-long-random-string"   # Telegram sends it back on every update
      api_url: "https://api.telegram.org"    # a self-hosted Bot API server, or a test stub
      timeout: 10                            # seconds per Bot API call
      button_type: inline                    # keyboards of responses that name none

Routes under ``/webhooks/telegram``: ``GET /`` answers ``{"status": "ok"}``;
``POST /webhook`` receives updates and answers ``success`` once the turn is
processed and its replies are sent; ``GET`` or ``POST /set_webhook`` points
the bot at ``webhook_url`` again and says whether Telegram accepted it.

At server start the channel calls ``setWebhook`` with ``webhook_url`` (and
``secret_token``), once per server (the first of ``--workers N`` does it);
when Telegram refuses, the error is logged with the URL and Telegram's
reason and the server starts anyway. Without ``webhook_url``
nothing is set. ``verify`` is optional (Rasa compares it with ``getMe`` on
every update): when given, ``getMe`` is asked once at start and a token of
another bot is logged as an error.

With ``secret_token``, an update without the header
``X-Telegram-Bot-Api-Secret-Token`` carrying it is refused with 403 and not
handled: only Telegram knows the token, so nobody else can speak as a user.

Updates become user messages as in Rasa; the conversation id is the chat id:

* ``message`` with ``text``: the text; a leading ``/bot`` command is removed
  (Rasa's habit), other commands such as ``/start`` pass through, and
  ``/greet@my_bot`` (as group chats send it) reads ``/greet``: the bot's
  username is ``verify``, or without it what ``getMe`` answers, asked once
  when the first such command arrives (Rasa keeps ``@my_bot`` in the text).
  A command for another bot (``/greet@other_bot``, which a group member bot
  without privacy mode sees too) is answered and ignored, and so is any
  command naming a bot while this bot's username cannot be learned: Rasa
  hands it on, and its intent shortcut reads it as this bot's ``greet``.
  ``/restart`` is followed by ``/start``, as in Rasa;
* ``edited_message`` with text: the new text, read as a message's (a command
  for another bot ignored, this bot's ``@username`` removed, ``/restart``
  followed by ``/start``) except that a leading ``/bot`` stays, as in Rasa;
  an edit without text (a live location moving on) is ignored;
* ``callback_query`` (an inline button pressed): its ``data``, the button's
  payload; the press is answered with ``answerCallbackQuery`` first, so the
  client stops its spinner;
* ``message`` with ``location``: ``{"lng":<longitude>, "lat":<latitude>}``.

The message metadata is ``{"telegram": {...}}`` with the update id, its
kind, the message id, the chat type and who wrote (id, username, first name,
language). Any other update (stickers, photos, channel posts, member changes,
malformed JSON) is answered 200 and ignored, so Telegram does not send it
again and again. An update Telegram delivers again (its ``update_id`` already
taken by any worker sharing the lock store: :mod:`.deliveries`) is answered
and not handled twice. An update whose turn failed before storing anything,
for a reason that may pass (a store that cannot be reached), is forgotten and
answered 503, so that Telegram delivers it again (Rasa answers 200, and the
message is lost); any other failed turn is logged with its chat id.

Each reply goes out in this order: its text with ``sendMessage``
(paragraphs separated by a blank line as messages of their own, as Rasa
sends them; a text longer than Telegram's 4096 characters in several
messages), its buttons as a keyboard on the (last) text message, its image
with ``sendPhoto`` (with the text as caption instead, when the text fits the
1024 characters of one), its ``custom`` JSON as Bot API calls
(:data:`CUSTOM_METHODS`), and an ``attachment`` as a text ``Attachment: ...``
(Rasa's default).

Buttons follow Rasa's ``button_type``: ``inline`` (one row, at most 8 per
row, Telegram's limit), ``vertical`` (one per row), ``reply`` (a one-time
reply keyboard; the user's choice arrives as the button's title). A list
of lists of buttons gives the rows. Inline buttons carry the payload as
``callback_data``, which Telegram limits to 64 bytes: when a payload is
longer, an error is logged and that message's buttons go out as a reply
keyboard instead. A button with a ``url`` (and no payload) opens the link.
A response's own ``button_type`` (the reply's ``button_type``, or
``metadata.button_type`` from a plugin) wins over the channel's setting.
Telegram shows no keyboard alone (Rasa calls ``sendMessage`` without a text,
which Telegram refuses), so buttons without a text or an image ride on the
text sent just before them (a custom action's text, then its buttons in a
message of their own, arrive as one message with a keyboard); with no such
text they go out under ``…``, and a warning names the chat
(:mod:`.lone_buttons`).

A Bot API call that fails (an error status, ``"ok": false``, no answer in
time) is logged with the chat, the method and Telegram's description; the
turn is stored either way and the later calls are still made. Rate limits
(429) are not retried. Files go out by URL or Telegram file id only; an
uploaded file, invoices and polls are not supported.
"""

from __future__ import annotations

import hmac
import json
import logging
import re
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from dialogflowlite.errors import ApiError, ConfigError
from dialogflowlite.server.channels.base import InputChannel, OnMessage, handle_and_send
from dialogflowlite.server.channels.deliveries import RecentDeliveries
from dialogflowlite.server.channels.json_fields import text_id
from dialogflowlite.server.channels.lone_buttons import LONE_BUTTONS_TEXT, buttons_on_texts
from dialogflowlite.server.channels.settings import ChannelSettings
from dialogflowlite.server.channels.text_pieces import split_text, utf16_length
from dialogflowlite.server.channels.vendor_http import client_session, vendor_request
from dialogflowlite.server.workers import is_first_worker
from dialogflowlite.shared import safe_json

if TYPE_CHECKING:
    import aiohttp
    from sanic import Blueprint, Request
    from sanic.response import HTTPResponse

logger = logging.getLogger(__name__)

DEFAULT_API_URL = "https://api.telegram.org"

#: credentials.yml keys and their defaults; the first three are Rasa's
SETTINGS: dict[str, Any] = {
    "access_token": None,
    "verify": None,
    "webhook_url": None,
    "secret_token": None,
    "api_url": DEFAULT_API_URL,
    "timeout": 10.0,
    "button_type": "inline",
}

BUTTON_TYPES = ("inline", "vertical", "reply")
#: the header Telegram puts the webhook's secret token in
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"

# Telegram's limits, counted in UTF-16 code units as Telegram counts them
MAX_TEXT = 4096
MAX_CAPTION = 1024
MAX_CALLBACK_DATA_BYTES = 64
MAX_BUTTONS_PER_ROW = 8

TOKEN_PATTERN = re.compile(r"\d+:[A-Za-z0-9_-]+")
SECRET_TOKEN_PATTERN = re.compile(r"[A-Za-z0-9_-]{1,256}")
#: a command naming the bot it is for, as group chats send it (``/greet@my_bot``); a
#: username starts with a letter, so an intent's confidence (``/greet@0.8``) is no bot
ADDRESSED_COMMAND = re.compile(r"/[^\s@]+@([A-Za-z]\w*)")
#: the ports Telegram's own servers post webhooks to
WEBHOOK_PORTS = (443, 80, 88, 8443)

#: custom JSON keys and the Bot API method they make, tried in this order (Rasa's);
#: a method is called when all its keys are set, so one payload can make several calls
CUSTOM_METHODS: tuple[tuple[tuple[str, ...], str], ...] = (
    (("text",), "sendMessage"),
    (("photo",), "sendPhoto"),
    (("audio",), "sendAudio"),
    (("document",), "sendDocument"),
    (("sticker",), "sendSticker"),
    (("video",), "sendVideo"),
    (("video_note",), "sendVideoNote"),
    (("animation",), "sendAnimation"),
    (("voice",), "sendVoice"),
    (("media",), "sendMediaGroup"),
    (("latitude", "longitude", "title", "address"), "sendVenue"),
    (("latitude", "longitude"), "sendLocation"),
    (("phone_number", "first_name"), "sendContact"),
    (("game_short_name",), "sendGame"),
    (("action",), "sendChatAction"),
)

#: one Bot API call: the method and its JSON parameters
ApiCall = tuple[str, dict[str, Any]]


# ------------------------------------------------------------------ updates in


@dataclass
class TelegramUpdate:
    """What one Telegram update asks of the bot.

    ``text`` is the user's message (None when there is nothing to handle,
    ``ignored`` then says why); ``callback_query_id`` is set for a button press,
    which is answered even when it carries nothing to handle.
    """

    kind: str
    chat_id: str | None = None
    text: str | None = None
    callback_query_id: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    ignored: str = ""
    #: the update's ``update_id``, the same in every delivery of it
    update_id: str | None = None


def read_update(update: Any, username: str | None = None) -> TelegramUpdate:
    """The user message in a Telegram update, read as Rasa's connector reads it.

    ``username`` (the bot's) lets ``/command@username`` read ``/command``.
    """
    if not isinstance(update, dict):
        return TelegramUpdate("unknown", ignored="the update is not a JSON object")
    found = _read_kind(update, username)
    found.update_id = text_id(update.get("update_id"))
    return found


def _read_kind(update: dict[str, Any], username: str | None) -> TelegramUpdate:
    if isinstance(update.get("callback_query"), dict):
        query = update["callback_query"]
        found = TelegramUpdate("callback_query", callback_query_id=text_id(query.get("id")))
        message = query.get("message")
        data = query.get("data")
        if not isinstance(message, dict) or not isinstance(data, str) or not data:
            # inline-mode messages and games have no chat or no data to answer in
            found.ignored = "the button press has no chat message or no data"
            return found
        found.chat_id = _chat_id(message)
        found.text = data
        found.metadata = _metadata(update, "callback_query", message, query.get("from"))
    elif isinstance(update.get("edited_message"), dict):
        message = update["edited_message"]
        found = TelegramUpdate("edited_message", chat_id=_chat_id(message))
        found.metadata = _metadata(update, "edited_message", message, message.get("from"))
        if isinstance(message.get("text"), str):
            # Rasa hands an edited text on without taking off a leading /bot
            _read_text(found, message["text"], username, bot_prefix=False)
    elif isinstance(update.get("message"), dict):
        message = update["message"]
        found = TelegramUpdate("message", chat_id=_chat_id(message))
        found.metadata = _metadata(update, "message", message, message.get("from"))
        if isinstance(message.get("text"), str):
            _read_text(found, message["text"], username)
        elif isinstance(message.get("location"), dict):
            found.text = _location_text(message["location"])
    else:
        kinds = [key for key in update if key != "update_id"]
        return TelegramUpdate(kinds[0] if kinds else "unknown",
                              ignored="updates of this kind are not handled")
    if found.chat_id is None:
        found.text = None
        found.ignored = "the message names no chat"
    elif not found.text:
        found.text = None
        found.ignored = found.ignored or "the message has no text or location"
    return found


def _read_text(found: TelegramUpdate, text: str, username: str | None,
               bot_prefix: bool = True) -> None:
    bot = command_bot(text)
    if bot is not None and username and bot.lower() != username.lower():
        # in a group the bot sees commands for other bots too (without privacy mode)
        found.ignored = f"the command is for another bot (@{bot})"
    else:
        found.text = command_text(text, username, bot_prefix=bot_prefix)


def command_text(text: str, username: str | None = None, *, bot_prefix: bool = True) -> str:
    """A message text with Rasa's ``/bot`` prefix (unless ``bot_prefix`` is False) and this
    bot's ``@username`` removed.

    The command ends at the first white space, a line break as much as a space
    (``/greet@my_bot`` then a new line reads ``/greet`` and the new line).
    """
    head, space, rest = re.match(r"(\S*)(\s*)(.*)", text, re.DOTALL).groups()
    bot = command_bot(head)
    if username and bot is not None and bot.lower() == username.lower():
        head = head[: -len(bot) - 1]
    if bot_prefix and head == "/bot":
        return rest.strip()
    return head + space + rest


def command_bot(text: str | None) -> str | None:
    """The bot a message's leading command names (``/greet@my_bot``: ``my_bot``), or None."""
    if not isinstance(text, str):
        return None
    found = ADDRESSED_COMMAND.fullmatch(re.match(r"\S*", text).group())
    return found.group(1) if found else None


def _location_text(location: dict[str, Any]) -> str | None:
    longitude, latitude = location.get("longitude"), location.get("latitude")
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool)
               for v in (longitude, latitude)):
        return None
    # Rasa's exact format, so NLU data written for Rasa's channel still matches
    return f'{{"lng":{longitude}, "lat":{latitude}}}'


def _chat_id(message: dict[str, Any]) -> str | None:
    chat = message.get("chat")
    if not isinstance(chat, dict):
        return None
    return text_id(chat.get("id"))


def _metadata(update: dict[str, Any], kind: str, message: dict[str, Any],
              sender: Any) -> dict[str, Any]:
    details: dict[str, Any] = {"update_id": update.get("update_id"), "kind": kind,
                               "message_id": message.get("message_id")}
    chat = message.get("chat")
    if isinstance(chat, dict) and chat.get("type"):
        details["chat_type"] = chat["type"]
    if isinstance(sender, dict):
        details["user"] = {key: sender[key] for key in
                           ("id", "username", "first_name", "language_code") if key in sender}
    return {"telegram": {key: value for key, value in details.items() if value is not None}}


# ------------------------------------------------------------------ replies out


def keyboard(buttons: list[Any], button_type: str = "inline",
             chat_id: str | None = None) -> dict[str, Any] | None:
    """The ``reply_markup`` for Rasa buttons (None when there is no usable button)."""
    rows = _button_rows(buttons, button_type)
    if not rows:
        return None
    if button_type != "reply":
        payloads = [_payload(button) for row in rows for button in row
                    if not _is_link(button)]
        too_long = [payload for payload in payloads
                    if len(payload.encode("utf-8")) > MAX_CALLBACK_DATA_BYTES]
        if not too_long:
            return {"inline_keyboard": [[_inline_button(button) for button in row]
                                        for row in rows]}
        logger.error("telegram: a button payload for chat %s has %d bytes, more than the %d "
                     "Telegram allows as callback_data (%.40r...); the buttons go out as a reply "
                     "keyboard, whose choice arrives as the button's title",
                     chat_id, len(too_long[0].encode("utf-8")), MAX_CALLBACK_DATA_BYTES,
                     too_long[0])
    return {"keyboard": [[{"text": _title(button)} for button in row] for row in rows],
            "one_time_keyboard": True}


def _button_rows(buttons: list[Any], button_type: str) -> list[list[dict[str, Any]]]:
    if any(isinstance(button, list) for button in buttons):
        rows = [[b for b in item if isinstance(b, dict)] if isinstance(item, list) else [item]
                for item in buttons]
    elif button_type == "inline":
        rows = [buttons[i:i + MAX_BUTTONS_PER_ROW]
                for i in range(0, len(buttons), MAX_BUTTONS_PER_ROW)]
    else:
        rows = [[button] for button in buttons]
    rows = [[button for button in row if isinstance(button, dict) and _title(button)]
            for row in rows]
    return [row for row in rows if row]


def _title(button: dict[str, Any]) -> str:
    title = button.get("title")
    return str(title if title not in (None, "") else button.get("payload") or "")


def _payload(button: dict[str, Any]) -> str:
    payload = button.get("payload")
    return str(payload) if payload not in (None, "") else _title(button)


def _is_link(button: dict[str, Any]) -> bool:
    return bool(button.get("url")) and button.get("payload") in (None, "")


def _inline_button(button: dict[str, Any]) -> dict[str, Any]:
    if _is_link(button):
        return {"text": _title(button), "url": str(button["url"])}
    return {"text": _title(button), "callback_data": _payload(button)}


def reply_calls(reply: dict[str, Any], chat_id: int | str,
                button_type: str = "inline") -> list[ApiCall]:
    """The Bot API calls that send one REST-shaped bot reply to a chat, in order."""
    calls: list[ApiCall] = []
    text = str(reply.get("text") or "").strip()
    image = reply.get("image")
    chosen = reply.get("button_type") or (reply.get("metadata") or {}).get("button_type")
    if chosen is not None and chosen not in BUTTON_TYPES:
        logger.warning("telegram: button_type %r is not one of %s; %r is used",
                       chosen, ", ".join(BUTTON_TYPES), button_type)
        chosen = None
    markup = keyboard(list(reply.get("buttons") or []), chosen or button_type, str(chat_id))
    if markup and not text and not image:
        logger.warning("telegram: a reply to chat %s has buttons but no text, and no text "
                       "comes just before them; Telegram shows no keyboard alone, so it goes "
                       "out under the text %r (give the response or message a text)",
                       chat_id, LONE_BUTTONS_TEXT)
        text = LONE_BUTTONS_TEXT

    if image and text and utf16_length(text) <= MAX_CAPTION:
        params: dict[str, Any] = {"chat_id": chat_id, "photo": str(image), "caption": text}
        if markup:
            params["reply_markup"] = markup
        calls.append(("sendPhoto", params))
        text, image, markup = "", None, None
    if text:
        # Rasa sends each paragraph as a message of its own, but a text with buttons whole
        parts = [text] if markup else [p.strip() for p in text.split("\n\n")]
        pieces = [piece for part in parts for piece in split_text(part, MAX_TEXT)]
        for number, piece in enumerate(pieces, 1):
            params = {"chat_id": chat_id, "text": piece}
            if markup and number == len(pieces):
                params["reply_markup"] = markup
            calls.append(("sendMessage", params))
        markup = None
    if image:
        params = {"chat_id": chat_id, "photo": str(image)}
        if markup:
            params["reply_markup"] = markup
        calls.append(("sendPhoto", params))
        markup = None
    custom = reply.get("custom")
    if custom is not None:
        calls.extend(custom_calls(custom, chat_id))
    attachment = reply.get("attachment")
    if attachment:
        shown = attachment if isinstance(attachment, str) else json.dumps(attachment)
        calls.append(("sendMessage", {"chat_id": chat_id, "text": f"Attachment: {shown}"}))
    return calls


def custom_calls(custom: Any, chat_id: int | str) -> list[ApiCall]:
    """The Bot API calls of a ``custom`` payload, by its keys (:data:`CUSTOM_METHODS`).

    ``chat_id`` in the payload sends elsewhere; keys no method takes (``parse_mode``,
    ``caption``, ``reply_markup``, ...) go along with every call, as in Rasa.
    """
    if not isinstance(custom, dict):
        logger.warning("telegram: a custom payload for chat %s is not a JSON object; "
                       "nothing was sent for it", chat_id)
        return []
    payload = dict(custom)
    target = payload.pop("chat_id", None) or chat_id
    matched: list[tuple[tuple[str, ...], str]] = []
    taken: set[str] = set()
    for keys, method in CUSTOM_METHODS:
        if not taken & set(keys) and all(payload.get(key) is not None for key in keys):
            matched.append((keys, method))
            taken.update(keys)
    if not matched:
        logger.info("telegram: a custom payload for chat %s has none of the keys the channel "
                    "sends (%s); nothing was sent for it", chat_id, ", ".join(sorted(payload)))
        return []
    extras = {key: value for key, value in payload.items() if key not in taken}
    return [(method, {"chat_id": target, **{key: payload[key] for key in keys}, **extras})
            for keys, method in matched]


# ------------------------------------------------------------------ the channel


class TelegramChannel(InputChannel):
    """Rasa's Telegram connector: updates in at a webhook, replies out through the Bot API."""

    channel_name = "telegram"

    def __init__(self, config: dict[str, Any] | None = None) -> None:
        super().__init__(config)
        from dialogflowlite.io.formats import did_you_mean

        settings = ChannelSettings(self.channel_name, self.config, SETTINGS)
        self.access_token = settings.required_text("access_token",
                                                   "the bot token BotFather gave")
        if not TOKEN_PATTERN.fullmatch(self.access_token):
            # the token is a secret: the message says what is wrong, never what it is
            raise ConfigError("credentials.yml telegram: `access_token` does not look like a "
                              "bot token (digits, a colon, then letters, digits, _ and -)",
                              hint="copy the whole token from BotFather's /token answer, "
                                   "in quotes")

        # Rasa compares `verify` with getMe on every update; here it is checked once at start
        self.username = str(settings["verify"] or "").strip().lstrip("@") or None
        #: the username getMe gave, when ``verify`` names none (see :meth:`bot_username`)
        self.learned_username: str | None = None

        self.api_url = settings.http_url("api_url")

        self.webhook_url = self._checked_webhook_url(settings["webhook_url"])

        secret = settings["secret_token"]
        if secret is not None and not SECRET_TOKEN_PATTERN.fullmatch(str(secret)):
            raise ConfigError("credentials.yml telegram: `secret_token` must be 1 to 256 "
                              "letters, digits, _ or - (Telegram's rule)",
                              hint="for example the output of "
                                   "`python -c 'import secrets; print(secrets.token_urlsafe(32))'`")
        self.secret_token = str(secret) if secret is not None else None

        self.timeout = settings.positive_seconds("timeout")

        self.deliveries = RecentDeliveries(self.name())
        self.button_type = str(settings["button_type"])
        if self.button_type not in BUTTON_TYPES:
            raise ConfigError(f"credentials.yml telegram: `button_type` {self.button_type!r} "
                              "is not a keyboard kind",
                              hint=did_you_mean(self.button_type, BUTTON_TYPES)
                              or f"one of: {', '.join(BUTTON_TYPES)}")

    def _checked_webhook_url(self, url: Any) -> str | None:
        if url is None:
            return None
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            raise ConfigError("credentials.yml telegram: `webhook_url` must be the http(s) "
                              "address Telegram posts updates to",
                              hint='e.g. "https://example.com/webhooks/telegram/webhook"')
        if self.api_url == DEFAULT_API_URL:
            # only a self-hosted Bot API server posts to plain http or to other ports
            parts = urlsplit(url)
            if parts.scheme != "https":
                raise ConfigError("credentials.yml telegram: `webhook_url` must start with "
                                  "https://, Telegram posts to nothing else",
                                  hint="put the server behind a TLS proxy or tunnel "
                                       "(nginx, caddy, ngrok)")
            try:
                port = parts.port
            except ValueError:
                port = -1
            if port is not None and port not in WEBHOOK_PORTS:
                raise ConfigError(f"credentials.yml telegram: `webhook_url` uses port {port}, "
                                  "Telegram posts only to ports "
                                  f"{', '.join(map(str, WEBHOOK_PORTS))}",
                                  hint="serve the webhook on one of them through a proxy")
        return url

    # -------------------------------------------------------------- Bot API

    def _session(self) -> aiohttp.ClientSession:
        return client_session(self.timeout)

    async def attempt(self, session: aiohttp.ClientSession, method: str,
                      params: dict[str, Any]) -> tuple[bool, Any]:
        """One Bot API call: ``(True, result)``, or ``(False, why it failed)``."""
        # the token is part of the URL an error may quote
        answer = await vendor_request(session, "POST",
                                      f"{self.api_url}/bot{self.access_token}/{method}",
                                      json=params, secrets=[self.access_token])
        if answer.failure is not None:
            return False, answer.failure
        if answer.ok and answer.field("ok"):
            return True, answer.body.get("result", True)
        described = answer.field("description")
        return False, f"status {answer.status}" + (f": {described}" if described else "")

    async def call(self, session: aiohttp.ClientSession, method: str, params: dict[str, Any],
                   chat_id: Any = None) -> Any:
        """One Bot API call; its ``result``, or None after logging why it failed."""
        done, result = await self.attempt(session, method, params)
        if done:
            return result
        where = f" for chat {chat_id}" if chat_id is not None else ""
        logger.error("telegram: %s%s failed (%s)", method, where, result)
        return None

    async def send(self, chat_id: str, replies: list[dict[str, Any]]) -> int:
        """Send the bot's replies to a chat in order; how many Bot API calls succeeded."""
        target: int | str = int(chat_id) if re.fullmatch(r"-?\d+", chat_id) else chat_id
        calls = [call for reply in buttons_on_texts(replies)
                 for call in reply_calls(reply, target, self.button_type)]
        if not calls:
            return 0
        sent = 0
        async with self._session() as session:
            for method, params in calls:
                if await self.call(session, method, params, params.get("chat_id")) is not None:
                    sent += 1
        return sent

    async def send_to(self, sender_id: str, replies: list[dict[str, Any]]) -> bool:
        """Send ``replies`` to the chat ``sender_id`` (the conversation id is the chat id)."""
        await self.send(sender_id, replies)
        return True

    async def set_webhook(self) -> tuple[bool, str]:
        """Point the bot at ``webhook_url``; whether Telegram accepted it, and why not."""
        if not self.webhook_url:
            return False, "credentials.yml telegram has no webhook_url"
        params: dict[str, Any] = {"url": self.webhook_url}
        if self.secret_token:
            params["secret_token"] = self.secret_token
        async with self._session() as session:
            done, result = await self.attempt(session, "setWebhook", params)
        if done:
            return True, "the webhook is set"
        logger.error("telegram: the webhook %s was not set (%s)", self.webhook_url, result)
        return False, str(result)

    async def check_username(self) -> bool | None:
        """Whether the token's bot is ``verify`` (``getMe``); None when it cannot be told."""
        if not self.username:
            return None
        async with self._session() as session:
            me = await self.call(session, "getMe", {})
        found = me.get("username") if isinstance(me, dict) else None
        if found is None:
            return None
        if str(found).lower() != self.username.lower():
            logger.error("telegram: the access_token belongs to the bot @%s, but verify names "
                         "@%s; check which token credentials.yml holds", found, self.username)
            return False
        return True

    async def bot_username(self) -> str | None:
        """The bot's username, which group commands name (``/greet@my_bot``): ``verify``,
        else what ``getMe`` answers, asked once (again after a failure); None when unknown."""
        if self.username or self.learned_username:
            return self.username or self.learned_username
        async with self._session() as session:
            me = await self.call(session, "getMe", {})
        found = me.get("username") if isinstance(me, dict) else None
        if isinstance(found, str) and found:
            self.learned_username = found
        return self.learned_username

    async def read(self, body: bytes) -> TelegramUpdate:
        """The update in a webhook request's ``body``; a group command addressed to this bot
        reads without its ``@username``, even when ``verify`` does not name the bot."""
        try:
            payload = safe_json.loads(body or b"")
        except (ValueError, UnicodeDecodeError):
            return TelegramUpdate("unknown", ignored="the body is not valid JSON")
        username = self.username or self.learned_username
        update = read_update(payload, username)
        bot = command_bot(update.text) if update.kind in ("message", "edited_message") else None
        if username is None and bot is not None:
            username = await self.bot_username()
            if username is not None:
                update = read_update(payload, username)
            else:
                # whether it is for this bot cannot be told; if handled, a command for another
                # bot would run this bot's intent (the intent shortcut reads /greet@x as greet)
                logger.warning("telegram: a command for @%s was ignored: this bot's username "
                               "is unknown (getMe failed); set `verify` to it in "
                               "credentials.yml", bot)
                update.text = None
                update.ignored = "the command names a bot, and this bot's username is unknown"
        return update

    # -------------------------------------------------------------- routes

    def metadata(self, update: TelegramUpdate) -> dict[str, Any]:
        """The metadata of the user message (Rasa's ``get_metadata``); override to change it."""
        return update.metadata

    def blueprint(self, on_message: OnMessage) -> Blueprint:
        from sanic.response import text

        blueprint = self.health_blueprint()

        @blueprint.after_server_start
        async def register_webhook(app: Any) -> None:
            # one registration per server: every worker would call the same setWebhook
            if not is_first_worker():
                return
            await self.check_username()
            if self.webhook_url:
                if (await self.set_webhook())[0]:
                    logger.info("telegram: updates go to %s", self.webhook_url)
            else:
                logger.info("telegram: no webhook_url in credentials.yml, so no webhook was "
                            "set; Telegram must already post to /webhooks/telegram/webhook")

        @blueprint.route("/set_webhook", methods=["GET", "POST"], name="set_webhook")
        async def set_webhook(request: Request) -> HTTPResponse:
            done, why = await self.set_webhook()
            if done:
                return text("Webhook setup successful")
            return text(f"Invalid webhook: {why}", status=400 if not self.webhook_url else 502)

        @blueprint.post("/webhook", name="webhook")
        async def webhook(request: Request) -> HTTPResponse:
            if self.secret_token:
                given = request.headers.get(SECRET_HEADER, "")
                if not hmac.compare_digest(given.encode(), self.secret_token.encode()):
                    logger.warning("telegram: an update without the right %s was refused",
                                   SECRET_HEADER)
                    raise ApiError(403, "NotAuthorized",
                                   f"the {SECRET_HEADER} header is missing or wrong")
            update = await self.read(request.body)
            # taken once (a re-delivery waits while its first delivery's turn runs here),
            # and handled in the work that outlives a cancelled request
            delivered = await handle_and_send(request, self.deliveries.handle_once(
                request, update.update_id, update.chat_id,
                partial(self._handle_update, request, on_message, update)))
            if delivered.taken:
                logger.info("telegram: update %s came again and was not handled again "
                            "(Telegram resends what it thinks went unanswered)",
                            update.update_id)
            if delivered.answer is not None:
                raise delivered.answer
            return text("success")

        return blueprint

    async def _handle_update(self, request: Request, on_message: OnMessage,
                             update: TelegramUpdate) -> Exception | None:
        """Answer ``update``'s button press, then run its texts (its text, and ``/start``
        after ``/restart``) through the bot in order, sending the replies of each; the
        error of its first text's turn when that failed (for :meth:`RecentDeliveries.settled
        <dialogflowlite.server.channels.deliveries.RecentDeliveries.settled>`), else None.
        The texts after a failed one are not handled.
        """
        if update.callback_query_id:
            async with self._session() as session:
                await self.call(session, "answerCallbackQuery",
                                {"callback_query_id": update.callback_query_id},
                                update.chat_id)
        if update.text is None or update.chat_id is None:
            logger.debug("telegram: an update (%s) was ignored: %s", update.kind,
                         update.ignored)
            return None
        texts = [update.text]
        if update.text == "/restart":
            # Rasa's connector starts the conversation afresh after a restart
            texts.append("/start")
        for index, user_text in enumerate(texts):
            error = await self._handle(request, on_message, update, user_text)
            if error is None:
                continue
            if index == 0:
                return error
            # a `/start` after a stored `/restart` is not worth the whole update again
            await self.deliveries.after_failed_turn(request, update.update_id,
                                                    update.chat_id, error, redelivered=False)
            return None
        return None

    async def _handle(self, request: Request, on_message: OnMessage, update: TelegramUpdate,
                      user_text: str) -> Exception | None:
        """Run one text of ``update`` through the bot and send the replies; the error
        of a turn that failed (its replies are then not sent), else None."""
        from dialogflowlite.dialogue.messages import IncomingMessage
        from dialogflowlite.server import validation

        limit = request.app.ctx.config.max_message_chars
        if len(user_text) > limit:
            logger.info("telegram: a message of %d characters from chat %s was ignored "
                        "(at most %d are accepted)", len(user_text), update.chat_id, limit)
            return None
        try:
            sender = validation.sender_id(update.chat_id)
            message = IncomingMessage(user_text, sender_id=sender, channel=self.name(),
                                      metadata=dict(self.metadata(update)))
            replies = await on_message(message)
        except Exception as e:
            return e
        # stored by now: a failure to send is logged there, never worth a re-delivery
        await self.send(sender, replies)
        return None
