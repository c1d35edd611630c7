"""The Rocket.Chat channel: webhook messages in, ``chat.postMessage`` to a stub REST API out."""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import Iterator
from typing import Any

import pytest
from serving_helpers import CARDS, StubHttpServer, greet_with, request

from dialogflowlite import hookimpl
from dialogflowlite.errors import ConfigError
from dialogflowlite.server.channels.loader import enabled_channels
from dialogflowlite.server.channels.rocketchat import (
    LIVECHAT_TOKEN_HEADER,
    MAX_TEXT,
    RocketChatChannel,
    message_text,
    read_webhook,
    reply_posts,
)

BOT_USER = "tinybot"
BOT_ID = "botUserId0123"
PASSWORD = "bot-password-0123"
HOOK_TOKEN = "hook-token-abcdef"
ROOM = "GENERAL"
USER_ID = "adaUserId0123"
WEBHOOK = "/webhooks/rocketchat/webhook"
RED = '/choose{"colour": "red"}'


class RocketChatApi(StubHttpServer):
    """Rocket.Chat's REST API: ``/api/v1/login`` and ``/api/v1/chat.postMessage``.

    Each login hands out a new auth token; ``expire()`` makes the current ones
    answer 401, as after a logout. ``failures`` are ``(status, body)`` answers
    given, one each, to the next posts.
    """

    def __init__(self, failures: list[tuple[int, dict[str, Any]]] | None = None) -> None:
        self.failures = list(failures or [])
        self.tokens: set[str] = set()

        def answer(request: Any) -> tuple[int, dict[str, str], bytes]:
            body = json.loads(request.body or b"{}")
            if request.path == "/api/v1/login":
                if (body.get("user"), body.get("password")) != (BOT_USER, PASSWORD):
                    status, reply = 401, {"status": "error", "error": "Unauthorized",
                                          "message": "Unauthorized"}
                else:
                    # this login is already among the requests
                    token = f"auth-token-{len(self.logins())}"
                    self.tokens.add(token)
                    status, reply = 200, {"status": "success", "data": {
                        "userId": BOT_ID, "authToken": token,
                        "me": {"_id": BOT_ID, "username": BOT_USER}}}
            elif request.headers.get("X-Auth-Token") not in self.tokens or \
                    request.headers.get("X-User-Id") != BOT_ID:
                status, reply = 401, {"status": "error",
                                      "message": "You must be logged in to do this."}
            elif self.failures:
                status, reply = self.failures.pop(0)
            else:
                status, reply = 200, {"success": True, "message": {"_id": "m1", "rid": ROOM}}
            return status, {"Content-Type": "application/json"}, json.dumps(reply).encode()

        super().__init__(answer)
        self.base = self.url.rstrip("/")

    def logins(self) -> list[Any]:
        return [r for r in self.requests if r.path == "/api/v1/login"]

    def expire(self) -> None:
        self.tokens.clear()

    def posts(self) -> list[dict[str, Any]]:
        """The JSON body of every ``chat.postMessage`` that was taken, in order."""
        return [json.loads(r.body) for r in self.requests
                if r.path == "/api/v1/chat.postMessage"
                and r.headers.get("X-Auth-Token") in self.tokens]

    def texts(self) -> list[str]:
        return [post.get("text", "") for post in self.posts()]


@pytest.fixture(autouse=True)
def rocketchat_plugin(register_plugin) -> None:
    """The channel, registered as a plugin registers it."""
    class Plugin:
        @hookimpl
        def dfl_register_channels(self) -> list[type]:
            return [RocketChatChannel]

    register_plugin(Plugin(), "rocketchat-channel")


@pytest.fixture
def api() -> Iterator[RocketChatApi]:
    found = RocketChatApi()
    try:
        yield found
    finally:
        found.close()


def settings(api: RocketChatApi, **extra: Any) -> dict[str, Any]:
    return {"user": BOT_USER, "password": PASSWORD, "server_url": api.base, "timeout": 5,
            **extra}


#: every message Rocket.Chat posts has an id of its own
MESSAGE_IDS = itertools.count(1)


def outgoing(text: str, trigger_word: str | None = None, **extra: Any) -> dict[str, Any]:
    """A message as a Rocket.Chat outgoing webhook posts it."""
    body = {"token": HOOK_TOKEN, "bot": False, "channel_id": ROOM, "channel_name": "general",
            "message_id": f"msg{next(MESSAGE_IDS)}", "timestamp": "2024-03-18T03:37:15.725Z",
            "user_id": USER_ID,
            "user_name": "ada", "text": text, "siteUrl": "https://chat.example.com/"}
    if trigger_word:
        body["trigger_word"] = trigger_word
    return {**body, **extra}


