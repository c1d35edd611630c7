"""The Twilio channel: SMS and WhatsApp messages in at the webhook, out through a stub REST API."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlencode

import pytest
from serving_helpers import StubHttpServer, request

from dialogflowlite.errors import ConfigError
from dialogflowlite.server.channels.loader import enabled_channels
from dialogflowlite.server.channels.twilio import (
    EMPTY_TWIML,
    MAX_BODY,
    TwilioChannel,
    custom_message,
    message_text,
    reply_messages,
    sender_number,
    signature,
)

ACCOUNT_SID = "AC0123456789abcdef0123456789abcdef"
AUTH_TOKEN = "s3cret-auth-token"
NUMBER = "+15551234567"
USER = "+4915112345678"
WEBHOOK_URL = "https://bot.example.com/webhooks/twilio/webhook"


class TwilioApi(StubHttpServer):
    """Twilio's REST API: records every call; ``failures`` are answered first, one per call."""

    def __init__(self, failures: list[tuple[int, dict]] | None = None) -> None:
        self.failures = list(failures or [])

        def answer(request: Any) -> tuple[int, dict, bytes]:
            status, body = self.failures.pop(0) if self.failures else (201, {"sid": "SM1"})
            return status, {"Content-Type": "application/json"}, json.dumps(body).encode()

        super().__init__(answer)
        self.base = self.url.rstrip("/") + "/2010-04-01"

    def sent(self) -> list[dict[str, list[str]]]:
        """The form of every call, each parameter with its list of values."""
        return [parse_qs(r.body.decode(), keep_blank_values=True) for r in self.requests]

    def bodies(self) -> list[str]:
        return [form["Body"][0] for form in self.sent() if "Body" in form]


@pytest.fixture
def api() -> Iterator[TwilioApi]:
    found = TwilioApi()
    try:
        yield found
    finally:
        found.close()


def credentials(api: TwilioApi, **settings: Any) -> dict[str, Any]:
    return {"twilio": {"account_sid": ACCOUNT_SID, "auth_token": AUTH_TOKEN,
                       "twilio_number": NUMBER, "api_url": api.base, **settings}}


def sms(body: str, sender: str = USER, **extra: str) -> dict[str, str]:
    return {"MessageSid": "SM0001", "AccountSid": ACCOUNT_SID, "From": sender, "To": NUMBER,
            "Body": body, "NumMedia": "0", **extra}


def twilio_signature(url: str, form: dict[str, str], token: str = AUTH_TOKEN) -> str:
    """What Twilio sends: base64 HMAC-SHA1 of the URL and the sorted name-value pairs."""
    data = url + "".join(f"{name}{form[name]}" for name in sorted(form))
    return base64.b64encode(hmac.new(token.encode(), data.encode(), hashlib.sha1).digest()
                            ).decode()


def post_message(app: Any, agent: Any, form: dict[str, str], sender: str = USER,
                 headers: dict[str, str] | None = None) -> tuple[Any, list[dict] | None]:
    """Post one message to the webhook; the response and what the store then holds."""
    async def main() -> tuple[Any, list[dict] | None]:
        response = await request(
            app, "post", "/webhooks/twilio/webhook", content=urlencode(form),
            headers={"Content-Type": "application/x-www-form-urlencoded", **(headers or {})})
        return response, await agent.tracker_store.load_events(sender)

    return asyncio.run(main())


# ------------------------------------------------------------------ through the server


