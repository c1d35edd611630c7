"""The Webex channel: webhook notifications in, messages read from and sent to a stub API."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
from collections.abc import Iterator
from typing import Any

import pytest
from serving_helpers import StubHttpServer, request

from dialogflowlite import hookimpl
from dialogflowlite.errors import ConfigError
from dialogflowlite.server.channels.loader import enabled_channels
from dialogflowlite.server.channels.webexteams import (
    CARD_CONTENT_TYPE,
    MAX_MESSAGE_BYTES,
    SIGNATURE_HEADER,
    WebexTeamsChannel,
    action_text,
    button_lines,
    reply_messages,
    without_mention,
)

TOKEN = "bot-access-token-0123456789"
SECRET = "webhook-secret-abcdef"
BOT_UUID = "b0b0b0b0-1111-2222-3333-444455556666"
BOT = base64.b64encode(f"ciscospark://us/PEOPLE/{BOT_UUID}".encode()).decode().rstrip("=")
ADA = "Y2lzY29zcGFyazovL3VzL1BFT1BMRS9hZGE"
ROOM = "Y2lzY29zcGFyazovL3VzL1JPT00vZGlyZWN0MQ"
GROUP = "Y2lzY29zcGFyazovL3VzL1JPT00vZ3JvdXAx"
WEBHOOK = "/webhooks/webexteams/webhook"
RED = '/choose{"colour": "red"}'


class WebexApi(StubHttpServer):
    """The Webex REST API: ``people/me``, messages read and sent, card actions read.

    ``messages`` and ``actions`` are what ``GET /messages/{id}`` and
    ``GET /attachment/actions/{id}`` answer (404 for others); ``failures`` are
    ``(status, body)`` answers given, one each, to the next ``POST /messages``.
    """

    def __init__(self) -> None:
        self.messages: dict[str, dict[str, Any]] = {}
        self.actions: dict[str, dict[str, Any]] = {}
        self.failures: list[tuple[int, dict[str, Any]]] = []
        self.me_failures: list[tuple[int, dict[str, Any]]] = []

        def answer(request: Any) -> tuple[int, dict[str, str], bytes]:
            path = request.path.removeprefix("/v1")
            missing = (404, {"message": "The requested resource could not be found.",
                             "trackingId": "ROUTER_1"})
            if request.headers.get("Authorization") != f"Bearer {TOKEN}":
                status, body = 401, {"message": "The request requires a valid access token.",
                                     "trackingId": "ROUTER_0"}
            elif path == "/people/me":
                status, body = (self.me_failures.pop(0) if self.me_failures else
                                (200, {"id": BOT, "displayName": "Tiny Bot", "type": "bot"}))
            elif request.method == "GET" and path.startswith("/messages/"):
                found = self.messages.get(path.rsplit("/", 1)[-1])
                status, body = (200, found) if found else missing
            elif request.method == "GET" and path.startswith("/attachment/actions/"):
                found = self.actions.get(path.rsplit("/", 1)[-1])
                status, body = (200, found) if found else missing
            elif (request.method, path) == ("POST", "/messages"):
                status, body = self.failures.pop(0) if self.failures else (200, {"id": "sent"})
            else:
                status, body = missing
            return status, {"Content-Type": "application/json"}, json.dumps(body).encode()

        super().__init__(answer)
        self.base = self.url.rstrip("/") + "/v1"

    def sent(self) -> list[dict[str, Any]]:
        """The JSON body of every ``POST /messages``, in order."""
        return [json.loads(r.body) for r in self.requests
                if (r.method, r.path) == ("POST", "/v1/messages")]

    def paths(self, method: str = "GET") -> list[str]:
        return [r.path for r in self.requests if r.method == method]

    def add(self, message_id: str, text: str | None, room: str = ROOM, person: str = ADA,
            **extra: Any) -> dict[str, Any]:
        """A message Webex holds; the notification of it."""
        message = {"id": message_id, "roomId": room,
                   "roomType": "direct" if room == ROOM else "group", "personId": person,
                   "personEmail": "ada@example.com", "created": "2024-03-01T10:00:00.000Z",
                   **({"text": text} if text is not None else {}), **extra}
        self.messages[message_id] = message
        return notification("messages", message_id, room, person)


def notification(resource: str, item_id: str, room: str = ROOM, person: str = ADA,
                 event: str = "created") -> dict[str, Any]:
    """A webhook notification as Webex posts it."""
    return {"id": "webhook1", "name": "tiny bot", "targetUrl": "https://bot.example.com" + WEBHOOK,
            "resource": resource, "event": event, "orgId": "org1", "createdBy": BOT,
            "appId": "app1", "ownedBy": "creator", "status": "active", "actorId": person,
            "data": {"id": item_id, "roomId": room, "personId": person,
                     "personEmail": "ada@example.com", "created": "2024-03-01T10:00:00.000Z"}}


@pytest.fixture(autouse=True)
def webexteams_plugin(register_plugin) -> None:
    """The channel, registered as a plugin registers it."""
    class Plugin:
        @hookimpl
        def dfl_register_channels(self) -> list[type]:
            return [WebexTeamsChannel]

    register_plugin(Plugin(), "webexteams-channel")


@pytest.fixture
def api() -> Iterator[WebexApi]:
    found = WebexApi()
    try:
        yield found
    finally:
        found.close()


def settings(api: WebexApi, **extra: Any) -> dict[str, Any]:
    return {"access_token": TOKEN, "api_url": api.base, "timeout": 5, **extra}


def post(app: Any, agent: Any, body: Any, sender: str = ROOM, *,
         signed_with: str | None = None,
         headers: dict[str, str] | None = None) -> tuple[Any, list[dict[str, Any]]]:
    """Post a notification; the response and the conversation's stored events."""
    async def main() -> tuple[Any, list[dict[str, Any]]]:
        content = body if isinstance(body, bytes) else json.dumps(body).encode()
        sent = {"Content-Type": "application/json", **(headers or {})}
        if signed_with is not None:
            sent[SIGNATURE_HEADER] = hmac.new(signed_with.encode(), content,
                                              hashlib.sha1).hexdigest()
        response = await request(app, "post", WEBHOOK, content=content, headers=sent)
        return response, await agent.tracker_store.load_events(sender) or []

    return asyncio.run(main())


