"""The Mattermost channel: Rasa's ``mattermost`` connector, an outgoing webhook and API v4.

Mattermost posts a public channel's messages (those whose first word is a
trigger word such as ``@bot``, or all of them) to the bot through an outgoing
webhook, and presses of the bot's buttons as message actions; the bot answers
with ``POST {url}/posts`` as its bot account (``Authorization: Bearer <token>``).
credentials.yml, Rasa's keys first (all three required)::

    mattermost:
      url: "https://chat.example.com/api/v4"   # the server's REST API, /api/v4 included
      token: "bot-access-token"                # the bot account's access token
      webhook_url: "https://bot.example.com/webhooks/mattermost/webhook"  # where buttons post
      # settings of this channel only, not Rasa's:
      webhook_token: "..."     # the outgoing webhook's token: verifies requests (optional)
      timeout: 10              # seconds per API call

Routes under ``/webhooks/mattermost``: ``GET /`` answers ``{"status": "ok"}``;
``POST /webhook`` takes outgoing-webhook posts (JSON or form-encoded) and
button actions (JSON) and answers ``{}`` once the turn is handled and its
replies posted, also when the turn fails (that is logged): for ``{}``
Mattermost posts nothing and leaves a pressed button's post as it was (Rasa's
``success`` is not the JSON Mattermost expects). As in Rasa, the conversation
id is ``user_id``, replies go to ``channel_id`` (not into threads), and the
user's text is:

* for a post (the body has ``trigger_word``): its text without the first word
  when a trigger word fired the webhook (``@bot hi`` reads ``hi``; the trigger
  word alone is read whole), the whole text when the webhook fires on every
  post of its channel (``trigger_word`` empty; Rasa cuts a word then too).
  Posts of the bot's own account (its id asked with ``GET /users/me`` until
  known) or with a ``from_bot`` prop are ignored: no answering itself;
* for a button action (the body has ``context``): ``context.action``.

The metadata is ``{"mattermost": {"kind": "post" | "action", "channel_id",
"post_id", "user_name"}}`` (Rasa's is empty). A body that is not a JSON object
or form, has neither ``trigger_word`` nor ``context``, lacks ``user_id`` or
``channel_id``, or has no ``context.action`` gets 400 saying so (Rasa: 200);
a post without text is answered and ignored. A post delivered again (its
``post_id`` already taken by any worker sharing the lock store:
:mod:`.deliveries`) is answered ``{}`` and not handled twice; button presses
carry no id of their own and are each handled.

Security (Rasa checks nothing): with ``webhook_token``, a post whose ``token``
differs gets 403 and a log line. Actions carry no token, so the bot signs its
buttons: each context holds ``signature``, the HMAC-SHA256 of
``<channel_id>\\n<payload>`` keyed with ``webhook_token``; an action without a
valid one gets 403. Mattermost keeps contexts on the server (clients get
buttons without them), so only a payload of a button the bot posted, pressed
in that channel, passes; buttons of ``custom`` JSON are unsigned and refused.
Without ``webhook_token`` nothing is verified, as in Rasa (logged at mount).

Outgoing, one post per part, in Rasa's order: text (each paragraph a post,
split beyond Mattermost's default 16383 characters); text with buttons (or
quick replies) with ``props.attachments[0].actions``, each ``{"name": title,
"integration": {"url": webhook_url, "context": {"action": payload}}}`` (a
button with only a ``url`` becomes a Markdown link in the text); ``custom``
JSON as the post body, ``channel_id`` and ``message`` added unless given; an
image as an attachment's ``image_url``; an attachment as ``Attachment: ...``;
``elements`` as ``title : subtitle`` with buttons. A post Mattermost refuses
(status 300 or more) or that gets no answer in ``timeout`` is logged with the
channel and Mattermost's message, never the token; the turn stays stored and
later posts are still tried. Not supported: direct messages and private
channels (outgoing webhooks fire in public channels only), threads, slash
commands, menus, dialogs, Rasa 2's ``user``/``pw`` login, retries.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

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
from dialogflowlite.server.channels.vendor_http import client_session, vendor_request

if TYPE_CHECKING:
    import aiohttp
    from sanic import Blueprint, Request
    from sanic.response import HTTPResponse

logger = logging.getLogger(__name__)

#: credentials.yml keys and their defaults; the first three are Rasa's
SETTINGS: dict[str, Any] = {
    "url": None,
    "token": None,
    "webhook_url": None,
    "webhook_token": None,
    "timeout": 10.0,
}

#: the longest post a Mattermost server takes by default (MaxPostSize)
MAX_POST = 16383

Post = dict[str, Any]


def button_signature(key: str, channel_id: str, payload: str) -> str:
    """The ``signature`` in a button's context: hex HMAC-SHA256 of channel and payload."""
    signed = f"{channel_id}\n{payload}".encode()
    return hmac.new(key.encode("utf-8"), signed, hashlib.sha256).hexdigest()