def livechat(text: str, kind: str | None = "Message", **message: Any) -> dict[str, Any]:
    """A visitor's message as the Omnichannel (Livechat) webhook posts it."""
    body: dict[str, Any] = {
        "_id": "LIVEROOM1", "label": "James", "createdAt": "2024-02-02T10:16:07.230Z",
        "visitor": {"_id": "visitor1", "token": "visitor-secret", "name": "James",
                    "username": "guest-3", "email": [{"address": "james@example.com"}]},
        "agent": {"_id": BOT_ID, "username": BOT_USER},
        "messages": [{"_id": f"lm{next(MESSAGE_IDS)}", "username": "guest-3", "msg": text,
                      "ts": "2024-02-02T10:22:14.087Z", **message}]}
    if kind is not None:
        body["type"] = kind
    return body


def post(app: Any, agent: Any, body: Any, sender: str = ROOM,
         headers: dict[str, str] | None = None) -> tuple[Any, list[dict[str, Any]]]:
    """Post a body to the webhook; the response and the room's stored events."""
    async def main() -> tuple[Any, list[dict[str, Any]]]:
        content = body if isinstance(body, (bytes, str)) else json.dumps(body)
        response = await request(app, "post", WEBHOOK, content=content, headers={
            "Content-Type": "application/json", **(headers or {})})
        return response, await agent.tracker_store.load_events(sender) or []

    return asyncio.run(main())


def texts(events: list[dict[str, Any]], kind: str = "user") -> list[str]:
    return [e["text"] for e in events if e["event"] == kind]


# ------------------------------------------------------------------ through the server


def test_a_message_is_answered_in_its_room(make_app, agent, api: RocketChatApi) -> None:
    app = make_app(credentials={"rocketchat": settings(api)})
    body = outgoing("/greet")
    response, events = post(app, agent, body)
    assert (response.status, response.body) == (200, b"")
    [call] = [r for r in api.requests if r.path == "/api/v1/chat.postMessage"]
    assert (call.headers["X-User-Id"], call.headers["X-Auth-Token"]) == (BOT_ID, "auth-token-1")
    assert json.loads(call.body) == {"roomId": ROOM, "text": "Hello! How can I help?"}
    assert [json.loads(r.body) for r in api.logins()] == [{"user": BOT_USER,
                                                           "password": PASSWORD}]
    user = next(e for e in events if e["event"] == "user")
    assert (user["text"], user["input_channel"], user["message_id"]) == (
        "/greet", "rocketchat", body["message_id"])
    assert user["metadata"] == {"rocketchat": {
        "kind": "message", "room_id": ROOM, "channel_name": "general",
        "message_id": body["message_id"],
        "user_id": USER_ID, "user_name": "ada"}}
    assert texts(events, "bot") == ["Hello! How can I help?"]


def test_the_login_is_kept_across_messages(make_app, agent, api: RocketChatApi) -> None:
    app = make_app(credentials={"rocketchat": settings(api)})
    post(app, agent, outgoing("/greet"))
    post(app, agent, outgoing("/goodbye"))
    assert len(api.logins()) == 1
    assert api.texts() == ["Hello! How can I help?", "Bye!"]


def test_an_expired_login_is_renewed_and_the_post_tried_again(make_app, agent,
                                                               api: RocketChatApi) -> None:
    app = make_app(credentials={"rocketchat": settings(api)})
    post(app, agent, outgoing("/greet"))
    api.expire()
    post(app, agent, outgoing("/goodbye"))
    assert len(api.logins()) == 2
    tried = [r.headers["X-Auth-Token"] for r in api.requests
             if r.path == "/api/v1/chat.postMessage"]
    assert tried == ["auth-token-1", "auth-token-1", "auth-token-2"]
    assert api.texts() == ["Bye!"]