def texts(events: list[dict[str, Any]], kind: str = "user") -> list[str]:
    return [e["text"] for e in events if e["event"] == kind]


# ------------------------------------------------------------------ through the server


def test_a_message_is_read_and_answered_in_its_room(make_app, agent, api: WebexApi) -> None:
    app = make_app(credentials={"webexteams": settings(api)})
    response, events = post(app, agent, api.add("m1", "/greet"))
    assert (response.status, response.body) == (200, b"")
    assert api.paths() == ["/v1/people/me", "/v1/messages/m1"]
    assert api.sent() == [{"roomId": ROOM, "text": "Hello! How can I help?"}]
    assert all(r.headers["Authorization"] == f"Bearer {TOKEN}" for r in api.requests)
    user = next(e for e in events if e["event"] == "user")
    assert (user["text"], user["input_channel"], user["message_id"]) == ("/greet", "webexteams",
                                                                          "m1")
    assert user["metadata"] == {"webexteams": {
        "kind": "message", "message_id": "m1", "room_id": ROOM, "room_type": "direct",
        "person_id": ADA, "person_email": "ada@example.com"}}
    assert texts(events, "bot") == ["Hello! How can I help?"]


def test_the_bots_person_id_is_asked_once(make_app, agent, api: WebexApi) -> None:
    app = make_app(credentials={"webexteams": settings(api)})
    post(app, agent, api.add("m1", "/greet"))
    post(app, agent, api.add("m2", "/goodbye"))
    assert api.paths().count("/v1/people/me") == 1
    assert [m["text"] for m in api.sent()] == ["Hello! How can I help?", "Bye!"]


