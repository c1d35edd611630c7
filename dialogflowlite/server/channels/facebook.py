"""The Facebook channel: Rasa's ``facebook`` connector for Messenger, over the Graph API.

Facebook posts the events of a page's conversations (JSON, signed with the
app secret) to the webhook; the bot answers with Send API calls
(``POST {api_url}/me/messages?access_token=<page token>``). credentials.yml,
Rasa's keys first::

    facebook:
      verify: "my-verify-token"        # the token Facebook echoes when subscribing the webhook
      secret: "app-secret"             # the app secret every POST is signed with
      page-access-token: "EAAB..."     # the page token replies are sent with
      # settings of this channel only, not Rasa's:
      api_url: "https://graph.facebook.com/v18.0"   # the Graph API (a test stub, say)
      timeout: 10                                   # seconds per Graph API call

All three of Rasa's keys are required. Routes under ``/webhooks/facebook``:
``GET /`` answers ``{"status": "ok"}``; ``GET /webhook`` is Facebook's
subscription check: it answers ``hub.challenge`` (as text) when
``hub.verify_token`` is ``verify``, else 403 (Rasa answers 200 with a failure
text; Facebook treats both as a refusal); ``POST /webhook`` takes events.

Every POST must carry ``X-Hub-Signature-256`` (``sha256=`` and the hex
HMAC-SHA256 of the raw body with ``secret``) or, as Rasa checks,
``X-Hub-Signature`` (``sha1=``...); the SHA-256 one is checked when both
are sent. A missing or wrong signature gets 403 and a log line, and nothing
in the body is handled: only Facebook knows the secret.

Each ``entry[].messaging[]`` item becomes a user message as in Rasa, in order
(Rasa stops after the first item; Facebook may batch several). The
conversation id is ``sender.id``, the user's page-scoped id:

* a quick reply: its ``payload`` (a quick reply also has a text, the title);
* a text message: the text;
* a message of attachments only: the URL of the first image, audio, video
  or file, as in Rasa;
* a postback (a button of a template pressed, Get Started): its ``payload``.

A message Facebook delivers again (its ``mid`` already handled by a worker
sharing the lock store, :mod:`.deliveries`: Facebook resends what was not
answered within 20 seconds) is
answered and not handled twice. Echoes of the page's own messages, delivery
and read receipts, reactions,
referrals and the like are answered 200 and ignored. The message metadata is
``{"facebook": {"kind", "page_id", "message_id"}}`` (Rasa's is empty). As in
Rasa, the user's message is marked seen and a typing indicator shown while
the bot thinks (``sender_action``); when the turn sends nothing, the indicator
is turned off. The webhook answers ``success`` once every item is handled and
its replies sent. A turn that failed before storing anything, for a reason
that may pass (a store that cannot be reached), has its ``mid`` forgotten and
the request answered 503 once the other items are handled, so that Facebook
delivers the message again (Rasa answers 200, and the message is lost); any
other failed turn is logged with its conversation id and answered 200, as
Facebook would otherwise resend it for hours, to fail each time. Facebook
delivers the whole batch again after a 503, so the items of the same sender
after one asked for again (its turn failed so, or a re-delivery of it found
its first turn still running) are left untouched for that delivery, which
handles them in the order sent; the items handled already are skipped then
as taken.

Replies go to the sender, each part a Send API call with ``messaging_type:
RESPONSE`` (``UPDATE`` for messages the HTTP API's ``output_channel`` pushes
unasked), in Rasa's order:

* text: each paragraph (blank-line separated) a message of its own, as Rasa
  sends them, and anything over Messenger's 2000 characters split at line
  breaks or spaces rather than cut off;
* text with buttons: a button template (a ``postback`` button per payload, a
  ``web_url`` button for a button with a ``url``; a button that names its own
  Messenger ``type`` goes as written, as in Rasa). A template holds at most 3
  buttons and 640 characters of text: for more, Rasa drops the buttons and
  sends the text; here they go out as quick replies on the (last piece of
  the) text instead, at most 13 (Messenger's limit, the rest is logged and
  dropped), with link buttons as ``title: url`` lines of the text. Messenger
  shows no buttons alone (Rasa sends a template without a text, which
  Messenger refuses), so buttons or quick replies without a text ride on the
  text sent just before them, and with no such text go out under ``…``, with
  a warning naming the recipient (:mod:`.lone_buttons`);
* text with ``quick_replies``: quick replies with ``content_type: text``, or
  the option's own ``content_type`` (``user_email``, ``user_phone_number``);
* ``custom`` JSON: sent as the ``message`` itself (a list: each item), a
  ``sender: {"id": ...}`` in it sending it elsewhere, as in Rasa;
* an image: an ``image`` attachment by URL;
* an ``attachment``: the text ``Attachment: ...`` (Rasa's default);
* ``elements``: one generic template holding every card, as in Rasa.

A Send API call that fails (an error status, a Graph API ``error`` in the
answer, no answer within ``timeout``) is logged with the recipient and
Facebook's message, never the token; the turn is stored either way and the
later replies are still tried. Rate limits are not retried; uploads, the
handover protocol, one-time notifications and message tags are not supported.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING, Any

from dialogflowlite.server.channels.base import (
    InputChannel,
    OnMessage,
    handle_and_send,
    refused,
)
from dialogflowlite.server.channels.deliveries import RecentDeliveries
from dialogflowlite.server.channels.json_fields import as_dict, as_list, text_id
from dialogflowlite.server.channels.lone_buttons import LONE_BUTTONS_TEXT, buttons_on_texts
from dialogflowlite.server.channels.settings import ChannelSettings
from dialogflowlite.server.channels.text_pieces import split_text, utf16_length
from dialogflowlite.server.channels.vendor_http import client_session, hide, vendor_request
from dialogflowlite.shared import safe_json

if TYPE_CHECKING:
    import aiohttp
    from sanic import Blueprint, Request
    from sanic.response import HTTPResponse

logger = logging.getLogger(__name__)

#: seconds the replies wait, after the turn, for the read and typing indicators
INDICATOR_WAIT = 1.0

DEFAULT_API_URL = "https://graph.facebook.com/v18.0"

#: credentials.yml keys and their defaults; the first three are Rasa's
SETTINGS: dict[str, Any] = {
    "verify": None,
    "secret": None,
    "page-access-token": None,
    "api_url": DEFAULT_API_URL,
    "timeout": 10.0,
}

#: signature headers, the preferred one first, and the hash each names
SIGNATURE_HEADERS = (("X-Hub-Signature-256", "sha256"), ("X-Hub-Signature", "sha1"))

# Messenger's limits (text counted in UTF-16 units: never more than Facebook counts)
MAX_TEXT = 2000
MAX_TEMPLATE_TEXT = 640
MAX_TEMPLATE_BUTTONS = 3
MAX_QUICK_REPLIES = 13

#: attachment kinds whose URL becomes the user's text (Rasa's)
ATTACHMENT_TYPES = ("image", "audio", "video", "file")


def signature_problem(secret: str, headers: Mapping[str, str], body: bytes) -> str | None:
    """Why a request is not one Facebook signed with ``secret`` (a short reason), or None."""
    sent = [(header, algorithm) for header, algorithm in SIGNATURE_HEADERS if headers.get(header)]
    if not sent:
        return "no X-Hub-Signature-256 or X-Hub-Signature header"
    header, algorithm = sent[0]
    method, _, digest = str(headers[header]).strip().partition("=")
    if method.lower() != algorithm or not digest:
        return f"the {header} header is not `{algorithm}=<hex digest>`"
    expected = hmac.new(secret.encode("utf-8"), body, getattr(hashlib, algorithm)).hexdigest()
    if not hmac.compare_digest(expected.encode(), digest.lower().encode("utf-8")):
        return f"the {header} does not match the app secret"
    return None


# ------------------------------------------------------------------ events in


@dataclass
class MessengerEvent:
    """One ``messaging`` item of a webhook call, as the bot sees it.

    ``text`` is the user's message (None when there is nothing to handle,
    ``ignored`` then says why).
    """

    kind: str
    sender_id: str | None = None
    text: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    ignored: str = ""
    #: the message's ``mid``, the same in every delivery of it
    message_id: str | None = None


def read_events(body: Any) -> list[MessengerEvent]:
    """The ``messaging`` items of every entry of a webhook body, read in order."""
    entries = as_list(as_dict(body).get("entry"))
    return [read_event(item) for entry in entries
            for item in as_list(as_dict(entry).get("messaging"))]


def read_event(item: Any) -> MessengerEvent:
    """The user message in one ``messaging`` item, read as Rasa's connector reads it."""
    if not isinstance(item, dict):
        return MessengerEvent("unknown", ignored="the item is not a JSON object")
    sender = text_id(as_dict(item.get("sender")).get("id"))
    message, postback = item.get("message"), item.get("postback")
    if isinstance(message, dict):
        if message.get("is_echo"):
            return MessengerEvent("echo", sender, ignored="an echo of the page's own message")
        payload = as_dict(message.get("quick_reply")).get("payload")
        # a quick reply carries its title as text too: the payload is what it means
        if isinstance(payload, str) and payload:
            kind, text = "quick_reply", payload
        elif isinstance(message.get("text"), str) and message["text"]:
            kind, text = "text", message["text"]
        else:
            kind, text = "attachment", _attachment_url(message.get("attachments"))
        mid = message.get("mid")
    elif isinstance(postback, dict):
        payload = postback.get("payload")
        kind, mid = "postback", postback.get("mid")
        text = payload if isinstance(payload, str) else None
    else:
        kinds = [key for key in item if key not in ("sender", "recipient", "timestamp")]
        return MessengerEvent(kinds[0] if kinds else "unknown", sender,
                              ignored="events of this kind are not handled")
    details = {"kind": kind, "page_id": text_id(as_dict(item.get("recipient")).get("id")),
               "message_id": mid}
    found = MessengerEvent(kind, sender, text or None,
                           {"facebook": {k: v for k, v in details.items() if v is not None}},
                           message_id=text_id(mid))
    if found.sender_id is None:
        found.text, found.ignored = None, "the item names no sender"
    elif found.text is None:
        found.ignored = "it has no text, payload or attachment URL"
    return found


