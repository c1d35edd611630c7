"""The botframework channel: activities in at the webhook, replies out through a stub
Bot Connector API and a stub login service (one local server, routed by path)."""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from serving_helpers import CARDS, QUICK_REPLIES, StubHttpServer, greet_with, request

from dialogflowlite.errors import ConfigError
from dialogflowlite.server.channels.botframework import (
    HERO_CARD,
    SCOPE,
    BotFrameworkChannel,
    activities_url,
    read_activity,
    reply_activities,
)
from dialogflowlite.server.channels.loader import enabled_channels

APP_ID = "00000000-app-id"
APP_PASSWORD = "s3cret-app-password"
USER = "29:1user-aad"
CONVERSATION = "a:1conv;messageid=17"
BOT = {"id": "28:bot-id", "name": "tinybot"}

#: the key the stub "Microsoft" signs Bot Connector tokens with, and one it does not publish
SIGNING_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
STRANGER_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _jwk(key: rsa.RSAPrivateKey, kid: str) -> dict[str, Any]:
    found = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
    return {**found, "kid": kid, "use": "sig"}


def connector_token(service_url: str, *, key: rsa.RSAPrivateKey = SIGNING_KEY,
                    kid: str = "key-1", drop: tuple[str, ...] = (), **claims: Any) -> str:
    """A token as the Bot Connector signs it for a request to the bot (without ``drop``)."""
    payload = {"iss": "https://api.botframework.com", "aud": APP_ID,
               "exp": int(time.time()) + 600, "nbf": int(time.time()) - 10,
               "serviceUrl": service_url, **claims}
    payload = {name: value for name, value in payload.items() if name not in drop}
    return jwt.encode(payload, key, algorithm="RS256", headers={"kid": kid})


class Microsoft(StubHttpServer):
    """The login service at ``/token`` and the Bot Connector API under ``/connector``.

    Tokens are ``token-1``, ``token-2``, ... in the order they are fetched;
    ``login_failures`` and ``connector_failures`` are answered first, one per call.
    """

    def __init__(self, expires_in: Any = 3600) -> None:
        self.login_failures: list[tuple[int, dict]] = []
        self.connector_failures: list[tuple[int, dict]] = []
        self.tokens = 0

        def answer(request: Any) -> tuple[int, dict, bytes]:
            if request.path == "/openid":
                status, body = 200, {"issuer": "https://api.botframework.com",
                                     "jwks_uri": self.base + "/keys"}
            elif request.path == "/keys":
                status, body = 200, {"keys": [_jwk(SIGNING_KEY, "key-1")]}
            elif request.path == "/token":
                if self.login_failures:
                    status, body = self.login_failures.pop(0)
                else:
                    self.tokens += 1
                    status, body = 200, {"token_type": "Bearer", "expires_in": expires_in,
                                         "access_token": f"token-{self.tokens}"}
            elif self.connector_failures:
                status, body = self.connector_failures.pop(0)
            else:
                status, body = 200, {"id": "reply-1"}
            return status, {"Content-Type": "application/json"}, json.dumps(body).encode()

        super().__init__(answer)
        self.base = self.url.rstrip("/")
        self.service_url = self.base + "/connector/"

    def key_fetches(self) -> int:
        return sum(r.path == "/keys" for r in self.requests)

    def logins(self) -> list[dict[str, list[str]]]:
        return [parse_qs(r.body.decode()) for r in self.requests if r.path == "/token"]

    def replies(self) -> list[Any]:
        return [r for r in self.requests if r.path.startswith("/connector/")]

    def sent(self) -> list[dict[str, Any]]:
        return [json.loads(r.body) for r in self.replies()]


@pytest.fixture
def microsoft() -> Iterator[Microsoft]:
    found = Microsoft()
    try:
        yield found
    finally:
        found.close()


def settings(stub: Microsoft, **extra: Any) -> dict[str, Any]:
    return {"app_id": APP_ID, "app_password": APP_PASSWORD, "login_url": stub.base + "/token",
            "openid_url": stub.base + "/openid", "service_url_hosts": ["127.0.0.1"], **extra}


def credentials(stub: Microsoft, **extra: Any) -> dict[str, Any]:
    return {"botframework": settings(stub, **extra)}


#: every activity Bot Framework posts has an id of its own
ACTIVITY_IDS = itertools.count(1700000000001)


