"""The Twilio channel: Rasa's ``twilio`` connector, for SMS and WhatsApp through Twilio.

Twilio posts each message a user sends to the number (form-encoded) to the
webhook set for it in the Twilio console; the bot answers through Twilio's
REST API (``POST {api_url}/Accounts/{account_sid}/Messages.json``, form-encoded,
HTTP basic auth with the account SID and auth token). credentials.yml, Rasa's
keys first::

    twilio:
      account_sid: "ACbc2d..."           # the account's SID, from the Twilio console (required)
      auth_token: "e231c1..."            # the account's auth token (required)
      twilio_number: "+15551234567"      # the number replies come from (required);
                                         # "whatsapp:+15551234567" works too
      # settings of this channel only, not Rasa's:
      webhook_url: "https://example.com/webhooks/twilio/webhook"  # verifies every request
      api_url: "https://api.twilio.com/2010-04-01"   # Twilio's REST API, or a test stub
      timeout: 10                                    # seconds per REST API call

Routes under ``/webhooks/twilio``: ``GET /`` answers ``{"status": "ok"}``;
``POST /webhook`` takes a message and, once the turn is handled and its replies
are sent, answers 200 with an empty TwiML document (``<Response></Response>``,
``text/xml``): replies go out through the REST API, so there can be several. A
turn that fails for good (a bug, a refused message) is logged with its
conversation id and answered the same way, so Twilio does not count the
webhook as failing. A turn that failed before storing anything, for a reason
that may pass (a store that cannot be reached), has its ``MessageSid``
forgotten and is answered 503: Twilio delivers the message again when the
webhook URL asks for retries on errors (a connection override such as
``#rp=5xx``; by default Twilio retries only a connection that could not be
made), and otherwise records the failure in its debugger, while the log says
that the message is lost (Rasa answers 200 whatever happened). A message
Twilio delivers again (its ``MessageSid`` already taken, by any worker
sharing the lock store: :mod:`.deliveries`) is answered the same way and not
handled twice.

Security (Rasa checks nothing): with ``webhook_url``, the exact URL entered in
the Twilio console (behind a proxy the server cannot know it), a request must
carry a valid ``X-Twilio-Signature``: base64 of the HMAC-SHA1, keyed with the
auth token, of that URL followed by every POST parameter's name and value,
sorted by name. The URL is also tried with its default port added or removed,
as Twilio's own libraries do. Anything else gets 403 and a log line and is not
handled. Without ``webhook_url`` anyone who finds the route can write as any
phone number; the channel logs so once when it is mounted.

Incoming, as in Rasa: the conversation id is ``From`` (``+4915...`` for SMS,
``whatsapp:+4915...`` for WhatsApp) and the text is ``Body``, with ``¡`` read
as ``@`` in SMS (Rasa's fix for carriers whose GSM alphabet mangles ``@``).
Beyond Rasa: a tapped WhatsApp quick-reply button reads its ``ButtonPayload``;
a message without text reads a shared location as ``{"lng":13.4, "lat":52.5}``
(as Rasa's Telegram connector writes one) or else its first media URL, so a
photo reaches the bot instead of vanishing. A message with none of these is
answered and ignored. The metadata is ``{"twilio": {"message_sid", "to",
"profile_name", "media": [{"url", "content_type"}]}}``.

Outgoing, one REST call per message; ``To`` is the sender and ``From`` is
``twilio_number`` with the recipient's channel prefix (a ``whatsapp:`` sender
is answered from ``whatsapp:<number>`` even when the number is written bare,
an SMS sender from the bare number):

* text: each paragraph (blank-line separated) a message of its own, as in
  Rasa; a paragraph over Twilio's 1600 characters (counted in UTF-16 units,
  as emoji cost two) is split at line breaks or spaces;
* buttons: SMS has none, so they are appended to the last paragraph as
  numbered lines, ``1: Red`` (a link button as ``1: Docs https://...``).
  Rasa sends ``1: Red (/choose...)`` as one message per button; here the
  payload stays hidden and all buttons share one message. The user's reply
  reaches the bot as typed: NLU should know the titles (``1`` is not mapped);
* image: ``MediaUrl`` on the reply's last text message (one MMS or WhatsApp
  message with a caption), or a message of its own;
* custom: one message of Twilio parameters, named as in Rasa (the Python
  client's ``body``, ``media_url``, ``persistent_action``,
  ``messaging_service_sid``, ``content_sid``, ``content_variables``,
  ``status_callback``, ...) or as Twilio names them (``MediaUrl``); a list is
  a repeated parameter, an object is sent as JSON text. ``To`` and ``From``
  default as above (``messaging_service_sid`` replaces ``From``);
* attachment: the text ``Attachment: <it>`` (Rasa's default).

A call Twilio refuses (a status of 300 or more, with its error ``code`` and
``message``) or that gets no answer is logged with the recipient and Twilio's
reason, never the token; the turn stays stored and later messages are still
tried. Nothing is retried, not even a rate limit (429). Voice calls are
the ``twilio_voice`` channel's (:mod:`.twilio_voice`). Not supported: API keys
instead of the auth token, the Conversations API, delivery status callbacks.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit, urlunsplit

from dialogflowlite.errors import DialogflowLiteError
from dialogflowlite.server.channels.base import (
    InputChannel,
    OnMessage,
    handle_and_send,
    refused,
)
from dialogflowlite.server.channels.deliveries import RecentDeliveries
from dialogflowlite.server.channels.settings import ChannelSettings
from dialogflowlite.server.channels.text_pieces import split_text
from dialogflowlite.server.channels.vendor_http import vendor_request

if TYPE_CHECKING:
    import aiohttp
    from sanic import Blueprint, Request
    from sanic.response import HTTPResponse

logger = logging.getLogger(__name__)

DEFAULT_API_URL = "https://api.twilio.com/2010-04-01"

#: credentials.yml keys and their defaults; the first three are Rasa's
SETTINGS: dict[str, Any] = {
    "account_sid": None,
    "auth_token": None,
    "twilio_number": None,
    "webhook_url": None,
    "api_url": DEFAULT_API_URL,
    "timeout": 10.0,
}

SIGNATURE_HEADER = "X-Twilio-Signature"
#: the longest message body Twilio takes
MAX_BODY = 1600
#: what the webhook answers: no TwiML reply, the bot's replies go through the REST API
EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'

#: one message to send: Twilio's parameter names and their values (lists repeat)
TwilioMessage = dict[str, Any]


# ------------------------------------------------------------------ signatures


def signature(auth_token: str, url: str, params: dict[str, list[str]]) -> str:
    """Twilio's ``X-Twilio-Signature`` of a POST to ``url`` with form ``params``."""
    signed = url + "".join(name + value for name in sorted(params)
                           for value in sorted(set(params[name])))
    digest = hmac.new(auth_token.encode("utf-8"), signed.encode("utf-8"), hashlib.sha1).digest()
    return base64.b64encode(digest).decode("ascii")


