"""The Slack channel: Rasa's ``slack`` channel, for a Slack app's Events API and buttons.

Slack posts events (JSON) and interactive-component payloads (form-encoded
``payload=``) to one URL, ``POST /webhooks/slack/webhook``; the bot answers
through Slack's Web API (``chat.postMessage``). ``GET /webhooks/slack/``
answers ``{"status": "ok"}``. credentials.yml (Rasa's keys)::

    slack:
      slack_token: "xoxb-..."              # the app's bot token (required)
      slack_signing_secret: "..."          # verifies every request (required)
      slack_channel: "C0123ABCD"           # a channel id to listen to besides DMs and mentions
      use_threads: false                   # answer in the thread of the user's message
      conversation_granularity: sender     # sender | channel | thread
      slack_retry_reason_header: x-slack-retry-reason
      slack_retry_number_header: x-slack-retry-num
      errors_ignore_retry: [http_timeout]  # retry reasons answered without handling them again
      proxy: "http://proxy:3128"           # for the calls to Slack's Web API
      api_url: https://slack.com/api       # not Rasa's: Slack's Web API (a stub in tests)
      timeout: 10                          # not Rasa's: seconds per Web API call

What is handled, as in Rasa:

* Every request must carry a valid ``X-Slack-Signature`` (HMAC-SHA256 of
  ``v0:<X-Slack-Request-Timestamp>:<body>`` with the signing secret) and a
  timestamp at most five minutes off; anything else gets 401 (naming the
  ``Slack-Signature`` scheme in ``WWW-Authenticate``, as HTTP asks of a 401;
  Rasa answers 400) and is logged.
* ``url_verification`` gets its ``challenge`` back.
* ``message`` events from people in direct messages (``channel_type: im``)
  and in ``slack_channel``, and ``app_mention`` events anywhere. Messages of
  bots, the bot's own, and edits, deletions, joins and other subtypes are
  skipped (a file upload or a thread reply also sent to the channel is still a
  user message). Mentions of the bot are cut out of the text; Slack's
  escapes (``&amp;``, ``&lt;``, ``&gt;``) and links (``<https://x.org|x.org>``,
  ``<mailto:a@b.org|a@b.org>``) become plain text.
* Interactive payloads (``block_actions``, legacy ``interactive_message``):
  the value of the clicked button (or the chosen option, user, channel or
  date of a select, overflow or date picker) becomes the user's text.
* The conversation id: the user id (``sender``), ``<user>_<channel>``
  (``channel``) or ``<user>_<channel>_<thread ts>`` (``thread``), falling back
  to the user id where the event lacks the channel or thread. The message's
  metadata is Rasa's: ``out_channel``, ``thread_id`` and ``users``.
* Retries: Slack resends an event it thinks failed, with the retry headers. A
  retry whose reason is in ``errors_ignore_retry`` (by default
  ``http_timeout``: the first delivery is still being handled) is answered
  201 with ``X-Slack-No-Retry: 1`` and not handled again; retries for other
  reasons (the first delivery failed) are handled, unless a worker sharing
  the lock store already took that ``event_id`` (a proxy in front timed out,
  say; :mod:`.deliveries`). An event whose turn failed before storing
  anything, for a reason that may pass (a store that cannot be reached), is
  forgotten and answered 503, so that Slack's retry (``http_error``) handles
  it (Rasa answers 200, and the message is lost); any other failed turn is
  logged with its conversation id.
* Slow turns (not Rasa's): Slack waits 3 s for an answer, then retries
  (``http_timeout``) at most three times (at once, after one minute, after
  five), and never after ``X-Slack-No-Retry``. Acknowledged while the first
  delivery's turn still runs, a retry would leave nothing to deliver the
  message again should that turn fail; so each delivery goes through
  :meth:`RecentDeliveries.handle_once
  <dialogflowlite.server.channels.deliveries.RecentDeliveries.handle_once>`:
  a retry that comes while the turn runs in this process waits up to
  :data:`RETRY_WAIT` for it, and is answered 503 (without
  ``X-Slack-No-Retry``) if it still runs. The next retry finds the turn
  over: acknowledged when it was stored, handled when it failed and gave its
  event back. Slack's last retry is acknowledged all the same (nothing
  follows it), and a failure of its own turn is logged as lost rather than
  answered 503; a retry reaching another worker is answered as Rasa does; a
  turn that fails then is lost, logged at error level with its conversation
  id.

Replies go to the channel the message came from (``slack_channel`` when the
event names none), in the user's thread with ``use_threads``; each part of
each reply is its own ``chat.postMessage``, in order: text (split at blank
lines, as Rasa does) or text with buttons (a ``section`` block and
``actions`` blocks of buttons whose ``value`` is the payload), custom JSON
(the message body itself, ``channel`` added unless it names one), an image
(an ``image`` block) and an attachment (``attachments``). Slack refusing a
message (``"ok": false``, an error status, no answer in time) is logged with
the channel and Slack's error; the turn stays stored and the later replies
are still tried. The webhook answers once the turn is handled.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import re
import time
from collections.abc import Mapping
from functools import partial
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

from dialogflowlite.server.channels.base import (
    InputChannel,
    OnMessage,
    handle_and_send,
    refused,
)
from dialogflowlite.server.channels.deliveries import RecentDeliveries
from dialogflowlite.server.channels.json_fields import as_dict, as_list, text_id
from dialogflowlite.server.channels.settings import ChannelSettings
from dialogflowlite.server.channels.vendor_http import vendor_request
from dialogflowlite.shared import safe_json

if TYPE_CHECKING:
    from sanic import Blueprint, Request
    from sanic.response import HTTPResponse

    from dialogflowlite.dialogue.messages import IncomingMessage

logger = logging.getLogger(__name__)

#: credentials.yml keys and their defaults (Rasa's, then ours)
SETTINGS: dict[str, Any] = {
    "slack_token": None,
    "slack_signing_secret": None,
    "slack_channel": None,
    "use_threads": False,
    "conversation_granularity": "sender",
    "slack_retry_reason_header": "x-slack-retry-reason",
    "slack_retry_number_header": "x-slack-retry-num",
    "errors_ignore_retry": ["http_timeout"],
    "proxy": None,
    # not Rasa's: where Slack's Web API is, and how long one call may take
    "api_url": "https://slack.com/api",
    "timeout": 10.0,
}
GRANULARITIES = ("sender", "channel", "thread")
#: how far a request's timestamp may be from our clock (Slack's advice against replays)
MAX_CLOCK_SKEW = 5 * 60
#: the most elements Block Kit allows in one ``actions`` block
BUTTONS_PER_BLOCK = 25
#: seconds a retry of an event waits for the turn of its first delivery to end (Slack
#: waits 3 s for any answer): the channel's ``redelivery_wait``
RETRY_WAIT = 2.0
#: Slack retries an event at most three times (at once, after a minute, after five)
SLACK_LAST_RETRY = 3
#: when a failed turn's event is still delivered again: on any delivery but the last retry
SLACK_RETRIES_LEFT = "Slack still has one of its three retries to send"
#: the ``WWW-Authenticate`` of the 401 refusing a request Slack did not sign: HTTP asks a
#: 401 to name how to authenticate, and Slack's signing is no registered HTTP scheme, so
#: the challenge names it (Rasa answers 400, and Slack's own SDKs a bare 401)
SIGNATURE_CHALLENGE = 'Slack-Signature realm="slack"'
#: message subtypes that are still a person writing to the bot
USER_SUBTYPES = (None, "file_share", "thread_broadcast")

_LINK = re.compile(r"<((?:https?://|mailto:)[^|>]*)(?:\|([^>]*))?>")
_LEADING_MENTION = re.compile(r"^\s*<@[UW][A-Z0-9]+(?:\|[^>]*)?>\s*")


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """Slack's request signature: ``v0=`` and the hex HMAC-SHA256 of ``v0:<ts>:<body>``."""
    base = b"v0:" + timestamp.encode("utf-8") + b":" + body
    return "v0=" + hmac.new(secret.encode("utf-8"), base, hashlib.sha256).hexdigest()