def test_the_bots_own_messages_are_ignored(make_app, agent, api: WebexApi) -> None:
    app = make_app(credentials={"webexteams": settings(api)})
    response, events = post(app, agent, api.add("m1", "Hello! How can I help?", person=BOT))
    assert (response.status, events) == (200, [])
    # known from the notification: the message is not even read
    assert api.paths() == ["/v1/people/me"] and api.sent() == []
    # a notification that names someone else, for a message of the bot's
    api.add("m2", "Bye!", person=BOT)
    response, events = post(app, agent, notification("messages", "m2"))
    assert (response.status, events) == (200, []) and api.sent() == []


def test_nothing_is_handled_while_the_bots_id_is_unknown(make_app, agent, api: WebexApi,
                                                         caplog) -> None:
    api.me_failures.append((503, {"message": "Service Unavailable", "trackingId": "T9"}))
    app = make_app(credentials={"webexteams": settings(api)})
    with caplog.at_level("ERROR"):
        response, events = post(app, agent, api.add("m1", "/greet"))
    assert (response.status, events) == (200, [])
    assert "own person id could not be read" in caplog.text
    assert "status 503: Service Unavailable, tracking id T9" in caplog.text
    assert api.sent() == []
    # asked again with the next message
    response, events = post(app, agent, api.add("m2", "/greet"))
    assert texts(events) == ["/greet"] and len(api.sent()) == 1


def test_the_bots_mention_is_cut_from_group_messages(make_app, agent, api: WebexApi) -> None:
    app = make_app(credentials={"webexteams": settings(api)})
    html = (f'<p><spark-mention data-object-type="person" data-object-id="{BOT}">Tiny'
            "</spark-mention> /greet</p>")
    _, events = post(app, agent, api.add("m1", "Tiny /greet", room=GROUP, html=html),
                     sender=GROUP)
    assert texts(events) == ["/greet"]
    assert api.sent() == [{"roomId": GROUP, "text": "Hello! How can I help?"}]


@pytest.mark.parametrize(("text", "html", "read"), [
    ("Tiny Bot hi", f'<spark-mention data-object-id="{BOT}">Tiny Bot</spark-mention> hi', "hi"),
    # the HTML may carry the UUID inside the API's id
    ("Tiny hi", f'<spark-mention data-object-id="{BOT_UUID}">Tiny</spark-mention> hi', "hi"),
    ("Ada hi", f'<spark-mention data-object-id="{ADA}">Ada</spark-mention> hi', "Ada hi"),
    ("hi Tiny", f'hi <spark-mention data-object-id="{BOT}">Tiny</spark-mention>', "hi Tiny"),
    ("Tiny", f'<spark-mention data-object-id="{BOT}">Tiny</spark-mention>', "Tiny"),
    ("Tiny hi", None, "Tiny hi"),
])
def test_only_a_leading_mention_of_the_bot_is_cut(text: str, html: str | None,
                                                  read: str) -> None:
    assert without_mention(text, html, BOT) == read


def test_replies_go_into_the_thread_of_a_threaded_message(make_app, agent, api: WebexApi) -> None:
    app = make_app(credentials={"webexteams": settings(api)})
    post(app, agent, api.add("m1", "/greet", parentId="first"))
    assert api.sent() == [{"roomId": ROOM, "parentId": "first",
                           "text": "Hello! How can I help?"}]


def test_with_room_every_reply_goes_there(make_app, agent, api: WebexApi, caplog) -> None:
    with caplog.at_level("INFO"):
        app = make_app(credentials={"webexteams": settings(api, room="FIXEDROOM")})
    assert "every reply goes to the room in credentials.yml (FIXEDROOM)" in caplog.text
    _, events = post(app, agent, api.add("m1", "/greet", parentId="first"))
    # as in Rasa: the conversation is still the message's room, only replies are redirected
    assert texts(events) == ["/greet"]
    assert api.sent() == [{"roomId": "FIXEDROOM", "text": "Hello! How can I help?"}]


