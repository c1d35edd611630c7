"""The Bot Framework channel: Rasa's ``botframework`` connector, for Azure Bot Service.

Azure Bot Service relays Microsoft Teams, Web Chat, Direct Line and its other
channels to the bot as Activity JSON; the bot answers through the Bot
Connector API at the activity's ``serviceUrl``, with an access token from
Microsoft's login service. credentials.yml, Rasa's keys first::

    botframework:
      app_id: "MICROSOFT_APP_ID"              # the bot's Microsoft App ID (required)
      app_password: "MICROSOFT_APP_PASSWORD"  # a client secret of that app (required)
      # settings of this channel only, not Rasa's:
      login_url: "https://login.microsoftonline.com/botframework.com/oauth2/v2.0/token"
      timeout: 10                             # seconds per call to the login service or connector

Routes under ``/webhooks/botframework``: ``GET /`` answers ``{"status": "ok"}``;
``POST /webhook`` (the messaging endpoint set in Azure) takes an activity and
answers ``success`` once the turn is handled and its replies sent, also when
the turn fails (that is logged).

Security: the JWT Bot Framework sends in ``Authorization`` is verified, as
Rasa does since 3.1.3 (:mod:`~dialogflowlite.server.channels.botframework_auth`:
Microsoft's published keys, the app id as audience, the issuer, expiry and
the ``serviceUrl`` claim); a request without a valid one gets 401 (with a
``Bearer`` challenge, as HTTP asks of a 401) and is not handled. A token
that cannot be checked because Microsoft's signing keys cannot be fetched
(an outage on the bot's side) gets 503 with ``Retry-After`` instead, and is
not handled either: Bot Framework delivers it again, where after a 401 it
would not (Rasa fetches the keys when it starts and does not start without
them; later it answers 401 for a key it lacks, or 500 when a refresh cannot
connect).
``verify_tokens: false`` turns that off (for the Bot Framework Emulator,
say), with a warning when mounted. The bot's access token goes
only to a ``serviceUrl`` whose host is one of ``service_url_hosts``
(Microsoft's connector domains by default, a host or any of its
subdomains), so an activity cannot send the token elsewhere.

Incoming, as in Rasa: ``message`` activities are user messages from
``from.id``; other types (conversationUpdate, typing, invoke) are answered and
ignored. The text is ``text``, else ``value`` (an Adaptive Card submit: a
string as it is, an object as JSON), else the first attachment's
``contentUrl`` (Rasa takes the empty text). An @mention of the bot (Teams
asks for one in channels and group chats) is cut out of the text; Rasa keeps
the ``<at>Bot</at>`` markup. An activity delivered again (the service resends
one whose answer is late or an error; same ``id`` in the same channel and
conversation, already taken by any worker sharing the lock store:
:mod:`.deliveries`) is answered and not handled twice, where Rasa handles
every delivery. An activity whose turn failed before storing anything, for a
reason that may pass (a store that cannot be reached), is forgotten and
answered 503, so that the service delivers it again (Rasa answers 200, and
the message is lost); any other failed turn is logged with its conversation
id. Metadata: Rasa's ``attachments`` when sent, and
``{"botframework": {"conversation_id", "channel_id", "service_url",
"activity_id", "value"}}``.

Outgoing: each part is an activity POSTed to
``{serviceUrl}/v3/conversations/{conversation.id}/activities`` with ``from``
the bot (the incoming ``recipient``), ``recipient`` the user,
``conversation``, ``replyToId`` and Rasa's ``channelData: {"notification":
{"alert": "true"}}``: text (one activity per paragraph, as Rasa); text with
buttons as one hero card with an ``imBack`` action per button (value: the
payload; ``openUrl`` for a ``url``; a button naming a card action ``type``
as written; Rasa passes Rasa buttons, which Bot Framework does not show);
``custom`` JSON as the activity itself, its keys winning (Rasa's
``send_custom_json``; a list: one each); an image as a hero card (as Rasa);
attachments with a ``contentType`` as given, others as ``Attachment: ...``
text (Rasa's default); ``elements`` as one carousel of hero cards; quick
replies as buttons.

The token (``client_credentials``, scope ``https://api.botframework.com/.default``)
is kept until a minute before it expires; a 401 from the connector drops it.
A ``serviceUrl`` that is not http(s) gets nothing (logged). A failed token
fetch or send (status 300 or more, no answer within ``timeout``) is logged
with the conversation and the error, never the password; the turn stays
stored and later replies are still tried. Incoming tokens are verified
(:mod:`.botframework_auth`). Not supported: proactive messages, sovereign
clouds.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit

from dialogflowlite.server.channels.base import (
    InputChannel,
    OnMessage,
    bearer_challenge,
    handle_and_send,
    refused,
)
from dialogflowlite.server.channels.botframework_auth import DEFAULT_OPENID_URL, TokenVerifier
from dialogflowlite.server.channels.deliveries import RecentDeliveries
from dialogflowlite.server.channels.json_fields import as_dict, as_list, text_id
from dialogflowlite.server.channels.settings import ChannelSettings
from dialogflowlite.shared import safe_json

if TYPE_CHECKING:
    import aiohttp
    from sanic import Blueprint, Request
    from sanic.response import HTTPResponse

logger = logging.getLogger(__name__)

DEFAULT_LOGIN_URL = "https://login.microsoftonline.com/botframework.com/oauth2/v2.0/token"
SCOPE = "https://api.botframework.com/.default"
HERO_CARD = "application/vnd.microsoft.card.hero"
#: a token is renewed this many seconds before it expires, so none runs out in flight
TOKEN_MARGIN = 60.0

#: credentials.yml keys and their defaults; the first two are Rasa's
SETTINGS: dict[str, Any] = {
    "app_id": None,
    "app_password": None,
    "login_url": DEFAULT_LOGIN_URL,
    "openid_url": DEFAULT_OPENID_URL,
    "verify_tokens": True,
    "timeout": 10.0,
    # hosts (and their subdomains) the bot's access token may be sent to
    "service_url_hosts": ["botframework.com", "trafficmanager.net", "botframework.azure.us",
                          "teams.microsoft.us"],
}

#: CardAction types Bot Framework knows; a Rasa button naming one goes as written
ACTION_TYPES = ("imBack", "messageBack", "postBack", "openUrl", "call", "showImage",
                "downloadFile", "playAudio", "playVideo", "signin")


# ------------------------------------------------------------------ activities in


@dataclass
class IncomingActivity:
    """One activity as the bot sees it; ``text`` is None when there is nothing to handle
    (``ignored`` then says why). ``reply`` holds the fields every answer carries."""

    kind: str
    sender_id: str | None = None
    text: str | None = None
    service_url: str = ""
    conversation_id: str = ""
    metadata: dict[str, Any] = field(default_factory=dict)
    reply: dict[str, Any] = field(default_factory=dict)
    ignored: str = ""
    #: the same in every delivery of the activity: its ``id`` within its channel and
    #: conversation (Teams numbers activities per conversation)
    delivery_id: str | None = None


def read_activity(body: Any) -> IncomingActivity:
    """The user message in an activity, read as Rasa's connector reads it."""
    if not isinstance(body, dict):
        return IncomingActivity("unknown", ignored="the body is not a JSON object")
    kind = str(body.get("type") or "unknown")
    if kind != "message":
        return IncomingActivity(kind, ignored="activities of this type are not handled")
    user, bot, conversation = (as_dict(body.get(key)) for key in ("from", "recipient",
                                                                "conversation"))
    found = IncomingActivity(kind, text_id(user.get("id")), message_text(body),
                             str(body.get("serviceUrl") or ""),
                             text_id(conversation.get("id")) or "")
    details = {"conversation_id": found.conversation_id or None,
               "channel_id": body.get("channelId"), "service_url": found.service_url or None,
               "activity_id": body.get("id"), "value": body.get("value")}
    found.metadata = {"botframework": {k: v for k, v in details.items() if v is not None}}
    if body.get("attachments"):
        found.metadata["attachments"] = body["attachments"]
    found.reply = {"type": "message", "from": bot, "recipient": user,
                   "conversation": conversation, "replyToId": body.get("id"),
                   "channelData": {"notification": {"alert": "true"}}}
    activity_id = text_id(body.get("id"))
    if activity_id is not None and found.conversation_id:
        found.delivery_id = json.dumps([text_id(body.get("channelId")), found.conversation_id,
                                        activity_id])
    if found.sender_id is None or not found.conversation_id:
        found.text, found.ignored = None, "it names no sender or conversation"
    elif found.text is None:
        found.ignored = "it has no text, value or attachment URL"
    return found