def _attachment_url(attachments: Any) -> str | None:
    for attachment in map(as_dict, as_list(attachments)):
        url = as_dict(attachment.get("payload")).get("url")
        if attachment.get("type") in ATTACHMENT_TYPES and isinstance(url, str) and url:
            return url
    return None


# ------------------------------------------------------------------ replies out


def reply_bodies(reply: dict[str, Any], recipient_id: str,
                 messaging_type: str = "RESPONSE") -> list[dict[str, Any]]:
    """The Send API bodies of one bot reply to ``recipient_id``, in order.

    ``messaging_type`` is Facebook's: ``RESPONSE`` answers a user's message,
    ``UPDATE`` is sent unasked.
    """
    messages: list[tuple[str, dict[str, Any]]] = []

    def add(message: dict[str, Any], to: str = recipient_id) -> None:
        messages.append((to, message))

    text = str(reply.get("text") or "").strip()
    options = [q for q in reply.get("quick_replies") or [] if isinstance(q, dict)]
    buttons = [b for b in reply.get("buttons") or [] if isinstance(b, dict)]
    if (options or buttons) and not text:
        logger.warning("facebook: a reply to %s has buttons but no text, and no text comes "
                       "just before them; Messenger shows none alone, so they go out under "
                       "the text %r (give the response or message a text)", recipient_id,
                       LONE_BUTTONS_TEXT)
        text = LONE_BUTTONS_TEXT
    if options:
        for message in with_quick_replies(text, [quick_reply(o) for o in options], recipient_id):
            add(message)
    elif buttons:
        for message in button_messages(text, buttons, recipient_id):
            add(message)
    elif text:
        # Rasa sends each paragraph as a message of its own
        for part in text.split("\n\n"):
            for piece in split_text(part.strip(), MAX_TEXT):
                add({"text": piece})

    custom = reply.get("custom")
    for item in custom if isinstance(custom, list) else [custom] if custom is not None else []:
        if not isinstance(item, dict):
            logger.warning("facebook: a custom payload for %s is not a JSON object; nothing "
                           "was sent for it", recipient_id)
            continue
        item = dict(item)
        # Rasa's way to send a custom message to someone else
        target = text_id(as_dict(item.pop("sender", None)).get("id")) or recipient_id
        add(item, target)
    if reply.get("image"):
        add({"attachment": {"type": "image", "payload": {"url": str(reply["image"])}}})
    attachment = reply.get("attachment")
    if attachment:
        shown = attachment if isinstance(attachment, str) else json.dumps(attachment)
        for piece in split_text(f"Attachment: {shown}", MAX_TEXT):
            add({"text": piece})
    elements = [e for e in reply.get("elements") or [] if isinstance(e, dict)]
    if elements:
        elements = [{**e, "buttons": [messenger_button(b) for b in e["buttons"]
                                      if isinstance(b, dict)]}
                    if isinstance(e.get("buttons"), list) else e for e in elements]
        add({"attachment": {"type": "template", "payload": {"template_type": "generic",
                                                            "elements": elements}}})
    return [{"recipient": {"id": to}, "messaging_type": messaging_type, "message": message}
            for to, message in messages]