def test_buttons_as_markdown_lines(make_app, agent, api: WebexApi) -> None:
    app = make_app(credentials={"webexteams": settings(api)})
    post(app, agent, api.add("m1", "/ask_choice"))
    assert api.sent() == [{"roomId": ROOM, "markdown": (
        'Pick a colour\n\n1. Red (`/choose{"colour": "red"}`)\n'
        '2. Blue (`/choose{"colour": "blue"}`)')}]


def test_card_buttons_and_their_press(make_app, agent, api: WebexApi) -> None:
    app = make_app(credentials={"webexteams": settings(api, button_type="card")})
    post(app, agent, api.add("m1", "/ask_choice"))
    [choice] = api.sent()
    assert choice["markdown"].startswith("Pick a colour\n\n1. Red")  # clients without cards
    [card] = choice["attachments"]
    assert card["contentType"] == CARD_CONTENT_TYPE
    assert card["content"]["body"] == [{"type": "TextBlock", "text": "Pick a colour",
                                        "wrap": True}]
    assert card["content"]["actions"] == [
        {"type": "Action.Submit", "title": "Red", "data": {"payload": RED}},
        {"type": "Action.Submit", "title": "Blue",
         "data": {"payload": '/choose{"colour": "blue"}'}}]
    api.actions["a1"] = {"id": "a1", "type": "submit", "messageId": "sent", "personId": ADA,
                         "roomId": ROOM, "inputs": {"payload": RED},
                         "created": "2024-03-01T10:01:00.000Z"}
    response, events = post(app, agent, notification("attachmentActions", "a1"))
    assert response.status == 200
    assert "/v1/attachment/actions/a1" in api.paths()
    assert texts(events)[-1] == RED and texts(events, "bot")[-1] == "You chose red."
    assert api.sent()[-1] == {"roomId": ROOM, "text": "You chose red."}
    user = [e for e in events if e["event"] == "user"][-1]
    assert user["metadata"]["webexteams"] == {
        "kind": "action", "message_id": "sent", "room_id": ROOM, "person_id": ADA,
        "inputs": {"payload": RED}}


def test_the_inputs_of_other_cards_arrive_as_json() -> None:
    assert action_text({"inputs": {"name": "Ada", "age": "36"}}) == '{"age": "36", "name": "Ada"}'
    assert action_text({"inputs": {}}) is None


@pytest.mark.parametrize("body", [
    notification("memberships", "mem1"),
    notification("messages", "m1", event="deleted"),
    {**notification("messages", "m1"), "data": {}},
    {"hello": "world"},
], ids=["membership", "deleted", "no-id", "not-a-notification"])
def test_other_notifications_are_acknowledged(make_app, agent, api: WebexApi,
                                              body: dict[str, Any]) -> None:
    api.add("m1", "/greet")
    app = make_app(credentials={"webexteams": settings(api)})
    response, events = post(app, agent, body)
    assert (response.status, response.body, events) == (200, b"", [])
    assert api.requests == []


def test_a_message_without_text_is_ignored(make_app, agent, api: WebexApi) -> None:
    app = make_app(credentials={"webexteams": settings(api)})
    response, events = post(app, agent, api.add("m1", None, files=["https://x.org/f"]))
    assert (response.status, events) == (200, []) and api.sent() == []


def test_a_message_that_cannot_be_read_is_logged(make_app, agent, api: WebexApi,
                                                 caplog) -> None:
    app = make_app(credentials={"webexteams": settings(api)})
    with caplog.at_level("ERROR"):
        response, events = post(app, agent, notification("messages", "gone"))
    assert (response.status, events) == (200, [])
    assert (f"the message gone in room {ROOM} could not be read (status 404: The requested "
            "resource could not be found., tracking id ROUTER_1)") in caplog.text


@pytest.mark.parametrize(("body", "message"), [
    (b"not json", "not valid JSON"),
    (b"[1, 2]", "must be a JSON object"),
])
def test_a_body_that_is_not_a_json_object_gets_400(make_app, agent, api: WebexApi, body: bytes,
                                                   message: str) -> None:
    app = make_app(credentials={"webexteams": settings(api)})
    response, _ = post(app, agent, body)
    assert response.status == 400 and message in response.json["message"]
    assert api.requests == []


