"""The Rocket.Chat channel: Rasa's ``rocketchat`` connector, webhooks in and the REST API out.

Rocket.Chat posts messages to the bot through an outgoing webhook
(Administration > Integrations > Outgoing, event "Message Sent") or, for
Livechat, through the Omnichannel webhook ("Visitor Messages"); the bot logs
in as a Rocket.Chat user and answers with ``POST {server_url}/api/v1/chat.postMessage``.
credentials.yml, Rasa's keys first (all three required)::

    rocketchat:
      user: "yourbotname"                     # the bot's user (username or email)
      password: "..."                          # its password
      server_url: "https://chat.example.com"  # the Rocket.Chat server
      # settings of this channel only, not Rasa's:
      token: "..."     # the webhook's token: verifies requests (optional)
      timeout: 10      # seconds per API call

Routes under ``/webhooks/rocketchat``: ``GET /`` answers ``{"status": "ok"}``;
``POST /webhook`` takes both kinds of webhook (JSON) and answers 200 with an
empty body once the turn is handled and its replies posted, also when the
turn fails (that is logged): the Omnichannel webhook sends a request again,
ten times, while it gets anything else. A body that is not a JSON object gets
400.

Login: ``POST /api/v1/login`` with ``user`` and ``password`` when the server
starts (a failure is logged, the server starts anyway) and whenever no login
is held; the auth token and user id are kept and sent as ``X-Auth-Token`` and
``X-User-Id``. A call answered 401 (the token expired or was revoked) logs in
again and is tried once more. Accounts with two-factor authentication cannot
log in with a password alone.

Incoming, as in Rasa the conversation id is the room (``channel_id``, or the
Livechat room's ``_id``) and the text is:

* for an outgoing-webhook message (no ``visitor`` in the body): ``text``,
  without the ``trigger_word`` that fired the webhook when the text starts
  with it (``@bot hi`` reads ``hi``; the trigger word alone is read whole;
  Rasa reads the whole text). Messages of the bot's own user (``user``, or
  the user name or id its login returned) and of other bots (``bot`` set)
  are ignored, so the bot never answers itself;
* for a Livechat webhook (``visitor`` in the body): the ``msg`` of the first
  of ``messages``, for requests of type ``Message`` (or without a type, as
  Rasa reads them). Agents' messages (``agentId``), the bot's own, and the
  session events (``LivechatSession``, offline messages, ...) whose
  ``messages`` hold a whole chat are ignored (Rasa would read their first
  message again).

The metadata is ``{"rocketchat": {"kind": "message" | "livechat", "room_id",
"message_id", "user_id", "user_name", ...}}`` (Rasa's is empty); outgoing
webhooks add ``channel_name``, ``thread_id`` and ``edited``, Livechat the
``visitor`` (its ``_id``, ``name``, ``username`` and ``department``; never its
token). A request without room or text is answered and ignored. A message
sent again (both webhooks retry a request whose answer is late or not a 2xx)
is answered and not handled twice: its message id (with the new text, for an
edit, which keeps the id) was taken already by a worker sharing the lock
store (:mod:`.deliveries`); Rasa handles every delivery. A request whose
turn failed before storing anything, for a reason that may pass (a store that
cannot be reached), has its message id forgotten and is answered 503, so that
the webhook sends it again (Rasa answers 200, and the message is lost); any
other failed turn is logged with its conversation id and answered 200, as
the webhook would otherwise send it ten times more, to fail each time.

Security (Rasa checks nothing): with ``token``, a request is handled only when
the outgoing webhook's ``token`` field in the body, or the Omnichannel
webhook's ``X-RocketChat-Livechat-Token`` header (its "Secret Token"), equals
it; anything else gets 403 and a log line. Without ``token`` nothing is
verified, as in Rasa (logged at mount).

Outgoing, one ``chat.postMessage`` per part to the message's room, in Rasa's
order: text (each paragraph a post, split beyond Rocket.Chat's default 5000
characters); text with buttons (or quick replies) as one post whose
``attachments[0].actions`` are buttons (``{"type": "button", "text": title,
"msg": payload, "msg_in_chat_window": true}``: pressing one sends the payload
as the user's message, which comes back through the webhook; a button with
only a ``url`` opens the link). When the message came with a trigger word, the
buttons send it before the payload, so the webhook fires for them too (Rasa's
do not); an image as an attachment's ``image_url``; an attachment object as
given (other attachments as the text ``Attachment: ...``); ``elements`` as
attachments (``title``, ``subtitle`` as ``text``, ``image_url``, buttons as
actions); ``custom`` JSON as the ``chat.postMessage`` body (Rasa's
``room_id`` read as ``roomId``; ``channel`` sends elsewhere). A post Rocket.Chat
refuses or that gets no answer in ``timeout`` is logged with the room and
Rocket.Chat's error, never the password or token; the turn stays stored and
later posts are still tried. Not supported: replies in threads, personal
access tokens, two-factor authentication, retries of refused posts.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING, Any

from dialogflowlite.errors import DialogflowLiteError
from dialogflowlite.server.channels.base import (
    InputChannel,
    OnMessage,
    handle_and_send,
    refused,
)
from dialogflowlite.server.channels.deliveries import RecentDeliveries
from dialogflowlite.server.channels.json_fields import as_dict, as_list, text_id
from dialogflowlite.server.channels.settings import ChannelSettings
from dialogflowlite.server.channels.text_pieces import split_text
from dialogflowlite.server.channels.vendor_http import client_session, vendor_request

if TYPE_CHECKING:
    import aiohttp
    from sanic import Blueprint, Request
    from sanic.response import HTTPResponse

logger = logging.getLogger(__name__)

#: credentials.yml keys and their defaults; the first three are Rasa's
SETTINGS: dict[str, Any] = {
    "user": None,
    "password": None,
    "server_url": None,
    "token": None,
    "timeout": 10.0,
}

#: the header the Omnichannel (Livechat) webhook puts its secret token in
LIVECHAT_TOKEN_HEADER = "X-RocketChat-Livechat-Token"
#: the longest message a Rocket.Chat server takes by default (Message_MaxAllowedSize)
MAX_TEXT = 5000
#: Livechat webhook requests that carry one new message
LIVECHAT_MESSAGE_TYPES = (None, "Message")

#: one ``chat.postMessage`` body
Post = dict[str, Any]


# ------------------------------------------------------------------ messages in


@dataclass
class WebhookMessage:
    """What one webhook request says to the bot.

    ``text`` is the user's message in ``room_id``; None when there is nothing
    to handle, and ``ignored`` then says why. ``from_bot`` marks a message a
    bot posted (the channel also compares the sender with its own user).
    """

    kind: str
    room_id: str | None = None
    text: str | None = None
    user_id: str | None = None
    user_name: str | None = None
    message_id: str | None = None
    trigger_word: str | None = None
    from_bot: bool = False
    metadata: dict[str, Any] = field(default_factory=dict)
    ignored: str = ""
    #: the same in every delivery of this message (an edit is a delivery of its own)
    delivery_id: str | None = None


def read_webhook(body: dict[str, Any]) -> WebhookMessage:
    """The user message in an outgoing-webhook or Livechat webhook body, read as Rasa does."""
    found = _read_livechat(body) if "visitor" in body else _read_outgoing(body)
    if found.ignored:
        found.text = None
    elif found.room_id is None:
        found.text, found.ignored = None, "it names no room"
    elif not found.text:
        found.text, found.ignored = None, "it has no text"
    return found


def delivery_id(message_id: str | None, edited: bool, text: str) -> str | None:
    """What tells a re-delivery of a message from a new one: its id, and for an edit (which
    keeps the id) also the new text."""
    if message_id is None:
        return None
    if not edited:
        return message_id
    digest = hashlib.blake2b(text.encode("utf-8"), digest_size=12).hexdigest()
    return f"{message_id}/edited/{digest}"


def message_text(text: str, trigger_word: str | None) -> str:
    """An outgoing-webhook text without the trigger word it starts with (kept when alone)."""
    text = text.strip()
    if trigger_word and text.startswith(trigger_word):
        rest = text[len(trigger_word):].strip()
        if rest:
            return rest
    return text


def _read_outgoing(body: dict[str, Any]) -> WebhookMessage:
    text = body.get("text") if isinstance(body.get("text"), str) else ""
    trigger = body.get("trigger_word") if isinstance(body.get("trigger_word"), str) else None
    found = WebhookMessage(
        "message", room_id=text_id(body.get("channel_id")),
        text=message_text(text, trigger), user_id=text_id(body.get("user_id")),
        user_name=text_id(body.get("user_name")), message_id=text_id(body.get("message_id")),
        trigger_word=trigger or None,
        # Rocket.Chat sets `bot` on messages of integrations and bots, false or absent else
        from_bot=bool(body.get("bot")))
    found.delivery_id = delivery_id(found.message_id, bool(body.get("isEdited")), text)
    details = {"kind": "message", "room_id": found.room_id,
               "channel_name": body.get("channel_name"), "message_id": found.message_id,
               "user_id": found.user_id, "user_name": found.user_name,
               "thread_id": body.get("tmid"), "edited": body.get("isEdited") or None}
    found.metadata = {"rocketchat": {k: v for k, v in details.items() if v not in (None, "")}}
    return found


def _read_livechat(body: dict[str, Any]) -> WebhookMessage:
    kind = body.get("type")
    if kind not in LIVECHAT_MESSAGE_TYPES:
        return WebhookMessage("livechat", ignored=f"Livechat {kind!r} requests are not "
                              "messages to answer")
    messages = [m for m in as_list(body.get("messages")) if isinstance(m, dict)]
    if not messages:
        return WebhookMessage("livechat", ignored="it has no messages")
    message = messages[0]
    visitor = as_dict(body.get("visitor"))
    found = WebhookMessage(
        "livechat", room_id=text_id(body.get("_id")),
        text=message["msg"].strip() if isinstance(message.get("msg"), str) else "",
        user_id=text_id(visitor.get("_id")), user_name=text_id(message.get("username")),
        message_id=text_id(message.get("_id")))
    found.delivery_id = delivery_id(found.message_id, bool(message.get("editedAt")),
                                    found.text or "")
    if message.get("agentId"):
        found.ignored = "it is an agent's message"
    shown = {key: visitor[key] for key in ("_id", "name", "username", "department")
             if visitor.get(key) not in (None, "")}
    details = {"kind": "livechat", "room_id": found.room_id, "message_id": found.message_id,
               "user_id": found.user_id, "user_name": found.user_name,
               "visitor": shown or None}
    found.metadata = {"rocketchat": {k: v for k, v in details.items() if v not in (None, "")}}
    return found


# ------------------------------------------------------------------ replies out


def reply_posts(reply: dict[str, Any], room_id: str, trigger_word: str | None = None) -> list[Post]:
    """One REST-shaped bot reply as ``chat.postMessage`` bodies to ``room_id``, in order.

    With ``trigger_word`` the buttons send it before their payload, so that an
    outgoing webhook with trigger words hears them.
    """
    posts: list[Post] = []
    text = str(reply.get("text") or "").strip()
    buttons = [b for b in reply.get("buttons") or reply.get("quick_replies") or []
               if isinstance(b, dict)]
    if buttons:
        pieces = split_text(text, MAX_TEXT) or [""]
        posts += [{"text": piece} for piece in pieces]
        posts[-1]["attachments"] = [{"actions": button_actions(buttons, trigger_word)}]
    else:
        # Rasa posts each paragraph on its own
        for part in text.split("\n\n"):
            posts += [{"text": piece} for piece in split_text(part.strip(), MAX_TEXT)]
    if reply.get("image"):
        posts.append({"attachments": [{"image_url": str(reply["image"]), "collapsed": False}]})
    attachment = reply.get("attachment")
    if isinstance(attachment, dict):
        posts.append({"attachments": [attachment]})
    elif attachment:
        shown = attachment if isinstance(attachment, str) else json.dumps(attachment)
        posts += [{"text": piece} for piece in split_text(f"Attachment: {shown}", MAX_TEXT)]
    elements = [e for e in reply.get("elements") or [] if isinstance(e, dict)]
    if elements:
        posts.append({"attachments": [element_attachment(e, trigger_word) for e in elements]})
    custom = reply.get("custom")
    if isinstance(custom, dict):
        posts.append(custom_post(custom, room_id))
    elif custom is not None:
        logger.warning("rocketchat: a custom payload that is not a JSON object was not sent "
                       "(%s)", type(custom).__name__)
    return [post if "roomId" in post or "channel" in post else {"roomId": room_id, **post}
            for post in posts]


def button_actions(buttons: list[dict[str, Any]],
                   trigger_word: str | None = None) -> list[dict[str, Any]]:
    """Rasa buttons as Rocket.Chat attachment actions (a link-only button opens its URL)."""
    actions = []
    for button in buttons:
        title = str(button.get("title") or button.get("payload") or button.get("url") or "")
        payload = button.get("payload")
        if payload in (None, "") and button.get("url"):
            actions.append({"type": "button", "text": title, "url": str(button["url"])})
            continue
        message = str(payload if payload not in (None, "") else title)
        if trigger_word:
            message = f"{trigger_word} {message}"
        actions.append({"type": "button", "text": title, "msg": message,
                        "msg_in_chat_window": True})
    return actions


def element_attachment(element: dict[str, Any],
                       trigger_word: str | None = None) -> dict[str, Any]:
    """A Rasa ``elements`` item as a Rocket.Chat attachment (its own keys pass through)."""
    attachment = {key: value for key, value in element.items()
                  if key not in ("subtitle", "buttons")}
    if element.get("subtitle") and "text" not in attachment:
        attachment["text"] = str(element["subtitle"])
    buttons = [b for b in element.get("buttons") or [] if isinstance(b, dict)]
    if buttons:
        attachment["actions"] = button_actions(buttons, trigger_word)
    return attachment


def custom_post(custom: dict[str, Any], room_id: str) -> Post:
    """A ``custom`` payload as a ``chat.postMessage`` body (Rasa's ``room_id`` is ``roomId``)."""
    post = dict(custom)
    if "room_id" in post:
        post.setdefault("roomId", post.pop("room_id"))
    if post.get("channel") and post.get("roomId"):
        logger.warning("rocketchat: a custom payload names both channel and roomId; it goes to "
                       "channel %s", post["channel"])
        del post["roomId"]
    if not post.get("channel"):
        post.setdefault("roomId", room_id)
    return post


# ------------------------------------------------------------------ the channel


class RocketChatChannel(InputChannel):
    """Rasa's Rocket.Chat connector: webhook messages in, ``chat.postMessage`` out."""

    channel_name = "rocketchat"
    rich_replies = True

    def __init__(self, config: dict[str, Any] | None = None) -> None:
        super().__init__(config)
        settings = ChannelSettings(self.channel_name, self.config, SETTINGS)
        self.user = settings.required_text("user", "the bot's Rocket.Chat user name (or "
                                           "email), which it logs in as")
        self.password = settings.required_text("password", "the password of that user")
        settings.required_text("server_url", 'the Rocket.Chat server, such as '
                               '"https://chat.example.com"')
        self.server_url = str(settings.http_url("server_url",
                                                'such as "https://chat.example.com"'))
        self.token = (None if settings["token"] is None else settings.required_text(
            "token", "the Token of the outgoing webhook (or the Omnichannel webhook's "
            "Secret Token)"))
        self.timeout = settings.positive_seconds("timeout")
        #: (user id, auth token) of the current login; None until logged in
        self._login: tuple[str, str] | None = None
        self._own_user_name: str | None = None
        self.deliveries = RecentDeliveries(self.name())

    # -------------------------------------------------------------- REST API

    def _session(self) -> aiohttp.ClientSession:
        return client_session(self.timeout)

    def _hidden(self, text: str) -> str:
        """``text`` without the password or the auth token, for the log."""
        secrets = [self.password] + ([self._login[1]] if self._login else [])
        for secret in secrets:
            text = text.replace(secret, "<secret>")
        return text

    async def _request(self, session: aiohttp.ClientSession, path: str, body: Post,
                       headers: dict[str, str] | None = None) -> tuple[int, Any, str | None]:
        """One POST: the status (0 without an answer), the JSON answer, and why it failed."""
        answer = await vendor_request(session, "POST", f"{self.server_url}/api/v1/{path}",
                                      json=body, headers=headers)
        if answer.failure is not None:
            return 0, None, self._hidden(answer.failure)
        if answer.ok and answer.field("success") is not False:
            return answer.status, answer.body, None
        said = answer.field("error") or answer.field("message")
        return (answer.status, answer.body,
                f"status {answer.status}: {said}" if said else f"status {answer.status}")

    async def login(self, session: aiohttp.ClientSession) -> str | None:
        """Log in as ``user`` (``POST /api/v1/login``); why it failed, or None when it did not."""
        status, answer, problem = await self._request(
            session, "login", {"user": self.user, "password": self.password})
        data = as_dict(as_dict(answer).get("data"))
        user_id, auth_token = text_id(data.get("userId")), text_id(data.get("authToken"))
        if problem is None and (not user_id or not auth_token):
            problem = f"status {status}: no authToken and userId in the answer"
        if problem is not None:
            self._login = None
            logger.error("rocketchat: logging in to %s as %s failed (%s); check user and "
                         "password in credentials.yml", self.server_url, self.user, problem)
            return problem
        self._login = (str(user_id), str(auth_token))
        self._own_user_name = text_id(as_dict(data.get("me")).get("username"))
        return None

    async def post(self, session: aiohttp.ClientSession, body: Post) -> str | None:
        """One ``chat.postMessage``, logged in first; why it failed, or None when it did not."""
        for attempt in (1, 2):
            if self._login is None:
                problem = await self.login(session)
                if problem is not None or self._login is None:
                    return f"not logged in ({problem})"
            user_id, auth_token = self._login
            status, _, problem = await self._request(
                session, "chat.postMessage", body,
                {"X-User-Id": user_id, "X-Auth-Token": auth_token})
            if status != 401 or attempt == 2:
                return problem
            # the auth token expired or was revoked: one new login, one more try
            logger.info("rocketchat: the login expired; logging in again")
            self._login = None
        return None

    async def send(self, room_id: str, replies: list[dict[str, Any]],
                   trigger_word: str | None = None) -> int:
        """Post the bot's replies in ``room_id`` in order; how many Rocket.Chat took."""
        posts = [post for reply in replies for post in reply_posts(reply, room_id, trigger_word)]
        if not posts:
            return 0
        sent = 0
        async with self._session() as session:
            for number, post in enumerate(posts, 1):
                problem = await self.post(session, post)
                if problem is None:
                    sent += 1
                    continue
                logger.error("rocketchat: a message to room %s was not sent (%s)",
                             post.get("roomId") or post.get("channel"), problem)
                if self._login is None and number < len(posts):
                    # without a login the rest would fail alike, each after another login try
                    logger.error("rocketchat: %d more messages to room %s were not sent",
                                 len(posts) - number, room_id)
                    break
        return sent

    # -------------------------------------------------------------- incoming

    def refusal(self, request: Request, body: dict[str, Any]) -> str | None:
        """Why ``token`` refuses a request (a short reason), or None when it passes."""
        if self.token is None:
            return None
        expected = self.token.encode()
        given = [request.headers.get(LIVECHAT_TOKEN_HEADER),
                 body.get("token") if isinstance(body.get("token"), str) else None]
        if any(value and hmac.compare_digest(value.encode(), expected) for value in given):
            return None
        return f"neither its token nor its {LIVECHAT_TOKEN_HEADER} header is the channel's token"

    def is_own(self, found: WebhookMessage) -> bool:
        """Whether a message was posted by the bot's user (or another bot)."""
        if found.from_bot:
            return True
        names = {self.user.casefold()} | ({self._own_user_name.casefold()}
                                          if self._own_user_name else set())
        if found.user_name and found.user_name.casefold() in names:
            return True
        return bool(self._login and found.user_id == self._login[0])

    def metadata(self, found: WebhookMessage) -> dict[str, Any]:
        """The user message's metadata (Rasa's ``get_metadata``); override to change it."""
        return found.metadata

    def blueprint(self, on_message: OnMessage) -> Blueprint:
        from sanic.response import text

        from dialogflowlite.server import validation

        blueprint = self.health_blueprint()
        if self.token is None:
            logger.warning("rocketchat: no token in credentials.yml, so requests to "
                           "/webhooks/rocketchat/webhook are not verified; anyone who finds it "
                           "can write as any Rocket.Chat user")

        @blueprint.after_server_start
        async def log_in(app: Any) -> None:
            # a wrong password shows in the log at start, not at the first message
            if self._login is None:
                async with self._session() as session:
                    if await self.login(session) is None:
                        logger.info("rocketchat: logged in to %s as %s", self.server_url,
                                    self.user)

        @blueprint.post("/webhook", name="webhook")
        async def webhook(request: Request) -> HTTPResponse:
            body = validation.json_body(request)
            problem = self.refusal(request, body)
            if problem:
                raise refused("rocketchat", request, problem,
                              "the request is not verified by the channel's token")
            found = read_webhook(body)
            if found.text is not None and self.is_own(found):
                found.text, found.ignored = None, "it is the bot's own message"
            if found.text is None or found.room_id is None:
                logger.debug("rocketchat: a %s request was ignored: %s", found.kind,
                             found.ignored)
                return text("")
            # taken once (a re-delivery waits while its first delivery's turn runs here),
            # and settled in the work that outlives a cancelled request
            delivered = await handle_and_send(request, self.deliveries.handle_once(
                request, found.delivery_id, found.room_id,
                partial(self.handle, request, on_message, found, found.room_id, found.text,
                        failing=True)))
            if delivered.taken:
                # both webhooks send a request again when the answer is late or not a 2xx
                logger.info("rocketchat: message %s in room %s came again and was not handled "
                            "again", found.message_id, found.room_id)
            if delivered.answer is not None:
                raise delivered.answer
            return text("")

        return blueprint

    async def handle(self, request: Request, on_message: OnMessage, found: WebhookMessage,
                     room_id: str, user_text: str, *, failing: bool = False) -> int:
        """Run ``user_text`` in ``room_id`` through the bot and post the replies there; how
        many posts Rocket.Chat took.

        A turn that fails is logged; with ``failing``, its error is raised instead.
        """
        from dialogflowlite.dialogue.messages import IncomingMessage
        from dialogflowlite.server import validation

        limit = request.app.ctx.config.max_message_chars
        if len(user_text) > limit:
            logger.info("rocketchat: a message of %d characters in room %s was ignored (at "
                        "most %d are accepted)", len(user_text), room_id, limit)
            return 0
        try:
            replies = await on_message(IncomingMessage(
                user_text, sender_id=validation.sender_id(room_id, parameter="room id"),
                channel=self.name(), metadata=dict(self.metadata(found)),
                message_id=found.message_id))
        except Exception as e:
            if failing:
                raise
            # the traceback only where the failure is not one of ours
            logger.error("rocketchat: the message of conversation %r is lost: %s",
                         room_id, e, exc_info=not isinstance(e, DialogflowLiteError))
            return 0
        trigger = found.trigger_word if found.kind == "message" else None
        # stored by now: posts that fail are never worth a re-delivery
        try:
            return await self.send(room_id, replies, trigger)
        except Exception as e:
            logger.error("rocketchat: the replies in room %s could not be posted: %s", room_id,
                         e, exc_info=True)
            return 0