def messenger_button(button: dict[str, Any]) -> dict[str, Any]:
    """A Rasa button as a Messenger template button: a link with a ``url``, else a postback."""
    if button.get("type"):
        # written for Messenger already (phone_number, account_link, ...): as Rasa sends it
        return dict(button)
    title = _title(button)
    if button.get("url"):
        return {"type": "web_url", "title": title, "url": str(button["url"])}
    return {"type": "postback", "title": title, "payload": _payload(button)}


def quick_reply(option: dict[str, Any]) -> dict[str, Any]:
    """A Rasa button or quick reply as a Messenger quick reply."""
    content_type = str(option.get("content_type") or "text")
    if content_type != "text":
        # user_email and user_phone_number offer the user's own; they have no title
        return {"content_type": content_type}
    found = {"content_type": "text", "title": _title(option), "payload": _payload(option)}
    if option.get("image_url"):
        found["image_url"] = str(option["image_url"])
    return found


def button_messages(text: str, buttons: list[dict[str, Any]],
                    recipient_id: str = "") -> list[dict[str, Any]]:
    """A text with buttons: one button template when it fits, else text with quick replies."""
    if len(buttons) <= MAX_TEMPLATE_BUTTONS and utf16_length(text) <= MAX_TEMPLATE_TEXT:
        return [{"attachment": {"type": "template", "payload": {
            "template_type": "button", "text": text,
            "buttons": [messenger_button(b) for b in buttons]}}}]
    # Rasa drops the buttons here; quick replies keep every choice a tap away
    options, links = [], []
    for button in buttons:
        made = messenger_button(button)
        if made["type"] == "postback":
            options.append(quick_reply(made))
        elif made["type"] == "web_url":
            links.append(f"{made.get('title') or made['url']}: {made['url']}")
        else:
            logger.warning("facebook: a %r button to %s cannot be a quick reply and was left "
                           "out (a template holds 3 buttons and 640 characters)", made["type"],
                           recipient_id)
    full = "\n".join([text, *links])
    return with_quick_replies(full, options, recipient_id)