def test_a_failing_turn_is_answered_200_and_logged(make_app, agent, api: WebexApi, caplog,
                                                   monkeypatch) -> None:
    async def broken(message: Any) -> list[dict[str, Any]]:
        raise RuntimeError("the policy fell over")

    monkeypatch.setattr(agent, "handle_turn", broken)
    app = make_app(credentials={"webexteams": settings(api)})
    with caplog.at_level("ERROR"):
        response, _ = post(app, agent, api.add("m1", "/greet"))
    assert response.status == 200
    assert f"the message of conversation {ROOM!r} could not be handled and is lost" \
        in caplog.text and "the policy fell over" in caplog.text
    assert api.sent() == []


def test_a_message_the_store_could_not_keep_is_logged_as_lost(make_app, agent, api: WebexApi,
                                                              caplog) -> None:
    from failing_turns import store_down_for

    app = make_app(credentials={"webexteams": settings(api)})
    store_down_for(agent)
    with caplog.at_level("ERROR"):
        response, events = post(app, agent, api.add("m1", "/greet"))
    assert not any(e["event"] == "user" for e in events)
    # Webex does not deliver again: an error status would only count against the webhook
    assert response.status == 200 and api.sent() == []
    assert f"conversation {ROOM!r} could not be handled and is lost" in caplog.text


def test_the_health_route(make_app, api: WebexApi) -> None:
    app = make_app(credentials={"webexteams": settings(api)})
    response = asyncio.run(request(app, "get", "/webhooks/webexteams/"))
    assert (response.status, response.json) == (200, {"status": "ok"})


# ------------------------------------------------------------------ secret


def test_a_signed_notification_is_handled(make_app, agent, api: WebexApi) -> None:
    app = make_app(credentials={"webexteams": settings(api, secret=SECRET)})
    response, events = post(app, agent, api.add("m1", "/greet"), signed_with=SECRET)
    assert response.status == 200 and texts(events) == ["/greet"]
    # hex digits in upper case are the same signature
    body = json.dumps(api.add("m2", "/goodbye")).encode()
    upper = hmac.new(SECRET.encode(), body, hashlib.sha1).hexdigest().upper()
    response, events = post(app, agent, body, headers={SIGNATURE_HEADER: upper})
    assert response.status == 200 and texts(events)[-1] == "/goodbye"


@pytest.mark.parametrize(("signed_with", "headers"), [
    (None, {}),
    ("guessed-secret", {}),
    (None, {SIGNATURE_HEADER: ""}),
], ids=["unsigned", "other-secret", "empty"])
def test_an_unsigned_notification_is_refused(make_app, agent, api: WebexApi, caplog,
                                             signed_with: str | None,
                                             headers: dict[str, str]) -> None:
    app = make_app(credentials={"webexteams": settings(api, secret=SECRET)})
    with caplog.at_level("WARNING"):
        response, events = post(app, agent, api.add("m1", "/greet"), signed_with=signed_with,
                                headers=headers)
    assert response.status == 403
    assert SIGNATURE_HEADER in response.json["message"]
    assert events == [] and api.requests == []
    assert "webexteams: a request from" in caplog.text and "was refused" in caplog.text
    assert SECRET not in caplog.text


def test_a_body_changed_after_signing_is_refused(make_app, agent, api: WebexApi) -> None:
    app = make_app(credentials={"webexteams": settings(api, secret=SECRET)})
    signed = json.dumps(api.add("m1", "/greet")).encode()
    good = hmac.new(SECRET.encode(), signed, hashlib.sha1).hexdigest()
    changed = signed.replace(b'"m1"', b'"m2"')
    api.add("m2", "/goodbye")
    response, events = post(app, agent, changed, headers={SIGNATURE_HEADER: good})
    assert response.status == 403 and events == []