def signature_problem(auth_token: str, webhook_url: str, signed: str | None,
                      params: dict[str, list[str]]) -> str | None:
    """Why a request to ``webhook_url`` is not one Twilio signed with ``auth_token``
    (a short reason), or None when it is."""
    if not signed:
        return f"no {SIGNATURE_HEADER} header"
    for url in url_variants(webhook_url):
        if hmac.compare_digest(signature(auth_token, url, params).encode(),
                               signed.strip().encode()):
            return None
    return f"the signature does not match webhook_url {webhook_url} and the auth token"


def signed_form(request: Request, problem_of: Callable[[str | None, dict[str, list[str]]],
                                                       str | None], channel: str
                ) -> dict[str, list[str]]:
    """The request's form parameters, after checking Twilio's signature over them.

    ``problem_of(signature, form)`` says why a request is not signed (None when
    it is, or when the channel verifies nothing); such a request is logged and
    refused with 403.
    """
    # parsed here, blank values kept: an empty parameter is part of what Twilio signs
    form = parse_qs((request.body or b"").decode("utf-8", errors="replace"),
                    keep_blank_values=True)
    problem = problem_of(request.headers.get(SIGNATURE_HEADER), form)
    if problem:
        raise refused(channel, request, problem,
                      f"the {SIGNATURE_HEADER} header is missing or wrong")
    return form