def plain_text(text: str, bot_ids: list[str] | tuple[str, ...] = ()) -> str:
    """A Slack message's text as the user typed it: bot mentions cut, links and escapes undone."""
    for bot_id in bot_ids:
        mention = rf"<@{re.escape(bot_id)}(?:\|[^>]*)?>"
        # Rasa's heuristic: a mention and the space beside it go; a mention glued
        # between two words becomes a space so the words stay apart
        for pattern, replacement in ((mention + r"\s", ""), (r"\s" + mention, ""),
                                     (mention, " ")):
            text = re.sub(pattern, replacement, text)
    text = _LINK.sub(lambda m: m.group(2) if m.group(2) is not None
                     else m.group(1).removeprefix("mailto:"), text)
    # &amp; last: "&amp;lt;" is a typed "&lt;", not a "<"
    text = text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
    return text.strip()


def is_last_retry(number: str | None) -> bool:
    """Whether ``number`` (the ``X-Slack-Retry-Num`` of a request) is Slack's last retry,
    after which the event is not sent again."""
    if number is None:
        return False
    digits = number.strip()
    # ASCII digits only: "³".isdigit() is true, but int("³") raises
    return digits.isascii() and digits.isdigit() and int(digits) >= SLACK_LAST_RETRY


def conversation_id(granularity: str, user: str, channel: str | None,
                    thread: str | None) -> str:
    """The sender id of a Slack user's message under ``conversation_granularity`` (Rasa's)."""
    if granularity == "channel" and channel:
        return f"{user}_{channel}"
    if granularity == "thread" and channel and thread:
        return f"{user}_{channel}_{thread}"
    return user