def test_without_a_secret_the_log_says_requests_are_not_verified(make_app, api: WebexApi,
                                                                 caplog) -> None:
    with caplog.at_level("WARNING"):
        make_app(credentials={"webexteams": settings(api)})
    assert "/webhooks/webexteams/webhook are not verified" in caplog.text
    caplog.clear()
    with caplog.at_level("WARNING"):
        make_app(credentials={"webexteams": settings(api, secret=SECRET)})
    assert "not verified" not in caplog.text


# ------------------------------------------------------------------ replies out


def test_a_refused_message_is_logged_and_later_ones_are_sent(api: WebexApi, caplog) -> None:
    api.failures.append((400, {"message": "Unable to post message to room", "trackingId": "T7"}))
    channel = WebexTeamsChannel(settings(api))
    with caplog.at_level("ERROR"):
        sent = asyncio.run(channel.send({"roomId": ROOM}, [{"text": "one"}, {"text": "two"}]))
    assert sent == 1 and [m["text"] for m in api.sent()] == ["one", "two"]
    assert (f"a message to {ROOM} was not sent (status 400: Unable to post message to room, "
            "tracking id T7)") in caplog.text
    assert TOKEN not in caplog.text


def test_an_unreachable_api_is_logged_without_the_token(caplog) -> None:
    channel = WebexTeamsChannel({"access_token": TOKEN, "api_url": "http://127.0.0.1:9/v1",
                                 "timeout": 2})
    with caplog.at_level("ERROR"):
        sent = asyncio.run(channel.send({"roomId": ROOM}, [{"text": "hi"}]))
    assert sent == 0
    assert f"a message to {ROOM} was not sent (ClientConnectorError" in caplog.text
    assert TOKEN not in caplog.text


def test_reply_parts_in_rasas_order() -> None:
    reply = {"text": "First.\n\nSecond.", "image": "https://x.org/cat.png",
             "attachment": "https://x.org/doc.pdf",
             "elements": [{"title": "Cat", "subtitle": "cute",
                           "buttons": [{"title": "Pet", "payload": "/pet"}]}],
             "custom": {"markdown": "**Hi**", "roomID": "OTHER"}}
    assert reply_messages(reply) == [
        {"text": "First."}, {"text": "Second."}, {"files": ["https://x.org/cat.png"]},
        {"text": "Attachment: https://x.org/doc.pdf"},
        {"markdown": "Cat : cute\n\n1. Pet (`/pet`)"},
        {"markdown": "**Hi**", "roomId": "OTHER"}]
    assert reply_messages({"custom": [1, 2]}) == []


def test_custom_json_that_names_a_person_is_not_sent_to_the_room(api: WebexApi) -> None:
    channel = WebexTeamsChannel(settings(api))
    asyncio.run(channel.send({"roomId": ROOM}, [
        {"custom": {"toPersonEmail": "ada@example.com", "text": "psst"}},
        {"custom": {"text": "to the room"}}]))
    assert api.sent() == [{"toPersonEmail": "ada@example.com", "text": "psst"},
                          {"roomId": ROOM, "text": "to the room"}]


def test_paragraphs_before_buttons_are_messages_of_their_own() -> None:
    assert reply_messages({"text": "Hi.\n\nPick one", "buttons": [
        {"title": "Docs", "url": "https://x.org/docs"}, {"title": "Yes", "payload": "Yes"},
        {"title": "Odd", "payload": "/a`b"}]}) == [
        {"text": "Hi."},
        {"markdown": "Pick one\n\n1. [Docs](https://x.org/docs)\n2. Yes\n3. Odd (`` /a`b ``)"}]
    assert button_lines([{"payload": "/greet"}]) == ["1. /greet"]