def activity(stub: Microsoft, text: str | None = "/greet", **extra: Any) -> dict[str, Any]:
    """A message activity from Teams, as Bot Framework posts it."""
    found = {"type": "message", "id": str(next(ACTIVITY_IDS)), "channelId": "msteams",
             "serviceUrl": stub.service_url, "from": {"id": USER, "name": "Ada"},
             "conversation": {"id": CONVERSATION, "conversationType": "personal"},
             "recipient": BOT, "text": text, **extra}
    return {key: value for key, value in found.items() if value is not None}


def post_activities(app: Any, agent: Any, *bodies: Any, sender: str = USER,
                    token: str | None = "signed") -> tuple[list[Any], list[dict] | None]:
    """Post activities to the webhook in turn; the responses and what the store then holds.

    Each carries a valid Bot Connector token for its serviceUrl unless ``token``
    is given (None: no Authorization header).
    """
    async def main() -> tuple[list[Any], list[dict] | None]:
        responses = []
        for body in bodies:
            content = body if isinstance(body, str) else json.dumps(body)
            headers = {"Content-Type": "application/json"}
            if token == "signed":
                service_url = body.get("serviceUrl", "") if isinstance(body, dict) else ""
                headers["Authorization"] = f"Bearer {connector_token(service_url)}"
            elif token is not None:
                headers["Authorization"] = f"Bearer {token}"
            responses.append(await request(app, "post", "/webhooks/botframework/webhook",
                                           content=content, headers=headers))
        return responses, await agent.tracker_store.load_events(sender)

    return asyncio.run(main())


def bot_texts(stored: list[dict] | None) -> list[str]:
    return [e["text"] for e in stored or [] if e["event"] == "bot"]


# ------------------------------------------------------------------ through the server


def test_a_message_is_answered_through_the_connector(make_app, agent, microsoft) -> None:
    app = make_app(credentials=credentials(microsoft))
    body = activity(microsoft)
    [response], stored = post_activities(app, agent, body)
    assert (response.status, response.text) == (200, "success")
    assert microsoft.logins() == [{"grant_type": ["client_credentials"], "client_id": [APP_ID],
                                   "client_secret": [APP_PASSWORD], "scope": [SCOPE]}]
    [call] = microsoft.replies()
    assert (call.method, call.path) == (
        "POST", "/connector/v3/conversations/a%3A1conv%3Bmessageid%3D17/activities")
    assert call.headers["Authorization"] == "Bearer token-1"
    assert call.headers["Content-Type"].startswith("application/json")
    [sent] = microsoft.sent()
    assert sent == {"type": "message", "from": BOT, "recipient": {"id": USER, "name": "Ada"},
                    "conversation": {"id": CONVERSATION, "conversationType": "personal"},
                    "replyToId": body["id"], "text": "Hello! How can I help?",
                    "channelData": {"notification": {"alert": "true"}}}
    user = next(e for e in stored if e["event"] == "user")
    assert (user["text"], user["input_channel"]) == ("/greet", "botframework")
    assert user["metadata"] == {"botframework": {
        "conversation_id": CONVERSATION, "channel_id": "msteams",
        "service_url": microsoft.service_url, "activity_id": body["id"]}}
    assert bot_texts(stored) == ["Hello! How can I help?"]


def test_a_second_message_reuses_the_token(make_app, agent, microsoft) -> None:
    app = make_app(credentials=credentials(microsoft))
    first = activity(microsoft)
    responses, stored = post_activities(app, agent, first,
                                        activity(microsoft, "/goodbye", id="2"))
    assert [r.status for r in responses] == [200, 200]
    assert len(microsoft.logins()) == 1
    assert [r.headers["Authorization"] for r in microsoft.replies()] == ["Bearer token-1"] * 2
    assert [s["text"] for s in microsoft.sent()] == ["Hello! How can I help?", "Bye!"]
    assert [s["replyToId"] for s in microsoft.sent()] == [first["id"], "2"]
    assert bot_texts(stored) == ["Hello! How can I help?", "Bye!"]