def interactive_value(action: dict[str, Any]) -> str | None:
    """What the user chose in an interactive component, or None (a link button, say)."""
    kind = action.get("type")
    if kind == "button":
        return action.get("value")
    if kind == "select":
        options = action.get("selected_options") or [{}]
        return options[0].get("value")
    if kind in ("static_select", "external_select", "overflow"):
        return (action.get("selected_option") or {}).get("value")
    chosen = {"conversations_select": "selected_conversation", "users_select": "selected_user",
              "channels_select": "selected_channel", "datepicker": "selected_date"}.get(str(kind))
    return action.get(chosen) if chosen else None


def slack_messages(reply: dict[str, Any]) -> list[dict[str, Any]]:
    """One REST-shaped bot reply as ``chat.postMessage`` bodies (without ``channel``), in order."""
    messages: list[dict[str, Any]] = []
    text = reply.get("text")
    buttons = [b for b in reply.get("buttons") or [] if isinstance(b, dict)]
    if buttons:
        blocks: list[dict[str, Any]] = []
        if text:
            blocks.append({"type": "section", "text": {"type": "plain_text", "text": text}})
        elements = [_button(b) for b in buttons]
        for start in range(0, len(elements), BUTTONS_PER_BLOCK):
            blocks.append({"type": "actions",
                           "elements": elements[start:start + BUTTONS_PER_BLOCK]})
        # the text is what notifications and screen readers show instead of the blocks
        fallback = text or " | ".join(e["text"]["text"] for e in elements)
        messages.append({"text": fallback, "blocks": blocks})
    elif text:
        # Rasa sends each paragraph as a message of its own
        messages.extend({"text": part} for part in str(text).strip().split("\n\n")
                        if part.strip())
    custom = reply.get("custom")
    if isinstance(custom, dict):
        messages.append(dict(custom))
    elif custom is not None:
        logger.warning("slack channel: a custom payload that is not a JSON object was not "
                       "sent (%s)", type(custom).__name__)
    image = reply.get("image")
    if image:
        messages.append({"text": str(image), "blocks": [
            {"type": "image", "image_url": str(image), "alt_text": str(image)}]})
    attachment = reply.get("attachment")
    if isinstance(attachment, (dict, list)) and attachment:
        messages.append({"attachments": attachment if isinstance(attachment, list)
                         else [attachment]})
    elif attachment:
        logger.warning("slack channel: an attachment that is not a JSON object was not sent")
    return messages


def _button(button: dict[str, Any]) -> dict[str, Any]:
    payload = button.get("payload")
    title = button.get("title") or payload or ""
    element: dict[str, Any] = {"type": "button", "text": {"type": "plain_text",
                                                          "text": str(title)}}
    if payload is not None:
        element["value"] = str(payload)
    if button.get("url"):
        element["url"] = str(button["url"])
    return element


