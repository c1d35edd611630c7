"""The twilio_voice channel: a call's requests in at the webhook, TwiML out."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
from types import SimpleNamespace
from typing import Any
from urllib.parse import urlencode
from xml.etree import ElementTree

import pytest
from serving_helpers import request

from dialogflowlite import hookimpl
from dialogflowlite.errors import ConfigError
from dialogflowlite.server.channels.loader import enabled_channels
from dialogflowlite.server.channels.twilio_voice import (
    EMPTY_RESPONSE,
    TwilioVoiceChannel,
    spoken_parts,
)

CALLER = "+4915112345678"
NUMBER = "+15551234567"
CALL = "CA0123456789abcdef0123456789abcdef"
AUTH_TOKEN = "s3cret-auth-token"
WEBHOOK_URL = "https://bot.example.com/webhooks/twilio_voice/webhook"
FALLBACK = "I'm sorry I didn't get that could you rephrase."


class ChannelPlugin:
    @hookimpl
    def dfl_register_channels(self) -> list[type]:
        return [TwilioVoiceChannel]


@pytest.fixture(autouse=True)
def registered(register_plugin) -> None:
    register_plugin(ChannelPlugin(), "twilio-voice-channel-test")


def call(status: str = "in-progress", call_sid: str = CALL, **extra: str) -> dict[str, str]:
    """The form Twilio posts for a call to the number (or for a Gather's result)."""
    return {"AccountSid": "AC0123", "CallSid": call_sid, "From": CALLER, "To": NUMBER,
            "CallStatus": status, "Direction": "inbound", "ApiVersion": "2010-04-01", **extra}


def said(words: str, call_sid: str = CALL) -> dict[str, str]:
    return call(call_sid=call_sid, SpeechResult=words, Confidence="0.92")


def twilio_signature(url: str, form: dict[str, str], token: str = AUTH_TOKEN) -> str:
    data = url + "".join(f"{name}{form[name]}" for name in sorted(form))
    return base64.b64encode(hmac.new(token.encode(), data.encode(), hashlib.sha1).digest()
                            ).decode()


def post_forms(app: Any, agent: Any, *forms: dict[str, str], sender: str = CALLER,
               sign: bool = False) -> tuple[list[Any], list[dict] | None]:
    """Post forms to the webhook in turn; the responses and what the store then holds."""
    async def main() -> tuple[list[Any], list[dict] | None]:
        responses = []
        for form in forms:
            headers = {"Content-Type": "application/x-www-form-urlencoded"}
            if sign:
                headers["X-Twilio-Signature"] = twilio_signature(WEBHOOK_URL, form)
            responses.append(await request(app, "post", "/webhooks/twilio_voice/webhook",
                                           content=urlencode(form), headers=headers))
        return responses, await agent.tracker_store.load_events(sender)

    return asyncio.run(main())


def parse(response: Any) -> ElementTree.Element:
    assert response.status == 200
    assert response.headers["content-type"].startswith("text/xml")
    assert response.text.startswith('<?xml version="1.0" encoding="UTF-8"?>')
    return ElementTree.fromstring(response.text)


def spoken(twiml: ElementTree.Element) -> list[str]:
    """Every ``<Say>`` text in document order, the gathered one last."""
    return [say.text or "" for say in twiml.iter("Say")]


def gathered(twiml: ElementTree.Element) -> ElementTree.Element:
    [gather] = twiml.findall("Gather")
    assert list(twiml)[-1] is gather  # listening is the last thing the call does
    return gather


def user_texts(stored: list[dict] | None) -> list[str]:
    return [e["text"] for e in stored or [] if e["event"] == "user"]


def bot_texts(stored: list[dict] | None) -> list[str]:
    return [e["text"] for e in stored or [] if e["event"] == "bot"]


# ------------------------------------------------------------------ through the server


def test_a_new_call_sends_the_initial_prompt_and_listens(make_app, agent) -> None:
    app = make_app(credentials={"twilio_voice": {"initial_prompt": "/greet"}})
    [response], stored = post_forms(app, agent, call("ringing"))
    twiml = parse(response)
    gather = gathered(twiml)
    assert gather.attrib == {"input": "speech", "action": "/webhooks/twilio_voice/webhook",
                             "actionOnEmptyResult": "true", "speechTimeout": "5",
                             "speechModel": "default", "enhanced": "false"}
    [say] = gather.findall("Say")
    assert (say.text, say.attrib) == ("Hello! How can I help?", {"voice": "woman"})
    user = next(e for e in stored if e["event"] == "user")
    assert (user["text"], user["input_channel"]) == ("/greet", "twilio_voice")
    assert user["metadata"] == {"twilio_voice": {"call_sid": CALL, "to": NUMBER,
                                                 "call_status": "ringing",
                                                 "direction": "inbound"}}


def test_the_callers_speech_is_the_user_message(make_app, agent) -> None:
    app = make_app(credentials={"twilio_voice": {"initial_prompt": "/greet"}})
    [_, response], stored = post_forms(app, agent, call("ringing"), said("/goodbye"))
    assert spoken(parse(response)) == ["Bye!"]
    assert user_texts(stored) == ["/greet", "/goodbye"]
    assert next(e for e in stored if e["event"] == "user" and e["text"] == "/goodbye"
                )["metadata"]["twilio_voice"]["confidence"] == "0.92"


def test_buttons_are_said_as_options_after_the_text(make_app, agent) -> None:
    app = make_app(credentials={"twilio_voice": {"assistant_voice": "Polly.Joanna"}})
    [response], _ = post_forms(app, agent, said("/ask_choice"))
    twiml = parse(response)
    assert [child.tag for child in twiml] == ["Say", "Pause", "Say", "Pause", "Gather"]
    assert spoken(twiml) == ["Pick a colour", "Red", "Blue"]
    assert {say.attrib["voice"] for say in twiml.iter("Say")} == {"Polly.Joanna"}
    assert twiml.find("Pause").attrib == {"length": "1"}
    assert [say.text for say in gathered(twiml).findall("Say")] == ["Blue"]


def test_silence_repeats_the_bots_last_message_without_a_turn(make_app, agent) -> None:
    app = make_app(credentials={"twilio_voice": {"initial_prompt": "/ask_choice"}})
    [_, response], stored = post_forms(app, agent, call("ringing"), call())
    assert spoken(parse(response)) == ["Pick a colour", "Red", "Blue"]
    assert user_texts(stored) == ["/ask_choice"]  # nothing new was handled
    assert bot_texts(stored) == ["Pick a colour"]


def test_silence_before_any_bot_message_gets_the_fallback_phrase(make_app, agent) -> None:
    # the tiny bot has no NLU: "hello" (Rasa's initial prompt) gets no answer
    app = make_app(credentials={"twilio_voice": {}})
    [first, again], stored = post_forms(app, agent, call("ringing"), call())
    assert spoken(parse(first)) == []
    assert gathered(parse(first)).findall("Say") == []  # it still listens
    assert spoken(parse(again)) == [FALLBACK]
    assert user_texts(stored) == ["hello"] and bot_texts(stored) == []


def test_an_answered_outgoing_call_starts_with_the_initial_prompt(make_app, agent) -> None:
    app = make_app(credentials={"twilio_voice": {"initial_prompt": "/greet"}})
    # the caller's earlier call is stored; this one (a new CallSid) is in progress already
    [_, _, response], stored = post_forms(
        app, agent, call("ringing", call_sid="CA-earlier"), said("/goodbye", "CA-earlier"),
        call("in-progress", Direction="outbound-api"))
    assert spoken(parse(response)) == ["Hello! How can I help?"]
    assert user_texts(stored) == ["/greet", "/goodbye", "/greet"]


def test_a_call_that_is_over_gets_an_empty_response(make_app, agent) -> None:
    app = make_app(credentials={"twilio_voice": {"initial_prompt": "/greet"}})
    [response], stored = post_forms(app, agent, call("completed", CallDuration="42"))
    assert (response.status, response.text) == (200, EMPTY_RESPONSE)
    assert stored is None


def test_a_caller_without_a_valid_number_is_known_by_the_call(make_app, agent) -> None:
    app = make_app(credentials={"twilio_voice": {"initial_prompt": "/greet"}})
    form = {**call("ringing"), "From": "not\na number"}  # no conversation id
    [response], stored = post_forms(app, agent, form, sender=CALL)
    assert spoken(parse(response)) == ["Hello! How can I help?"]
    assert user_texts(stored) == ["/greet"]


def test_settings_reach_the_gather(make_app, agent) -> None:
    app = make_app(credentials={"twilio_voice": {
        "speech_timeout": "auto", "speech_model": "numbers_and_commands",
        "assistant_voice": "Polly.Sally-Neural", "initial_prompt": "/greet"}})
    [response], _ = post_forms(app, agent, call("ringing"))
    gather = gathered(parse(response))
    assert (gather.attrib["speechTimeout"], gather.attrib["speechModel"],
            gather.attrib["enhanced"]) == ("auto", "numbers_and_commands", "false")
    # Rasa's spelling of the voice, sent as the name Polly knows
    assert gather.find("Say").attrib == {"voice": "Polly.Salli-Neural"}


def test_the_health_route_and_the_warning_without_verification(make_app, caplog) -> None:
    with caplog.at_level("WARNING"):
        app = make_app(credentials={"twilio_voice": {}})
    assert "requests to /webhooks/twilio_voice/webhook are not verified" in caplog.text
    response = asyncio.run(request(app, "get", "/webhooks/twilio_voice/"))
    assert (response.status, response.json) == (200, {"status": "ok"})


def test_a_failed_turn_says_the_fallback_phrase(caplog) -> None:
    channel = TwilioVoiceChannel({})

    async def broken(message: Any) -> list[dict[str, Any]]:
        raise RuntimeError("the dialogue broke")

    fake = SimpleNamespace(app=SimpleNamespace(ctx=SimpleNamespace(
        config=SimpleNamespace(max_message_chars=500), agent=None)))
    with caplog.at_level("ERROR"):
        twiml = asyncio.run(channel.respond(fake, broken, {k: [v] for k, v in
                                                           said("/greet").items()}))
    assert spoken(ElementTree.fromstring(twiml)) == [FALLBACK]
    assert f"conversation {CALLER!r} could not be handled and is lost: the dialogue broke" \
        in caplog.text


# ------------------------------------------------------------------ signatures


def signed_app(make_app: Any) -> Any:
    return make_app(credentials={"twilio_voice": {
        "auth_token": AUTH_TOKEN, "webhook_url": WEBHOOK_URL, "initial_prompt": "/greet"}})


def test_a_signed_request_is_handled_and_answers_come_back_signed(make_app, agent,
                                                                  caplog) -> None:
    with caplog.at_level("WARNING"):
        app = signed_app(make_app)
    assert "twilio_voice" not in caplog.text
    [response], stored = post_forms(app, agent, call("ringing"), sign=True)
    # the answer goes to the URL Twilio signs, not to a path relative to the request
    assert gathered(parse(response)).attrib["action"] == WEBHOOK_URL
    assert user_texts(stored) == ["/greet"]


@pytest.mark.parametrize("signature", [None, "forged", "other-token"])
def test_an_unsigned_or_forged_request_is_refused(make_app, agent, caplog, signature) -> None:
    app = signed_app(make_app)
    form = call("ringing")
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    if signature == "forged":
        headers["X-Twilio-Signature"] = "bm90IGEgc2lnbmF0dXJl"
    elif signature == "other-token":
        headers["X-Twilio-Signature"] = twilio_signature(WEBHOOK_URL, form, "another-token")

    async def main() -> tuple[Any, Any]:
        response = await request(app, "post", "/webhooks/twilio_voice/webhook",
                                 content=urlencode(form), headers=headers)
        return response, await agent.tracker_store.load_events(CALLER)

    with caplog.at_level("WARNING"):
        response, stored = asyncio.run(main())
    assert response.status == 403 and response.json["reason"] == "NotAuthorized"
    assert stored is None
    assert "twilio_voice: a request from" in caplog.text and "was refused" in caplog.text


# ------------------------------------------------------------------ what is said


def test_text_is_escaped_and_what_cannot_be_spoken_is_skipped(caplog) -> None:
    channel = TwilioVoiceChannel({})
    with caplog.at_level("DEBUG", logger="dialogflowlite.server.channels.twilio_voice"):
        twiml = channel.twiml([
            {"text": 'Fish & chips < 5 "quid"\x07\n\nSecond paragraph.'},
            {"image": "https://example.com/fish.png"},
            {"text": "Pick one", "buttons": [{"title": "Cod", "payload": "/cod"},
                                             {"title": "Docs", "url": "https://x.org"}],
             "custom": {"anything": True}},
        ])
    assert '<Say voice="woman">Fish &amp; chips &lt; 5 "quid"</Say>' in twiml
    assert spoken(ElementTree.fromstring(twiml)) == [
        'Fish & chips < 5 "quid"', "Second paragraph.", "Pick one", "Cod", "Docs"]
    assert "the image of a reply was not spoken" in caplog.text
    assert "the custom of a reply was not spoken" in caplog.text
    assert spoken_parts({"text": "  ", "buttons": [{"payload": ""}]}) == []


# ------------------------------------------------------------------ settings


def test_the_channel_is_enabled_with_rasas_defaults() -> None:
    [channel] = enabled_channels({"twilio_voice": None})
    assert isinstance(channel, TwilioVoiceChannel)
    assert (channel.initial_prompt, channel.reprompt_fallback_phrase, channel.assistant_voice,
            channel.speech_timeout, channel.speech_model, channel.enhanced) == (
        "hello", FALLBACK, "woman", "5", "default", False)
    assert (channel.auth_token, channel.webhook_url) == (None, None)


@pytest.mark.parametrize("settings", [
    {"speech_timeout": 3},
    {"speech_timeout": "Auto", "speech_model": "numbers_and_commands"},
    {"enhanced": True, "speech_model": "phone_call"},
    {"enhanced": "TRUE", "speech_model": "phone_call"},
    {"assistant_voice": "alice", "reprompt_fallback_phrase": "Pardon?"},
    {"webhook_url": WEBHOOK_URL},
])
def test_good_settings(settings: dict[str, Any]) -> None:
    TwilioVoiceChannel(settings)


@pytest.mark.parametrize(("settings", "key"), [
    ({"assistant_voice": "robot"}, "assistant_voice"),
    ({"assistant_voice": "Polly.joanna"}, "assistant_voice"),
    ({"speech_timeout": "soon"}, "speech_timeout"),
    ({"speech_timeout": 0}, "speech_timeout"),
    ({"speech_timeout": -2}, "speech_timeout"),
    ({"speech_timeout": True}, "speech_timeout"),
    ({"speech_timeout": "auto"}, "speech_timeout"),
    ({"speech_timeout": "auto", "speech_model": "phone_call"}, "speech_timeout"),
    ({"speech_model": "experimental"}, "speech_model"),
    ({"enhanced": "yes"}, "enhanced"),
    ({"enhanced": "true"}, "enhanced"),
    ({"enhanced": True, "speech_model": "numbers_and_commands"}, "enhanced"),
    ({"initial_prompt": ""}, "initial_prompt"),
    ({"reprompt_fallback_phrase": ["Pardon?"]}, "reprompt_fallback_phrase"),
    ({"auth_token": AUTH_TOKEN}, "webhook_url"),
    ({"auth_token": " ", "webhook_url": WEBHOOK_URL}, "auth_token"),
    ({"webhook_url": "bot.example.com/hook"}, "webhook_url"),
    ({"speech_timeot": 3}, "speech_timeot"),
])
def test_bad_settings_name_the_key(settings: dict[str, Any], key: str) -> None:
    with pytest.raises(ConfigError, match=r"credentials\.yml twilio_voice") as raised:
        enabled_channels({"twilio_voice": settings})
    message = str(raised.value)
    assert f"`{key}`" in message or f"'{key}'" in message
    assert raised.value.hint


def test_bad_settings_hints() -> None:
    with pytest.raises(ConfigError) as voice:
        TwilioVoiceChannel({"assistant_voice": "Polly.Joana"})
    assert "did you mean 'Polly.Joanna'" in str(voice.value)
    with pytest.raises(ConfigError) as unknown:
        TwilioVoiceChannel({"speech_timeot": 3})
    assert "did you mean 'speech_timeout'" in str(unknown.value)
    with pytest.raises(ConfigError) as enhanced:
        TwilioVoiceChannel({"enhanced": True})
    assert "set speech_model: phone_call" in str(enhanced.value)
