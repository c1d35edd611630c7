"""The hangouts channel: Google Chat events in at the webhook, the turn's message as the
answer, and the JWT Google Chat signs checked against a stub certificate endpoint."""

from __future__ import annotations

import asyncio
import datetime
import itertools
import json
import time
from collections.abc import Iterator
from typing import Any

import jwt
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from serving_helpers import CARDS, QUICK_REPLIES, StubHttpServer, greet_with, request

from dialogflowlite import hookimpl
from dialogflowlite.errors import ConfigError
from dialogflowlite.server.channels.hangouts import (
    HangoutsChannel,
    read_event,
    response_message,
)
from dialogflowlite.server.channels.hangouts_auth import (
    DEFAULT_CERTS_URL,
    ISSUER,
    ChatTokenVerifier,
    cache_seconds,
)
from dialogflowlite.server.channels.loader import enabled_channels
from dialogflowlite.server.channels.signing_keys import (
    REFETCH_AFTER,
    RETRY_AFTER_FAILURE,
    SigningKeysUnavailable,
)

PROJECT_NUMBER = "123456789012"
USER_ID = "112233445566"
USER = {"name": f"users/{USER_ID}", "displayName": "Ada Lovelace", "email": "ada@example.com",
        "type": "HUMAN"}
DM = {"name": "spaces/DMDMDM", "type": "DM", "spaceType": "DIRECT_MESSAGE",
      "singleUserBotDm": True}
ROOM = {"name": "spaces/ROOMROOM", "type": "ROOM", "spaceType": "SPACE",
        "displayName": "Colour fans"}
INTENTS = {"user_added": "/user_added", "room_added": "/room_added", "removed": "/bot_removed"}

#: the key the stub "Google" signs Chat tokens with, and one it does not publish
SIGNING_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
STRANGER_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)


class ChannelPlugin:
    @hookimpl
    def dfl_register_channels(self) -> list[type]:
        return [HangoutsChannel]


@pytest.fixture(autouse=True)
def registered(register_plugin) -> None:
    register_plugin(ChannelPlugin(), "hangouts-channel-test")


def certificate(key: rsa.RSAPrivateKey) -> str:
    """A self-signed PEM certificate for ``key``, as Google publishes its Chat keys."""
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, ISSUER)])
    now = datetime.datetime.now(datetime.timezone.utc)
    built = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
             .public_key(key.public_key()).serial_number(x509.random_serial_number())
             .not_valid_before(now - datetime.timedelta(days=1))
             .not_valid_after(now + datetime.timedelta(days=1)).sign(key, hashes.SHA256()))
    return built.public_bytes(serialization.Encoding.PEM).decode()


class Google(StubHttpServer):
    """Google's certificates for chat@system.gserviceaccount.com: ``/x509`` as a kid-to-PEM
    map (what Rasa reads), ``/jwk`` as a JWK set."""

    def __init__(self) -> None:
        self.published = {"key-1": SIGNING_KEY}
        self.status = 200

        def answer(request: Any) -> tuple[int, dict, bytes]:
            if request.path == "/x509":
                body: Any = {kid: certificate(key) for kid, key in self.published.items()}
            else:
                body = {"keys": [{**json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(
                    key.public_key())), "kid": kid, "alg": "RS256", "use": "sig"}
                    for kid, key in self.published.items()]}
            headers = {"Content-Type": "application/json",
                       "Cache-Control": "public, max-age=19800, must-revalidate"}
            return self.status, headers, json.dumps(body).encode()

        super().__init__(answer)
        self.base = self.url.rstrip("/")

    def fetches(self) -> int:
        return len(self.requests)


@pytest.fixture
def google() -> Iterator[Google]:
    found = Google()
    try:
        yield found
    finally:
        found.close()


def chat_token(*, key: rsa.RSAPrivateKey = SIGNING_KEY, kid: str = "key-1",
               algorithm: str = "RS256", **claims: Any) -> str:
    """A token as Google Chat signs it for a request to the app."""
    now = int(time.time())
    payload = {"iss": ISSUER, "aud": PROJECT_NUMBER, "iat": now, "exp": now + 3600, **claims}
    payload = {name: value for name, value in payload.items() if value is not None}
    return jwt.encode(payload, key, algorithm=algorithm, headers={"kid": kid})