def test_a_failed_login_is_logged_without_the_password(make_app, agent, api: RocketChatApi,
                                                       caplog) -> None:
    app = make_app(credentials={"rocketchat": settings(api, password="wrong-password")})
    with caplog.at_level("ERROR"):
        response, events = post(app, agent, outgoing("/greet"))
    assert response.status == 200
    assert (f"logging in to {api.base} as {BOT_USER} failed (status 401: Unauthorized); "
            "check user and password") in caplog.text
    assert f"a message to room {ROOM} was not sent (not logged in" in caplog.text
    assert "wrong-password" not in caplog.text
    assert api.posts() == [] and texts(events, "bot") == ["Hello! How can I help?"]
    # a reply of several posts tries one login, not one per post
    caplog.clear()
    before = len(api.logins())
    with caplog.at_level("ERROR"):
        sent = asyncio.run(app.ctx.channels[0].send(ROOM, [{"text": "a\n\nb\n\nc"}]))
    assert sent == 0 and len(api.logins()) == before + 1
    assert f"2 more messages to room {ROOM} were not sent" in caplog.text


@pytest.mark.parametrize(("text", "trigger_word", "read"), [
    ("@tinybot /greet", "@tinybot", "/greet"),
    ("@tinybot   /greet ", "@tinybot", "/greet"),
    ("@tinybot", "@tinybot", "@tinybot"),
    ("please @tinybot /greet", "@tinybot", "please @tinybot /greet"),
    ("/greet", None, "/greet"),
])
def test_the_trigger_word_is_cut_off(text: str, trigger_word: str | None, read: str) -> None:
    assert message_text(text, trigger_word) == read
    assert read_webhook(outgoing(text, trigger_word)).text == read


def test_buttons_are_attachment_actions_whose_press_comes_back(make_app, agent,
                                                               api: RocketChatApi) -> None:
    app = make_app(credentials={"rocketchat": settings(api)})
    post(app, agent, outgoing("@tinybot /ask_choice", "@tinybot"))
    [choice] = api.posts()
    assert choice == {"roomId": ROOM, "text": "Pick a colour", "attachments": [{"actions": [
        {"type": "button", "text": "Red", "msg": f"@tinybot {RED}", "msg_in_chat_window": True},
        {"type": "button", "text": "Blue", "msg": '@tinybot /choose{"colour": "blue"}',
         "msg_in_chat_window": True}]}]}
    # a press is the user writing the button's msg, which the webhook hears by its trigger word
    response, events = post(app, agent, outgoing(f"@tinybot {RED}", "@tinybot"))
    assert response.status == 200
    assert texts(events)[-1] == RED
    assert api.texts()[-1] == "You chose red."


def test_a_responses_cards_are_one_post_of_attachments(make_app, agent,
                                                      api: RocketChatApi) -> None:
    greet_with(agent, CARDS)
    app = make_app(credentials={"rocketchat": settings(api)})
    post(app, agent, outgoing("/greet"))
    assert api.posts() == [
        {"roomId": ROOM, "text": "Our cats"},
        {"roomId": ROOM, "attachments": [
            {"title": "Tom", "image_url": "https://x.org/tom.png", "text": "grey",
             "actions": [{"type": "button", "text": "Adopt", "msg": "/choose",
                          "msg_in_chat_window": True}]},
            {"title": "Kit", "text": "black"}]}]


def test_without_a_trigger_word_buttons_send_the_bare_payload() -> None:
    [post_body] = reply_posts({"text": "Pick", "buttons": [
        {"title": "Red", "payload": RED}, {"title": "Docs", "url": "https://x.org/docs"}]}, ROOM)
    assert post_body["attachments"][0]["actions"] == [
        {"type": "button", "text": "Red", "msg": RED, "msg_in_chat_window": True},
        {"type": "button", "text": "Docs", "url": "https://x.org/docs"}]


@pytest.mark.parametrize("body", [
    outgoing("Hello!", user_name=BOT_USER, user_id="other"),
    outgoing("Hello!", user_name="TinyBot"),
    outgoing("Hello!", user_name="renamed", user_id=BOT_ID),
    outgoing("/greet", bot={"i": "integration1"}),
], ids=["configured-user", "user-case", "logged-in-id", "other-bot"])
def test_the_bots_own_messages_are_ignored(make_app, agent, api: RocketChatApi,
                                           body: dict[str, Any]) -> None:
    app = make_app(credentials={"rocketchat": settings(api)})
    # the login (at start, or here) tells the bot its user id
    asyncio.run(app.ctx.channels[0].send(ROOM, [{"text": "warm-up"}]))
    response, events = post(app, agent, body)
    assert (response.status, response.body) == (200, b"")
    assert events == [] and api.texts() == ["warm-up"]