def url_variants(url: str) -> list[str]:
    """``url`` as written and with its default port toggled (Twilio may sign either)."""
    parts = urlsplit(url)
    default = {"https": 443, "http": 80}.get(parts.scheme)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    if parts.port is None and default:
        other = f"{host}:{default}"
    elif parts.port == default:
        other = host
    else:
        return [url]
    userinfo = parts.netloc.rpartition("@")[0]
    netloc = f"{userinfo}@{other}" if userinfo else other
    return [url, urlunsplit(parts._replace(netloc=netloc))]


# ------------------------------------------------------------------ messages in


def message_text(form: dict[str, list[str]]) -> str | None:
    """What a Twilio message says to the bot (see the module docs), or None."""
    def first(name: str) -> str:
        return (form.get(name) or [""])[0]

    if first("ButtonPayload").strip():
        return first("ButtonPayload")
    body = first("Body")
    if body.strip():
        # Rasa's fix: some SMS carriers turn @ into ¡; WhatsApp keeps both intact
        return body if first("From").startswith("whatsapp:") else body.replace("¡", "@")
    latitude, longitude = first("Latitude"), first("Longitude")
    if latitude and longitude:
        try:
            lat, lng = float(latitude), float(longitude)
        except ValueError:
            pass
        else:
            return f'{{"lng":{lng}, "lat":{lat}}}'
    media = first("MediaUrl0")
    return media or None


def message_metadata(form: dict[str, list[str]]) -> dict[str, Any]:
    """The ``{"twilio": {...}}`` metadata of an incoming message."""
    def first(name: str) -> str | None:
        return (form.get(name) or [None])[0]

    try:
        count = int(first("NumMedia") or 0)
    except ValueError:
        count = 0
    media = [{"url": first(f"MediaUrl{i}"), "content_type": first(f"MediaContentType{i}")}
             for i in range(count) if first(f"MediaUrl{i}")]
    return {"twilio": {"message_sid": first("MessageSid"), "to": first("To"),
                       "profile_name": first("ProfileName"), "media": media}}


# ------------------------------------------------------------------ messages out


def reply_messages(reply: dict[str, Any]) -> list[TwilioMessage]:
    """One REST-shaped bot reply as Twilio messages (without ``To``/``From``), in order."""
    messages: list[TwilioMessage] = []
    paragraphs = [part for part in str(reply.get("text") or "").strip().split("\n\n")
                  if part.strip()]
    lines = button_lines(reply.get("buttons"))
    if lines:
        paragraphs = [*paragraphs[:-1], "\n".join([*paragraphs[-1:], *lines])]
    for paragraph in paragraphs:
        messages.extend({"Body": piece} for piece in split_text(paragraph, MAX_BODY))
    if reply.get("image"):
        # the image rides on the last text, making one captioned message
        if messages:
            messages[-1]["MediaUrl"] = [str(reply["image"])]
        else:
            messages.append({"MediaUrl": [str(reply["image"])]})
    custom = reply.get("custom")
    if isinstance(custom, dict):
        messages.append(custom_message(custom))
    elif custom is not None:
        logger.warning("twilio: a custom payload that is not a JSON object was not sent (%s)",
                       type(custom).__name__)
    if reply.get("attachment"):
        attachment = reply["attachment"]
        shown = attachment if isinstance(attachment, str) else json.dumps(attachment)
        messages.append({"Body": f"Attachment: {shown}"})
    return messages


def button_lines(buttons: Any) -> list[str]:
    """Rasa buttons as numbered text lines, ``1: Red`` (``1: Docs https://...`` for a link)."""
    lines = []
    for button in buttons or []:
        if not isinstance(button, dict):
            continue
        title = str(button.get("title") or button.get("payload") or button.get("url") or "")
        url = button.get("url")
        shown = f"{title} {url}" if url and str(url) != title else title
        lines.append(f"{len(lines) + 1}: {shown}")
    return lines