def credentials(google: Google | None = None, **settings: Any) -> dict[str, Any]:
    found: dict[str, Any] = {"project_id": PROJECT_NUMBER, **settings}
    if google is not None:
        found.setdefault("certs_url", google.base + "/x509")
    return {"hangouts": found}


#: every message Google Chat sends has a name of its own
MESSAGE_NUMBERS = itertools.count(1)


def message_event(text: str = "/greet", space: dict | None = None,
                  **message: Any) -> dict[str, Any]:
    """A MESSAGE event as Google Chat posts it."""
    space = space or DM
    name = f"{space['name']}/messages/M{next(MESSAGE_NUMBERS)}.M1"
    return {"type": "MESSAGE", "eventTime": "2024-05-01T10:00:00.000Z", "space": space,
            "user": USER, "message": {"name": name, "sender": USER,
                                      "text": text, "argumentText": text, "space": space,
                                      "thread": {"name": f"{space['name']}/threads/T1"},
                                      **message}}


def click_event(payload: str) -> dict[str, Any]:
    """A CARD_CLICKED event for a cards v2 button whose function is ``payload``."""
    return {"type": "CARD_CLICKED", "space": DM, "user": USER,
            "message": {"name": "spaces/DMDMDM/messages/BOT1", "sender": {"type": "BOT"}},
            "action": {"actionMethodName": payload},
            "common": {"invokedFunction": payload, "hostApp": "CHAT"}}


def post_events(app: Any, agent: Any, *bodies: Any,
                token: str | None = "signed") -> tuple[list[Any], list[dict] | None]:
    """Post events to the webhook in turn; the responses and what the store holds for USER.

    Each carries a valid Chat token unless ``token`` is given (None: no header).
    """
    async def main() -> tuple[list[Any], list[dict] | None]:
        responses = []
        for body in bodies:
            content = body if isinstance(body, str) else json.dumps(body)
            headers = {"Content-Type": "application/json"}
            if token is not None:
                headers["Authorization"] = "Bearer " + (
                    chat_token() if token == "signed" else token)
            responses.append(await request(app, "post", "/webhooks/hangouts/webhook",
                                           content=content, headers=headers))
        return responses, await agent.tracker_store.load_events(USER_ID)

    return asyncio.run(main())


def user_events(stored: list[dict] | None) -> list[dict]:
    return [e for e in stored or [] if e["event"] == "user"]


def bot_texts(stored: list[dict] | None) -> list[str]:
    return [e["text"] for e in stored or [] if e["event"] == "bot"]


# ------------------------------------------------------------------ through the server


def test_a_direct_message_is_answered_in_the_response(make_app, agent, google) -> None:
    app = make_app(credentials=credentials(google))
    event = message_event(name="spaces/DMDMDM/messages/M1.M1")
    [response], stored = post_events(app, agent, event)
    assert response.status == 200
    assert response.json == {"text": "Hello! How can I help?"}
    [user] = user_events(stored)
    assert (user["text"], user["input_channel"]) == ("/greet", "hangouts")
    assert user["metadata"] == {"room": None, "hangouts": {
        "event_type": "MESSAGE", "space": "spaces/DMDMDM", "space_type": "DIRECT_MESSAGE",
        "thread": "spaces/DMDMDM/threads/T1", "message": "spaces/DMDMDM/messages/M1.M1",
        "user_email": "ada@example.com", "user_display_name": "Ada Lovelace"}}
    assert bot_texts(stored) == ["Hello! How can I help?"]


def test_in_a_space_the_mention_is_cut_and_the_room_named(make_app, agent, google) -> None:
    app = make_app(credentials=credentials(google))
    event = message_event("@tinybot /greet", ROOM, argumentText=" /greet")
    [response], stored = post_events(app, agent, event)
    assert response.json == {"text": "Hello! How can I help?"}
    [user] = user_events(stored)
    assert user["text"] == "/greet"
    assert user["metadata"]["room"] == "Colour fans"
    assert user["metadata"]["hangouts"]["space_type"] == "SPACE"