class SlackChannel(InputChannel):
    """Rasa's Slack channel: signed Events API and interactivity requests, Web API replies."""

    channel_name = "slack"

    def __init__(self, config: dict[str, Any] | None = None) -> None:
        super().__init__(config)
        settings = ChannelSettings(self.channel_name, self.config, SETTINGS)
        self.token = settings.required_text(
            "slack_token", "the app's Bot User OAuth Token (xoxb-...), from its OAuth & "
            "Permissions page")
        self.signing_secret = settings.required_text(
            "slack_signing_secret", "the app's Signing Secret, from its Basic Information page; "
            "Slack signs every request with it")
        self.slack_channel = str(settings["slack_channel"]) if settings["slack_channel"] else None
        self.use_threads = settings.flag("use_threads")
        self.granularity = str(settings["conversation_granularity"])
        if self.granularity not in GRANULARITIES:
            raise settings.error(
                f"conversation_granularity {self.granularity!r} is not one of sender, channel, "
                "thread",
                hint="sender: one conversation per user; channel: per user and channel; "
                     "thread: per user and thread")
        self.retry_reason_header = str(settings["slack_retry_reason_header"])
        self.retry_number_header = str(settings["slack_retry_number_header"])
        self.errors_ignore_retry = _retry_reasons(settings)
        self.proxy = settings.http_url("proxy", "the proxy's address, such as "
                                       '"http://proxy:3128"', exact=True)
        self.api_url = settings.http_url("api_url")
        self.timeout = settings.positive_seconds("timeout")
        self.deliveries = RecentDeliveries(self.name(), redelivery_wait=RETRY_WAIT)

    # ------------------------------------------------------------ incoming

    def signature_problem(self, headers: Mapping[str, str], body: bytes,
                          now: float | None = None) -> str | None:
        """Why a request is not one Slack signed (a short reason), or None when it is."""
        given = headers.get("x-slack-signature")
        timestamp = headers.get("x-slack-request-timestamp")
        if not given or not timestamp:
            return "no X-Slack-Signature or X-Slack-Request-Timestamp header"
        try:
            age = abs((time.time() if now is None else now) - int(timestamp))
        except ValueError:
            return f"the timestamp {timestamp[:20]!r} is not a number"
        if age > MAX_CLOCK_SKEW:
            # an old signed request replayed by someone who recorded it
            return f"the timestamp is {age:.0f} s off this server's clock"
        if not hmac.compare_digest(signature(self.signing_secret, timestamp, body),
                                   given.strip()):
            return "the signature does not match the signing secret"
        return None

    def retry_to_skip(self, headers: Mapping[str, str]) -> str | None:
        """The retry reason when Slack resent a request that must not be handled again."""
        number = headers.get(self.retry_number_header)
        reason = headers.get(self.retry_reason_header)
        if number and reason in self.errors_ignore_retry:
            return f"#{number} ({reason})"
        return None

    def event_message(self, body: dict[str, Any]) -> IncomingMessage | None:
        """The user message of an ``event_callback``, or None when the bot should not answer it."""
        from dialogflowlite.dialogue.messages import IncomingMessage

        event = body.get("event")
        if not isinstance(event, dict):
            return None
        kind = event.get("type")
        text = event.get("text")
        user = event.get("user")
        bot_ids = _bot_users(body)
        if kind not in ("message", "app_mention") or not isinstance(text, str) or not text:
            return None
        if event.get("bot_id") or event.get("subtype") not in USER_SUBTYPES:
            return None
        if not isinstance(user, str) or not user or user in _own_ids(body):
            return None
        channel = event.get("channel")
        if kind == "message" and event.get("channel_type") != "im":
            if channel != self.slack_channel:
                logger.info("slack channel: a message in channel %s was ignored: only direct "
                            "messages, mentions and slack_channel are answered", channel)
                return None
            if any(f"<@{bot_id}" in text for bot_id in bot_ids):
                # Slack also sends this message as an app_mention; that one is answered
                return None
        if kind == "app_mention" and not bot_ids:
            text = _LEADING_MENTION.sub("", text)
        thread = event.get("thread_ts") or event.get("ts")
        metadata = {"out_channel": channel, "thread_id": thread, "users": bot_ids}
        return IncomingMessage(plain_text(text, bot_ids),
                               sender_id=conversation_id(self.granularity, user, channel, thread),
                               channel=self.name(), metadata=metadata,
                               message_id=event.get("client_msg_id"))

    def interactive_message(self, payload: dict[str, Any]) -> IncomingMessage | None:
        """The user message of a button click or a choice, or None when there is none."""
        from dialogflowlite.dialogue.messages import IncomingMessage

        actions = as_list(payload.get("actions"))
        user = text_id(as_dict(payload.get("user")).get("id"))
        if not actions or not isinstance(actions[0], dict) or not user:
            return None
        value = interactive_value(actions[0])
        if value is None:
            if actions[0].get("type") not in ("button", None):
                logger.warning("slack channel: input from a %r component is not understood",
                               actions[0].get("type"))
            # a link button's click opens its URL; there is nothing to answer
            return None
        message = as_dict(payload.get("message"))
        channel = text_id(as_dict(payload.get("channel")).get("id"))
        thread = message.get("thread_ts") or message.get("ts")
        metadata = {"out_channel": channel, "thread_id": thread, "users": [user]}
        return IncomingMessage(str(value),
                               sender_id=conversation_id(self.granularity, user, channel, thread),
                               channel=self.name(), metadata=metadata)

    def blueprint(self, on_message: OnMessage) -> Blueprint:
        from sanic.response import json, text

        from dialogflowlite.server import validation
        from dialogflowlite.server.errors import bad_request

        blueprint = self.health_blueprint()

        @blueprint.post("/webhook", name="webhook")
        async def webhook(request: Request) -> HTTPResponse:
            problem = self.signature_problem(request.headers, request.body)
            if problem:
                raise refused("slack channel", request, problem, "the request is not signed "
                              "by Slack with this app's signing secret",
                              challenge=SIGNATURE_CHALLENGE)
            content_type = request.headers.get("content-type", "").split(";")[0].strip()
            if content_type == "application/x-www-form-urlencoded":
                form = parse_qs(request.body.decode("utf-8", errors="replace"))
                try:
                    payload = _json_object(form["payload"][0])
                except (KeyError, ValueError):
                    raise bad_request("the form has no JSON `payload`",
                                      parameter="payload") from None
                message = self.interactive_message(payload)
                # a click is not resent, and has no id to recognise it by
                event_id = None
            else:
                body = validation.json_body(request)
                if body.get("type") == "url_verification":
                    return json({"challenge": body.get("challenge")})
                message = self.event_message(body)
                event_id = text_id(body.get("event_id"))
            if message is None:
                return text("")
            limit = request.app.ctx.config.max_message_chars
            if message.text is not None and len(message.text) > limit:
                logger.warning("slack channel: a message of %d characters from %r was not "
                               "handled (at most %d are accepted)", len(message.text),
                               message.sender_id, limit)
                return text("")
            number = request.headers.get(self.retry_number_header)
            skipped = self.retry_to_skip(request.headers)
            last = is_last_retry(number)
            # taken once: a retry waits while its first delivery's turn runs here, and is
            # handled when that turn failed and gave its event back. Settled in the work
            # that outlives a cancelled request; an interactive click has no event id and
            # is not sent again, nor is an event after Slack's last retry
            delivered = await handle_and_send(request, self.deliveries.handle_once(
                request, event_id, message.sender_id,
                partial(self._handle, message, on_message),
                redelivered=event_id is not None and not last, unless=SLACK_RETRIES_LEFT,
                only_if_given_back=skipped is not None))
            if delivered.taken:
                self._log_taken(event_id, number, skipped, delivered.still_running)
                # text(""), not empty(): Sanic's empty() with a status other than 204
                # sends `content-type: None`
                return text("", status=201, headers={"X-Slack-No-Retry": "1"})
            if delivered.answer is not None:
                raise delivered.answer
            return text("")

        return blueprint

    def _log_taken(self, event_id: str | None, number: str | None, skipped: str | None,
                   still_running: bool) -> None:
        """Log why a delivery of ``event_id`` was acknowledged without being handled."""
        if still_running:
            logger.warning("slack channel: Slack's last retry (#%s) of event %s came while its "
                           "first delivery is still being handled; it is acknowledged, so "
                           "should that turn fail, the message is lost", number, event_id)
        elif skipped:
            logger.info("slack channel: retry %s of an event already being handled was "
                        "not handled again", skipped)
        else:
            # a retry for another reason (a proxy's timeout, say) of an event this server
            # took: handled again, the user would get every answer twice
            logger.info("slack channel: event %s came again and was not handled again",
                        event_id)

    async def _handle(self, message: IncomingMessage,
                      on_message: OnMessage) -> Exception | None:
        """Run the message through the bot and post its replies; the error of a turn that
        failed (nothing is posted then), else None."""
        try:
            replies = await on_message(message)
        except Exception as e:
            return e
        # stored by now: replies that cannot be posted are never worth a retry
        await self.send_replies(message, replies)
        return None

    async def send_replies(self, message: IncomingMessage,
                           replies: list[dict[str, Any]]) -> int:
        """Post the ``replies`` to ``message`` where it came from (its channel, and its
        thread with ``use_threads``); how many parts Slack took."""
        metadata = message.metadata
        # without a channel in the event the sender id is the user's id, and a
        # message to a user id lands in the app's direct messages with them
        channel = metadata.get("out_channel") or self.slack_channel or message.sender_id
        thread = metadata.get("thread_id") if self.use_threads else None
        return await self.post_replies(replies, channel, thread)

    # ------------------------------------------------------------ outgoing

    async def post_replies(self, replies: list[dict[str, Any]], channel: str,
                           thread_ts: str | None = None) -> int:
        """Post every part of every reply to ``channel`` in order; how many Slack accepted."""
        import aiohttp

        posted = 0
        headers = {"Authorization": f"Bearer {self.token}",
                   "Content-Type": "application/json; charset=utf-8"}
        url = f"{self.api_url}/chat.postMessage"
        timeout = aiohttp.ClientTimeout(total=self.timeout)
        async with aiohttp.ClientSession(timeout=timeout) as session:
            for reply in replies:
                for part in slack_messages(reply):
                    body = {"channel": channel, **part}
                    if thread_ts:
                        body.setdefault("thread_ts", thread_ts)
                    problem = await self._post(session, url, headers, body)
                    if problem is None:
                        posted += 1
                        continue
                    logger.error("slack channel: a reply to %r was not posted in Slack channel "
                                 "%s (%s)", reply.get("recipient_id"), body["channel"], problem)
        return posted

    async def _post(self, session: Any, url: str, headers: dict[str, str],
                    body: dict[str, Any]) -> str | None:
        """Why Slack did not take the message, or None when it did."""
        data = json.dumps(body, ensure_ascii=False).encode("utf-8")
        answer = await vendor_request(session, "POST", url, data=data, headers=headers,
                                      proxy=self.proxy, secrets=[self.token])
        if answer.failure is not None:
            return answer.failure
        if answer.ok and answer.field("ok") is True:
            return None
        # Slack answers 200 with {"ok": false, "error": "channel_not_found"} when it refuses
        error = answer.field("error")
        return f"status {answer.status}, error {error}" if error else f"status {answer.status}"


