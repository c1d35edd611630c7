"""The Twilio Voice channel: Rasa's ``twilio_voice`` connector, for phone calls through Twilio.

Twilio requests the number's voice webhook when a call comes in (form data:
``CallSid``, ``From``, ``To``, ``CallStatus``, ...) and runs the TwiML it gets
back: the bot's words are spoken with ``<Say>``, the last of them inside a
``<Gather input="speech">`` whose ``action`` is the same webhook, so what the
caller says next comes back as ``SpeechResult``. credentials.yml, Rasa's keys
first (all optional; these are the defaults)::

    twilio_voice:
      initial_prompt: "hello"             # the user message a new call starts with
      reprompt_fallback_phrase: "I'm sorry I didn't get that could you rephrase."
      assistant_voice: "woman"            # man, woman, alice or one of Rasa's Polly voices
      speech_timeout: "5"                 # seconds of silence that end the caller's turn, or auto
      speech_model: "default"             # default, numbers_and_commands or phone_call
      enhanced: "false"                   # Twilio's premium phone_call model
      # settings of this channel only, not Rasa's:
      auth_token: "e231c1..."             # the account's auth token: verifies every request
      webhook_url: "https://example.com/webhooks/twilio_voice/webhook"  # as set in Twilio

The settings are checked as Rasa checks them: a voice, speech model or
``enhanced`` value Rasa does not know, a ``speech_timeout`` that is not a
whole number of seconds or ``auto``, ``enhanced`` without the ``phone_call``
model, and ``auto`` with a model other than ``numbers_and_commands`` (Twilio
does not take ``auto`` with the default model) are each a ConfigError naming
the key.
Rasa's ``Polly.Sally-Neural`` is sent as Amazon's ``Polly.Salli-Neural``.

Routes under ``/webhooks/twilio_voice``: ``GET /`` answers ``{"status":
"ok"}``; ``POST /webhook`` (the number's "A call comes in" webhook) answers
TwiML (``text/xml``), also when the turn fails (then the fallback phrase is
spoken, so the call goes on).

Security (Rasa checks nothing): with ``auth_token`` and ``webhook_url`` (the
URL exactly as entered in the Twilio console) a request must carry a valid
``X-Twilio-Signature``, computed as for the ``twilio`` channel; anything else
gets 403 and is not handled. The Gather's ``action`` is then ``webhook_url``,
so the caller's answers are signed for the same URL. Without them nothing is
verified (logged once when mounted) and the ``action`` is the relative path
``/webhooks/twilio_voice/webhook``, as in Rasa.

Incoming, as in Rasa: the conversation id is ``From`` (the caller's number,
or its SIP address; ``CallSid`` when ``From`` is not a valid id), the text
``SpeechResult``. A request without speech is the start of a call when its
``CallStatus`` is ``ringing`` (Rasa's rule) or, beyond Rasa, when the
conversation holds no message of this ``CallSid`` yet (an outgoing call,
answered ``in-progress``): ``initial_prompt`` is then the user's message.
Otherwise the caller said nothing: the bot's last message is said again
(Rasa reads it from the tracker too), or ``reprompt_fallback_phrase`` when
there is none; no message is handled. A request for a call that is over
(``completed``, ``busy``, ``no-answer``, ``failed``, ``canceled``: a status
callback pointed here) gets an empty ``<Response/>``. Metadata:
``{"twilio_voice": {"call_sid", "to", "call_status", "direction",
"confidence"}}``.

Outgoing: each paragraph (blank-line separated) of a text is a ``<Say>`` with
``assistant_voice``, a one-second ``<Pause>`` between them, as in Rasa; a
button's title is said after its text (its payload cannot be spoken: NLU must
understand the titles). Images, ``custom`` JSON, attachments and elements
cannot be spoken and are skipped (a debug log line); Rasa fails on ``custom``.
Text is escaped for XML, and characters XML cannot carry are dropped. A turn
without anything to say still listens: an empty ``<Gather>``.

Unlike the messaging channels (:mod:`.deliveries`), this one does not skip a
request Twilio sends again. Its body names the call (``CallSid``) but no turn
of it (a caller may say "yes" twice), and only the
``I-Twilio-Idempotency-Token`` header tells a retry; but a retry cannot be
answered with nothing, as the others are: Twilio gave up on the first answer
and says the retry's instead, so an empty one would end the call, and the
first answer's TwiML is known only to the worker that took the first request.
Twilio's default retry policy (``rp=ct``) retries only a connection that
failed, when the first request never arrived; a webhook URL whose ``#rp=``
also retries read timeouts may see a turn slower than that handled twice.
"""

from __future__ import annotations

import logging
import re
from typing import TYPE_CHECKING, Any
from xml.etree import ElementTree