def test_buttons_become_a_hero_card_with_imback_actions(make_app, agent, microsoft) -> None:
    app = make_app(credentials=credentials(microsoft))
    post_activities(app, agent, activity(microsoft, "/ask_choice"))
    [sent] = microsoft.sent()
    assert "text" not in sent
    assert sent["attachments"] == [{"contentType": HERO_CARD, "content": {
        "text": "Pick a colour", "buttons": [
            {"type": "imBack", "title": "Red", "value": '/choose{"colour": "red"}'},
            {"type": "imBack", "title": "Blue", "value": '/choose{"colour": "blue"}'}]}}]
    # the imBack comes back as the user's text: the payload sets the slot
    _, stored = post_activities(app, agent, activity(microsoft, '/choose{"colour": "red"}'))
    assert bot_texts(stored)[-1] == "You chose red."


def test_a_user_id_with_a_space_is_a_conversation_as_in_rasa(make_app, agent,
                                                             microsoft) -> None:
    # Direct Line lets the web page name its user; Rasa takes any id
    app = make_app(credentials=credentials(microsoft))
    sent = activity(microsoft, **{"from": {"id": "Jane Doe", "name": "Jane"}})
    _, stored = post_activities(app, agent, sent, sender="Jane Doe")
    assert bot_texts(stored) == ["Hello! How can I help?"]
    assert [s["text"] for s in microsoft.sent()] == ["Hello! How can I help?"]


def test_a_responses_cards_become_one_carousel(make_app, agent, microsoft) -> None:
    greet_with(agent, CARDS)
    app = make_app(credentials=credentials(microsoft))
    post_activities(app, agent, activity(microsoft))
    text, carousel = microsoft.sent()
    assert text["text"] == "Our cats"
    assert carousel["attachmentLayout"] == "carousel"
    assert carousel["attachments"] == [
        {"contentType": HERO_CARD, "content": {
            "text": "grey", "title": "Tom", "images": [{"url": "https://x.org/tom.png"}],
            "buttons": [{"type": "imBack", "title": "Adopt", "value": "/choose"}]}},
        {"contentType": HERO_CARD, "content": {"text": "black", "title": "Kit", "buttons": []}}]


def test_a_responses_quick_replies_become_a_hero_card(make_app, agent, microsoft) -> None:
    greet_with(agent, QUICK_REPLIES)
    app = make_app(credentials=credentials(microsoft))
    post_activities(app, agent, activity(microsoft))
    [sent] = microsoft.sent()
    assert sent["attachments"] == [{"contentType": HERO_CARD, "content": {
        "text": "Which size?", "buttons": [
            {"type": "imBack", "title": "Small", "value": "/choose"},
            {"type": "imBack", "title": "Large", "value": "/goodbye"}]}}]


@pytest.mark.parametrize("body", [
    {"type": "conversationUpdate", "membersAdded": [{"id": USER}], "recipient": BOT},
    {"type": "typing", "from": {"id": USER}, "conversation": {"id": CONVERSATION}},
    {"type": "message", "text": "/greet", "conversation": {"id": CONVERSATION}},
    {"type": "message", "text": "/greet", "from": {"id": USER}},
    {"type": "message", "text": "  ", "from": {"id": USER},
     "conversation": {"id": CONVERSATION}},
    ["not", "an", "activity"],
    "{not json",
], ids=["conversation-update", "typing", "no-sender", "no-conversation", "blank-text",
        "json-list", "not-json"])
def test_other_activities_are_acknowledged_and_ignored(make_app, agent, microsoft,
                                                       body: Any) -> None:
    app = make_app(credentials=credentials(microsoft))
    [response], stored = post_activities(app, agent, body)
    assert (response.status, response.text) == (200, "success")
    assert stored is None and microsoft.replies() == [] and microsoft.logins() == []


def test_a_failed_turn_is_logged_and_still_answered(make_app, agent, microsoft,
                                                    caplog) -> None:
    app = make_app(credentials=credentials(microsoft))
    bad_sender = " padded id "  # spaces at either end
    with caplog.at_level("ERROR"):
        [response], stored = post_activities(
            app, agent, activity(microsoft, **{"from": {"id": bad_sender}}), sender=bad_sender)
    assert (response.status, response.text) == (200, "success")
    assert stored is None and microsoft.replies() == [] and microsoft.logins() == []
    assert f"conversation {bad_sender!r}" in caplog.text and "is lost" in caplog.text


