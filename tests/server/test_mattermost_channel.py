"""The Mattermost channel: outgoing-webhook posts and button actions in, posts to a stub API out."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

import pytest
from serving_helpers import StubHttpServer, request

from dialogflowlite.errors import ConfigError
from dialogflowlite.server.channels.loader import enabled_channels
from dialogflowlite.server.channels.mattermost import (
    MAX_POST,
    MattermostChannel,
    button_signature,
    post_text,
    reply_posts,
)

TOKEN = "bot-access-token-0123"
HOOK_TOKEN = "hooktoken0123456789abcdefg"
USER = "u1b2c3d4e5f6g7h8i9j0k1l2m3"
BOT = "bot0b2c3d4e5f6g7h8i9j0k1l2"
CHANNEL = "c1b2c3d4e5f6g7h8i9j0k1l2m3"
WEBHOOK_URL = "https://bot.example.com/webhooks/mattermost/webhook"
WEBHOOK = "/webhooks/mattermost/webhook"
RED = '/choose{"colour": "red"}'


class MattermostApi(StubHttpServer):
    """Mattermost's API v4: ``GET /users/me`` is the bot, ``POST /posts`` answers 201.

    ``failures`` are ``(status, body)`` answers given, one each, to the next posts.
    """

    def __init__(self, failures: list[tuple[int, dict[str, Any]]] | None = None) -> None:
        queued = list(failures or [])

        def answer(request: Any) -> tuple[int, dict[str, str], bytes]:
            if request.method == "GET" and request.path.endswith("/users/me"):
                status, body = 200, {"id": BOT, "username": "bot", "is_bot": True}
            elif queued:
                status, body = queued.pop(0)
            else:
                status, body = 201, {"id": "p1"}
            return status, {"Content-Type": "application/json"}, json.dumps(body).encode()

        super().__init__(answer)
        self.base = self.url.rstrip("/") + "/api/v4"

    def posts(self) -> list[dict[str, Any]]:
        """The JSON body of every ``POST /posts``, in order."""
        return [json.loads(r.body) for r in self.requests
                if (r.method, r.path) == ("POST", "/api/v4/posts")]

    def messages(self) -> list[str]:
        return [post["message"] for post in self.posts()]


@pytest.fixture
def api() -> Iterator[MattermostApi]:
    found = MattermostApi()
    try:
        yield found
    finally:
        found.close()


def settings(api: MattermostApi, **extra: Any) -> dict[str, Any]:
    return {"url": api.base, "token": TOKEN, "webhook_url": WEBHOOK_URL, "timeout": 5, **extra}


def outgoing(text: str, trigger_word: str = "@bot", user_id: str = USER,
             **extra: Any) -> dict[str, Any]:
    """An outgoing-webhook post as Mattermost sends it."""
    return {"token": HOOK_TOKEN, "team_id": "t1", "team_domain": "team", "channel_id": CHANNEL,
            "channel_name": "town-square", "timestamp": 1700000000000, "user_id": user_id,
            "user_name": "ada", "post_id": "post1", "text": text,
            "trigger_word": trigger_word, "file_ids": "", **extra}


def action(payload: str, **context: Any) -> dict[str, Any]:
    """A button press as Mattermost posts it to the integration URL."""
    return {"user_id": USER, "user_name": "ada", "channel_id": CHANNEL, "team_id": "t1",
            "post_id": "post2", "trigger_id": "tr1", "type": "", "data_source": "",
            "context": {"action": payload, **context}}


def post(app: Any, agent: Any, body: Any, *, form: bool = False,
         sender: str = USER) -> tuple[Any, list[dict[str, Any]]]:
    """Post a body to the webhook; the response and the sender's stored events."""
    async def main() -> tuple[Any, list[dict[str, Any]]]:
        if form:
            response = await request(app, "post", WEBHOOK, content=urlencode(body), headers={
                "Content-Type": "application/x-www-form-urlencoded"})
        else:
            content = body if isinstance(body, (bytes, str)) else json.dumps(body)
            response = await request(app, "post", WEBHOOK, content=content,
                                     headers={"Content-Type": "application/json"})
        return response, await agent.tracker_store.load_events(sender) or []

    return asyncio.run(main())


def texts(events: list[dict[str, Any]], kind: str = "user") -> list[str]:
    return [e["text"] for e in events if e["event"] == kind]