def test_buttons_become_a_card_and_a_click_sends_the_payload(make_app, agent, google) -> None:
    app = make_app(credentials=credentials(google))
    [response], _ = post_events(app, agent, message_event("/ask_choice"))
    assert response.json == {"cardsV2": [{"cardId": "reply-1", "card": {"sections": [{
        "widgets": [
            {"textParagraph": {"text": "Pick a colour"}},
            {"buttonList": {"buttons": [
                {"text": "Red", "onClick": {"action": {"function": '/choose{"colour": "red"}'}}},
                {"text": "Blue",
                 "onClick": {"action": {"function": '/choose{"colour": "blue"}'}}}]}}]}]}}]}
    [clicked], stored = post_events(app, agent, click_event('/choose{"colour": "blue"}'))
    assert clicked.json == {"text": "You chose blue."}
    assert user_events(stored)[-1]["text"] == '/choose{"colour": "blue"}'
    assert user_events(stored)[-1]["metadata"]["hangouts"]["event_type"] == "CARD_CLICKED"


def test_a_responses_cards_become_a_card_each(make_app, agent, google) -> None:
    greet_with(agent, CARDS)
    app = make_app(credentials=credentials(google))
    [response], _ = post_events(app, agent, message_event("/greet"))
    assert response.json["text"] == "Our cats"
    tom, kit = (found["card"] for found in response.json["cardsV2"])
    assert (tom["header"], kit["header"]) == ({"title": "Tom", "subtitle": "grey"},
                                              {"title": "Kit", "subtitle": "black"})
    assert tom["sections"][0]["widgets"] == [
        {"image": {"imageUrl": "https://x.org/tom.png"}},
        {"buttonList": {"buttons": [{"text": "Adopt",
                                     "onClick": {"action": {"function": "/choose"}}}]}}]


def test_a_responses_quick_replies_become_buttons(make_app, agent, google) -> None:
    greet_with(agent, QUICK_REPLIES)
    app = make_app(credentials=credentials(google))
    [response], _ = post_events(app, agent, message_event("/greet"))
    assert response.json == {"cardsV2": [{"cardId": "reply-1", "card": {"sections": [{
        "widgets": [
            {"textParagraph": {"text": "Which size?"}},
            {"buttonList": {"buttons": [
                {"text": "Small", "onClick": {"action": {"function": "/choose"}}},
                {"text": "Large", "onClick": {"action": {"function": "/goodbye"}}}]}}]}]}}]}


@pytest.mark.parametrize(("event", "space", "expected"), [
    ("ADDED_TO_SPACE", DM, "/user_added"),
    ("ADDED_TO_SPACE", ROOM, "/room_added"),
    ("REMOVED_FROM_SPACE", ROOM, "/bot_removed"),
])
def test_membership_events_send_the_configured_intents(make_app, agent, google, event: str,
                                                       space: dict, expected: str) -> None:
    app = make_app(credentials=credentials(google))
    [response], stored = post_events(app, agent, {"type": event, "space": space, "user": USER})
    assert response.status == 200
    assert [u["text"] for u in user_events(stored)] == [expected]


def test_the_intent_names_come_from_credentials(make_app, agent, google) -> None:
    app = make_app(credentials=credentials(google, hangouts_user_added_intent_name="/greet",
                                           hangouts_removed_intent_name=""))
    [added, removed], stored = post_events(
        app, agent, {"type": "ADDED_TO_SPACE", "space": DM, "user": USER},
        {"type": "REMOVED_FROM_SPACE", "space": DM, "user": USER})
    assert added.json == {"text": "Hello! How can I help?"}
    # "" turns the event off: nothing is handled
    assert removed.json == {}
    assert [u["text"] for u in user_events(stored)] == ["/greet"]


@pytest.mark.parametrize("body", [
    {"type": "WIDGET_UPDATED", "space": DM, "user": USER},
    {"type": "MESSAGE", "space": DM, "message": {"text": "/greet"}},
    {"type": "MESSAGE", "space": DM, "user": {"name": "users/a\nb"},
     "message": {"text": "/greet"}},
    message_event("   ", argumentText=""),
    {"type": "CARD_CLICKED", "space": DM, "user": USER, "action": {}},
    ["not", "an", "event"],
    "{not json",
], ids=["other-type", "no-user", "invalid-user-id", "blank-text", "click-without-payload",
        "json-list", "not-json"])