def test_an_sms_is_answered_through_the_rest_api(make_app, agent, api: TwilioApi) -> None:
    app = make_app(credentials=credentials(api))
    response, stored = post_message(app, agent, sms("/greet"))
    assert (response.status, response.text) == (200, EMPTY_TWIML)
    assert response.headers["content-type"].startswith("text/xml")
    [call] = api.requests
    assert (call.method, call.path) == ("POST",
                                        f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json")
    assert call.headers["Content-Type"] == "application/x-www-form-urlencoded"
    expected_auth = base64.b64encode(f"{ACCOUNT_SID}:{AUTH_TOKEN}".encode()).decode()
    assert call.headers["Authorization"] == f"Basic {expected_auth}"
    assert api.sent() == [{"To": [USER], "From": [NUMBER], "Body": ["Hello! How can I help?"]}]
    user = next(e for e in stored if e["event"] == "user")
    assert (user["text"], user["input_channel"]) == ("/greet", "twilio")
    assert user["metadata"]["twilio"]["message_sid"] == "SM0001"
    assert user["metadata"]["twilio"]["to"] == NUMBER
    assert [e["text"] for e in stored if e["event"] == "bot"] == ["Hello! How can I help?"]


def test_a_whatsapp_sender_is_answered_on_whatsapp(make_app, agent, api: TwilioApi) -> None:
    app = make_app(credentials=credentials(api))
    sender = "whatsapp:" + USER
    response, stored = post_message(app, agent, sms("/greet", sender, ProfileName="Ada"),
                                    sender=sender)
    assert response.status == 200
    assert api.sent() == [{"To": [sender], "From": ["whatsapp:" + NUMBER],
                           "Body": ["Hello! How can I help?"]}]
    user = next(e for e in stored if e["event"] == "user")
    assert user["metadata"]["twilio"]["profile_name"] == "Ada"


def test_the_reply_number_follows_the_recipients_channel() -> None:
    assert sender_number(NUMBER, "whatsapp:" + USER) == "whatsapp:" + NUMBER
    assert sender_number("whatsapp:" + NUMBER, "whatsapp:" + USER) == "whatsapp:" + NUMBER
    assert sender_number("whatsapp:" + NUMBER, USER) == NUMBER
    assert sender_number(NUMBER, USER) == NUMBER


def test_buttons_are_numbered_lines_of_the_text(make_app, agent, api: TwilioApi) -> None:
    app = make_app(credentials=credentials(api))
    post_message(app, agent, sms("/ask_choice"))
    assert api.bodies() == ["Pick a colour\n1: Red\n2: Blue"]


def test_a_media_message_reads_its_first_url(make_app, agent, api: TwilioApi) -> None:
    app = make_app(credentials=credentials(api))
    photo = "https://api.twilio.com/2010-04-01/Accounts/AC1/Messages/MM1/Media/ME1"
    form = sms("", NumMedia="2", MediaUrl0=photo, MediaContentType0="image/jpeg",
               MediaUrl1=photo + "b", MediaContentType1="image/png")
    response, stored = post_message(app, agent, form)
    assert response.status == 200
    user = next(e for e in stored if e["event"] == "user")
    assert user["text"] == photo
    assert user["metadata"]["twilio"]["media"] == [
        {"url": photo, "content_type": "image/jpeg"},
        {"url": photo + "b", "content_type": "image/png"}]


@pytest.mark.parametrize("form", [
    sms(""),
    sms("   "),
    {"MessageSid": "SM2", "To": NUMBER, "Body": "/greet"},
    {},
], ids=["empty-body", "blank-body", "no-sender", "empty-form"])
def test_a_message_without_text_or_sender_is_acknowledged_and_ignored(
        make_app, agent, api: TwilioApi, form: dict[str, str]) -> None:
    app = make_app(credentials=credentials(api))
    response, stored = post_message(app, agent, form)
    assert (response.status, response.text) == (200, EMPTY_TWIML)
    assert stored is None
    assert api.requests == []


def test_a_failed_turn_is_logged_and_still_answered(make_app, agent, api: TwilioApi,
                                                    caplog) -> None:
    app = make_app(credentials=credentials(api))
    bad_sender = " not a phone number "  # spaces at either end: no conversation id
    with caplog.at_level("ERROR"):
        response, stored = post_message(app, agent, sms("/greet", bad_sender),
                                        sender=bad_sender)
    assert (response.status, response.text) == (200, EMPTY_TWIML)
    assert stored is None and api.requests == []
    assert f"conversation {bad_sender!r}" in caplog.text and "is lost" in caplog.text


def test_a_message_the_store_could_not_keep_is_handled_when_twilio_retries(
        make_app, agent, api: TwilioApi, caplog) -> None:
    from failing_turns import store_down_for, user_texts

    app = make_app(credentials=credentials(api))
    store_down_for(agent)
    with caplog.at_level("ERROR"):
        failed, stored = post_message(app, agent, sms("/greet"))
    # Twilio retries a 5xx when the webhook URL says so (#rp=5xx): the retry is handled
    again, stored = post_message(app, agent, sms("/greet"))
    assert (failed.status, again.status, again.text) == (503, 200, EMPTY_TWIML)
    assert user_texts(stored) == ["/greet"] and api.bodies() == ["Hello! How can I help?"]
    assert f"conversation {USER!r}" in caplog.text and "lost unless" in caplog.text


# ------------------------------------------------------------------ signatures


def test_twilios_documented_signature_example() -> None:
    url = "https://mycompany.com/myapp.php?foo=1&bar=2"
    params = {"CallSid": ["CA1234567890ABCDE"], "Caller": ["+14158675309"],
              "Digits": ["1234"], "From": ["+14158675309"], "To": ["+18005551212"]}
    assert signature("12345", url, params) == "RSOYDt4T1cUTdK1PDd93/VVr8B8="


def test_a_signed_request_is_handled(make_app, agent, api: TwilioApi) -> None:
    app = make_app(credentials=credentials(api, webhook_url=WEBHOOK_URL))
    form = sms("/greet")
    response, stored = post_message(app, agent, form, headers={
        "X-Twilio-Signature": twilio_signature(WEBHOOK_URL, form)})
    assert (response.status, response.text) == (200, EMPTY_TWIML)
    assert stored is not None and api.bodies() == ["Hello! How can I help?"]


def test_a_signed_media_message_with_an_empty_body_is_handled(make_app, agent,
                                                              api: TwilioApi) -> None:
    # Twilio signs the empty Body too: dropping blank values would break the check
    app = make_app(credentials=credentials(api, webhook_url=WEBHOOK_URL))
    form = sms("", NumMedia="1", MediaUrl0="https://x.org/m.jpg", MediaContentType0="image/jpeg")
    response, stored = post_message(app, agent, form, headers={
        "X-Twilio-Signature": twilio_signature(WEBHOOK_URL, form)})
    assert response.status == 200
    assert next(e for e in stored if e["event"] == "user")["text"] == "https://x.org/m.jpg"


def test_a_signature_over_the_url_with_its_default_port_is_accepted(make_app, agent,
                                                                    api: TwilioApi) -> None:
    app = make_app(credentials=credentials(api, webhook_url=WEBHOOK_URL))
    form = sms("/greet")
    with_port = WEBHOOK_URL.replace("bot.example.com", "bot.example.com:443")
    response, stored = post_message(app, agent, form, headers={
        "X-Twilio-Signature": twilio_signature(with_port, form)})
    assert response.status == 200 and stored is not None


@pytest.mark.parametrize("signed", [
    None,
    "",
    "bm90IGEgc2lnbmF0dXJl",
    "other-token",
    "other-url",
    "tampered-body",
], ids=["missing", "empty", "garbage", "other-token", "other-url", "tampered-body"])
def test_an_unsigned_or_forged_request_is_refused(make_app, agent, api: TwilioApi, caplog,
                                                  signed: str | None) -> None:
    app = make_app(credentials=credentials(api, webhook_url=WEBHOOK_URL))
    form = sms("/greet")
    forged = {"other-token": lambda: twilio_signature(WEBHOOK_URL, form, "guessed"),
              "other-url": lambda: twilio_signature("https://evil.example.com/hook", form),
              "tampered-body": lambda: twilio_signature(WEBHOOK_URL, sms("/goodbye"))}
    header = forged[signed]() if signed in forged else signed
    headers = {} if header is None else {"X-Twilio-Signature": header}
    with caplog.at_level("WARNING"):
        response, stored = post_message(app, agent, form, headers=headers)
    assert response.status == 403
    assert "X-Twilio-Signature" in response.json["message"]
    assert stored is None and api.requests == []
    assert "twilio: a request from" in caplog.text and "was refused" in caplog.text
    assert AUTH_TOKEN not in caplog.text


def test_without_webhook_url_the_log_says_requests_are_not_verified(make_app, api: TwilioApi,
                                                                    caplog) -> None:
    with caplog.at_level("WARNING"):
        make_app(credentials=credentials(api))
    assert "requests to /webhooks/twilio/webhook are not verified" in caplog.text
    caplog.clear()
    with caplog.at_level("WARNING"):
        make_app(credentials=credentials(api, webhook_url=WEBHOOK_URL))
    assert "not verified" not in caplog.text


def test_the_health_route(make_app, api: TwilioApi) -> None:
    app = make_app(credentials=credentials(api))
    response = asyncio.run(request(app, "get", "/webhooks/twilio/"))
    assert (response.status, response.json) == (200, {"status": "ok"})


# ------------------------------------------------------------------ replies out


def channel_for(api: TwilioApi, **settings: Any) -> TwilioChannel:
    return TwilioChannel(credentials(api, **settings)["twilio"])


def test_an_image_goes_out_as_media_on_the_text(api: TwilioApi) -> None:
    channel = channel_for(api)
    image = "https://x.org/cat.png"
    sent = asyncio.run(channel.send(USER, [{"text": "A cat", "image": image},
                                           {"image": image}]))
    assert sent == 2
    assert api.sent() == [
        {"To": [USER], "From": [NUMBER], "Body": ["A cat"], "MediaUrl": [image]},
        {"To": [USER], "From": [NUMBER], "MediaUrl": [image]}]


def test_a_long_text_is_split_and_nothing_is_lost(api: TwilioApi) -> None:
    channel = channel_for(api)
    text = " ".join(["word"] * 800)  # 3999 characters
    assert asyncio.run(channel.send(USER, [{"text": text}])) == 3
    pieces = api.bodies()
    assert len(pieces) == 3 and all(len(p) <= MAX_BODY for p in pieces)
    assert " ".join(pieces) == text


def test_paragraphs_are_messages_of_their_own_as_in_rasa(api: TwilioApi) -> None:
    channel = channel_for(api)
    asyncio.run(channel.send(USER, [{"text": "First.\n\nSecond.",
                                     "buttons": [{"title": "Yes", "payload": "/affirm"}]}]))
    assert api.bodies() == ["First.", "Second.\n1: Yes"]


def test_an_api_error_is_logged_and_the_turn_kept(make_app, agent, caplog) -> None:
    refusal = (400, {"code": 21211, "message": "The 'To' number is not a valid phone number.",
                     "more_info": "https://www.twilio.com/docs/errors/21211", "status": 400})
    with TwilioApi(failures=[refusal]) as refusing:
        app = make_app(credentials=credentials(refusing))
        with caplog.at_level("ERROR"):
            response, stored = post_message(app, agent, sms("/greet"))
    assert (response.status, response.text) == (200, EMPTY_TWIML)
    assert (f"a message to {USER} was not sent (status 400, Twilio error 21211: "
            "The 'To' number is not a valid phone number.)") in caplog.text
    assert AUTH_TOKEN not in caplog.text
    assert [e["text"] for e in stored if e["event"] == "bot"] == ["Hello! How can I help?"]


def test_later_messages_are_sent_after_a_failed_one(caplog) -> None:
    with TwilioApi(failures=[(429, {"code": 20429, "message": "Too Many Requests"})]) as busy:
        channel = channel_for(busy)
        with caplog.at_level("ERROR"):
            sent = asyncio.run(channel.send(USER, [{"text": "one"}, {"text": "two"}]))
        assert sent == 1
        assert busy.bodies() == ["one", "two"]
    assert "Twilio error 20429: Too Many Requests" in caplog.text


def test_an_unreachable_api_is_logged_without_the_token(caplog) -> None:
    channel = TwilioChannel({"account_sid": ACCOUNT_SID, "auth_token": AUTH_TOKEN,
                             "twilio_number": NUMBER, "api_url": "http://127.0.0.1:9",
                             "timeout": 2})
    with caplog.at_level("ERROR"):
        sent = asyncio.run(channel.send(USER, [{"text": "hi"}]))
    assert sent == 0
    assert f"a message to {USER} was not sent (ClientConnectorError" in caplog.text
    assert AUTH_TOKEN not in caplog.text


def test_custom_payloads_are_twilio_parameters(api: TwilioApi) -> None:
    assert custom_message({"media_url": ["https://x.org/a.png", "https://x.org/b.png"],
                           "body": "Two", "persistent_action": ["geo:37.7,-122.4"]}) == {
        "MediaUrl": ["https://x.org/a.png", "https://x.org/b.png"], "Body": "Two",
        "PersistentAction": ["geo:37.7,-122.4"]}
    assert custom_message({"content_sid": "HX1", "content_variables": {"1": "Ada"},
                           "from_": "whatsapp:+1999", "MaxPrice": 0.5}) == {
        "ContentSid": "HX1", "ContentVariables": '{"1": "Ada"}', "From": "whatsapp:+1999",
        "MaxPrice": "0.5"}
    channel = channel_for(api)
    asyncio.run(channel.send(USER, [{"custom": {"body": "Hi", "media_url": "https://x.org/a"}},
                                    {"custom": {"messaging_service_sid": "MG1", "body": "Yo"}}]))
    assert api.sent() == [
        {"To": [USER], "From": [NUMBER], "Body": ["Hi"], "MediaUrl": ["https://x.org/a"]},
        {"To": [USER], "MessagingServiceSid": ["MG1"], "Body": ["Yo"]}]


def test_reply_shapes() -> None:
    buttons = [{"title": "Docs", "url": "https://x.org/docs"}, {"payload": "/greet"}]
    assert reply_messages({"buttons": buttons}) == [
        {"Body": "1: Docs https://x.org/docs\n2: /greet"}]
    assert reply_messages({"attachment": "https://x.org/doc.pdf"}) == [
        {"Body": "Attachment: https://x.org/doc.pdf"}]
    assert reply_messages({"text": "  "}) == []
    assert reply_messages({"custom": ["not", "an", "object"]}) == []


def test_message_texts() -> None:
    def read(form: dict[str, str]) -> str | None:
        return message_text({name: [value] for name, value in form.items()})

    assert read(sms("mail me at ada¡example.org")) == "mail me at ada@example.org"
    # WhatsApp does not mangle @, so a real ¡ stays
    assert read(sms("¡Hola!", "whatsapp:" + USER)) == "¡Hola!"
    located = sms("", "whatsapp:" + USER, Latitude="52.5", Longitude="13.4")
    assert read(located) == '{"lng":13.4, "lat":52.5}'
    pressed = sms("Yes please", "whatsapp:" + USER, ButtonText="Yes please",
                  ButtonPayload="/affirm")
    assert read(pressed) == "/affirm"
    assert read(sms("")) is None


# ------------------------------------------------------------------ settings


def test_the_channel_is_enabled_by_credentials(api: TwilioApi) -> None:
    [channel] = enabled_channels(credentials(api, webhook_url=WEBHOOK_URL, timeout=3))
    assert isinstance(channel, TwilioChannel)
    assert (channel.account_sid, channel.twilio_number, channel.api_url, channel.webhook_url,
            channel.timeout) == (ACCOUNT_SID, NUMBER, api.base, WEBHOOK_URL, 3.0)
    assert TwilioChannel({"account_sid": ACCOUNT_SID, "auth_token": AUTH_TOKEN,
                          "twilio_number": NUMBER}).api_url == "https://api.twilio.com/2010-04-01"


GOOD = {"account_sid": ACCOUNT_SID, "auth_token": AUTH_TOKEN, "twilio_number": NUMBER}


@pytest.mark.parametrize(("settings", "message"), [
    ({"auth_token": AUTH_TOKEN, "twilio_number": NUMBER}, "`account_sid` is missing"),
    ({"account_sid": ACCOUNT_SID, "twilio_number": NUMBER}, "`auth_token` is missing"),
    ({"account_sid": ACCOUNT_SID, "auth_token": AUTH_TOKEN}, "`twilio_number` is missing"),
    ({**GOOD, "auth_token": "  "}, "`auth_token` is missing"),
    ({**GOOD, "account_sid": "SK0123"}, "starts with AC"),
    ({**GOOD, "twilio_number": 15551234567}, "read as a number"),
    ({**GOOD, "twilio_numbr": NUMBER}, "no setting 'twilio_numbr'"),
    ({**GOOD, "webhook_url": "bot.example.com/hook"}, "`webhook_url` must be an http(s)"),
    ({**GOOD, "api_url": "api.twilio.com"}, "`api_url` must be an http(s)"),
    ({**GOOD, "timeout": "soon"}, "timeout"),
    ({**GOOD, "timeout": 0}, "timeout"),
])
def test_bad_settings(settings: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=r"credentials\.yml twilio") as raised:
        enabled_channels({"twilio": settings})
    assert message in str(raised.value)
    assert raised.value.hint


def test_bad_settings_hints() -> None:
    with pytest.raises(ConfigError) as unknown:
        TwilioChannel({**GOOD, "webhok_url": WEBHOOK_URL})
    assert "did you mean 'webhook_url'" in str(unknown.value)
    with pytest.raises(ConfigError) as number:
        TwilioChannel({**GOOD, "twilio_number": 15551234567})
    assert 'twilio_number: "+15551234567"' in str(number.value)
    with pytest.raises(ConfigError) as missing:
        TwilioChannel({"account_sid": ACCOUNT_SID, "twilio_number": NUMBER})
    assert "write `twilio:` then" in str(missing.value)


def test_trigger_intent_pushes_the_messages_as_an_sms(make_app, api: TwilioApi) -> None:
    app = make_app(credentials=credentials(api))
    response = asyncio.run(request(app, "post", f"/conversations/{USER}/trigger_intent",
                                   json={"name": "greet"},
                                   params={"output_channel": "twilio"}))
    assert response.status == 200
    assert api.sent() == [{"To": [USER], "From": [NUMBER], "Body": ["Hello! How can I help?"]}]


def test_a_message_twilio_delivers_again_is_not_handled_twice(make_app, agent,
                                                              api: TwilioApi) -> None:
    app = make_app(credentials=credentials(api, webhook_url=WEBHOOK_URL))
    greet, goodbye = sms("/greet", MessageSid="SM1"), sms("/goodbye", MessageSid="SM2")
    signed = {"X-Twilio-Signature": twilio_signature(WEBHOOK_URL, greet)}
    # a forged request bearing the id first must not make the bot skip the real message
    forged, _ = post_message(app, agent, greet, headers={"X-Twilio-Signature": "forged"})
    assert forged.status == 403
    first, _ = post_message(app, agent, greet, headers=signed)
    again, _ = post_message(app, agent, greet, headers=signed)
    later, stored = post_message(app, agent, goodbye, headers={
        "X-Twilio-Signature": twilio_signature(WEBHOOK_URL, goodbye)})
    assert [r.status for r in (first, again, later)] == [200] * 3
    assert again.text == EMPTY_TWIML
    assert [e["text"] for e in stored if e["event"] == "user"] == ["/greet", "/goodbye"]
    assert api.bodies() == ["Hello! How can I help?", "Bye!"]