def test_an_activity_the_store_could_not_keep_is_delivered_again(make_app, agent,
                                                                 microsoft) -> None:
    from failing_turns import store_down_for, user_texts

    app = make_app(credentials=credentials(microsoft))
    store_down_for(agent)
    greet = activity(microsoft)
    # the service delivers an activity again after an error status
    [failed, again], stored = post_activities(app, agent, greet, greet)
    assert (failed.status, again.status) == (503, 200)
    assert user_texts(stored) == ["/greet"] and bot_texts(stored) == ["Hello! How can I help?"]
    assert [reply["text"] for reply in microsoft.sent()] == ["Hello! How can I help?"]


def test_a_failed_token_fetch_is_logged_and_the_turn_kept(make_app, agent, microsoft,
                                                          caplog) -> None:
    microsoft.login_failures.append((401, {
        "error": "invalid_client",
        "error_description": "AADSTS7000215: Invalid client secret provided."}))
    app = make_app(credentials=credentials(microsoft))
    with caplog.at_level("ERROR"):
        [response], stored = post_activities(app, agent, activity(microsoft))
    assert (response.status, response.text) == (200, "success")
    assert microsoft.replies() == []
    assert (f"1 replies to conversation {CONVERSATION} were not sent: no access token from "
            f"{microsoft.base}/token (status 401, invalid_client: AADSTS7000215: Invalid "
            "client secret provided.)") in caplog.text
    assert APP_PASSWORD not in caplog.text
    assert bot_texts(stored) == ["Hello! How can I help?"]
    # the next turn tries again and gets through
    post_activities(app, agent, activity(microsoft, "/goodbye"))
    assert [s["text"] for s in microsoft.sent()] == ["Bye!"]


def test_an_unreachable_login_service_is_logged_without_the_password(microsoft,
                                                                     caplog) -> None:
    channel = BotFrameworkChannel(settings(microsoft, login_url="http://127.0.0.1:9/token",
                                           timeout=2))
    with caplog.at_level("ERROR"):
        sent = asyncio.run(channel.send(read_activity(activity(microsoft)), [{"text": "hi"}]))
    assert sent == 0 and microsoft.replies() == [] and microsoft.logins() == []
    assert "no access token from http://127.0.0.1:9/token (ClientConnectorError" in caplog.text
    assert APP_PASSWORD not in caplog.text


def test_a_connector_error_is_logged_and_later_replies_are_sent(make_app, agent, microsoft,
                                                                caplog) -> None:
    microsoft.connector_failures.append(
        (400, {"error": {"code": "BadArgument", "message": "Unknown activity type"}}))
    app = make_app(credentials=credentials(microsoft))
    with caplog.at_level("ERROR"):
        [response], stored = post_activities(app, agent, activity(microsoft))
    assert response.status == 200
    assert (f"a reply to conversation {CONVERSATION} was not sent (status 400, BadArgument: "
            "Unknown activity type)") in caplog.text
    assert bot_texts(stored) == ["Hello! How can I help?"]
    channel = BotFrameworkChannel(settings(microsoft))
    microsoft.connector_failures.append((503, {}))
    sent = asyncio.run(channel.send(read_activity(activity(microsoft)),
                                    [{"text": "First.\n\nSecond."}]))
    assert sent == 1
    assert [s["text"] for s in microsoft.sent()[-2:]] == ["First.", "Second."]


def test_a_refused_token_is_fetched_anew(microsoft) -> None:
    channel = BotFrameworkChannel(settings(microsoft))
    incoming = read_activity(activity(microsoft))
    microsoft.connector_failures.append((401, {"message": "Authorization has been denied"}))
    assert asyncio.run(channel.send(incoming, [{"text": "one"}])) == 0
    assert asyncio.run(channel.send(incoming, [{"text": "two"}])) == 1
    assert [r.headers["Authorization"] for r in microsoft.replies()] == ["Bearer token-1",
                                                                        "Bearer token-2"]


def test_an_expired_token_is_fetched_again(microsoft) -> None:
    channel = BotFrameworkChannel(settings(microsoft))
    now = [1000.0]
    channel.clock = lambda: now[0]
    incoming = read_activity(activity(microsoft))

    def send(text: str) -> str:
        assert asyncio.run(channel.send(incoming, [{"text": text}])) == 1
        return microsoft.replies()[-1].headers["Authorization"]

    assert send("a") == "Bearer token-1"
    now[0] += 3600 - 61  # a minute and a second before it expires: still good
    assert send("b") == "Bearer token-1"
    now[0] += 2  # inside the last minute: renewed before it can run out in flight
    assert send("c") == "Bearer token-2"
    assert len(microsoft.logins()) == 2