def test_other_events_are_answered_empty_and_ignored(make_app, agent, google,
                                                     body: Any) -> None:
    app = make_app(credentials=credentials(google))
    [response], stored = post_events(app, agent, body)
    assert (response.status, response.json) == (200, {})
    assert stored is None


def test_a_failed_turn_is_logged_and_answered_empty(make_app, agent, google, caplog) -> None:
    app = make_app(credentials=credentials(google), agent=agent)
    app.ctx.agent = None  # no model: the turn fails
    with caplog.at_level("ERROR"):
        [response], stored = post_events(app, agent, message_event())
    assert (response.status, response.json) == (200, {})
    assert stored is None
    assert f"the message of conversation {USER_ID!r} could not be handled and is lost" \
        in caplog.text


def test_the_health_route_and_no_warning_while_tokens_are_verified(make_app, google,
                                                                    caplog) -> None:
    with caplog.at_level("WARNING"):
        app = make_app(credentials=credentials(google))
    assert "hangouts" not in caplog.text
    response = asyncio.run(request(app, "get", "/webhooks/hangouts/"))
    assert (response.status, response.json) == (200, {"status": "ok"})


# ------------------------------------------------------------------ the Chat token


@pytest.mark.parametrize(("token", "reason"), [
    (None, "no Authorization: Bearer token"),
    ("not-a-jwt", "cannot be read"),
    ("stranger", "is not one Google publishes"),
    ("wrong audience", "Audience doesn't match"),
    ("wrong issuer", "Invalid issuer"),
    ("expired", "Signature has expired"),
    ("no expiry", 'Token is missing the "exp" claim'),
    ("HS256", "not RS256"),
])
def test_events_without_a_valid_token_are_refused(make_app, agent, google, caplog, token,
                                                  reason) -> None:
    forged = {
        None: None, "not-a-jwt": "not-a-jwt",
        "stranger": chat_token(key=STRANGER_KEY, kid="key-9"),
        "wrong audience": chat_token(aud="999999999999"),
        "wrong issuer": chat_token(iss="someone@evil.example"),
        "expired": chat_token(iat=int(time.time()) - 7200, exp=int(time.time()) - 3600),
        "no expiry": chat_token(exp=None),
        "HS256": jwt.encode({"iss": ISSUER, "aud": PROJECT_NUMBER,
                             "exp": int(time.time()) + 600}, "a-shared-secret-of-32-bytes!!!!!",
                            algorithm="HS256", headers={"kid": "key-1"}),
    }[token]
    app = make_app(credentials=credentials(google))
    with caplog.at_level("WARNING"):
        [response], stored = post_events(app, agent, message_event(), token=forged)
    assert response.status == 401 and response.json["reason"] == "NotAuthenticated"
    assert stored is None
    assert reason in caplog.text


def test_a_little_clock_skew_is_allowed(make_app, agent, google) -> None:
    app = make_app(credentials=credentials(google))
    late = chat_token(exp=int(time.time()) - 30)
    [response], stored = post_events(app, agent, message_event(), token=late)
    assert response.status == 200 and bot_texts(stored) == ["Hello! How can I help?"]


def test_the_certificates_are_fetched_once_and_kept(make_app, agent, google) -> None:
    app = make_app(credentials=credentials(google))
    responses, stored = post_events(app, agent, message_event(), message_event("/goodbye"))
    assert [r.status for r in responses] == [200, 200]
    assert google.fetches() == 1
    assert bot_texts(stored) == ["Hello! How can I help?", "Bye!"]


def test_jwk_sets_are_read_too(make_app, agent, google) -> None:
    app = make_app(credentials=credentials(google, certs_url=google.base + "/jwk"))
    [response], stored = post_events(app, agent, message_event())
    assert response.status == 200 and bot_texts(stored) == ["Hello! How can I help?"]