def test_a_livechat_visitor_is_answered_in_the_livechat_room(make_app, agent,
                                                             api: RocketChatApi) -> None:
    app = make_app(credentials={"rocketchat": settings(api)})
    body = livechat("/greet")
    response, events = post(app, agent, body, sender="LIVEROOM1")
    assert (response.status, response.body) == (200, b"")
    assert api.posts() == [{"roomId": "LIVEROOM1", "text": "Hello! How can I help?"}]
    user = next(e for e in events if e["event"] == "user")
    assert user["text"] == "/greet"
    assert user["metadata"] == {"rocketchat": {
        "kind": "livechat", "room_id": "LIVEROOM1", "message_id": body["messages"][0]["_id"],
        "user_id": "visitor1",
        "user_name": "guest-3",
        "visitor": {"_id": "visitor1", "name": "James", "username": "guest-3"}}}
    assert "visitor-secret" not in json.dumps(events)
    # without a type, as older servers and Rasa's tests send it
    post(app, agent, livechat("/goodbye", kind=None), sender="LIVEROOM1")
    assert api.texts()[-1] == "Bye!"


@pytest.mark.parametrize("body", [
    livechat("/greet", agentId=BOT_ID, username=BOT_USER),
    livechat("/greet", agentId="human-agent", username="kim"),
    livechat("/greet", kind="LivechatSession"),
    livechat("/greet", kind="LivechatOfflineMessage"),
    {**livechat("/greet"), "messages": []},
    outgoing("   "),
    outgoing("/greet", channel_id=None),
], ids=["own", "agent", "session", "offline", "no-messages", "no-text", "no-room"])
def test_requests_without_a_user_message_are_acknowledged(make_app, agent, api: RocketChatApi,
                                                          body: dict[str, Any]) -> None:
    app = make_app(credentials={"rocketchat": settings(api)})
    response, events = post(app, agent, body, sender="LIVEROOM1")
    assert (response.status, response.body) == (200, b"")
    assert events == [] and api.posts() == []


@pytest.mark.parametrize(("body", "message"), [
    (b"not json", "not valid JSON"),
    ([1, 2], "must be a JSON object"),
])
def test_a_body_that_is_not_a_json_object_gets_400(make_app, agent, api: RocketChatApi,
                                                   body: Any, message: str) -> None:
    app = make_app(credentials={"rocketchat": settings(api)})
    response, _ = post(app, agent, body)
    assert response.status == 400 and message in response.json["message"]
    assert api.posts() == []


def test_a_failing_turn_is_answered_200_and_logged(make_app, agent, api: RocketChatApi, caplog,
                                                   monkeypatch) -> None:
    async def broken(message: Any) -> list[dict[str, Any]]:
        raise RuntimeError("the policy fell over")

    monkeypatch.setattr(agent, "handle_turn", broken)
    app = make_app(credentials={"rocketchat": settings(api)})
    with caplog.at_level("ERROR"):
        response, _ = post(app, agent, outgoing("/greet"))
    assert response.status == 200
    assert f"conversation {ROOM!r} (delivery" in caplog.text
    assert "is lost: the policy fell over" in caplog.text
    assert api.posts() == []


def test_a_message_the_store_could_not_keep_is_sent_again(make_app, agent,
                                                          api: RocketChatApi) -> None:
    from failing_turns import store_down_for

    app = make_app(credentials={"rocketchat": settings(api)})
    store_down_for(agent)
    greet = outgoing("/greet")
    failed, _ = post(app, agent, greet)
    # the webhook sends a request again when the answer is not a 2xx: now it is handled
    again, events = post(app, agent, greet)
    assert (failed.status, again.status) == (503, 200)
    assert texts(events) == ["/greet"] and api.texts() == ["Hello! How can I help?"]


def test_the_health_route(make_app, api: RocketChatApi) -> None:
    app = make_app(credentials={"rocketchat": settings(api)})
    response = asyncio.run(request(app, "get", "/webhooks/rocketchat/"))
    assert (response.status, response.json) == (200, {"status": "ok"})


# ------------------------------------------------------------------ token


def test_requests_with_the_token_are_handled(make_app, agent, api: RocketChatApi) -> None:
    app = make_app(credentials={"rocketchat": settings(api, token=HOOK_TOKEN)})
    response, events = post(app, agent, outgoing("/greet"))
    assert response.status == 200 and texts(events) == ["/greet"]
    # the Omnichannel webhook sends its Secret Token as a header
    response, events = post(app, agent, livechat("/greet"), sender="LIVEROOM1",
                            headers={LIVECHAT_TOKEN_HEADER: HOOK_TOKEN})
    assert response.status == 200 and texts(events) == ["/greet"]