from dialogflowlite.errors import DialogflowLiteError
from dialogflowlite.server.channels.base import InputChannel, OnMessage
from dialogflowlite.server.channels.settings import ChannelSettings
from dialogflowlite.server.channels.twilio import (
    signature_problem,
    signed_form,
)

if TYPE_CHECKING:
    from sanic import Blueprint, Request
    from sanic.response import HTTPResponse

logger = logging.getLogger(__name__)

#: credentials.yml keys and their defaults; the first six are Rasa's, with Rasa's defaults
SETTINGS: dict[str, Any] = {
    "initial_prompt": "hello",
    "reprompt_fallback_phrase": "I'm sorry I didn't get that could you rephrase.",
    "assistant_voice": "woman",
    "speech_timeout": "5",
    "speech_model": "default",
    "enhanced": "false",
    "auth_token": None,
    "webhook_url": None,
}

#: the voices Rasa accepts (Twilio's basic voices and a set of Amazon Polly ones)
VOICES = (
    "man", "woman", "alice",
    "Polly.Mads", "Polly.Naja", "Polly.Lotte", "Polly.Reuben", "Polly.Nicole", "Polly.Russell",
    "Polly.Amy", "Polly.Brian", "Polly.Emma", "Polly.Amy-Neural", "Polly.Emma-Neural",
    "Polly.Brian-Neural", "Polly.Raveena", "Polly.Ivy", "Polly.Joanna", "Polly.Joey",
    "Polly.Justin", "Polly.Kendra", "Polly.Kimberly", "Polly.Matthew", "Polly.Salli",
    "Polly.Ivy-Neural", "Polly.Joanna-Neural", "Polly.Kendra-Neural", "Polly.Kimberly-Neural",
    "Polly.Salli-Neural", "Polly.Sally-Neural", "Polly.Joey-Neural", "Polly.Justin-Neural",
    "Polly.Matthew-Neural", "Polly.Geraint", "Polly.Celine", "Polly.Mathieu", "Polly.Chantal",
    "Polly.Hans", "Polly.Marlene", "Polly.Vicki", "Polly.Dora", "Polly.Karl", "Polly.Carla",
    "Polly.Giorgio", "Polly.Mizuki", "Polly.Takumi", "Polly.Liv", "Polly.Jacek", "Polly.Jan",
    "Polly.Ewa", "Polly.Maja", "Polly.Ricardo", "Polly.Vitoria", "Polly.Camila-Neural",
    "Polly.Cristiano", "Polly.Ines", "Polly.Carmen", "Polly.Maxim", "Polly.Tatyana",
    "Polly.Conchita", "Polly.Enrique", "Polly.Miguel", "Polly.Penelope", "Polly.Lupe-Neural",
    "Polly.Astrid", "Polly.Filiz", "Polly.Gwyneth",
)
#: Rasa's spelling of a voice, and the name Amazon Polly (so Twilio) knows it by
VOICE_SPELLING = {"Polly.Sally-Neural": "Polly.Salli-Neural"}
SPEECH_MODELS = ("default", "numbers_and_commands", "phone_call")
#: call statuses after which nothing can be said any more
ENDED = ("completed", "busy", "no-answer", "failed", "canceled")

XML_DECLARATION = '<?xml version="1.0" encoding="UTF-8"?>'
EMPTY_RESPONSE = XML_DECLARATION + "<Response />"
#: characters XML 1.0 cannot carry at all, even escaped
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


# ------------------------------------------------------------------ settings


def _phrase(settings: ChannelSettings, key: str, what: str) -> str:
    value = settings[key]
    if not isinstance(value, str) or not value.strip():
        raise settings.error(f"`{key}` must be text, {what}",
                             f'leave it out for "{SETTINGS[key]}"')
    return value.strip()


def _voice(settings: ChannelSettings) -> str:
    from dialogflowlite.io.formats import did_you_mean

    voice = settings["assistant_voice"]
    if voice not in VOICES:
        raise settings.error(f"`assistant_voice` {voice!r} is not a voice Twilio Voice "
                             "supports here",
                             did_you_mean(str(voice), VOICES)
                             or "use man, woman, alice or a Polly voice such as "
                                "Polly.Joanna (see the docs for the list)")
    return VOICE_SPELLING.get(voice, voice)


def _speech_timeout(settings: ChannelSettings) -> str:
    value = settings["speech_timeout"]
    text = str(value).strip().lower() if not isinstance(value, bool) else ""
    if text == "auto":
        return text
    if text.isdigit() and int(text) > 0:
        return str(int(text))
    raise settings.error(f"`speech_timeout` must be a whole number of seconds or auto, "
                         f"not {value!r}", 'leave it out for "5"')


def _enhanced(settings: ChannelSettings) -> bool:
    value = settings["enhanced"]
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    raise settings.error(f"`enhanced` must be true or false, not {value!r}",
                         'leave it out for "false"')