def test_an_unknown_key_refetches_at_most_every_five_minutes(google) -> None:
    now = [1000.0]
    verifier = ChatTokenVerifier(PROJECT_NUMBER, google.base + "/x509", clock=lambda: now[0])

    def check(token: str) -> str | None:
        return asyncio.run(verifier.problem(f"Bearer {token}"))

    assert check(chat_token()) is None and google.fetches() == 1
    # Google rolls in a new key: not fetched again before five minutes have passed
    google.published["key-2"] = STRANGER_KEY
    rolled = chat_token(key=STRANGER_KEY, kid="key-2")
    assert "is not one Google publishes" in check(rolled)
    now[0] += 200
    assert "is not one Google publishes" in check(rolled)
    assert google.fetches() == 1
    now[0] += 101
    assert check(rolled) is None and google.fetches() == 2
    # known keys never cause a fetch until Google's max-age (19800 s) runs out
    now[0] += 19000
    assert check(chat_token()) is None and google.fetches() == 2
    now[0] += 900
    assert check(chat_token()) is None and google.fetches() == 3


def test_unreachable_certificates_answer_503_with_retry_after(make_app, agent, google,
                                                              caplog) -> None:
    google.status = 503
    app = make_app(credentials=credentials(google))
    with caplog.at_level("ERROR"):
        [response], stored = post_events(app, agent, message_event())
    # nothing is handled; the failure is the bot's own, so 503, not 401 (Rasa: 500)
    assert stored is None
    assert response.status == 503 and response.json["reason"] == "ServiceUnavailable"
    assert "Google Chat token cannot be checked now" in response.json["message"]
    assert 1 <= int(response.headers["retry-after"]) <= RETRY_AFTER_FAILURE
    assert "signing keys could not be fetched" in caplog.text
    assert "status 503" in caplog.text


@pytest.mark.parametrize("token", [None, "not-a-jwt"])
def test_no_readable_token_while_certificates_are_unreachable_is_still_a_401(
        make_app, agent, google, token) -> None:
    google.status = 503
    app = make_app(credentials=credentials(google))
    [response], stored = post_events(app, agent, message_event(), token=token)
    assert response.status == 401 and response.json["reason"] == "NotAuthenticated"
    assert stored is None and google.fetches() == 0


def test_a_document_without_certificates_is_an_outage_not_a_bad_token(google) -> None:
    google.published = {}
    verifier = ChatTokenVerifier(PROJECT_NUMBER, google.base + "/x509")
    with pytest.raises(SigningKeysUnavailable):
        asyncio.run(verifier.problem(f"Bearer {chat_token()}"))


def test_a_key_the_bot_lacks_while_certificates_are_unreachable_is_a_503(google) -> None:
    now = [1000.0]
    verifier = ChatTokenVerifier(PROJECT_NUMBER, google.base + "/x509", clock=lambda: now[0])
    assert asyncio.run(verifier.problem(f"Bearer {chat_token()}")) is None
    # Google rolled its keys while the bot cannot reach it: the new key cannot be told
    # from a forged one
    google.published["key-2"] = STRANGER_KEY
    google.status = 500
    rolled = f"Bearer {chat_token(key=STRANGER_KEY, kid='key-2')}"
    now[0] += REFETCH_AFTER + 1
    with pytest.raises(SigningKeysUnavailable) as refused:
        asyncio.run(verifier.problem(rolled))
    assert refused.value.status == 503
    assert int(refused.value.headers["Retry-After"]) == RETRY_AFTER_FAILURE
    now[0] += 10
    with pytest.raises(SigningKeysUnavailable) as refused:
        asyncio.run(verifier.problem(rolled))
    assert int(refused.value.headers["Retry-After"]) == RETRY_AFTER_FAILURE - 10
    assert google.fetches() == 2
    # the certificates at hand still check tokens signed with them, good or bad
    assert asyncio.run(verifier.problem(f"Bearer {chat_token()}")) is None
    wrong_audience = asyncio.run(verifier.problem(f"Bearer {chat_token(aud='999999999999')}"))
    assert wrong_audience is not None and "Audience doesn't match" in wrong_audience
    # once Google answers again, the rolled key is fetched and its token accepted
    google.status = 200
    now[0] += RETRY_AFTER_FAILURE
    assert asyncio.run(verifier.problem(rolled)) is None and google.fetches() == 3


def test_once_certificates_come_again_an_unknown_key_is_a_401_again(google) -> None:
    now = [1000.0]
    verifier = ChatTokenVerifier(PROJECT_NUMBER, google.base + "/x509", clock=lambda: now[0])
    stranger = f"Bearer {chat_token(key=STRANGER_KEY, kid='key-9')}"
    google.status = 500
    with pytest.raises(SigningKeysUnavailable):
        asyncio.run(verifier.problem(stranger))
    google.status = 200
    now[0] += RETRY_AFTER_FAILURE + 1
    problem = asyncio.run(verifier.problem(stranger))
    assert problem is not None and "is not one Google publishes" in problem