# ------------------------------------------------------------------ through the server


def test_a_post_is_answered_in_its_channel(make_app, agent, api: MattermostApi) -> None:
    app = make_app(credentials={"mattermost": settings(api)})
    response, events = post(app, agent, outgoing("@bot /greet"))
    assert (response.status, response.json) == (200, {})
    [call] = [r for r in api.requests if r.method == "POST"]
    assert call.path == "/api/v4/posts"
    assert call.headers["Authorization"] == f"Bearer {TOKEN}"
    assert json.loads(call.body) == {"channel_id": CHANNEL, "message": "Hello! How can I help?"}
    user = next(e for e in events if e["event"] == "user")
    assert (user["text"], user["input_channel"]) == ("/greet", "mattermost")
    assert user["metadata"] == {"mattermost": {"kind": "post", "channel_id": CHANNEL,
                                               "post_id": "post1", "user_name": "ada"}}
    assert texts(events, "bot") == ["Hello! How can I help?"]


def test_a_form_encoded_post_is_read_too(make_app, agent, api: MattermostApi) -> None:
    app = make_app(credentials={"mattermost": settings(api)})
    response, events = post(app, agent, outgoing("@bot /greet"), form=True)
    assert response.status == 200
    assert texts(events) == ["/greet"]
    assert api.messages() == ["Hello! How can I help?"]


@pytest.mark.parametrize(("text", "trigger_word", "read"), [
    ("@bot /greet", "@bot", "/greet"),
    ("@bot   /greet  ", "@bot", "/greet"),
    ("@botty /greet", "@bot", "/greet"),
    ("/greet", "", "/greet"),
    ("please /greet", "", "please /greet"),
    ("@bot", "@bot", "@bot"),
])
def test_the_trigger_word_is_cut_off(text: str, trigger_word: str, read: str) -> None:
    # Mattermost matched the first word ("starts with" mode too); an empty
    # trigger word is a webhook that fires on every post of the channel
    assert post_text(outgoing(text, trigger_word)) == read


def test_buttons_are_attachment_actions_and_a_press_is_the_payload(make_app, agent,
                                                                    api: MattermostApi) -> None:
    app = make_app(credentials={"mattermost": settings(api)})
    post(app, agent, outgoing("@bot /ask_choice"))
    [choice] = api.posts()
    assert choice == {"channel_id": CHANNEL, "message": "Pick a colour", "props": {
        "attachments": [{"actions": [
            {"name": "Red", "integration": {"url": WEBHOOK_URL, "context": {"action": RED}}},
            {"name": "Blue", "integration": {"url": WEBHOOK_URL, "context": {
                "action": '/choose{"colour": "blue"}'}}}]}]}}
    response, events = post(app, agent, action(RED))
    assert (response.status, response.json) == (200, {})
    assert texts(events)[-1] == RED
    assert texts(events, "bot")[-1] == "You chose red."
    assert api.messages()[-1] == "You chose red."
    user = [e for e in events if e["event"] == "user"][-1]
    assert user["metadata"]["mattermost"]["kind"] == "action"


def test_the_bots_own_posts_are_ignored(make_app, agent, api: MattermostApi) -> None:
    app = make_app(credentials={"mattermost": settings(api)})
    response, events = post(app, agent, outgoing("Hello!", "", user_id=BOT), sender=BOT)
    assert (response.status, response.json) == (200, {})
    assert events == [] and api.posts() == []
    response, events = post(app, agent, outgoing("/greet", "", props={"from_bot": "true"}))
    assert response.status == 200 and events == [] and api.posts() == []
    # the bot's id is asked once, then remembered
    post(app, agent, outgoing("@bot /greet"))
    assert [r.path for r in api.requests if r.method == "GET"] == ["/api/v4/users/me"]
    assert api.messages() == ["Hello! How can I help?"]