def post_text(body: dict[str, Any]) -> str:
    """What an outgoing-webhook post says to the bot: its text without the trigger word."""
    text = body.get("text") if isinstance(body.get("text"), str) else ""
    words = text.split(maxsplit=1)
    # Mattermost matches trigger words against the first word only; Rasa drops
    # that word, but keeps a post that is nothing else
    if body.get("trigger_word") and len(words) == 2:
        return words[1].strip()
    return text.strip()


# ------------------------------------------------------------------ replies out


def reply_posts(reply: dict[str, Any], channel_id: str, button_url: str,
                key: str | None = None) -> list[Post]:
    """One REST-shaped bot reply as ``POST /posts`` bodies to ``channel_id``, in order.

    Buttons post to ``button_url``; with ``key`` (the webhook token) they are signed.
    """
    posts: list[Post] = []
    text = str(reply.get("text") or "").strip()
    buttons = [b for b in reply.get("buttons") or reply.get("quick_replies") or []
               if isinstance(b, dict)]
    if buttons:
        posts += text_with_buttons(text, buttons, channel_id, button_url, key)
    else:
        # Rasa posts each paragraph on its own
        for part in text.split("\n\n"):
            posts += [{"message": piece} for piece in split_text(part.strip(), MAX_POST)]
    custom = reply.get("custom")
    if isinstance(custom, dict):
        posts.append({"message": "", **custom})
    elif custom is not None:
        logger.warning("mattermost: a custom payload that is not a JSON object was not sent "
                       "(%s)", type(custom).__name__)
    if reply.get("image"):
        posts.append({"message": "", "props": {"attachments": [
            {"image_url": str(reply["image"])}]}})
    attachment = reply.get("attachment")
    if attachment:
        shown = attachment if isinstance(attachment, str) else json.dumps(attachment)
        posts += [{"message": piece} for piece in split_text(f"Attachment: {shown}", MAX_POST)]
    for element in reply.get("elements") or []:
        if isinstance(element, dict):
            title = f"{element.get('title', '')} : {element.get('subtitle', '')}"
            posts += text_with_buttons(title, [b for b in element.get("buttons") or []
                                               if isinstance(b, dict)],
                                       channel_id, button_url, key)
    # custom JSON may name another channel, as in Rasa
    return [{"channel_id": channel_id, **post} for post in posts]


def text_with_buttons(text: str, buttons: list[dict[str, Any]], channel_id: str,
                      button_url: str, key: str | None = None) -> list[Post]:
    """Posts of ``text`` (split if long) with the buttons as attachment actions on the last."""
    actions, links = [], []
    for button in buttons:
        title = str(button.get("title") or button.get("payload") or button.get("url") or "")
        payload = button.get("payload")
        if payload in (None, "") and button.get("url"):
            # an attachment action can only post to an integration, not open a page
            links.append(f"[{title}]({button['url']})")
            continue
        payload = str(payload if payload not in (None, "") else title)
        context = {"action": payload}
        if key:
            context["signature"] = button_signature(key, channel_id, payload)
        actions.append({"name": title, "integration": {"url": button_url, "context": context}})
    full = "\n".join(part for part in [text, *links] if part)
    posts: list[Post] = [{"message": piece} for piece in split_text(full, MAX_POST)]
    if actions:
        if not posts:
            posts.append({"message": ""})
        posts[-1]["props"] = {"attachments": [{"actions": actions}]}
    return posts


# ------------------------------------------------------------------ the channel