@pytest.mark.parametrize("service_url", ["ftp://evil.example.com/", "file:///etc/passwd",
                                         "javascript:alert(1)", "", "https://"])
def test_a_service_url_that_is_not_http_is_refused(make_app, agent, microsoft, caplog,
                                                   service_url: str) -> None:
    app = make_app(credentials=credentials(microsoft))
    with caplog.at_level("ERROR"):
        [response], stored = post_activities(app, agent,
                                             activity(microsoft, serviceUrl=service_url))
    assert response.status == 200
    # not even a token is fetched: it would only be sent nowhere useful
    assert microsoft.replies() == [] and microsoft.logins() == []
    assert (f"1 replies to conversation {CONVERSATION} were not sent: the serviceUrl "
            "") in caplog.text and "is not an http(s) URL" in caplog.text
    assert bot_texts(stored) == ["Hello! How can I help?"]


def test_the_health_route_and_no_warning_while_tokens_are_verified(make_app, microsoft,
                                                                    caplog) -> None:
    with caplog.at_level("WARNING"):
        app = make_app(credentials=credentials(microsoft))
    assert "botframework" not in caplog.text
    response = asyncio.run(request(app, "get", "/webhooks/botframework/"))
    assert (response.status, response.json) == (200, {"status": "ok"})


# ------------------------------------------------------------------ activities and replies


def test_a_card_submit_and_an_attachment_are_read() -> None:
    base = {"type": "message", "id": "9", "channelId": "webchat", "serviceUrl": "https://x.org",
            "from": {"id": "u1"}, "conversation": {"id": "c1"}, "recipient": {"id": "b"}}
    submitted = read_activity({**base, "value": {"colour": "red"}})
    assert submitted.text == '{"colour": "red"}'
    assert submitted.metadata["botframework"]["value"] == {"colour": "red"}
    assert read_activity({**base, "text": "", "value": "/affirm"}).text == "/affirm"
    photo = {"contentType": "image/png", "contentUrl": "https://x.org/cat.png"}
    found = read_activity({**base, "attachments": [photo]})
    assert found.text == "https://x.org/cat.png"
    assert found.metadata["attachments"] == [photo]  # where Rasa puts them
    assert read_activity({**base, "text": "hi", "value": {}}).text == "hi"
    assert read_activity({**base, "attachments": [{"contentType": "x"}]}).text is None


def test_an_image_goes_as_a_hero_card(microsoft) -> None:
    channel = BotFrameworkChannel(settings(microsoft))
    image = "https://x.org/cat.png"
    sent = asyncio.run(channel.send(read_activity(activity(microsoft)),
                                    [{"text": "A cat", "image": image}]))
    assert sent == 2
    first, second = microsoft.sent()
    assert first["text"] == "A cat" and second["recipient"]["id"] == USER
    assert second["attachments"] == [{"contentType": HERO_CARD,
                                      "content": {"images": [{"url": image}]}}]


def test_custom_json_is_the_activity_itself(microsoft) -> None:
    channel = BotFrameworkChannel(settings(microsoft))
    card = {"contentType": "application/vnd.microsoft.card.adaptive",
            "content": {"type": "AdaptiveCard", "version": "1.4", "body": []}}
    custom = {"attachments": [card], "channelData": {"notification": {"alert": False}},
              "summary": "a card"}
    body = activity(microsoft)
    asyncio.run(channel.send(read_activity(body), [{"custom": custom}]))
    [sent] = microsoft.sent()
    assert sent == {"type": "message", "from": BOT, "recipient": {"id": USER, "name": "Ada"},
                    "conversation": {"id": CONVERSATION, "conversationType": "personal"},
                    "replyToId": body["id"], **custom}