@pytest.mark.parametrize(("body", "headers"), [
    ({**outgoing("/greet"), "token": "wrong-token"}, {}),
    ({key: v for key, v in outgoing("/greet").items() if key != "token"}, {}),
    ({**outgoing("/greet"), "token": ""}, {}),
    (livechat("/greet"), {}),
    (livechat("/greet"), {LIVECHAT_TOKEN_HEADER: "wrong-token"}),
], ids=["wrong", "missing", "empty", "livechat-missing", "livechat-wrong"])
def test_requests_without_the_token_are_refused(make_app, agent, api: RocketChatApi, caplog,
                                                body: dict[str, Any],
                                                headers: dict[str, str]) -> None:
    app = make_app(credentials={"rocketchat": settings(api, token=HOOK_TOKEN)})
    with caplog.at_level("WARNING"):
        response, events = post(app, agent, body, headers=headers)
    assert response.status == 403
    assert "token" in response.json["message"]
    assert events == [] and api.posts() == []
    assert "rocketchat: a request from" in caplog.text and "was refused" in caplog.text
    assert HOOK_TOKEN not in caplog.text


def test_without_a_token_the_log_says_requests_are_not_verified(make_app, api: RocketChatApi,
                                                                caplog) -> None:
    with caplog.at_level("WARNING"):
        make_app(credentials={"rocketchat": settings(api)})
    assert "/webhooks/rocketchat/webhook are not verified" in caplog.text
    caplog.clear()
    with caplog.at_level("WARNING"):
        make_app(credentials={"rocketchat": settings(api, token=HOOK_TOKEN)})
    assert "not verified" not in caplog.text


# ------------------------------------------------------------------ replies out


def test_a_refused_post_is_logged_and_later_posts_are_sent(api: RocketChatApi, caplog) -> None:
    api.failures.append((400, {"success": False, "error": "error-action-not-allowed"}))
    channel = RocketChatChannel(settings(api))
    with caplog.at_level("ERROR"):
        sent = asyncio.run(channel.send(ROOM, [{"text": "one"}, {"text": "two"}]))
    assert sent == 1 and api.texts() == ["one", "two"]
    assert (f"a message to room {ROOM} was not sent (status 400: error-action-not-allowed)"
            in caplog.text)
    assert PASSWORD not in caplog.text and "auth-token" not in caplog.text


def test_an_unreachable_server_is_logged(caplog) -> None:
    channel = RocketChatChannel({"user": BOT_USER, "password": PASSWORD,
                                 "server_url": "http://127.0.0.1:9", "timeout": 2})
    with caplog.at_level("ERROR"):
        sent = asyncio.run(channel.send(ROOM, [{"text": "hi"}]))
    assert sent == 0
    assert "as tinybot failed (ClientConnectorError" in caplog.text
    assert PASSWORD not in caplog.text


def test_reply_parts_in_rasas_order() -> None:
    reply = {"text": "First.\n\nSecond.", "image": "https://x.org/cat.png",
             "attachment": {"title": "Doc", "title_link": "https://x.org/doc.pdf"},
             "elements": [{"title": "Cat", "subtitle": "cute", "image_url": "https://x.org/c.png",
                           "buttons": [{"title": "Pet", "payload": "/pet"}]}],
             "custom": {"text": "Hi", "alias": "Tiny", "emoji": ":robot:"}}
    assert reply_posts(reply, ROOM) == [
        {"roomId": ROOM, "text": "First."},
        {"roomId": ROOM, "text": "Second."},
        {"roomId": ROOM, "attachments": [{"image_url": "https://x.org/cat.png",
                                          "collapsed": False}]},
        {"roomId": ROOM, "attachments": [{"title": "Doc",
                                          "title_link": "https://x.org/doc.pdf"}]},
        {"roomId": ROOM, "attachments": [{
            "title": "Cat", "image_url": "https://x.org/c.png", "text": "cute",
            "actions": [{"type": "button", "text": "Pet", "msg": "/pet",
                         "msg_in_chat_window": True}]}]},
        {"roomId": ROOM, "text": "Hi", "alias": "Tiny", "emoji": ":robot:"}]
    assert reply_posts({"attachment": "https://x.org/doc.pdf"}, ROOM) == [
        {"roomId": ROOM, "text": "Attachment: https://x.org/doc.pdf"}]