def _retry_reasons(settings: ChannelSettings) -> list[str]:
    """``errors_ignore_retry``: one reason or a list of them (Rasa's default when empty)."""
    given = settings["errors_ignore_retry"]
    if isinstance(given, str):
        given = [given]
    if not isinstance(given, list):
        raise settings.error(f"`errors_ignore_retry` must be a list of retry reasons, not "
                             f"{given!r}", "for example `errors_ignore_retry: [http_timeout]`")
    # Rasa: an empty list means its default, so timeouts are never handled twice
    return [str(reason) for reason in given if reason] or ["http_timeout"]


def _json_object(text: str) -> dict[str, Any]:
    """A JSON object from text (ValueError for anything else)."""
    data = safe_json.loads(text)
    if not isinstance(data, dict):
        raise ValueError("not a JSON object")
    return data


def _bot_users(body: dict[str, Any]) -> list[str]:
    """Rasa's ``users`` of an event: ``authed_users``, else the first authorization's user."""
    if isinstance(body.get("authed_users"), list):
        return [str(user) for user in body["authed_users"]]
    authorizations = as_list(body.get("authorizations"))
    if authorizations:
        user = as_dict(authorizations[0]).get("user_id")
        return [str(user)] if user else []
    return []


def _own_ids(body: dict[str, Any]) -> set[str]:
    """The bot users this event was delivered for: their own messages are not answered."""
    return {str(a["user_id"]) for a in as_list(body.get("authorizations"))
            if isinstance(a, dict) and a.get("is_bot") and a.get("user_id")}