@pytest.mark.parametrize(("body", "message"), [
    (b"not json", "not valid JSON"),
    ([1, 2], "must be a JSON object"),
    ({"text": "hi", "user_id": USER, "channel_id": CHANNEL}, "neither an outgoing-webhook"),
    ({**outgoing("@bot hi"), "user_id": ""}, "`user_id` is missing"),
    ({key: v for key, v in outgoing("@bot hi").items() if key != "channel_id"},
     "`channel_id` is missing"),
    (action(""), "`context.action` is missing"),
    ({**action(RED), "context": "red"}, "`context.action` is missing"),
])
def test_a_malformed_body_gets_400(make_app, agent, api: MattermostApi, body: Any,
                                   message: str) -> None:
    app = make_app(credentials={"mattermost": settings(api)})
    response, events = post(app, agent, body)
    assert response.status == 400
    assert message in response.json["message"]
    assert events == [] and api.requests == []


def test_a_post_without_text_is_acknowledged_and_ignored(make_app, agent,
                                                         api: MattermostApi) -> None:
    app = make_app(credentials={"mattermost": settings(api)})
    response, events = post(app, agent, outgoing("  ", "", file_ids="f1"))
    assert (response.status, response.json) == (200, {})
    assert events == [] and api.posts() == []


def test_a_failing_turn_is_answered_200_and_logged(make_app, agent, api: MattermostApi, caplog,
                                                   monkeypatch) -> None:
    async def broken(message: Any) -> list[dict[str, Any]]:
        raise RuntimeError("the policy fell over")

    monkeypatch.setattr(agent, "handle_turn", broken)
    app = make_app(credentials={"mattermost": settings(api)})
    with caplog.at_level("ERROR"):
        response, _ = post(app, agent, outgoing("@bot /greet"))
    assert (response.status, response.json) == (200, {})
    assert f"the message of conversation {USER!r} could not be handled and is lost" \
        in caplog.text and "the policy fell over" in caplog.text
    assert api.posts() == []


def test_the_health_route(make_app, api: MattermostApi) -> None:
    app = make_app(credentials={"mattermost": settings(api)})
    response = asyncio.run(request(app, "get", "/webhooks/mattermost/"))
    assert (response.status, response.json) == (200, {"status": "ok"})


# ------------------------------------------------------------------ webhook_token


def test_a_post_with_the_webhook_token_is_handled(make_app, agent, api: MattermostApi) -> None:
    app = make_app(credentials={"mattermost": settings(api, webhook_token=HOOK_TOKEN)})
    response, events = post(app, agent, outgoing("@bot /greet"))
    assert response.status == 200 and texts(events) == ["/greet"]


@pytest.mark.parametrize("token", [None, "", "wrong-token"], ids=["missing", "empty", "wrong"])
def test_a_post_without_the_webhook_token_is_refused(make_app, agent, api: MattermostApi, caplog,
                                                     token: str | None) -> None:
    app = make_app(credentials={"mattermost": settings(api, webhook_token=HOOK_TOKEN)})
    body = outgoing("@bot /greet")
    if token is None:
        del body["token"]
    else:
        body["token"] = token
    with caplog.at_level("WARNING"):
        response, events = post(app, agent, body)
    assert response.status == 403
    assert "webhook_token" in response.json["message"]
    assert events == [] and api.requests == []
    assert "mattermost: a post from" in caplog.text and "was refused" in caplog.text
    assert HOOK_TOKEN not in caplog.text


def test_signed_buttons_are_pressed_and_others_refused(make_app, agent,
                                                       api: MattermostApi) -> None:
    app = make_app(credentials={"mattermost": settings(api, webhook_token=HOOK_TOKEN)})
    post(app, agent, outgoing("@bot /ask_choice"))
    [red, _] = api.posts()[0]["props"]["attachments"][0]["actions"]
    context = red["integration"]["context"]
    assert context == {"action": RED, "signature": button_signature(HOOK_TOKEN, CHANNEL, RED)}
    assert HOOK_TOKEN not in json.dumps(api.posts())
    forged = [action(RED),                                              # unsigned
              action('/choose{"colour": "green"}', signature=context["signature"]),
              {**action(RED, signature=context["signature"]), "channel_id": "other"},
              action(RED, signature=button_signature("guessed", CHANNEL, RED))]
    for body in forged:
        response, _ = post(app, agent, body)
        assert response.status == 403, body
    response, events = post(app, agent, {**action(RED), "context": context})
    assert response.status == 200
    assert texts(events)[-1] == RED and api.messages()[-1] == "You chose red."