def test_reply_shapes() -> None:
    buttons = [{"title": "Docs", "url": "https://x.org/docs"}, {"payload": "/greet"},
               {"type": "messageBack", "title": "Quiet", "text": "q", "value": {"a": 1}},
               {"type": "postback", "title": "From Messenger", "payload": "/fb"}]
    [card] = reply_activities({"buttons": buttons})
    assert card["attachments"][0]["content"] == {"buttons": [
        {"type": "openUrl", "title": "Docs", "value": "https://x.org/docs"},
        {"type": "imBack", "title": "/greet", "value": "/greet"},
        {"type": "messageBack", "title": "Quiet", "text": "q", "value": {"a": 1}},
        {"type": "imBack", "title": "From Messenger", "value": "/fb"}]}
    given = {"contentType": "application/pdf", "contentUrl": "https://x.org/a.pdf",
             "name": "a.pdf"}
    assert reply_activities({"attachment": given}) == [{"attachments": [given]}]
    assert reply_activities({"attachment": "https://x.org/a.pdf"}) == [
        {"text": "Attachment: https://x.org/a.pdf"}]
    [carousel] = reply_activities({"elements": [{"title": "T", "subtitle": "S",
                                                 "image_url": "https://x.org/i.png",
                                                 "buttons": [{"title": "Go", "payload": "/go"}]}]})
    assert carousel == {"attachmentLayout": "carousel", "attachments": [{
        "contentType": HERO_CARD, "content": {
            "text": "S", "title": "T", "images": [{"url": "https://x.org/i.png"}],
            "buttons": [{"type": "imBack", "title": "Go", "value": "/go"}]}}]}
    assert reply_activities({"text": "  "}) == []
    assert reply_activities({"custom": ["not", "objects"]}) == []


def test_activities_urls() -> None:
    assert activities_url("https://smba.trafficmanager.net/emea/", "19:a@thread.v2") == (
        "https://smba.trafficmanager.net/emea/v3/conversations/19%3Aa%40thread.v2/activities")
    assert activities_url("http://localhost:3978", "c") == (
        "http://localhost:3978/v3/conversations/c/activities")
    assert activities_url("smba.trafficmanager.net/emea", "c") is None
    microsoft = ["botframework.com", "trafficmanager.net"]
    assert activities_url("https://smba.trafficmanager.net/emea/", "c", microsoft)
    assert activities_url("https://webchat.botframework.com/", "c", microsoft)
    assert activities_url("https://botframework.com.evil.example/", "c", microsoft) is None
    assert activities_url("https://evilbotframework.com/", "c", microsoft) is None
    assert activities_url("http://127.0.0.1:9/", "c", microsoft) is None


def test_the_token_is_never_sent_to_a_service_url_off_the_allowed_hosts(microsoft,
                                                                         caplog) -> None:
    channel = BotFrameworkChannel(settings(microsoft, service_url_hosts=["botframework.com"]))
    forged = read_activity(activity(microsoft))  # serviceUrl: the local stub
    with caplog.at_level("ERROR"):
        sent = asyncio.run(channel.send(forged, [{"text": "hi"}]))
    assert sent == 0
    assert microsoft.replies() == [] and microsoft.logins() == []  # not even a token was asked for
    assert "not an http(s) URL on one of service_url_hosts (botframework.com)" in caplog.text


# ------------------------------------------------------------------ settings


def test_the_channel_is_enabled_by_credentials(microsoft) -> None:
    [channel] = enabled_channels(credentials(microsoft, timeout=3))
    assert isinstance(channel, BotFrameworkChannel)
    assert (channel.app_id, channel.login_url, channel.timeout) == (
        APP_ID, microsoft.base + "/token", 3.0)
    assert BotFrameworkChannel({"app_id": APP_ID, "app_password": APP_PASSWORD}).login_url == (
        "https://login.microsoftonline.com/botframework.com/oauth2/v2.0/token")


GOOD = {"app_id": APP_ID, "app_password": APP_PASSWORD}


@pytest.mark.parametrize(("given", "message"), [
    ({"app_password": APP_PASSWORD}, "`app_id` is missing"),
    ({"app_id": APP_ID}, "`app_password` is missing"),
    ({**GOOD, "app_password": " "}, "`app_password` is missing"),
    ({**GOOD, "app_pasword": "x"}, "no setting 'app_pasword'"),
    ({**GOOD, "login_url": "login.microsoftonline.com"}, "`login_url` must be an http(s)"),
    ({**GOOD, "service_url_hosts": []}, "`service_url_hosts` must be a list of host names"),
    ({**GOOD, "service_url_hosts": [3]}, "`service_url_hosts` must be a list of host names"),
    ({**GOOD, "timeout": "soon"}, "timeout"),
    ({**GOOD, "timeout": -1}, "timeout"),
])
def test_bad_settings(microsoft, given: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=r"credentials\.yml botframework") as raised:
        enabled_channels({"botframework": given})
    assert message in str(raised.value)
    assert raised.value.hint