def message_text(body: dict[str, Any]) -> str | None:
    """What a message activity says to the bot (see the module docs), or None."""
    text, value = body.get("text"), body.get("value")
    if isinstance(text, str):
        text = without_bot_mentions(text, body)
    if isinstance(text, str) and text.strip():
        return text
    if isinstance(value, str) and value.strip():
        return value
    if value and not isinstance(value, str):
        # an Adaptive Card's Action.Submit sends its inputs as an object
        return json.dumps(value, ensure_ascii=False)
    for attachment in map(as_dict, as_list(body.get("attachments"))):
        if isinstance(attachment.get("contentUrl"), str) and attachment["contentUrl"]:
            return attachment["contentUrl"]
    return None


def without_bot_mentions(text: str, body: dict[str, Any]) -> str:
    """``text`` without the @mentions of the bot itself (``<at>Bot</at>``).

    In a Teams channel or group chat a user must @mention the bot, and the
    mention's markup is part of the text: NLU would see it in every such
    message. Mentions of anyone else stay.
    """
    bot = text_id(as_dict(body.get("recipient")).get("id"))
    for mention in map(as_dict, as_list(body.get("entities"))):
        mentioned = text_id(as_dict(mention.get("mentioned")).get("id"))
        shown = mention.get("text")
        if mention.get("type") == "mention" and bot is not None and mentioned == bot \
                and isinstance(shown, str) and shown.strip():
            # the mention goes with one space beside it; glued between two words, it
            # becomes a space so the words stay apart
            mark = re.escape(shown)
            for pattern, replacement in ((mark + r"[^\S\n]", ""), (r"[^\S\n]" + mark, ""),
                                         (mark, " ")):
                text = re.sub(pattern, replacement, text)
            text = text.strip()
    return text