def test_without_webhook_token_the_log_says_requests_are_not_verified(make_app,
                                                                      api: MattermostApi,
                                                                      caplog) -> None:
    with caplog.at_level("WARNING"):
        make_app(credentials={"mattermost": settings(api)})
    assert "/webhooks/mattermost/webhook are not verified" in caplog.text
    caplog.clear()
    with caplog.at_level("WARNING"):
        make_app(credentials={"mattermost": settings(api, webhook_token=HOOK_TOKEN)})
    assert "not verified" not in caplog.text


# ------------------------------------------------------------------ replies out


def test_an_api_error_is_logged_and_the_turn_kept(make_app, agent, caplog) -> None:
    refusal = (403, {"id": "api.context.permissions.app_error", "status_code": 403,
                     "message": "You do not have the appropriate permissions."})
    with MattermostApi(failures=[refusal]) as refusing:
        app = make_app(credentials={"mattermost": settings(refusing)})
        with caplog.at_level("ERROR"):
            response, events = post(app, agent, outgoing("@bot /greet"))
    assert (response.status, response.json) == (200, {})
    assert (f"mattermost: a post to channel {CHANNEL} was not sent (status 403: You do not "
            "have the appropriate permissions.)") in caplog.text
    assert TOKEN not in caplog.text
    assert texts(events, "bot") == ["Hello! How can I help?"]


def test_later_posts_are_sent_after_a_refused_one(caplog) -> None:
    with MattermostApi(failures=[(500, {"message": "boom"})]) as flaky:
        channel = MattermostChannel(settings(flaky))
        with caplog.at_level("ERROR"):
            sent = asyncio.run(channel.send(CHANNEL, [{"text": "one"}, {"text": "two"}]))
        assert sent == 1
        assert flaky.messages() == ["one", "two"]
    assert "(status 500: boom)" in caplog.text


def test_an_unreachable_api_is_logged_without_the_token(caplog) -> None:
    channel = MattermostChannel({"url": "http://127.0.0.1:9/api/v4", "token": TOKEN,
                                 "webhook_url": WEBHOOK_URL, "timeout": 2})
    with caplog.at_level("ERROR"):
        sent = asyncio.run(channel.send(CHANNEL, [{"text": "hi"}]))
    assert sent == 0
    assert f"a post to channel {CHANNEL} was not sent (ClientConnectorError" in caplog.text
    assert TOKEN not in caplog.text


def test_a_long_text_is_split_and_nothing_is_lost(api: MattermostApi) -> None:
    channel = MattermostChannel(settings(api))
    text = " ".join(["word"] * 7000)  # 34999 characters
    assert asyncio.run(channel.send(CHANNEL, [{"text": text}])) == 3
    pieces = api.messages()
    assert len(pieces) == 3 and all(len(p) <= MAX_POST for p in pieces)
    assert " ".join(pieces) == text


def test_reply_parts_in_rasas_order() -> None:
    reply = {"text": "First.\n\nSecond.", "custom": {"message": "Hi", "props": {"x": 1}},
             "image": "https://x.org/cat.png", "attachment": "https://x.org/doc.pdf"}
    assert reply_posts(reply, CHANNEL, WEBHOOK_URL) == [
        {"channel_id": CHANNEL, "message": "First."},
        {"channel_id": CHANNEL, "message": "Second."},
        {"channel_id": CHANNEL, "message": "Hi", "props": {"x": 1}},
        {"channel_id": CHANNEL, "message": "", "props": {"attachments": [
            {"image_url": "https://x.org/cat.png"}]}},
        {"channel_id": CHANNEL, "message": "Attachment: https://x.org/doc.pdf"}]
    # custom JSON may post elsewhere, as in Rasa
    assert reply_posts({"custom": {"channel_id": "other"}}, CHANNEL, WEBHOOK_URL) == [
        {"channel_id": "other", "message": ""}]
    assert reply_posts({"custom": ["not", "an", "object"]}, CHANNEL, WEBHOOK_URL) == []