def test_custom_json_may_name_another_room(caplog) -> None:
    assert reply_posts({"custom": {"text": "Hi", "room_id": "OTHER"}}, ROOM) == [
        {"roomId": "OTHER", "text": "Hi"}]
    with caplog.at_level("WARNING"):
        assert reply_posts({"custom": {"text": "Hi", "channel": "#news", "room_id": "X"}},
                           ROOM) == [{"text": "Hi", "channel": "#news"}]
    assert "names both channel and roomId" in caplog.text
    assert reply_posts({"custom": ["not", "an", "object"]}, ROOM) == []


def test_a_long_text_is_split_and_nothing_is_lost(api: RocketChatApi) -> None:
    channel = RocketChatChannel(settings(api))
    text = " ".join(["word"] * 2500)  # 12499 characters
    assert asyncio.run(channel.send(ROOM, [{"text": text}])) == 3
    pieces = api.texts()
    assert len(pieces) == 3 and all(len(p) <= MAX_TEXT for p in pieces)
    assert " ".join(pieces) == text
    # with buttons, they ride on the last piece
    posts = reply_posts({"text": text, "buttons": [{"title": "Ok", "payload": "/ok"}]}, ROOM)
    assert ["attachments" in post for post in posts] == [False, False, True]


# ------------------------------------------------------------------ settings


def test_the_channel_is_enabled_by_credentials(api: RocketChatApi) -> None:
    [channel] = enabled_channels({"rocketchat": settings(
        api, server_url=api.base + "/", token=HOOK_TOKEN, timeout=3)})
    assert isinstance(channel, RocketChatChannel)
    assert (channel.user, channel.password, channel.server_url, channel.token,
            channel.timeout) == (BOT_USER, PASSWORD, api.base, HOOK_TOKEN, 3.0)
    assert RocketChatChannel(settings(api, timeout=None)).timeout == 10.0


GOOD = {"user": BOT_USER, "password": PASSWORD, "server_url": "https://chat.example.com"}


@pytest.mark.parametrize(("given", "message"), [
    ({"password": PASSWORD, "server_url": GOOD["server_url"]}, "`user` is missing"),
    ({"user": BOT_USER, "server_url": GOOD["server_url"]}, "`password` is missing"),
    ({"user": BOT_USER, "password": PASSWORD}, "`server_url` is missing"),
    ({**GOOD, "password": "  "}, "`password` is missing"),
    ({**GOOD, "server_url": "chat.example.com"}, "`server_url` must be an http(s)"),
    ({**GOOD, "token": ""}, "`token` is missing"),
    ({**GOOD, "timeout": 0}, "timeout"),
    ({**GOOD, "pw": "secret"}, "no setting 'pw'"),
])
def test_bad_settings(given: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=r"credentials\.yml rocketchat") as raised:
        enabled_channels({"rocketchat": given})
    assert message in str(raised.value)
    assert raised.value.hint


def test_an_unknown_key_gets_a_did_you_mean() -> None:
    with pytest.raises(ConfigError) as raised:
        RocketChatChannel({**GOOD, "server_uri": "https://chat.example.com"})
    assert "did you mean 'server_url'" in str(raised.value)


def test_a_message_sent_again_is_not_handled_twice(make_app, agent, api: RocketChatApi) -> None:
    app = make_app(credentials={"rocketchat": settings(api)})
    greet = outgoing("/greet")
    post(app, agent, greet)
    # Rocket.Chat retries a request whose answer came late or was not a 2xx
    again, _ = post(app, agent, greet)
    # an edit keeps the message id: it is a message of its own, and its retry is not
    edited = {**greet, "text": "/goodbye", "isEdited": True}
    post(app, agent, edited)
    post(app, agent, edited)
    # the Omnichannel webhook retries too, by the visitor message's `_id`
    visitor = livechat("/greet")
    post(app, agent, visitor, sender="LIVEROOM1")
    _, live_events = post(app, agent, visitor, sender="LIVEROOM1")
    _, events = post(app, agent, outgoing("/goodbye"))
    assert (again.status, again.body) == (200, b"")
    assert texts(events) == ["/greet", "/goodbye", "/goodbye"]
    assert texts(live_events) == ["/greet"]
    assert api.texts() == ["Hello! How can I help?", "Bye!", "Hello! How can I help?", "Bye!"]


def test_delivery_ids_of_edits_follow_the_text() -> None:
    from dialogflowlite.server.channels.rocketchat import delivery_id

    assert delivery_id("m1", False, "hi") == "m1"
    assert delivery_id("m1", True, "hi") == delivery_id("m1", True, "hi") != "m1"
    assert delivery_id("m1", True, "hi") != delivery_id("m1", True, "hello")
    assert delivery_id(None, True, "hi") is None