def with_quick_replies(text: str, options: list[dict[str, Any]],
                       recipient_id: str = "") -> list[dict[str, Any]]:
    """``text`` in messages of at most 2000 characters, ``options`` on the last one."""
    if len(options) > MAX_QUICK_REPLIES:
        logger.warning("facebook: a reply to %s has %d choices, Messenger shows %d quick "
                       "replies; the rest were left out", recipient_id, len(options),
                       MAX_QUICK_REPLIES)
        options = options[:MAX_QUICK_REPLIES]
    messages: list[dict[str, Any]] = [{"text": piece} for piece in split_text(text, MAX_TEXT)]
    if messages and options:
        messages[-1]["quick_replies"] = options
    return messages


def _title(button: dict[str, Any]) -> str:
    title = button.get("title")
    return str(title if title not in (None, "") else button.get("payload") or "")


def _payload(button: dict[str, Any]) -> str:
    payload = button.get("payload")
    return str(payload) if payload not in (None, "") else _title(button)


# ------------------------------------------------------------------ the channel


class FacebookChannel(InputChannel):
    """Rasa's Facebook Messenger connector: signed page events in, Send API replies out."""

    channel_name = "facebook"
    rich_replies = True

    def __init__(self, config: dict[str, Any] | None = None) -> None:
        super().__init__(config)
        settings = ChannelSettings(self.channel_name, self.config, SETTINGS)
        self.verify = settings.required_text("verify", "the verify token you typed when "
                                             "subscribing the webhook in the app's Messenger "
                                             "settings")
        self.secret = settings.required_text("secret", "the App Secret from the app's Basic "
                                             "settings; Facebook signs every event with it")
        self.page_access_token = settings.required_text(
            "page-access-token", "the page's access token from the app's Messenger settings")
        self.api_url = settings.http_url("api_url")
        self.timeout = settings.positive_seconds("timeout")
        self.deliveries = RecentDeliveries(self.name())

    # -------------------------------------------------------------- Send API

    def _session(self) -> aiohttp.ClientSession:
        return client_session(self.timeout)

    async def post(self, session: aiohttp.ClientSession, body: dict[str, Any]) -> str | None:
        """One Send API call; why it failed, or None when Facebook took it."""
        # the token is part of the URL an error may quote
        answer = await vendor_request(session, "POST", f"{self.api_url}/me/messages", json=body,
                                      params={"access_token": self.page_access_token},
                                      secrets=[self.page_access_token])
        if answer.failure is not None:
            return answer.failure
        # the Graph API may answer 200 with an error object, so both are checked
        error = answer.field("error")
        if answer.ok and error is None:
            return None
        problem = f"status {answer.status}"
        if isinstance(error, dict) and error.get("message"):
            problem += f": {error['message']}"
            if error.get("code") is not None:
                problem += f" (code {error['code']})"
        return hide(problem, [self.page_access_token])

    async def send(self, recipient_id: str, replies: list[dict[str, Any]],
                   messaging_type: str = "RESPONSE") -> int:
        """Send the bot's replies to a user in order; how many messages Facebook took.

        ``messaging_type`` as for :func:`reply_bodies`.
        """
        bodies = [body for reply in buttons_on_texts(replies)
                  for body in reply_bodies(reply, recipient_id, messaging_type)]
        if not bodies:
            return 0
        sent = 0
        async with self._session() as session:
            for body in bodies:
                problem = await self.post(session, body)
                if problem is None:
                    sent += 1
                else:
                    logger.error("facebook: a message to %s was not sent (%s)",
                                 body["recipient"]["id"], problem)
        return sent

    async def send_to(self, sender_id: str, replies: list[dict[str, Any]]) -> bool:
        """Send ``replies`` to the user ``sender_id`` (the conversation id is the page-scoped id).

        They go as ``UPDATE``, Facebook's type for messages that answer none of
        the user's. Messenger delivers those only within 24 hours of the user's
        latest message; when Facebook refuses one, that is logged.
        """
        await self.send(sender_id, replies, "UPDATE")
        return True

    async def sender_action(self, recipient_id: str, *actions: str) -> bool:
        """Send ``mark_seen``, ``typing_on`` or ``typing_off`` in turn; whether all went
        out. A failure is only a warning, and the actions after it are not sent: a Graph
        API that did not answer one would make each of them wait its ``timeout`` too."""
        async with self._session() as session:
            for action in actions:
                problem = await self.post(session, {"recipient": {"id": recipient_id},
                                                    "sender_action": action})
                if problem:
                    logger.warning("facebook: %s for %s was not sent (%s)", action,
                                   recipient_id, problem)
                    return False
        return True

    # -------------------------------------------------------------- routes

    def metadata(self, event: MessengerEvent) -> dict[str, Any]:
        """The metadata of the user message (Rasa's ``get_metadata``); override to change it."""
        return event.metadata

    def blueprint(self, on_message: OnMessage) -> Blueprint:
        from sanic.response import text

        from dialogflowlite.errors import ApiError

        blueprint = self.health_blueprint()

        @blueprint.get("/webhook", name="verify")
        async def verify(request: Request) -> HTTPResponse:
            given = request.args.get("hub.verify_token") or ""
            if not hmac.compare_digest(given.encode("utf-8"), self.verify.encode("utf-8")):
                logger.warning("facebook: a webhook subscription with a wrong hub.verify_token "
                               "was refused; it must equal `verify` in credentials.yml")
                raise ApiError(403, "NotAuthorized", "hub.verify_token is not this bot's "
                               "verify token")
            return text(request.args.get("hub.challenge") or "")

        @blueprint.post("/webhook", name="webhook")
        async def webhook(request: Request) -> HTTPResponse:
            problem = signature_problem(self.secret, request.headers, request.body or b"")
            if problem:
                raise refused("facebook", request, f"{problem}; check `secret` in "
                              "credentials.yml", "the request is not signed by Facebook with "
                              "this app's secret")
            try:
                events = read_events(safe_json.loads(request.body or b""))
            except (ValueError, UnicodeDecodeError):
                logger.warning("facebook: a signed request whose body is not JSON was ignored")
                events = []
            retry = None
            # senders whose message is asked for again: Facebook's next delivery of the
            # batch brings their later messages too, to be handled after that one
            held_back: set[str] = set()
            for event in events:
                if event.text is None or event.sender_id is None:
                    logger.debug("facebook: an event (%s) was ignored: %s", event.kind,
                                 event.ignored)
                    continue
                if event.sender_id in held_back:
                    logger.info("facebook: message %s from %s was left for Facebook's next "
                                "delivery, to be handled after the earlier message asked for "
                                "again", event.message_id, event.sender_id)
                    continue
                # taken once (a re-delivery waits while its first delivery's turn runs
                # here), and settled in the work that outlives a cancelled request; the
                # other senders' events are handled all the same, and a re-delivery of
                # the batch skips those taken
                delivered = await handle_and_send(request, self.deliveries.handle_once(
                    request, event.message_id, event.sender_id,
                    partial(self._handle, request, on_message, event)))
                if delivered.taken:
                    logger.info("facebook: message %s from %s came again and was not handled "
                                "again (Facebook resends what it thinks went unanswered)",
                                event.message_id, event.sender_id)
                if delivered.answer is not None:
                    held_back.add(event.sender_id)
                    retry = delivered.answer
            if retry is not None:
                raise retry
            return text("success")

        return blueprint

    async def _handle(self, request: Request, on_message: OnMessage,
                      event: MessengerEvent) -> Exception | None:
        """Run ``event``'s message through the bot and send the replies; the error of a
        turn that failed (see :meth:`RecentDeliveries.after_failed_turn
        <dialogflowlite.server.channels.deliveries.RecentDeliveries.after_failed_turn>`),
        else None."""
        from dialogflowlite.dialogue.messages import IncomingMessage
        from dialogflowlite.errors import DialogflowLiteError
        from dialogflowlite.server import validation

        user_text = str(event.text)
        try:
            sender = validation.sender_id(event.sender_id)
        except DialogflowLiteError as e:
            logger.warning("facebook: a message from %.40r was ignored: %s", event.sender_id, e)
            return None
        limit = request.app.ctx.config.max_message_chars
        if len(user_text) > limit:
            logger.info("facebook: a message of %d characters from %s was ignored (at most %d "
                        "are accepted)", len(user_text), sender, limit)
            return None
        sent = 0
        failed: Exception | None = None
        # as Rasa: the user sees the message read and the bot typing while it thinks. They
        # go out beside the turn, not before it: a Graph API that does not answer held
        # each of them for its timeout, and the webhook's answer past Facebook's 20 s
        indicators = asyncio.ensure_future(self.sender_action(sender, "mark_seen",
                                                              "typing_on"))
        try:
            try:
                message = IncomingMessage(user_text, sender_id=sender, channel=self.name(),
                                          metadata=dict(self.metadata(event)))
                replies = await on_message(message)
            except Exception as e:
                failed = e
            typing = await self._indicators_sent(indicators)
        finally:
            indicators.cancel()  # a cancelled turn leaves no indicator call behind
        if failed is None:
            # stored by now: a reply that cannot be sent is never worth a re-delivery
            try:
                sent = await self.send(sender, replies)
            except Exception as e:
                logger.error("facebook: the replies to %s could not be sent: %s", sender, e,
                             exc_info=True)
        if not sent and typing is not False:
            # a message sent ends the indicator; without one it would spin for 20 seconds
            # (also when the indicators were given up: typing_on may have arrived)
            await self.sender_action(sender, "typing_off")
        return failed

    @staticmethod
    async def _indicators_sent(indicators: asyncio.Future[bool]) -> bool | None:
        """Whether the read and typing indicators went out (None: not known), waiting a
        moment for them, so that they come before the replies; still on their way by
        then, they are given up and their call ended before the replies go: the replies
        do not wait for what only decorates them."""
        done, _ = await asyncio.wait({indicators}, timeout=INDICATOR_WAIT)
        if not done:
            indicators.cancel()
            await asyncio.gather(indicators, return_exceptions=True)
            return None
        try:
            return bool(indicators.result())
        except Exception as e:  # a cosmetic call: its failure is no failure of the turn
            logger.warning("facebook: the read and typing indicators failed: %s", e)
            return False