class MattermostChannel(InputChannel):
    """Rasa's Mattermost connector: outgoing-webhook posts and button actions in, API posts out."""

    channel_name = "mattermost"

    def __init__(self, config: dict[str, Any] | None = None) -> None:
        super().__init__(config)
        settings = ChannelSettings(self.channel_name, self.config, SETTINGS)
        settings.required_text("url", 'the REST API of the Mattermost server, such as '
                               '"https://chat.example.com/api/v4"')
        self.url = str(settings.http_url("url", 'such as "https://chat.example.com/api/v4"'))
        if not self.url.endswith("/api/v4"):
            logger.warning("mattermost: url %s does not end in /api/v4; posts go to %s/posts",
                           self.url, self.url)
        self.token = settings.required_text(
            "token", "the bot account's access token (Integrations > Bot Accounts)")
        settings.required_text("webhook_url", "this server's /webhooks/mattermost/webhook as "
                               "Mattermost reaches it; buttons post there")
        # given to Mattermost as written, so not normalised
        self.webhook_url = str(settings.http_url(
            "webhook_url", 'such as "https://bot.example.com/webhooks/mattermost/webhook"',
            exact=True))
        self.webhook_token = (None if settings["webhook_token"] is None else settings.required_text(
            "webhook_token", "the Token Mattermost shows for the outgoing webhook"))
        self.timeout = settings.positive_seconds("timeout")
        self._own_user_id: str | None = None
        self.deliveries = RecentDeliveries(self.name())

    # -------------------------------------------------------------- API calls

    def _session(self) -> aiohttp.ClientSession:
        return client_session(self.timeout)

    async def call(self, session: aiohttp.ClientSession, method: str, path: str,
                   body: Post | None = None) -> tuple[Any, str | None]:
        """One API call: Mattermost's JSON answer, and why it failed (None when it did not)."""
        answer = await vendor_request(session, method, self.url + path, json=body,
                                      headers={"Authorization": f"Bearer {self.token}"},
                                      secrets=[self.token])
        if answer.failure is not None:
            return None, answer.failure
        if answer.ok:
            return answer.body, None
        message = answer.field("message")
        return answer.body, (f"status {answer.status}: {message}" if message
                             else f"status {answer.status}")

    async def own_user_id(self) -> str | None:
        """The bot account's user id (``GET /users/me``), asked until known; None till then."""
        if self._own_user_id is None:
            async with self._session() as session:
                answer, problem = await self.call(session, "GET", "/users/me")
            found = answer.get("id") if isinstance(answer, dict) else None
            if problem or not isinstance(found, str) or not found:
                logger.warning("mattermost: the bot's own user id could not be read from "
                               "%s/users/me (%s); its own posts are not recognised yet",
                               self.url, problem or "no id in the answer")
            else:
                self._own_user_id = found
        return self._own_user_id

    async def send(self, channel_id: str, replies: list[dict[str, Any]]) -> int:
        """Post the bot's replies in ``channel_id`` in order; how many Mattermost took."""
        posts = [post for reply in replies
                 for post in reply_posts(reply, channel_id, self.webhook_url, self.webhook_token)]
        sent = 0
        async with self._session() as session:
            for post in posts:
                _, problem = await self.call(session, "POST", "/posts", post)
                if problem is None:
                    sent += 1
                else:
                    logger.error("mattermost: a post to channel %s was not sent (%s)",
                                 post.get("channel_id"), problem)
        return sent

    # -------------------------------------------------------------- incoming

    def refusal(self, body: dict[str, Any]) -> str | None:
        """Why ``webhook_token`` refuses a request (a short reason), or None when it passes."""
        if self.webhook_token is None:
            return None
        if "trigger_word" in body:
            given, expected = str(body.get("token") or ""), self.webhook_token
            reason = "its token is missing or not webhook_token"
        else:
            context = body.get("context") if isinstance(body.get("context"), dict) else {}
            given = str(context.get("signature") or "")
            expected = button_signature(self.webhook_token, str(body.get("channel_id")),
                                        str(context.get("action")))
            reason = "it is not a button this bot posted in that channel"
        return None if hmac.compare_digest(given.encode(), expected.encode()) else reason

    def metadata(self, kind: str, body: dict[str, Any]) -> dict[str, Any]:
        """The user message's metadata (Rasa's ``get_metadata``); override to change it."""
        details = {"kind": kind, "channel_id": body.get("channel_id"),
                   "post_id": body.get("post_id"), "user_name": body.get("user_name")}
        return {"mattermost": {k: v for k, v in details.items() if v not in (None, "")}}

    def blueprint(self, on_message: OnMessage) -> Blueprint:
        from sanic.response import json as json_response

        from dialogflowlite.server import validation
        from dialogflowlite.server.errors import bad_request

        blueprint = self.health_blueprint()
        if self.webhook_token is None:
            logger.warning("mattermost: no webhook_token in credentials.yml, so requests to "
                           "/webhooks/mattermost/webhook are not verified; anyone who finds it "
                           "can write as any Mattermost user")

        @blueprint.post("/webhook", name="webhook")
        async def webhook(request: Request) -> HTTPResponse:
            content_type = request.headers.get("content-type", "").split(";")[0].strip()
            if content_type == "application/x-www-form-urlencoded":
                # blank values kept: a channel-wide webhook sends an empty trigger_word
                form = parse_qs((request.body or b"").decode("utf-8", errors="replace"),
                                keep_blank_values=True)
                body = {name: values[0] for name, values in form.items()}
            else:
                body = validation.json_body(request)
            kind = "post" if "trigger_word" in body else "action" if "context" in body else None
            if kind is None:
                raise bad_request("the body is neither an outgoing-webhook post (it has "
                                  "`trigger_word`) nor a button action (it has `context`)")
            problem = self.refusal(body)
            if problem:
                raise refused("mattermost", request, problem,
                              f"the {kind} is not verified by webhook_token", what=f"a {kind}")
            for key in ("user_id", "channel_id"):
                if not isinstance(body.get(key), str) or not body[key]:
                    raise bad_request(f"`{key}` is missing", parameter=key)
            sender = validation.sender_id(body["user_id"], parameter="user_id")
            if kind == "action":
                action = body["context"].get("action") if isinstance(body["context"],
                                                                      dict) else None
                if not isinstance(action, str) or not action:
                    raise bad_request("`context.action` is missing: it holds the payload of "
                                      "the bot's buttons", parameter="context")
                user_text = action
            else:
                props = body.get("props") if isinstance(body.get("props"), dict) else {}
                if props.get("from_bot") in (True, "true") or sender == await self.own_user_id():
                    logger.debug("mattermost: a post of a bot in %s was ignored",
                                 body["channel_id"])
                    return json_response({})
                user_text = post_text(body)
                # checked after webhook_token, so that nobody else can make the bot skip one
                post_id = body.get("post_id") if isinstance(body.get("post_id"), str) else None
                if user_text and not await self.deliveries.is_new_for(request, post_id or None):
                    logger.info("mattermost: post %s in %s came again and was not handled "
                                "again", post_id, body["channel_id"])
                    return json_response({})
            if user_text:
                await handle_and_send(
                    request, self.handle(request, on_message, kind, body, sender, user_text))
            return json_response({})

        return blueprint

    async def handle(self, request: Request, on_message: OnMessage, kind: str,
                     body: dict[str, Any], sender: str, user_text: str) -> int:
        """Run one message through the bot and post its replies; how many Mattermost took."""
        from dialogflowlite.dialogue.messages import IncomingMessage

        limit = request.app.ctx.config.max_message_chars
        if len(user_text) > limit:
            logger.info("mattermost: a message of %d characters from %s was ignored (at most "
                        "%d are accepted)", len(user_text), sender, limit)
            return 0
        post_id = body.get("post_id") if kind == "post" else None
        try:
            replies = await on_message(IncomingMessage(
                user_text, sender_id=sender, channel=self.name(),
                metadata=dict(self.metadata(kind, body)),
                message_id=str(post_id) if post_id else None))
        except Exception as e:
            # answered 200 all the same: an error would only show the user a failed action;
            # the traceback only where the failure is not one of ours
            logger.error("mattermost: the message of conversation %r could not be handled "
                         "and is lost (Mattermost does not send it again): %s", sender, e,
                         exc_info=not isinstance(e, DialogflowLiteError))
            return 0
        return await self.send(body["channel_id"], replies)