def test_bad_settings_hints() -> None:
    with pytest.raises(ConfigError) as unknown:
        BotFrameworkChannel({**GOOD, "login_ur": "https://x.org"})
    assert "did you mean 'login_url'" in str(unknown.value)
    with pytest.raises(ConfigError) as missing:
        BotFrameworkChannel({"app_id": APP_ID})
    assert "write `botframework:` then" in str(missing.value)


# ------------------------------------------------------------------ the connector's token


@pytest.mark.parametrize(("token", "reason"), [
    (None, "no Authorization: Bearer token"),
    ("not-a-jwt", "cannot be read"),
    ("stranger", "is not one Bot Framework publishes"),
    ("wrong audience", "not valid"),
    ("wrong issuer", "not valid"),
    ("expired", "not valid"),
    ("never expires", "not valid"),
    ("no audience", "not valid"),
    ("other serviceUrl", "serviceUrl is not the activity's"),
])
def test_activities_without_a_valid_token_are_refused(make_app, agent, microsoft, caplog,
                                                      token, reason) -> None:
    body = activity(microsoft)
    forged = {
        None: None, "not-a-jwt": "not-a-jwt",
        "stranger": connector_token(microsoft.service_url, key=STRANGER_KEY, kid="key-9"),
        "wrong audience": connector_token(microsoft.service_url, aud="someone-else"),
        "wrong issuer": connector_token(microsoft.service_url, iss="https://evil.example"),
        "expired": connector_token(microsoft.service_url, exp=int(time.time()) - 3600),
        "never expires": connector_token(microsoft.service_url, drop=("exp",)),
        "no audience": connector_token(microsoft.service_url, drop=("aud",)),
        "other serviceUrl": connector_token("https://smba.trafficmanager.net/emea/"),
    }[token]
    app = make_app(credentials=credentials(microsoft))
    with caplog.at_level("WARNING"):
        [response], stored = post_activities(app, agent, body, token=forged)
    assert response.status == 401 and response.json["reason"] == "NotAuthenticated"
    assert stored is None and microsoft.replies() == [] and microsoft.logins() == []
    assert reason in caplog.text


def test_the_keys_are_fetched_once_and_kept(make_app, agent, microsoft) -> None:
    app = make_app(credentials=credentials(microsoft))
    responses, stored = post_activities(app, agent, activity(microsoft), activity(microsoft))
    assert [r.status for r in responses] == [200, 200]
    assert microsoft.key_fetches() == 1
    assert bot_texts(stored) == ["Hello! How can I help?"] * 2


def test_unreachable_keys_refuse_everything(make_app, agent, microsoft, caplog) -> None:
    app = make_app(credentials=credentials(microsoft, openid_url="http://127.0.0.1:9/openid"))
    with caplog.at_level("ERROR"):
        [response], stored = post_activities(app, agent, activity(microsoft))
    # nothing is handled; the failure is the bot's own, so 503 (delivered again), not 401
    assert stored is None and microsoft.replies() == []
    assert response.status == 503 and response.json["reason"] == "ServiceUnavailable"
    assert 1 <= int(response.headers["retry-after"]) <= 30
    assert "signing keys could not be fetched" in caplog.text


def test_verification_can_be_turned_off_with_a_warning(make_app, agent, microsoft,
                                                       caplog) -> None:
    with caplog.at_level("WARNING"):
        app = make_app(credentials=credentials(microsoft, verify_tokens=False))
        [response], stored = post_activities(app, agent, activity(microsoft), token=None)
    assert response.status == 200 and bot_texts(stored) == ["Hello! How can I help?"]
    assert "verify_tokens is off" in caplog.text