def test_concurrent_first_requests_fetch_the_certificates_once(google) -> None:
    verifier = ChatTokenVerifier(PROJECT_NUMBER, google.base + "/x509")
    token = f"Bearer {chat_token()}"

    async def main() -> list[str | None]:
        return await asyncio.gather(*(verifier.problem(token) for _ in range(8)))

    assert asyncio.run(main()) == [None] * 8
    assert google.fetches() == 1


def test_a_failed_fetch_is_not_retried_at_once_and_old_keys_stay(google) -> None:
    now = [1000.0]
    verifier = ChatTokenVerifier(PROJECT_NUMBER, google.base + "/x509", clock=lambda: now[0])
    assert asyncio.run(verifier.problem(f"Bearer {chat_token()}")) is None
    google.status = 500
    now[0] += 19801  # Google's max-age is over, and the refetch fails
    assert asyncio.run(verifier.problem(f"Bearer {chat_token()}")) is None
    assert google.fetches() == 2
    now[0] += 10
    assert asyncio.run(verifier.problem(f"Bearer {chat_token()}")) is None
    assert google.fetches() == 2  # not retried within half a minute
    now[0] += 30
    asyncio.run(verifier.problem(f"Bearer {chat_token()}"))
    assert google.fetches() == 3


def test_cache_control_is_kept_within_bounds() -> None:
    assert cache_seconds("public, max-age=19800, must-revalidate") == 19800
    assert cache_seconds("max-age=5") == 300
    assert cache_seconds("max-age=99999999") == 24 * 3600
    assert cache_seconds(None) == 24 * 3600


def test_without_project_id_nothing_is_verified_and_the_log_says_so(make_app, agent,
                                                                    caplog) -> None:
    with caplog.at_level("WARNING"):
        app = make_app(credentials={"hangouts": {}})
    assert "requests to /webhooks/hangouts/webhook are not verified" in caplog.text
    [response], stored = post_events(app, agent, message_event(), token=None)
    assert response.json == {"text": "Hello! How can I help?"}
    assert bot_texts(stored) == ["Hello! How can I help?"]


# ------------------------------------------------------------------ events and answers


def test_slash_commands_keep_the_command_and_v2_clicks_are_read() -> None:
    command = message_event("/weather Berlin", argumentText=" Berlin",
                            slashCommand={"commandId": "1"})
    assert read_event(command, INTENTS).text == "/weather Berlin"
    # no argumentText (older events): the text as it is
    plain = message_event("hi there")
    del plain["message"]["argumentText"]
    assert read_event(plain, INTENTS).text == "hi there"
    v2_click = {"type": "CARD_CLICKED", "user": USER, "space": DM,
                "common": {"invokedFunction": "/affirm", "parameters": {"k": "v"}}}
    found = read_event(v2_click, INTENTS)
    assert found.text == "/affirm"
    assert found.metadata["hangouts"]["action_parameters"] == {"k": "v"}
    legacy_room = {"type": "ADDED_TO_SPACE", "user": USER,
                   "space": {"name": "spaces/R", "type": "ROOM", "displayName": "Old room"}}
    assert read_event(legacy_room, INTENTS).text == "/room_added"
    assert read_event(legacy_room, INTENTS).metadata["room"] == "Old room"


def test_texts_are_joined_and_order_is_kept_around_cards() -> None:
    assert response_message([]) == {}
    assert response_message([{"text": "One."}, {"text": "Two."}]) == {"text": "One.\n\nTwo."}
    image = "https://example.com/cat.png"
    found = response_message([{"text": "Look:"}, {"image": image}, {"text": "Nice?"}])
    assert found == {"text": "Look:", "cardsV2": [
        {"cardId": "reply-1", "card": {"sections": [{"widgets": [
            {"image": {"imageUrl": image}}]}]}},
        {"cardId": "reply-2", "card": {"sections": [{"widgets": [
            {"textParagraph": {"text": "Nice?"}}]}]}}]}