def test_long_texts_are_split_by_bytes_and_nothing_is_lost() -> None:
    text = " ".join(["wörter"] * 2000)  # 13999 characters, 15999 bytes
    pieces = [m["text"] for m in reply_messages({"text": text})]
    assert len(pieces) == 3
    assert all(len(p.encode()) <= MAX_MESSAGE_BYTES for p in pieces)
    assert " ".join(pieces) == text
    emoji = "🙂" * 3000  # 12000 bytes, no spaces to cut at
    pieces = [m["text"] for m in reply_messages({"text": emoji})]
    assert all(len(p.encode()) <= MAX_MESSAGE_BYTES for p in pieces) and "".join(pieces) == emoji
    # buttons ride on the last piece
    messages = reply_messages({"text": text, "buttons": [{"title": "Ok", "payload": "/ok"}]},
                              "card")
    assert ["attachments" in m for m in messages] == [False, False, True]


# ------------------------------------------------------------------ settings


def test_the_channel_is_enabled_by_credentials(api: WebexApi) -> None:
    [channel] = enabled_channels({"webexteams": settings(
        api, api_url=api.base + "/", room="R1", secret=SECRET, button_type="card", timeout=3)})
    assert isinstance(channel, WebexTeamsChannel)
    assert (channel.access_token, channel.room, channel.secret, channel.button_type,
            channel.api_url, channel.timeout) == (TOKEN, "R1", SECRET, "card", api.base, 3.0)
    default = WebexTeamsChannel({"access_token": TOKEN})
    assert (default.room, default.secret, default.button_type, default.api_url,
            default.timeout) == (None, None, "text", "https://webexapis.com/v1", 10.0)


@pytest.mark.parametrize(("given", "message"), [
    ({}, "`access_token` is missing"),
    ({"access_token": "  "}, "`access_token` is missing"),
    ({"access_token": TOKEN, "room": ""}, "`room` is missing"),
    ({"access_token": TOKEN, "secret": ""}, "`secret` is missing"),
    ({"access_token": TOKEN, "button_type": "cards"}, "`button_type` 'cards'"),
    ({"access_token": TOKEN, "api_url": "webexapis.com"}, "`api_url` must be an http(s)"),
    ({"access_token": TOKEN, "timeout": -1}, "timeout"),
    ({"access_token": TOKEN, "roomId": "R1"}, "no setting 'roomId'"),
])
def test_bad_settings(given: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=r"credentials\.yml webexteams") as raised:
        enabled_channels({"webexteams": given})
    assert message in str(raised.value)
    assert raised.value.hint


def test_an_unknown_key_gets_a_did_you_mean() -> None:
    with pytest.raises(ConfigError) as raised:
        WebexTeamsChannel({"access_token": TOKEN, "secrett": SECRET})
    assert "did you mean 'secret'" in str(raised.value)


@pytest.mark.parametrize(("room", "target"), [(None, ROOM), ("FIXEDROOM", "FIXEDROOM")])
def test_trigger_intent_pushes_the_messages_into_the_room(make_app, api: WebexApi,
                                                          room: str | None, target: str) -> None:
    extra = {} if room is None else {"room": room}
    app = make_app(credentials={"webexteams": settings(api, **extra)})
    response = asyncio.run(request(app, "post", f"/conversations/{ROOM}/trigger_intent",
                                   json={"name": "greet"},
                                   params={"output_channel": "webexteams"}))
    assert response.status == 200
    assert api.sent() == [{"roomId": target, "text": "Hello! How can I help?"}]


def test_a_message_notified_again_is_not_handled_twice(make_app, agent, api: WebexApi) -> None:
    app = make_app(credentials={"webexteams": settings(api, secret=SECRET)})
    greet = api.add("m1", "/greet")
    # a forged notification of the message first must not make the bot skip the real one
    forged, _ = post(app, agent, greet, signed_with="guessed-secret")
    assert forged.status == 403
    first, _ = post(app, agent, greet, signed_with=SECRET)
    again, _ = post(app, agent, greet, signed_with=SECRET)
    later, events = post(app, agent, api.add("m2", "/goodbye"), signed_with=SECRET)
    assert [r.status for r in (first, again, later)] == [200] * 3
    assert texts(events) == ["/greet", "/goodbye"]
    assert api.sent() == [{"roomId": ROOM, "text": "Hello! How can I help?"},
                          {"roomId": ROOM, "text": "Bye!"}]