def test_a_failed_key_fetch_is_not_repeated_for_every_request(microsoft) -> None:
    from dialogflowlite.server.channels.botframework_auth import (
        RETRY_AFTER_FAILURE,
        SigningKeysUnavailable,
        TokenVerifier,
    )

    now = [1000.0]
    verifier = TokenVerifier(APP_ID, microsoft.base + "/no-such-configuration",
                             clock=lambda: now[0])
    token = "Bearer " + connector_token(microsoft.service_url)

    def attempts() -> int:
        return sum(r.path == "/no-such-configuration" for r in microsoft.requests)

    with pytest.raises(SigningKeysUnavailable):
        asyncio.run(verifier.problem(token, microsoft.service_url))
    now[0] += RETRY_AFTER_FAILURE - 1
    with pytest.raises(SigningKeysUnavailable):
        asyncio.run(verifier.problem(token, microsoft.service_url))
    assert attempts() == 1  # refused at once, without another fetch
    now[0] += 2
    with pytest.raises(SigningKeysUnavailable):
        asyncio.run(verifier.problem(token, microsoft.service_url))
    assert attempts() == 2


def test_concurrent_first_activities_fetch_the_keys_once(microsoft) -> None:
    from dialogflowlite.server.channels.botframework_auth import TokenVerifier

    verifier = TokenVerifier(APP_ID, microsoft.base + "/openid")
    token = "Bearer " + connector_token(microsoft.service_url)

    async def main() -> list[str | None]:
        # all start before the first fetch ends: the later ones wait for it
        return await asyncio.gather(*(verifier.problem(token, microsoft.service_url)
                                      for _ in range(8)))

    assert asyncio.run(main()) == [None] * 8
    assert microsoft.key_fetches() == 1


def test_a_teams_mention_of_the_bot_is_cut_from_the_text() -> None:
    def mention(who: dict[str, str]) -> dict[str, Any]:
        return {"type": "mention", "mentioned": who, "text": f"<at>{who['name']}</at>"}

    ada = {"id": "29:ada", "name": "Ada"}
    base = {"type": "message", "id": "9", "channelId": "msteams", "serviceUrl": "https://x.org",
            "from": {"id": "u1"}, "conversation": {"id": "c1"}, "recipient": BOT}
    in_channel = read_activity({**base, "text": "<at>tinybot</at> /greet",
                                "entities": [mention(BOT), {"type": "clientInfo"}]})
    assert in_channel.text == "/greet"
    # Teams may put a no-break space after the mention
    assert read_activity({**base, "text": "<at>tinybot</at>\u00a0/greet",
                          "entities": [mention(BOT)]}).text == "/greet"
    asking = read_activity({**base, "text": "ask <at>Ada</at> and\n<at>tinybot</at> me",
                            "entities": [mention(ada), mention(BOT)]})
    assert asking.text == "ask <at>Ada</at> and\nme"
    assert read_activity({**base, "text": "hi <at>tinybot</at>, how are you?",
                          "entities": [mention(BOT)]}).text == "hi, how are you?"
    # a message that is only the mention has nothing to handle
    assert read_activity({**base, "text": "<at>tinybot</at>",
                          "entities": [mention(BOT)]}).text is None


def test_an_activity_delivered_again_is_not_handled_twice(make_app, agent, microsoft,
                                                          caplog) -> None:
    app = make_app(credentials=credentials(microsoft))
    greet = activity(microsoft)
    # the same id in another conversation is another activity (Teams numbers them
    # per conversation)
    elsewhere = activity(microsoft, conversation={"id": "a:2conv"})
    with caplog.at_level("INFO"):
        responses, stored = post_activities(app, agent, greet, greet, elsewhere,
                                            activity(microsoft, "/goodbye"))
    assert [(r.status, r.text) for r in responses] == [(200, "success")] * 4
    assert [e["text"] for e in stored if e["event"] == "user"] == ["/greet", "/greet",
                                                                   "/goodbye"]
    assert len(microsoft.sent()) == 3
    assert "came again and was not handled again" in caplog.text


def test_an_unverified_activity_is_not_remembered(make_app, agent, microsoft) -> None:
    app = make_app(credentials=credentials(microsoft))
    greet = activity(microsoft)
    # a forged request with a real activity's id must not make the bot skip that activity
    [refused], _ = post_activities(app, agent, greet, token="forged")
    [taken], stored = post_activities(app, agent, greet)
    assert (refused.status, taken.status) == (401, 200)
    assert bot_texts(stored) == ["Hello! How can I help?"]