def test_link_buttons_long_texts_and_elements() -> None:
    buttons = [{"title": "Docs", "url": "https://x.org/docs"}, {"payload": "/greet"}]
    [only] = reply_posts({"text": "See", "buttons": buttons}, CHANNEL, WEBHOOK_URL)
    assert only["message"] == "See\n[Docs](https://x.org/docs)"
    assert only["props"]["attachments"][0]["actions"] == [
        {"name": "/greet", "integration": {"url": WEBHOOK_URL, "context": {"action": "/greet"}}}]
    long = "x " * MAX_POST
    parts = reply_posts({"text": long, "buttons": [{"title": "Ok", "payload": "/ok"}]},
                        CHANNEL, WEBHOOK_URL)
    assert len(parts) == 2 and "props" not in parts[0] and "props" in parts[1]
    [element] = reply_posts({"elements": [{"title": "Cat", "subtitle": "cute", "buttons": [
        {"title": "Pet", "payload": "/pet"}]}]}, CHANNEL, WEBHOOK_URL)
    assert element["message"] == "Cat : cute"
    assert element["props"]["attachments"][0]["actions"][0]["name"] == "Pet"


# ------------------------------------------------------------------ settings


def test_the_channel_is_enabled_by_credentials(api: MattermostApi) -> None:
    [channel] = enabled_channels({"mattermost": settings(
        api, url=api.base + "/", webhook_token=HOOK_TOKEN, timeout=3)})
    assert isinstance(channel, MattermostChannel)
    assert (channel.url, channel.token, channel.webhook_url, channel.webhook_token,
            channel.timeout) == (api.base, TOKEN, WEBHOOK_URL, HOOK_TOKEN, 3.0)
    assert MattermostChannel(settings(api, timeout=None)).timeout == 10.0


GOOD = {"url": "https://chat.example.com/api/v4", "token": TOKEN, "webhook_url": WEBHOOK_URL}


@pytest.mark.parametrize(("given", "message"), [
    ({"token": TOKEN, "webhook_url": WEBHOOK_URL}, "`url` is missing"),
    ({"url": GOOD["url"], "webhook_url": WEBHOOK_URL}, "`token` is missing"),
    ({"url": GOOD["url"], "token": TOKEN}, "`webhook_url` is missing"),
    ({**GOOD, "token": "  "}, "`token` is missing"),
    ({**GOOD, "url": "chat.example.com/api/v4"}, "`url` must be an http(s)"),
    ({**GOOD, "webhook_url": "bot.example.com/hook"}, "`webhook_url` must be an http(s)"),
    ({**GOOD, "webhook_token": ""}, "`webhook_token` is missing"),
    ({**GOOD, "timeout": 0}, "timeout"),
    ({**GOOD, "pw": "secret"}, "no setting 'pw'"),
])
def test_bad_settings(given: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=r"credentials\.yml mattermost") as raised:
        enabled_channels({"mattermost": given})
    assert message in str(raised.value)
    assert raised.value.hint


def test_an_unknown_key_gets_a_did_you_mean() -> None:
    with pytest.raises(ConfigError) as raised:
        MattermostChannel({**GOOD, "webhook_tokn": HOOK_TOKEN})
    assert "did you mean 'webhook_token'" in str(raised.value)


def test_a_url_without_the_api_path_is_warned_about(caplog) -> None:
    with caplog.at_level("WARNING"):
        MattermostChannel({**GOOD, "url": "https://chat.example.com"})
    assert "does not end in /api/v4" in caplog.text


def test_a_post_delivered_again_is_not_handled_twice(make_app, agent,
                                                     api: MattermostApi) -> None:
    app = make_app(credentials={"mattermost": settings(api, webhook_token=HOOK_TOKEN)})
    greet = outgoing("@bot /greet", post_id="p-greet")
    # a post without the token bearing the id first must not make the bot skip the real one
    forged, _ = post(app, agent, {**greet, "token": "guessed"})
    assert forged.status == 403
    first, _ = post(app, agent, greet)
    again, _ = post(app, agent, greet)
    later, events = post(app, agent, outgoing("@bot /goodbye", post_id="p-bye"))
    assert [r.status for r in (first, again, later)] == [200] * 3 and again.json == {}
    assert texts(events) == ["/greet", "/goodbye"]
    assert api.messages() == ["Hello! How can I help?", "Bye!"]
    # a button press has no id of its own: pressing one twice is two messages
    press = action("/greet", signature=button_signature(HOOK_TOKEN, CHANNEL, "/greet"))
    post(app, agent, press)
    _, events = post(app, agent, press)
    assert texts(events)[-2:] == ["/greet", "/greet"]