# ------------------------------------------------------------------ what is said


def spoken_parts(reply: dict[str, Any]) -> list[str]:
    """What one REST-shaped bot reply says, one part per ``<Say>``."""
    parts = [part.strip() for part in str(reply.get("text") or "").strip().split("\n\n")
             if part.strip()]
    for button in reply.get("buttons") or []:
        if isinstance(button, dict):
            title = str(button.get("title") or button.get("payload") or "").strip()
            if title:
                parts.append(title)
    for key in ("image", "custom", "attachment", "elements"):
        if reply.get(key):
            # a phone call can only carry speech; responses should have a spoken variant
            logger.debug("twilio_voice: the %s of a reply was not spoken (a call carries "
                         "speech only)", key)
    cleaned = (_NOT_XML.sub("", part) for part in parts)
    return [part for part in cleaned if part.strip()]


def last_bot_reply(events: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The bot's last message in stored events, in the REST shape, or None."""
    for event in reversed(events):
        if event.get("event") == "bot":
            data = event.get("data") if isinstance(event.get("data"), dict) else {}
            return {**data, "text": event.get("text")}
    return None


def call_has_started(events: list[dict[str, Any]], call_sid: str) -> bool:
    """Whether a user message of the call ``call_sid`` is among the stored events."""
    for event in reversed(events):
        if event.get("event") != "user":
            continue
        metadata = event.get("metadata") if isinstance(event.get("metadata"), dict) else {}
        details = metadata.get("twilio_voice")
        if isinstance(details, dict) and details.get("call_sid") == call_sid:
            return True
    return False


# ------------------------------------------------------------------ the channel


class TwilioVoiceChannel(InputChannel):
    """Rasa's Twilio Voice connector: a call's speech in at a webhook, TwiML out."""

    channel_name = "twilio_voice"

    def __init__(self, config: dict[str, Any] | None = None) -> None:
        super().__init__(config)
        settings = ChannelSettings(self.channel_name, self.config, SETTINGS)
        self.initial_prompt = _phrase(settings, "initial_prompt",
                                      "the user message a new call starts with")
        self.reprompt_fallback_phrase = _phrase(
            settings, "reprompt_fallback_phrase", "what the bot says when it heard nothing")
        self.assistant_voice = _voice(settings)
        self.speech_model = settings["speech_model"]
        if self.speech_model not in SPEECH_MODELS:
            raise settings.error(f"`speech_model` {self.speech_model!r} is not one of "
                                 f"{', '.join(SPEECH_MODELS)}", 'leave it out for "default"')
        self.speech_timeout = _speech_timeout(settings)
        self.enhanced = _enhanced(settings)
        if self.enhanced and self.speech_model != "phone_call":
            raise settings.error("`enhanced` needs speech_model phone_call, Twilio's only "
                                 f"enhanced model (speech_model is {self.speech_model!r})",
                                 "set speech_model: phone_call, or enhanced: false")
        if self.speech_timeout == "auto" and self.speech_model != "numbers_and_commands":
            raise settings.error("`speech_timeout` auto needs speech_model "
                                 f"numbers_and_commands (speech_model is "
                                 f"{self.speech_model!r})",
                                 "give a number of seconds, or set speech_model: "
                                 "numbers_and_commands")
        self.auth_token: str | None = None
        if settings["auth_token"] is not None:
            self.auth_token = settings.required_text(
                "auth_token", "the account's Auth Token, from the Twilio console")
        # the signature covers the URL exactly as entered in the console
        self.webhook_url = settings.http_url(
            "webhook_url", 'the URL set in the Twilio console, e.g. '
            '"https://example.com/webhooks/twilio_voice/webhook"', exact=True)
        if self.auth_token is not None and self.webhook_url is None:
            raise settings.error("`webhook_url` is missing; with auth_token it is the URL "
                                 "Twilio signs, exactly as entered in the Twilio console",
                                 'write `  webhook_url: "https://.../webhooks/twilio_voice/'
                                 'webhook"`')

    # -------------------------------------------------------------- TwiML

    def gather_action(self) -> str:
        """Where the caller's answer goes: ``webhook_url``, else the webhook's path (Rasa's)."""
        return self.webhook_url or f"{self.url_prefix()}/webhook"

    def twiml(self, replies: list[dict[str, Any]]) -> str:
        """The TwiML that says the bot's replies and listens for the caller's answer."""
        spoken = [part for reply in replies for part in spoken_parts(reply)]
        response = ElementTree.Element("Response")
        for part in spoken[:-1]:
            self._say(response, part)
            ElementTree.SubElement(response, "Pause", length="1")
        gather = ElementTree.SubElement(response, "Gather", {
            "input": "speech", "action": self.gather_action(), "actionOnEmptyResult": "true",
            "speechTimeout": self.speech_timeout, "speechModel": self.speech_model,
            "enhanced": "true" if self.enhanced else "false"})
        if spoken:
            self._say(gather, spoken[-1])
        return XML_DECLARATION + ElementTree.tostring(response, encoding="unicode")

    def _say(self, parent: ElementTree.Element, text: str) -> None:
        ElementTree.SubElement(parent, "Say", voice=self.assistant_voice).text = text

    # -------------------------------------------------------------- incoming

    def signature_problem(self, signed: str | None, params: dict[str, list[str]]) -> str | None:
        """Why a request is not one Twilio signed (a short reason), or None when it is
        (or when nothing is verified)."""
        if self.auth_token is None or self.webhook_url is None:
            return None
        return signature_problem(self.auth_token, self.webhook_url, signed, params)

    def metadata(self, form: dict[str, list[str]]) -> dict[str, Any]:
        """The user message's metadata; override to change it (``call_sid`` must stay:
        it tells a new call from a silent caller)."""
        def first(name: str) -> str | None:
            return (form.get(name) or [None])[0]

        details = {"call_sid": first("CallSid"), "to": first("To"),
                   "call_status": first("CallStatus"), "direction": first("Direction"),
                   "confidence": first("Confidence")}
        return {"twilio_voice": {k: v for k, v in details.items() if v is not None}}

    def blueprint(self, on_message: OnMessage) -> Blueprint:
        from sanic.response import text

        blueprint = self.health_blueprint()
        if self.auth_token is None:
            logger.warning("twilio_voice: no auth_token and webhook_url in credentials.yml, so "
                           "requests to /webhooks/twilio_voice/webhook are not verified; "
                           "anyone who finds it can speak as any caller")

        def answer(twiml: str) -> HTTPResponse:
            return text(twiml, content_type="text/xml; charset=utf-8")

        @blueprint.post("/webhook", name="webhook")
        async def webhook(request: Request) -> HTTPResponse:
            form = signed_form(request, self.signature_problem, "twilio_voice")
            return answer(await self.respond(request, on_message, form))

        return blueprint

    async def respond(self, request: Request, on_message: OnMessage,
                      form: dict[str, list[str]]) -> str:
        """The TwiML answer to one webhook request (see the module docs)."""
        from dialogflowlite.server.validation import is_sender_id

        def first(name: str) -> str:
            return (form.get(name) or [""])[0]

        call_sid, status = first("CallSid").strip(), first("CallStatus").strip().lower()
        sender = first("From").strip()
        if not is_sender_id(sender):
            sender = call_sid
        if not is_sender_id(sender) or status in ENDED:
            logger.debug("twilio_voice: a request without a caller, or for a call that is "
                         "over (%s), was answered with nothing", status or "no status")
            return EMPTY_RESPONSE
        speech = first("SpeechResult").strip()
        if speech:
            return self.twiml(await self.handle(request, on_message, sender, speech, form))
        if status != "ringing":
            events = await self._stored_events(request, sender)
            if call_has_started(events, call_sid):
                # the caller said nothing: say the last thing again
                return self.twiml([last_bot_reply(events)
                                   or {"text": self.reprompt_fallback_phrase}])
        return self.twiml(await self.handle(request, on_message, sender, self.initial_prompt,
                                            form))

    async def handle(self, request: Request, on_message: OnMessage, sender: str,
                     user_text: str, form: dict[str, list[str]]) -> list[dict[str, Any]]:
        """Run one message through the bot; its replies, or the fallback phrase when the
        turn fails (the call goes on)."""
        from dialogflowlite.dialogue.messages import IncomingMessage

        fallback = [{"text": self.reprompt_fallback_phrase}]
        limit = request.app.ctx.config.max_message_chars
        if len(user_text) > limit:
            logger.info("twilio_voice: speech of %d characters from %s was ignored (at most %d "
                        "are accepted)", len(user_text), sender, limit)
            return fallback
        try:
            message = IncomingMessage(user_text, sender_id=sender, channel=self.name(),
                                      metadata=dict(self.metadata(form)))
            return await on_message(message)
        except Exception as e:
            # nothing of the turn was stored; the caller hears the fallback phrase and may
            # say it again
            logger.error("twilio_voice: the speech of conversation %r could not be handled "
                         "and is lost: %s", sender, e,
                         exc_info=not isinstance(e, DialogflowLiteError))
        return fallback

    async def _stored_events(self, request: Request, sender: str) -> list[dict[str, Any]]:
        agent = request.app.ctx.agent
        if agent is None:
            return []
        try:
            return await agent.tracker_store.load_events(sender) or []
        except DialogflowLiteError as e:
            logger.error("twilio_voice: the conversation of %s could not be read: %s", sender, e)
            return []