def activities_url(service_url: str, conversation_id: str,
                   allowed_hosts: Sequence[str] | None = None) -> str | None:
    """Where replies to a conversation go; None unless ``service_url`` is an http(s) URL
    on one of ``allowed_hosts`` (a host or any of its subdomains; None: any host)."""
    parts = urlsplit(service_url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return None
    host = (parts.hostname or "").lower()
    if allowed_hosts is not None and not any(
            host == allowed or host.endswith("." + allowed) for allowed in allowed_hosts):
        return None
    # Teams conversation ids hold ':', ';' and '@': quoted whole, as Microsoft's SDKs do
    return f"{service_url.rstrip('/')}/v3/conversations/{quote(conversation_id, safe='')}" \
           "/activities"


# ------------------------------------------------------------------ replies out


def reply_activities(reply: dict[str, Any]) -> list[dict[str, Any]]:
    """One bot reply as activity fields (without the addressing), in order.

    Quick replies are buttons here (Rasa's default ``send_quick_replies``); the
    cards of ``elements`` one carousel.
    """
    found: list[dict[str, Any]] = []
    text = str(reply.get("text") or "").strip()
    buttons = [b for b in as_list(reply.get("buttons") or reply.get("quick_replies"))
               if isinstance(b, dict)]
    if buttons:
        found.append({"attachments": [hero_card(text, buttons)]})
    elif text:
        found.extend({"text": part.strip()} for part in text.split("\n\n") if part.strip())
    custom = reply.get("custom")
    for item in custom if isinstance(custom, list) else [custom] if custom is not None else []:
        if isinstance(item, dict):
            found.append(dict(item))
        else:
            logger.warning("botframework: a custom payload that is not a JSON object was not "
                           "sent (%s)", type(item).__name__)
    if reply.get("image"):
        found.append({"attachments": [{"contentType": HERO_CARD, "content": {
            "images": [{"url": str(reply["image"])}]}}]})
    attachment = reply.get("attachment")
    given = attachment if isinstance(attachment, list) else [attachment]
    if attachment and all(isinstance(a, dict) and a.get("contentType") for a in given):
        found.append({"attachments": [dict(a) for a in given]})
    elif attachment:
        shown = attachment if isinstance(attachment, str) else json.dumps(attachment)
        found.append({"text": f"Attachment: {shown}"})
    elements = [e for e in as_list(reply.get("elements")) if isinstance(e, dict)]
    if elements:
        found.append({"attachmentLayout": "carousel", "attachments": [
            hero_card(str(e.get("subtitle") or ""), as_list(e.get("buttons")),
                      title=e.get("title"), image=e.get("image_url")) for e in elements]})
    return found


def hero_card(text: str, buttons: list[Any], *, title: Any = None,
              image: Any = None) -> dict[str, Any]:
    """A hero card attachment with ``text`` and a card action per Rasa button."""
    content: dict[str, Any] = {"text": text} if text else {}
    if title:
        content["title"] = str(title)
    if image:
        content["images"] = [{"url": str(image)}]
    content["buttons"] = [card_action(b) for b in buttons if isinstance(b, dict)]
    return {"contentType": HERO_CARD, "content": content}


def card_action(button: dict[str, Any]) -> dict[str, Any]:
    """A Rasa button as a card action: ``openUrl`` with a ``url``, else ``imBack`` its payload."""
    if button.get("type") in ACTION_TYPES:
        return dict(button)
    title = button.get("title") or button.get("payload") or button.get("url") or ""
    if button.get("url"):
        return {"type": "openUrl", "title": str(title), "value": str(button["url"])}
    # imBack posts the value as the user's message, so the payload reaches the bot
    return {"type": "imBack", "title": str(title), "value": str(button.get("payload") or title)}


# ------------------------------------------------------------------ the channel


class BotFrameworkChannel(InputChannel):
    """Rasa's Bot Framework connector: activities in, Bot Connector API replies out."""

    channel_name = "botframework"
    rich_replies = True

    def __init__(self, config: dict[str, Any] | None = None) -> None:
        super().__init__(config)
        settings = ChannelSettings(self.channel_name, self.config, SETTINGS)
        self.app_id = settings.required_text(
            "app_id", "the bot's Microsoft App ID, on the Azure Bot resource's Configuration page")
        self.app_password = settings.required_text(
            "app_password", "a client secret of that app (Manage Password on the same page)")
        self.login_url = str(settings.http_url("login_url"))
        self.timeout = settings.positive_seconds("timeout")
        hosts = settings["service_url_hosts"]
        if isinstance(hosts, str):
            hosts = [hosts]
        if not isinstance(hosts, list) or not hosts or \
                not all(isinstance(h, str) and h.strip() for h in hosts):
            raise settings.error("`service_url_hosts` must be a list of host names",
                                 "leave it out for Microsoft's connector domains")
        self.service_url_hosts = [h.strip().lower().lstrip(".") for h in hosts]
        self.verify_tokens = settings.flag("verify_tokens")
        self.verifier = TokenVerifier(self.app_id, str(settings.http_url("openid_url")),
                                      timeout=self.timeout)
        #: seconds on a steady clock; tests move it to expire the token
        self.clock: Callable[[], float] = time.monotonic
        self._token: str | None = None
        self._token_expires = 0.0
        self.deliveries = RecentDeliveries(self.name())

    # -------------------------------------------------------------- Bot Connector API

    def _redact(self, problem: str) -> str:
        return problem.replace(self.app_password, "<app_password>")

    async def access_token(self, session: aiohttp.ClientSession) -> tuple[str | None, str]:
        """The cached token, or a new one from ``login_url``; ``(None, why)`` when none came."""
        import aiohttp

        now = self.clock()
        if self._token and now < self._token_expires:
            return self._token, ""
        form = {"grant_type": "client_credentials", "client_id": self.app_id,
                "client_secret": self.app_password, "scope": SCOPE}
        try:
            async with session.post(self.login_url, data=form) as response:
                try:
                    answer = as_dict(await response.json(content_type=None))
                except ValueError:
                    answer = {}
                status = response.status
        except (aiohttp.ClientError, asyncio.TimeoutError) as e:
            return None, self._redact(f"{type(e).__name__}: {e}" if str(e) else type(e).__name__)
        token = answer.get("access_token")
        if status >= 300 or not isinstance(token, str) or not token:
            error = ": ".join(str(answer[k]) for k in ("error", "error_description") if k in answer)
            return None, self._redact(f"status {status}" + (f", {error}" if error else ""))
        try:
            lifetime = float(answer.get("expires_in") or 3600)
        except (TypeError, ValueError):
            lifetime = 3600.0
        self._token = token
        self._token_expires = now + lifetime - min(TOKEN_MARGIN, lifetime / 2)
        return token, ""

    async def post(self, session: aiohttp.ClientSession, url: str, token: str,
                   activity: dict[str, Any]) -> str | None:
        """POST one activity; why it failed, or None when the connector took it."""
        import aiohttp
        from yarl import URL

        try:
            # encoded: sent as quoted here, as Microsoft's SDKs send conversation ids
            async with session.post(URL(url, encoded=True), json=activity,
                                    headers={"Authorization": f"Bearer {token}"}) as response:
                if response.status < 300:
                    return None
                status = response.status
                try:
                    answer = await response.json(content_type=None)
                except ValueError:
                    answer = None
        except (aiohttp.ClientError, asyncio.TimeoutError) as e:
            return f"{type(e).__name__}: {e}" if str(e) else type(e).__name__
        if status == 401:
            # a token revoked or expired early: the next turn fetches a fresh one
            self._token = None
        error = as_dict(as_dict(answer).get("error"))
        message = ": ".join(str(error[k]) for k in ("code", "message") if error.get(k))
        return f"status {status}" + (f", {message}" if message else "")

    async def send(self, activity: IncomingActivity, replies: list[dict[str, Any]]) -> int:
        """Send the bot's replies into the activity's conversation; how many were taken."""
        import aiohttp

        parts = [part for reply in replies for part in reply_activities(reply)]
        if not parts:
            return 0
        conversation = activity.conversation_id
        url = activities_url(activity.service_url, conversation, self.service_url_hosts)
        if url is None:
            logger.error("botframework: %d replies to conversation %s were not sent: the "
                         "serviceUrl %.80r is not an http(s) URL on one of service_url_hosts "
                         "(%s)", len(parts), conversation, activity.service_url,
                         ", ".join(self.service_url_hosts))
            return 0
        sent = 0
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.timeout)) \
                as session:
            token, problem = await self.access_token(session)
            if token is None:
                logger.error("botframework: %d replies to conversation %s were not sent: no "
                             "access token from %s (%s); check app_id and app_password",
                             len(parts), conversation, self.login_url, problem)
                return 0
            for part in parts:
                problem = await self.post(session, url, token, {**activity.reply, **part})
                if problem is None:
                    sent += 1
                else:
                    logger.error("botframework: a reply to conversation %s was not sent (%s)",
                                 conversation, problem)
        return sent

    # -------------------------------------------------------------- routes

    def metadata(self, activity: IncomingActivity) -> dict[str, Any]:
        """The metadata of the user message (Rasa's ``get_metadata``); override to change it."""
        return activity.metadata

    def blueprint(self, on_message: OnMessage) -> Blueprint:
        from sanic.response import text

        blueprint = self.health_blueprint()
        if not self.verify_tokens:
            logger.warning("botframework: verify_tokens is off, so anyone who reaches "
                           "/webhooks/botframework/webhook can write as any user")

        @blueprint.post("/webhook", name="webhook")
        async def webhook(request: Request) -> HTTPResponse:
            try:
                activity = read_activity(safe_json.loads(request.body or b""))
            except (ValueError, UnicodeDecodeError):
                activity = IncomingActivity("unknown", ignored="the body is not valid JSON")
            if self.verify_tokens:
                authorization = request.headers.get("authorization")
                problem = await self.verifier.problem(authorization, activity.service_url)
                if problem:
                    raise refused("botframework", request, problem,
                                  "the request carries no valid Bot Framework token",
                                  what="an activity",
                                  challenge=bearer_challenge("botframework", authorization))
            if activity.text is None or activity.sender_id is None:
                logger.debug("botframework: an activity (%s) was ignored: %s", activity.kind,
                             activity.ignored)
                return text("success")
            # checked after the token, so that nobody else can make the bot skip one; taken
            # once (a re-delivery waits while its first delivery's turn runs here), and
            # settled in the work that outlives a cancelled request
            delivered = await handle_and_send(request, self.deliveries.handle_once(
                request, activity.delivery_id, activity.sender_id,
                partial(self._handle, request, on_message, activity)))
            if delivered.taken:
                logger.info("botframework: activity %s in conversation %s came again and was "
                            "not handled again (the service resends what it thinks went "
                            "unanswered)", activity.reply.get("replyToId"),
                            activity.conversation_id)
            if delivered.answer is not None:
                raise delivered.answer
            return text("success")

        return blueprint

    async def _handle(self, request: Request, on_message: OnMessage,
                      activity: IncomingActivity) -> Exception | None:
        """Run ``activity``'s message through the bot and send the replies; the error of
        a turn that failed, else None."""
        from dialogflowlite.dialogue.messages import IncomingMessage
        from dialogflowlite.server import validation

        user_text = str(activity.text)
        limit = request.app.ctx.config.max_message_chars
        if len(user_text) > limit:
            logger.info("botframework: a message of %d characters in conversation %s was "
                        "ignored (at most %d are accepted)", len(user_text),
                        activity.conversation_id, limit)
            return None
        try:
            message = IncomingMessage(
                user_text, sender_id=validation.sender_id(activity.sender_id),
                channel=self.name(), metadata=dict(self.metadata(activity)),
                message_id=text_id(activity.reply.get("replyToId")))
            replies = await on_message(message)
        except Exception as e:
            return e
        # stored by now: replies that cannot be sent are never worth a re-delivery
        try:
            await self.send(activity, replies)
        except Exception as e:
            logger.error("botframework: the replies in conversation %s could not be sent: %s",
                         activity.conversation_id, e, exc_info=True)
        return None