def test_link_buttons_elements_attachments_and_custom_json() -> None:
    [card] = response_message([{"buttons": [
        {"title": "Docs", "url": "https://example.com/docs"}, {"payload": "/greet"}]}])["cardsV2"]
    assert card["card"]["sections"][0]["widgets"] == [{"buttonList": {"buttons": [
        {"text": "Docs", "onClick": {"openLink": {"url": "https://example.com/docs"}}},
        {"text": "/greet", "onClick": {"action": {"function": "/greet"}}}]}}]
    [element] = response_message([{"elements": [{
        "title": "Red shirt", "subtitle": "20 EUR", "image_url": "https://example.com/r.png",
        "buttons": [{"title": "Buy", "payload": "/buy"}]}]}])["cardsV2"]
    assert element["card"] == {"header": {"title": "Red shirt", "subtitle": "20 EUR"},
                               "sections": [{"widgets": [
                                   {"image": {"imageUrl": "https://example.com/r.png"}},
                                   {"buttonList": {"buttons": [
                                       {"text": "Buy",
                                        "onClick": {"action": {"function": "/buy"}}}]}}]}]}
    assert response_message([{"attachment": "https://example.com/a.pdf"}]) == {
        "text": "https://example.com/a.pdf"}
    own_card = {"cardId": "mine", "card": {"sections": []}}
    legacy = [{"sections": [{"widgets": [{"textParagraph": {"text": "v1"}}]}]}]
    merged = response_message([{"text": "Hi"}, {"custom": {
        "text": "From custom", "cardsV2": [own_card], "cards": legacy,
        "privateMessageViewer": {"name": "users/1"}}}])
    assert merged == {"text": "Hi\n\nFrom custom", "privateMessageViewer": {"name": "users/1"},
                      "cardsV2": [{"cardId": "mine", "card": {"sections": []}}],
                      "cards": legacy}
    assert response_message([{"custom": "not an object"}]) == {}


# ------------------------------------------------------------------ settings


def test_the_channel_is_enabled_by_credentials() -> None:
    [channel] = enabled_channels({"hangouts": {"project_id": int(PROJECT_NUMBER),
                                               "timeout": 3}})
    assert isinstance(channel, HangoutsChannel)
    assert (channel.project_id, channel.timeout) == (PROJECT_NUMBER, 3.0)
    assert channel.verifier is not None and channel.verifier.certs_url == DEFAULT_CERTS_URL
    assert channel.intents == INTENTS
    assert HangoutsChannel({}).verifier is None


@pytest.mark.parametrize(("settings", "message"), [
    ({"project_id": "my-chat-app"}, "`project_id` must be the project number"),
    ({"project_id": " "}, "`project_id` is missing"),
    ({"project_idd": PROJECT_NUMBER}, "no setting 'project_idd'"),
    ({"hangouts_room_added_intent_name": 3}, "`hangouts_room_added_intent_name` must be text"),
    ({"certs_url": "www.googleapis.com"}, "`certs_url` must be an http(s)"),
    ({"timeout": "soon"}, "timeout"),
])
def test_bad_settings(settings: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=r"credentials\.yml hangouts") as raised:
        enabled_channels({"hangouts": settings})
    assert message in str(raised.value)
    assert raised.value.hint


def test_bad_settings_hints() -> None:
    with pytest.raises(ConfigError) as unknown:
        HangoutsChannel({"hangouts_user_added_intent": "/hi"})
    assert "did you mean 'hangouts_user_added_intent_name'" in str(unknown.value)
    with pytest.raises(ConfigError) as project:
        HangoutsChannel({"project_id": "my-chat-app"})
    assert "project *number*" in str(project.value)


def test_a_message_delivered_again_is_not_handled_twice(make_app, agent, google) -> None:
    app = make_app(credentials=credentials(google))
    greet, goodbye = message_event("/greet"), message_event("/goodbye")
    # an unauthenticated event bearing the name first must not make the bot skip the real one
    [forged], _ = post_events(app, agent, greet, token=None)
    assert forged.status == 401
    responses, stored = post_events(app, agent, greet, greet, goodbye)
    assert [r.status for r in responses] == [200] * 3
    assert responses[1].json == {}
    assert [e["text"] for e in user_events(stored)] == ["/greet", "/goodbye"]
    assert bot_texts(stored) == ["Hello! How can I help?", "Bye!"]