def custom_message(custom: dict[str, Any]) -> TwilioMessage:
    """A ``custom`` payload's keys as Twilio parameters: ``media_url`` is ``MediaUrl``."""
    message: TwilioMessage = {}
    for key, value in custom.items():
        name = "From" if key in ("from_", "from") else (
            key if key[:1].isupper() else "".join(p.capitalize() for p in key.split("_")))
        if isinstance(value, list):
            message[name] = [_form_value(v) for v in value]
        elif value is not None:
            message[name] = _form_value(value)
    return message


def _form_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        # content_variables and the like are JSON text in Twilio's API
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def sender_number(twilio_number: str, recipient: str) -> str:
    """``twilio_number`` with ``recipient``'s channel prefix (``whatsapp:``) or without any."""
    prefix = recipient.partition(":")[0] + ":" if ":" in recipient else ""
    bare = twilio_number.partition(":")[2] if ":" in twilio_number else twilio_number
    return prefix + bare


# ------------------------------------------------------------------ the channel


class TwilioChannel(InputChannel):
    """Rasa's Twilio connector: SMS and WhatsApp messages in at a webhook, out by REST API."""

    channel_name = "twilio"

    def __init__(self, config: dict[str, Any] | None = None) -> None:
        super().__init__(config)
        settings = ChannelSettings(self.channel_name, self.config, SETTINGS)

        self.account_sid = settings.required_text(
            "account_sid", "the Account SID (AC...) on the Twilio console's dashboard")
        if not self.account_sid.startswith("AC"):
            raise settings.error("`account_sid` must be the Account SID, "
                              "which starts with AC",
                              hint="API keys (SK...) are not supported: use the Account SID "
                                   "and its auth token")
        self.auth_token = settings.required_text(
            "auth_token", "the Auth Token beside the Account SID on the console")
        number = settings["twilio_number"]
        if isinstance(number, int) and not isinstance(number, bool):
            # YAML reads an unquoted +15551234567 as a number and drops the +
            raise settings.error("`twilio_number` was read as a number",
                              hint='quote it: twilio_number: "+15551234567"')
        self.twilio_number = settings.required_text(
            "twilio_number", 'the Twilio number replies come from, such as "+15551234567" or '
            '"whatsapp:+15551234567"')

        self.api_url = settings.http_url("api_url")
        # the signature covers the URL exactly as entered in the console
        self.webhook_url = settings.http_url(
            "webhook_url", 'the URL set in the Twilio console, e.g. '
            '"https://example.com/webhooks/twilio/webhook"', exact=True)
        self.timeout = settings.positive_seconds("timeout")
        self.deliveries = RecentDeliveries(self.name())

    # -------------------------------------------------------------- incoming

    def signature_problem(self, signed: str | None, params: dict[str, list[str]]) -> str | None:
        """Why a request is not one Twilio signed (a short reason), or None when it is."""
        if self.webhook_url is None:
            return None
        return signature_problem(self.auth_token, self.webhook_url, signed, params)

    def metadata(self, form: dict[str, list[str]]) -> dict[str, Any]:
        """The user message's metadata (Rasa's ``get_metadata``); override to change it."""
        return message_metadata(form)

    def blueprint(self, on_message: OnMessage) -> Blueprint:
        from sanic.response import text

        blueprint = self.health_blueprint()
        if self.webhook_url is None:
            logger.warning("twilio: no webhook_url in credentials.yml, so requests to "
                           "/webhooks/twilio/webhook are not verified; anyone who finds it "
                           "can write as any phone number")

        def answer() -> HTTPResponse:
            return text(EMPTY_TWIML, content_type="text/xml; charset=utf-8")

        @blueprint.post("/webhook", name="webhook")
        async def webhook(request: Request) -> HTTPResponse:
            form = signed_form(request, self.signature_problem, "twilio")
            sender = (form.get("From") or [""])[0]
            user_text = message_text(form)
            if not sender or user_text is None:
                logger.debug("twilio: a message without sender, text or media was ignored")
                return answer()
            message_sid = (form.get("MessageSid") or [""])[0] or None
            # checked after the signature, so that nobody else can make the bot skip one;
            # taken once (a re-delivery waits while its first delivery's turn runs here),
            # and settled in the work that outlives a cancelled request
            delivered = await handle_and_send(request, self.deliveries.handle_once(
                request, message_sid, sender,
                partial(self.handle, request, on_message, sender, user_text, form,
                        failing=True),
                unless="the webhook URL asks Twilio to retry (#rp=5xx)"))
            if delivered.taken:
                logger.info("twilio: message %s from %s came again and was not handled again "
                            "(Twilio may retry a webhook call that failed or timed out)",
                            message_sid, sender)
            if delivered.answer is not None:
                raise delivered.answer
            return answer()

        return blueprint

    async def handle(self, request: Request, on_message: OnMessage, sender: str,
                     user_text: str, form: dict[str, list[str]], *,
                     failing: bool = False) -> int:
        """Run one message through the bot and send its replies; how many Twilio accepted.

        A turn that fails is logged; with ``failing``, its error is raised instead.
        """
        from dialogflowlite.dialogue.messages import IncomingMessage
        from dialogflowlite.server import validation

        limit = request.app.ctx.config.max_message_chars
        if len(user_text) > limit:
            logger.info("twilio: a message of %d characters from %s was ignored (at most %d "
                        "are accepted)", len(user_text), sender, limit)
            return 0
        try:
            message = IncomingMessage(
                user_text, sender_id=validation.sender_id(sender), channel=self.name(),
                metadata=dict(self.metadata(form)),
                message_id=(form.get("MessageSid") or [None])[0])
            replies = await on_message(message)
        except Exception as e:
            if failing:
                raise
            logger.error("twilio: the message of conversation %r is lost: %s", sender, e,
                         exc_info=not isinstance(e, DialogflowLiteError))
            return 0
        # stored by now: replies that cannot be sent are never worth a retry
        try:
            return await self.send(message.sender_id, replies)
        except Exception as e:
            logger.error("twilio: the replies to %r could not be sent: %s", sender, e,
                         exc_info=True)
            return 0

    # -------------------------------------------------------------- outgoing

    async def send(self, recipient: str, replies: list[dict[str, Any]]) -> int:
        """Send the bot's replies to ``recipient`` in order; how many messages Twilio accepted."""
        import aiohttp

        messages = [message for reply in replies for message in reply_messages(reply)]
        if not messages:
            return 0
        sent = 0
        auth = aiohttp.BasicAuth(self.account_sid, self.auth_token)
        timeout = aiohttp.ClientTimeout(total=self.timeout)
        async with aiohttp.ClientSession(auth=auth, timeout=timeout) as session:
            for message in messages:
                params = {"To": recipient, **message}
                if "From" not in params and "MessagingServiceSid" not in params:
                    params["From"] = sender_number(self.twilio_number, str(params["To"]))
                problem = await self._post(session, params)
                if problem is None:
                    sent += 1
                else:
                    logger.error("twilio: a message to %s was not sent (%s)", params["To"],
                                 problem)
        return sent

    async def send_to(self, sender_id: str, replies: list[dict[str, Any]]) -> bool:
        """Send ``replies`` to the number ``sender_id`` (the conversation id is the user's
        number, ``whatsapp:`` prefix and all)."""
        await self.send(sender_id, replies)
        return True

    async def _post(self, session: aiohttp.ClientSession, params: TwilioMessage) -> str | None:
        """Why Twilio did not take the message, or None when it did."""
        form = [(name, value) for name, values in params.items()
                for value in (values if isinstance(values, list) else [values])]
        url = f"{self.api_url}/Accounts/{self.account_sid}/Messages.json"
        answer = await vendor_request(session, "POST", url, data=form, secrets=[self.auth_token])
        if answer.failure is not None:
            return answer.failure
        if answer.ok:
            return None
        if answer.field("message"):
            code = f"Twilio error {answer.field('code')}: " if answer.field("code") else ""
            return f"status {answer.status}, {code}{answer.field('message')}"
        return f"status {answer.status}"
