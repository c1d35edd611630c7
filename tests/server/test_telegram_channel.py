"""The Telegram channel: updates in at the webhook, replies out through a stub Bot API."""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import Iterator
from typing import Any

import pytest
from serving_helpers import (
    CARDS,
    QUICK_REPLIES,
    StubHttpServer,
    greet_with,
    hang_ups_counted,
    request,
    serving,
    until,
)

from dialogflowlite.errors import ConfigError
from dialogflowlite.server.channels.loader import enabled_channels
from dialogflowlite.server.channels.lone_buttons import LONE_BUTTONS_TEXT
from dialogflowlite.server.channels.telegram import (
    MAX_TEXT,
    TelegramChannel,
    command_bot,
    command_text,
    custom_calls,
    keyboard,
    read_update,
    reply_calls,
    split_text,
    utf16_length,
)

TOKEN = "123:ABC"
WEBHOOK_URL = "https://bot.example.com/webhooks/telegram/webhook"
CHOICE_BUTTONS = [{"title": "Red", "payload": '/choose{"colour": "red"}'},
                  {"title": "Blue", "payload": '/choose{"colour": "blue"}'}]


class BotApi(StubHttpServer):
    """The Telegram Bot API: records every call and answers ``ok``.

    ``failures[method]`` is a list of ``(status, body)`` answers given, one per
    call, before that method succeeds again.
    """

    def __init__(self, username: str = "tiny_bot",
                 failures: dict[str, list[tuple[int, dict]]] | None = None) -> None:
        self.failures = {method: list(answers) for method, answers in (failures or {}).items()}

        def answer(request: Any) -> tuple[int, dict, bytes]:
            method = request.path.rsplit("/", 1)[-1]
            if self.failures.get(method):
                status, body = self.failures[method].pop(0)
            elif method == "getMe":
                status, body = 200, {"ok": True, "result": {"id": 1, "is_bot": True,
                                                            "username": username}}
            else:
                status, body = 200, {"ok": True, "result": {"message_id": 1}}
            return status, {"Content-Type": "application/json"}, json.dumps(body).encode()

        super().__init__(answer)
        self.base = self.url.rstrip("/")

    def methods(self) -> list[str]:
        """The methods called for messages, in order (not the start-up ones)."""
        return [r.path.rsplit("/", 1)[-1] for r in self.requests
                if not r.path.endswith(("/getMe", "/setWebhook"))]

    def sent(self, method: str) -> list[dict]:
        return [json.loads(r.body) for r in self.requests if r.path.endswith("/" + method)]


@pytest.fixture
def api() -> Iterator[BotApi]:
    found = BotApi()
    try:
        yield found
    finally:
        found.close()


def credentials(api: BotApi, **settings: Any) -> dict[str, Any]:
    return {"telegram": {"access_token": TOKEN, "verify": "tiny_bot",
                         "webhook_url": WEBHOOK_URL, "api_url": api.base, **settings}}


#: every update Telegram sends has an id of its own
UPDATE_IDS = itertools.count(1000)


def text_update(text: str, chat: int = 42, kind: str = "message") -> dict[str, Any]:
    return {"update_id": next(UPDATE_IDS), kind: {
        "message_id": 7, "date": 1700000000, "text": text,
        "chat": {"id": chat, "type": "private"},
        "from": {"id": chat, "is_bot": False, "first_name": "Ada", "username": "ada",
                 "language_code": "en"}}}


def button_press(data: str | None, chat: int = 42) -> dict[str, Any]:
    query: dict[str, Any] = {"id": "cbq-1", "chat_instance": "x",
                             "from": {"id": chat, "is_bot": False, "first_name": "Ada"},
                             "message": {"message_id": 8, "date": 1700000000,
                                         "chat": {"id": chat, "type": "private"},
                                         "text": "Pick a colour"}}
    if data is not None:
        query["data"] = data
    return {"update_id": next(UPDATE_IDS), "callback_query": query}


def post_update(app: Any, agent: Any, update: Any, sender: str = "42",
                **kwargs: Any) -> tuple[Any, list[dict] | None]:
    """Post one update to the webhook; the response and what the store then holds."""
    async def main() -> tuple[Any, list[dict] | None]:
        body = {"json": update} if not isinstance(update, str) else {"content": update}
        response = await request(app, "post", "/webhooks/telegram/webhook", **body, **kwargs)
        return response, await agent.tracker_store.load_events(sender)

    return asyncio.run(main())


# ------------------------------------------------------------------ through the server


def test_a_text_message_is_answered_in_its_chat(make_app, agent, api: BotApi) -> None:
    app = make_app(credentials=credentials(api))
    response, stored = post_update(app, agent, text_update("/greet"))
    assert (response.status, response.text) == (200, "success")
    assert api.sent("sendMessage") == [{"chat_id": 42, "text": "Hello! How can I help?"}]
    assert any(r.path == f"/bot{TOKEN}/sendMessage" for r in api.requests)
    user = next(e for e in stored if e["event"] == "user")
    assert (user["text"], user["input_channel"]) == ("/greet", "telegram")
    assert user["metadata"]["telegram"]["user"] == {
        "id": 42, "username": "ada", "first_name": "Ada", "language_code": "en"}
    assert user["metadata"]["telegram"]["kind"] == "message"
    assert [e["text"] for e in stored if e["event"] == "bot"] == ["Hello! How can I help?"]


def test_buttons_become_an_inline_keyboard(make_app, agent, api: BotApi) -> None:
    app = make_app(credentials=credentials(api))
    post_update(app, agent, text_update("/ask_choice"))
    assert api.sent("sendMessage") == [{
        "chat_id": 42, "text": "Pick a colour",
        "reply_markup": {"inline_keyboard": [[
            {"text": "Red", "callback_data": '/choose{"colour": "red"}'},
            {"text": "Blue", "callback_data": '/choose{"colour": "blue"}'}]]}}]


def test_cards_and_quick_replies_arrive_as_texts_with_buttons(make_app, agent,
                                                             api: BotApi) -> None:
    # Telegram shows no cards: each goes out as Rasa's default channel sends it
    greet_with(agent, CARDS)
    app = make_app(credentials=credentials(api))
    post_update(app, agent, text_update("/greet"))
    greet_with(agent, {**QUICK_REPLIES, "button_type": "vertical"})
    post_update(app, agent, text_update("/greet"))
    assert api.sent("sendMessage") == [
        {"chat_id": 42, "text": "Our cats"},
        {"chat_id": 42, "text": "Tom : grey", "reply_markup": {"inline_keyboard": [[
            {"text": "Adopt", "callback_data": "/choose"}]]}},
        {"chat_id": 42, "text": "Kit : black"},
        {"chat_id": 42, "text": "Which size?", "reply_markup": {"inline_keyboard": [
            [{"text": "Small", "callback_data": "/choose"}],
            [{"text": "Large", "callback_data": "/goodbye"}]]}}]


def test_a_button_press_is_the_users_message_and_is_answered(make_app, agent,
                                                             api: BotApi) -> None:
    app = make_app(credentials=credentials(api))
    response, stored = post_update(app, agent, button_press('/choose{"colour": "blue"}'))
    assert response.text == "success"
    assert api.methods() == ["answerCallbackQuery", "sendMessage"]
    assert api.sent("answerCallbackQuery") == [{"callback_query_id": "cbq-1"}]
    assert api.sent("sendMessage") == [{"chat_id": 42, "text": "You chose blue."}]
    user = next(e for e in stored if e["event"] == "user")
    assert user["text"] == '/choose{"colour": "blue"}'
    assert user["metadata"]["telegram"]["kind"] == "callback_query"


def test_a_location_is_sent_as_rasa_writes_it(make_app, agent, api: BotApi) -> None:
    app = make_app(credentials=credentials(api))
    update = text_update("")
    del update["message"]["text"]
    update["message"]["location"] = {"longitude": 13.4, "latitude": 52.5}
    response, stored = post_update(app, agent, update)
    assert response.text == "success"
    user = next(e for e in stored if e["event"] == "user")
    assert user["text"] == '{"lng":13.4, "lat":52.5}'


def test_restart_is_followed_by_start_as_in_rasa(make_app, agent, api: BotApi) -> None:
    app = make_app(credentials=credentials(api))
    _, stored = post_update(app, agent, text_update("/restart"))
    assert [e["text"] for e in stored if e["event"] == "user"] == ["/restart", "/start"]


@pytest.mark.parametrize("update", [
    {"update_id": 1, "message": {"message_id": 1, "chat": {"id": 42, "type": "private"},
                                 "sticker": {"file_id": "abc"}}},
    {"update_id": 2, "channel_post": {"message_id": 1, "chat": {"id": -100, "type": "channel"},
                                      "text": "/greet"}},
    {"update_id": 3, "my_chat_member": {"chat": {"id": 42}}},
    {"update_id": 4, "message": {"message_id": 1, "text": "/greet"}},
    text_update("/bot"),
    [1, 2, 3],
    "{not json",
], ids=["sticker", "channel-post", "member-change", "no-chat", "empty-command", "array",
        "malformed"])
def test_other_updates_are_acknowledged_and_ignored(make_app, agent, api: BotApi,
                                                   update: Any) -> None:
    app = make_app(credentials=credentials(api))
    response, stored = post_update(app, agent, update)
    assert (response.status, response.text) == (200, "success")
    assert stored is None
    assert api.methods() == []


def test_a_press_without_data_is_answered_but_not_handled(make_app, agent,
                                                          api: BotApi) -> None:
    app = make_app(credentials=credentials(api))
    response, stored = post_update(app, agent, button_press(None))
    assert response.text == "success" and stored is None
    assert api.methods() == ["answerCallbackQuery"]


def test_the_secret_token_guards_the_webhook(make_app, agent, api: BotApi) -> None:
    app = make_app(credentials=credentials(api, secret_token="s3cret-token"))
    for headers in ({}, {"X-Telegram-Bot-Api-Secret-Token": "guess"}):
        response, stored = post_update(app, agent, text_update("/greet"), headers=headers)
        assert response.status == 403 and "Secret-Token" in response.json["message"]
        assert stored is None and api.methods() == []
    response, stored = post_update(app, agent, text_update("/greet"),
                                   headers={"X-Telegram-Bot-Api-Secret-Token": "s3cret-token"})
    assert response.status == 200 and stored is not None
    assert api.methods() == ["sendMessage"]


def test_the_webhook_is_set_when_the_server_starts(make_app, agent, api: BotApi) -> None:
    import aiohttp

    app = make_app(credentials=credentials(api, secret_token="s3cret-token"))

    async def main() -> tuple[int, int]:
        async with serving(app) as url, aiohttp.ClientSession() as session:
            async with session.get(f"{url}/webhooks/telegram/") as health:
                assert await health.json() == {"status": "ok"}
            async with session.post(f"{url}/webhooks/telegram/webhook", json=text_update("/greet"),
                                    headers={"X-Telegram-Bot-Api-Secret-Token": "s3cret-token"}
                                    ) as answered:
                return health.status, answered.status

    assert asyncio.run(main()) == (200, 200)
    assert api.sent("setWebhook") == [{"url": WEBHOOK_URL, "secret_token": "s3cret-token"}]
    assert api.sent("sendMessage") == [{"chat_id": 42, "text": "Hello! How can I help?"}]


def test_a_refused_webhook_is_logged_and_the_server_serves(make_app, caplog) -> None:
    refusal = (400, {"ok": False, "error_code": 400,
                     "description": "Bad Request: bad webhook: Failed to resolve host"})
    # the test client runs the start-up listeners before every request: three refusals
    # cover the start, the next start and the route's own call
    with BotApi(failures={"setWebhook": [refusal] * 3}) as refusing:
        app = make_app(credentials=credentials(refusing))
        with caplog.at_level("ERROR"):
            health = asyncio.run(request(app, "get", "/webhooks/telegram/"))
            assert health.status == 200
            assert f"the webhook {WEBHOOK_URL} was not set" in caplog.text
            assert "Failed to resolve host" in caplog.text
            # the route says the same; once Telegram accepts, it says so
            refused = asyncio.run(request(app, "get", "/webhooks/telegram/set_webhook"))
            assert refused.status == 502 and "Failed to resolve host" in refused.text
            accepted = asyncio.run(request(app, "get", "/webhooks/telegram/set_webhook"))
            assert (accepted.status, accepted.text) == (200, "Webhook setup successful")
        assert refusing.sent("setWebhook")[-1] == {"url": WEBHOOK_URL}
        assert TOKEN not in caplog.text


def test_a_failed_api_call_is_logged_and_the_turn_kept(make_app, agent, caplog) -> None:
    refusal = (400, {"ok": False, "error_code": 400, "description": "Bad Request: chat not found"})
    with BotApi(failures={"sendMessage": [refusal]}) as refusing:
        app = make_app(credentials=credentials(refusing))
        with caplog.at_level("ERROR"):
            response, stored = post_update(app, agent, text_update("/greet"))
    assert response.text == "success"
    assert "sendMessage for chat 42 failed (status 400: Bad Request: chat not found)" \
        in caplog.text
    assert [e["text"] for e in stored if e["event"] == "bot"] == ["Hello! How can I help?"]


def test_later_replies_are_sent_after_a_failed_one(caplog) -> None:
    refusal = (403, {"ok": False, "description": "Forbidden: bot was blocked by the user"})
    with BotApi(failures={"sendMessage": [refusal]}) as refusing:
        channel = TelegramChannel({"access_token": TOKEN, "api_url": refusing.base})
        with caplog.at_level("ERROR"):
            sent = asyncio.run(channel.send("42", [{"text": "one"}, {"text": "two"}]))
        assert sent == 1
        assert [m["text"] for m in refusing.sent("sendMessage")] == ["one", "two"]
    assert "bot was blocked by the user" in caplog.text


def test_an_unreachable_api_is_logged_without_the_token(caplog) -> None:
    channel = TelegramChannel({"access_token": TOKEN, "api_url": "http://127.0.0.1:9",
                               "timeout": 2})
    with caplog.at_level("ERROR"):
        sent = asyncio.run(channel.send("42", [{"text": "hi"}]))
    assert sent == 0
    assert "sendMessage for chat 42 failed (ClientConnectorError" in caplog.text
    assert TOKEN not in caplog.text


def test_a_long_text_goes_out_in_several_messages(api: BotApi) -> None:
    channel = TelegramChannel({"access_token": TOKEN, "api_url": api.base})
    text = " ".join(["word"] * 2000)  # 9999 characters
    assert asyncio.run(channel.send("42", [{"text": text}])) == 3
    pieces = [m["text"] for m in api.sent("sendMessage")]
    assert len(pieces) == 3 and all(len(p) <= MAX_TEXT for p in pieces)
    assert " ".join(pieces) == text


def test_a_token_of_another_bot_is_reported(caplog) -> None:
    with BotApi(username="other_bot") as other:
        channel = TelegramChannel({"access_token": TOKEN, "api_url": other.base,
                                   "verify": "@tiny_bot"})
        with caplog.at_level("ERROR"):
            assert asyncio.run(channel.check_username()) is False
    assert "belongs to the bot @other_bot, but verify names @tiny_bot" in caplog.text


# ------------------------------------------------------------------ reading updates


def test_update_kinds_are_read_as_in_rasa() -> None:
    edited = read_update(text_update("/goodbye", chat=-100777, kind="edited_message"))
    assert (edited.kind, edited.chat_id, edited.text) == ("edited_message", "-100777",
                                                          "/goodbye")
    pressed = read_update(button_press("/greet"))
    assert (pressed.text, pressed.chat_id, pressed.callback_query_id) == ("/greet", "42",
                                                                          "cbq-1")
    sticker = read_update({"update_id": 5, "message": {"chat": {"id": 1}, "sticker": {}}})
    assert sticker.text is None and "no text" in sticker.ignored
    assert read_update({"update_id": 6, "poll": {}}).kind == "poll"


def test_commands_are_cleaned_as_rasa_does() -> None:
    assert command_text("/bot hello there") == "hello there"
    assert command_text("/bot@tiny_bot hi", "tiny_bot") == "hi"
    assert command_text("/botanic garden") == "/botanic garden"
    assert command_text("/start") == "/start"
    assert command_text("/greet@Tiny_Bot", "tiny_bot") == "/greet"
    assert command_text("/greet@other_bot", "tiny_bot") == "/greet@other_bot"
    # a command ends at any white space, a line break too
    assert command_text("/greet@tiny_bot\nhow are you", "tiny_bot") == "/greet\nhow are you"
    assert command_text("/greet@tiny_bot\tfriend", "tiny_bot") == "/greet\tfriend"
    assert command_text("/bot@tiny_bot\nhello", "tiny_bot") == "hello"


def test_commands_for_other_bots_are_ignored_when_read() -> None:
    assert command_bot("/greet@other_bot\nhi") == "other_bot"
    assert command_bot("/greet@0.8") is None and command_bot("hello @other_bot") is None
    other = read_update(text_update("/greet@other_bot\nhi"), "tiny_bot")
    assert other.text is None and "another bot (@other_bot)" in other.ignored
    ours = read_update(text_update("/greet@Tiny_Bot\nhi"), "tiny_bot")
    assert ours.text == "/greet\nhi"
    assert command_text("tell /bot about it") == "tell /bot about it"


def test_an_edited_command_is_read_as_a_message_but_keeps_bot_as_in_rasa() -> None:
    def edited(text: str) -> Any:
        return read_update(text_update(text, kind="edited_message"), "tiny_bot")

    other = edited("/greet@other_bot")
    assert other.text is None and "another bot (@other_bot)" in other.ignored
    assert edited("/greet@Tiny_Bot\nhi").text == "/greet\nhi"
    assert edited('/inform{"colour": "red"}').text == '/inform{"colour": "red"}'
    # Rasa takes /bot off a message's text only
    assert edited("/bot hello").text == "/bot hello"
    assert read_update(text_update("/bot hello"), "tiny_bot").text == "hello"


def test_an_edited_restart_starts_afresh_and_another_bots_command_is_not_run(
        make_app, agent, api: BotApi) -> None:
    app = make_app(credentials=credentials(api))
    response, stored = post_update(app, agent, text_update("/greet@other_bot",
                                                           kind="edited_message"))
    assert response.text == "success" and stored is None and api.methods() == []
    _, stored = post_update(app, agent, text_update("/restart@tiny_bot", kind="edited_message"))
    assert [e["text"] for e in stored if e["event"] == "user"] == ["/restart", "/start"]


# ------------------------------------------------------------------ writing replies


def test_keyboard_kinds() -> None:
    vertical = keyboard(CHOICE_BUTTONS, "vertical")
    assert vertical == {"inline_keyboard": [
        [{"text": "Red", "callback_data": '/choose{"colour": "red"}'}],
        [{"text": "Blue", "callback_data": '/choose{"colour": "blue"}'}]]}
    assert keyboard(CHOICE_BUTTONS, "reply") == {
        "keyboard": [[{"text": "Red"}], [{"text": "Blue"}]], "one_time_keyboard": True}
    many = keyboard([{"title": str(i), "payload": f"/n{i}"} for i in range(10)])
    assert [len(row) for row in many["inline_keyboard"]] == [8, 2]
    rows = keyboard([[CHOICE_BUTTONS[0], CHOICE_BUTTONS[1]], [{"title": "Docs",
                                                              "url": "https://x.org"}]])
    assert rows["inline_keyboard"][1] == [{"text": "Docs", "url": "https://x.org"}]
    assert len(rows["inline_keyboard"][0]) == 2
    assert keyboard([{"payload": "/greet"}]) == {
        "inline_keyboard": [[{"text": "/greet", "callback_data": "/greet"}]]}


def test_a_payload_too_long_for_callback_data_falls_back_to_a_reply_keyboard(caplog) -> None:
    long_payload = '/inform{"email": "' + "a" * 60 + '@example.com"}'
    buttons = [{"title": "Mine", "payload": long_payload}, {"title": "Skip", "payload": "/no"}]
    with caplog.at_level("ERROR"):
        markup = keyboard(buttons, "inline", "42")
    assert markup == {"keyboard": [[{"text": "Mine"}, {"text": "Skip"}]],
                      "one_time_keyboard": True}
    assert "more than the 64 Telegram allows as callback_data" in caplog.text
    assert "chat 42" in caplog.text
    # 64 bytes exactly still fit (bytes, not characters: "é" is two)
    fits = keyboard([{"title": "ok", "payload": "é" * 32}])
    assert fits == {"inline_keyboard": [[{"text": "ok", "callback_data": "é" * 32}]]}


def test_a_replys_button_type_is_honoured() -> None:
    [(method, params)] = reply_calls({"text": "Pick", "buttons": CHOICE_BUTTONS,
                                      "metadata": {"button_type": "reply"}}, 42)
    assert method == "sendMessage" and "keyboard" in params["reply_markup"]
    [(_, params)] = reply_calls({"text": "Pick", "buttons": CHOICE_BUTTONS}, 42, "vertical")
    assert len(params["reply_markup"]["inline_keyboard"]) == 2


def test_images_paragraphs_and_attachments() -> None:
    photo = reply_calls({"text": "A cat", "image": "https://x.org/cat.png",
                         "buttons": CHOICE_BUTTONS}, 42)
    assert [m for m, _ in photo] == ["sendPhoto"]
    assert photo[0][1]["caption"] == "A cat" and "inline_keyboard" in photo[0][1]["reply_markup"]
    long_caption = reply_calls({"text": "x" * 1500, "image": "https://x.org/cat.png"}, 42)
    assert [m for m, _ in long_caption] == ["sendMessage", "sendPhoto"]
    assert "caption" not in long_caption[1][1]
    paragraphs = reply_calls({"text": "First.\n\nSecond."}, 42)
    assert [p["text"] for _, p in paragraphs] == ["First.", "Second."]
    with_buttons = reply_calls({"text": "First.\n\nSecond.", "buttons": CHOICE_BUTTONS}, 42)
    assert [p["text"] for _, p in with_buttons] == ["First.\n\nSecond."]
    attached = reply_calls({"attachment": "https://x.org/doc.pdf"}, 42)
    assert attached == [("sendMessage", {"chat_id": 42,
                                         "text": "Attachment: https://x.org/doc.pdf"})]


def test_buttons_of_a_long_text_ride_on_its_last_piece() -> None:
    calls = reply_calls({"text": "y" * 5000, "buttons": CHOICE_BUTTONS}, 42)
    assert [len(p["text"]) for _, p in calls] == [4096, 904]
    assert "reply_markup" not in calls[0][1] and "reply_markup" in calls[1][1]


def test_custom_payloads_become_bot_api_calls(caplog) -> None:
    assert custom_calls({"text": "<b>hi</b>", "parse_mode": "HTML"}, 42) == [
        ("sendMessage", {"chat_id": 42, "text": "<b>hi</b>", "parse_mode": "HTML"})]
    assert custom_calls({"latitude": 1.5, "longitude": 2.5, "title": "Cafe",
                         "address": "Main St 1"}, 42) == [
        ("sendVenue", {"chat_id": 42, "latitude": 1.5, "longitude": 2.5, "title": "Cafe",
                       "address": "Main St 1"})]
    assert custom_calls({"latitude": 1.5, "longitude": 2.5}, 42) == [
        ("sendLocation", {"chat_id": 42, "latitude": 1.5, "longitude": 2.5})]
    assert custom_calls({"audio": "https://x.org/a.mp3", "title": "Song", "chat_id": 7}, 42) == [
        ("sendAudio", {"chat_id": 7, "audio": "https://x.org/a.mp3", "title": "Song"})]
    both = custom_calls({"text": "Look:", "photo": "https://x.org/p.png"}, 42)
    assert [m for m, _ in both] == ["sendMessage", "sendPhoto"]
    assert custom_calls({"phone_number": "+100", "first_name": "Bo"}, 42)[0][0] == "sendContact"
    with caplog.at_level("INFO"):
        assert custom_calls({"blocks": []}, 42) == []
        assert custom_calls(["not", "an", "object"], 42) == []
    assert "none of the keys" in caplog.text and "not a JSON object" in caplog.text


def test_split_text_keeps_every_word_and_counts_as_telegram_does() -> None:
    assert split_text("short", 4096) == ["short"]
    lines = "\n".join(f"line {i}" for i in range(1000))
    pieces = split_text(lines, 100)
    assert all(len(p) <= 100 for p in pieces) and "\n".join(pieces) == lines
    emoji = "😀" * 3000  # 6000 UTF-16 units, no spaces: a hard cut
    cut = split_text(emoji, 4096)
    assert [utf16_length(p) for p in cut] == [4096, 1904] and "".join(cut) == emoji


# ------------------------------------------------------------------ settings


def test_the_channel_is_enabled_by_credentials(api: BotApi) -> None:
    [channel] = enabled_channels(credentials(api))
    assert isinstance(channel, TelegramChannel)
    assert (channel.webhook_url, channel.username, channel.api_url) == (
        WEBHOOK_URL, "tiny_bot", api.base)


@pytest.mark.parametrize(("settings", "message"), [
    ({}, "`access_token` is missing; it is the bot token"),
    ({"access_token": "not-a-token"}, "does not look like a bot token"),
    ({"access_token": TOKEN, "webhok_url": WEBHOOK_URL}, "no setting 'webhok_url'"),
    ({"access_token": TOKEN, "webhook_url": "example.com/hook"}, "must be the http(s) address"),
    ({"access_token": TOKEN, "webhook_url": "http://example.com/hook"}, "must start with https"),
    ({"access_token": TOKEN, "webhook_url": "https://example.com:5005/hook"}, "port 5005"),
    ({"access_token": TOKEN, "secret_token": "has spaces"}, "secret_token"),
    ({"access_token": TOKEN, "timeout": "soon"}, "timeout"),
    ({"access_token": TOKEN, "timeout": 0}, "timeout"),
    ({"access_token": TOKEN, "button_type": "vertica"}, "button_type"),
    ({"access_token": TOKEN, "api_url": "api.telegram.org"}, "api_url"),
])
def test_bad_settings(settings: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=r"credentials\.yml telegram") as raised:
        enabled_channels({"telegram": settings})
    assert message in str(raised.value)
    assert raised.value.hint


def test_bad_settings_hints() -> None:
    with pytest.raises(ConfigError) as unknown:
        TelegramChannel({"access_token": TOKEN, "webhok_url": WEBHOOK_URL})
    assert "did you mean 'webhook_url'" in str(unknown.value)
    with pytest.raises(ConfigError) as kind:
        TelegramChannel({"access_token": TOKEN, "button_type": "vertica"})
    assert "did you mean 'vertical'" in str(kind.value)
    with pytest.raises(ConfigError) as token:
        TelegramChannel({"access_token": "123456:has spaces in it"})
    assert "has spaces" not in str(token.value)
    # a self-hosted Bot API server may post to plain http on any port
    local = TelegramChannel({"access_token": TOKEN, "api_url": "http://localhost:8081",
                             "webhook_url": "http://bot:5005/webhooks/telegram/webhook"})
    assert local.webhook_url.startswith("http://bot:5005")


def test_an_update_telegram_delivers_again_is_not_handled_twice(make_app, agent,
                                                                api: BotApi) -> None:
    app = make_app(credentials=credentials(api))
    greet = text_update("/greet")
    first, _ = post_update(app, agent, greet)
    # Telegram resends an update whose answer came late or was not a 2xx
    again, stored = post_update(app, agent, greet)
    later, stored = post_update(app, agent, text_update("/goodbye"))
    assert [r.text for r in (first, again, later)] == ["success"] * 3
    assert [e["text"] for e in stored if e["event"] == "user"] == ["/greet", "/goodbye"]
    assert [c["text"] for c in api.sent("sendMessage")] == ["Hello! How can I help?", "Bye!"]


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("redis", marks=pytest.mark.redis)])
def test_a_redelivery_to_another_worker_is_not_handled_twice(make_app, tiny_model, tmp_path,
                                                             api: BotApi, backend: str) -> None:
    from dialogflowlite.agent import Agent
    from dialogflowlite.stores.memory import MemoryTrackerStore

    if backend == "sqlite":
        from dialogflowlite.stores.sqlite import SQLiteLockStore

        def lock_store() -> Any:
            return SQLiteLockStore(db=tmp_path / "locks.db")
    else:
        import os
        import uuid

        from dialogflowlite.stores.redis import RedisLockStore

        url, prefix = os.environ.get("DFL_TEST_REDIS_URL"), f"dfltest-{uuid.uuid4().hex[:8]}:"
        if not url:
            pytest.skip("DFL_TEST_REDIS_URL is not set: no Redis server to test against")

        def lock_store() -> Any:
            return RedisLockStore(url=url, key_prefix=prefix)

    # two workers: each its own process memory and lock store, conversations shared
    conversations = MemoryTrackerStore()
    workers = [Agent.load(tiny_model, tracker_store=conversations, lock_store=lock_store())
               for _ in range(2)]
    apps = [make_app(credentials=credentials(api), agent=worker) for worker in workers]
    greet = text_update("/greet")
    try:
        first, _ = post_update(apps[0], workers[0], greet)
        again, stored = post_update(apps[1], workers[1], greet)
    finally:
        if backend == "redis":
            import redis

            with redis.Redis.from_url(url) as admin:
                for key in admin.scan_iter(f"{prefix}*"):
                    admin.delete(key)
    assert [r.text for r in (first, again)] == ["success"] * 2
    assert [e["text"] for e in stored if e["event"] == "user"] == ["/greet"]
    assert [c["text"] for c in api.sent("sendMessage")] == ["Hello! How can I help?"]


# ------------------------------------------------------------------ output_channel of the HTTP API


def api_call(app: Any, path: str, body: Any, **params: str) -> Any:
    """One request to the conversation API; the response."""
    return asyncio.run(request(app, "post", path, params=params, json=body))


def test_trigger_intent_pushes_the_messages_through_telegram(make_app, agent,
                                                            api: BotApi) -> None:
    from dialogflowlite.shared.domain import ResponseDef

    # a variation for Telegram: the messages are made for the channel they go through
    agent.domain.responses["utter_greet"] = ResponseDef("utter_greet", [
        {"text": "Hello from Telegram!", "channel": "telegram"}, {"text": "Hello!"}])
    app = make_app(credentials=credentials(api))
    response = api_call(app, "/conversations/42/trigger_intent", {"name": "greet"},
                        output_channel="telegram")
    assert response.status == 200
    assert api.sent("sendMessage") == [{"chat_id": 42, "text": "Hello from Telegram!"}]
    # the answer still lists them, as without output_channel
    assert response.json["messages"] == [{"recipient_id": "42", "text": "Hello from Telegram!"}]
    assert response.json["tracker"]["sender_id"] == "42"


def test_quick_replies_pushed_through_telegram_become_a_keyboard(make_app, agent,
                                                                 api: BotApi) -> None:
    greet_with(agent, QUICK_REPLIES)
    app = make_app(credentials=credentials(api))
    api_call(app, "/conversations/42/trigger_intent", {"name": "greet"},
             output_channel="telegram")
    [sent] = api.sent("sendMessage")
    assert sent["text"] == "Which size?"
    assert sent["reply_markup"] == {"inline_keyboard": [[
        {"text": "Small", "callback_data": "/choose"},
        {"text": "Large", "callback_data": "/goodbye"}]]}


def test_output_channel_latest_is_the_channel_of_the_latest_user_message(make_app, agent,
                                                                        api: BotApi) -> None:
    app = make_app(credentials={**credentials(api), "rest": None})
    post_update(app, agent, text_update("/greet"))
    before = len(api.sent("sendMessage"))
    response = api_call(app, "/conversations/42/trigger_intent", {"name": "goodbye"},
                        output_channel="latest")
    assert response.status == 200
    assert api.sent("sendMessage")[before:] == [{"chat_id": 42, "text": "Bye!"}]
    # a conversation held through the REST channel, which cannot send unasked: answered only
    asyncio.run(request(app, "post", "/webhooks/rest/webhook",
                        json={"sender": "ana", "message": "/greet"}))
    response = api_call(app, "/conversations/ana/trigger_intent", {"name": "goodbye"},
                        output_channel="latest")
    assert response.json["messages"] == [{"recipient_id": "ana", "text": "Bye!"}]
    assert len(api.sent("sendMessage")) == before + 1


def test_execute_pushes_the_actions_messages_through_telegram(make_app, api: BotApi) -> None:
    app = make_app(credentials=credentials(api))
    response = api_call(app, "/conversations/42/execute", {"name": "utter_choice"},
                        output_channel="telegram")
    assert response.status == 200
    assert api.sent("sendMessage") == [{
        "chat_id": 42, "text": "Pick a colour",
        "reply_markup": {"inline_keyboard": [[
            {"text": "Red", "callback_data": '/choose{"colour": "red"}'},
            {"text": "Blue", "callback_data": '/choose{"colour": "blue"}'}]]}}]


def test_appended_bot_events_are_sent_only_with_execute_side_effects(make_app, agent,
                                                                     api: BotApi) -> None:
    app = make_app(credentials=credentials(api))
    bot = [{"event": "bot", "text": "Your table is ready."}]
    stored = api_call(app, "/conversations/42/tracker/events", bot, output_channel="telegram")
    assert stored.status == 200 and api.sent("sendMessage") == []
    pushed = api_call(app, "/conversations/42/tracker/events", bot,
                      execute_side_effects="true", output_channel="telegram")
    assert pushed.status == 200
    assert api.sent("sendMessage") == [{"chat_id": 42, "text": "Your table is ready."}]
    events = asyncio.run(agent.tracker_store.load_events("42"))
    assert [e["text"] for e in events if e["event"] == "bot"] == ["Your table is ready."] * 2


def test_a_group_command_names_the_bot_learned_from_getme_without_verify(make_app, agent,
                                                                        api: BotApi) -> None:
    settings = credentials(api)
    del settings["telegram"]["verify"]
    app = make_app(credentials=settings)
    post_update(app, agent, text_update("/greet@tiny_bot"))
    post_update(app, agent, text_update("/goodbye@other_bot"))
    _, stored = post_update(app, agent, text_update("/goodbye@Tiny_Bot"))
    # Rasa keeps `@tiny_bot` in the text; a command for another bot is not this bot's
    assert [e["text"] for e in stored if e["event"] == "user"] == ["/greet", "/goodbye"]
    # the username is asked once, not for every command
    assert len(api.sent("getMe")) == 1


def test_without_a_username_from_getme_a_group_command_is_not_guessed(make_app, agent,
                                                                     caplog) -> None:
    api = BotApi(failures={"getMe": [(500, {"ok": False, "description": "down"})]})
    try:
        settings = credentials(api)
        del settings["telegram"]["verify"]
        app = make_app(credentials=settings)
        first, _ = post_update(app, agent, text_update("/greet@tiny_bot"))
        _, stored = post_update(app, agent, text_update("/greet@tiny_bot"))
    finally:
        api.close()
    # the first may be another bot's: handled, the intent shortcut would read it as greet
    assert first.status == 200 and "a command for @tiny_bot was ignored" in caplog.text
    # asked again after the failure, and the second command then reads as meant
    assert [e["text"] for e in stored if e["event"] == "user"] == ["/greet"]
    assert len(api.sent("getMe")) == 2


def test_a_command_for_another_bot_does_not_run_this_bots_intent(make_app, agent,
                                                                 api: BotApi) -> None:
    app = make_app(credentials=credentials(api))
    response, stored = post_update(app, agent, text_update("/greet@other_bot"))
    assert response.status == 200 and response.text == "success"
    assert stored is None and api.methods() == []
    # a confidence after the intent names no bot
    _, stored = post_update(app, agent, text_update("/greet@0.9"))
    assert [e["text"] for e in stored if e["event"] == "user"] == ["/greet@0.9"]


def test_buttons_without_text_ride_on_the_image_or_go_out_under_an_ellipsis(caplog) -> None:
    with caplog.at_level("WARNING"):
        [(method, params)] = reply_calls({"buttons": CHOICE_BUTTONS}, 42)
    # Telegram refuses a sendMessage without a text, which is what Rasa would send
    assert (method, params["text"]) == ("sendMessage", LONE_BUTTONS_TEXT)
    assert [b["text"] for b in params["reply_markup"]["inline_keyboard"][0]] == ["Red", "Blue"]
    assert "a reply to chat 42 has buttons but no text" in caplog.text
    with_image = reply_calls({"buttons": CHOICE_BUTTONS, "image": "https://x.org/c.png"}, 42)
    assert [method for method, _ in with_image] == ["sendPhoto"]
    assert "inline_keyboard" in with_image[0][1]["reply_markup"]


def test_buttons_of_a_message_of_their_own_ride_on_the_text_before(api: BotApi,
                                                                   caplog) -> None:
    # a custom action's text, then its buttons in a message of their own
    channel = TelegramChannel({"access_token": TOKEN, "api_url": api.base})
    with caplog.at_level("WARNING"):
        sent = asyncio.run(channel.send("42", [
            {"text": "Intro."}, {"text": "Pick one"},
            {"buttons": CHOICE_BUTTONS, "button_type": "vertical"},
            {"image": "https://x.org/c.png"}, {"buttons": CHOICE_BUTTONS}]))
    assert sent == 4 and api.methods() == ["sendMessage", "sendMessage", "sendPhoto",
                                           "sendMessage"]
    intro, pick, lone = api.sent("sendMessage")
    assert intro == {"chat_id": 42, "text": "Intro."}
    assert pick["text"] == "Pick one"
    assert [row[0]["text"] for row in pick["reply_markup"]["inline_keyboard"]] == ["Red", "Blue"]
    # after an image there is no text to ride on
    assert lone["text"] == LONE_BUTTONS_TEXT and "reply_markup" in lone
    assert caplog.text.count("has buttons but no text") == 1


# ------------------------------------------------------------------ failed turns


def test_an_update_the_store_could_not_keep_is_delivered_again(make_app, agent,
                                                               api: BotApi) -> None:
    from failing_turns import store_down_for, user_texts

    app = make_app(credentials=credentials(api))
    store_down_for(agent)
    greet = text_update("/greet")
    failed, stored = post_update(app, agent, greet)
    # a non-2xx makes Telegram deliver the update again: this time it is handled
    again, stored = post_update(app, agent, greet)
    assert (failed.status, again.status) == (503, 200)
    assert user_texts(stored) == ["/greet"]
    assert [c["text"] for c in api.sent("sendMessage")] == ["Hello! How can I help?"]


def test_an_update_that_fails_for_good_is_logged_as_lost(make_app, agent, api: BotApi,
                                                         caplog) -> None:
    from failing_turns import bot_broken_for, user_texts

    app = make_app(credentials=credentials(api))
    bot_broken_for(agent)
    with caplog.at_level("ERROR"):
        failed, stored = post_update(app, agent, text_update("/greet"))
    # Telegram is not asked for an update that would only fail again
    assert (failed.status, failed.text) == (200, "success") and user_texts(stored) == []
    assert "conversation '42'" in caplog.text and "is lost" in caplog.text


def test_an_update_whose_events_no_store_can_keep_is_not_delivered_again(
        make_app, agent, api: BotApi, caplog) -> None:
    from failing_turns import store_refuses_for, user_texts

    app = make_app(credentials=credentials(api))
    store_refuses_for(agent)
    with caplog.at_level("ERROR"):
        failed, stored = post_update(app, agent, text_update("/greet"))
    # each re-delivery would fail the same way, and Telegram holds back the later
    # updates of the bot while it retries one
    assert (failed.status, failed.text) == (200, "success") and user_texts(stored) == []
    assert "is not JSON" in caplog.text and "is lost" in caplog.text


def test_a_failed_start_after_a_stored_restart_is_not_delivered_again(make_app, agent,
                                                                      api: BotApi) -> None:
    from failing_turns import user_texts

    from dialogflowlite.errors import TrackerStoreError

    app = make_app(credentials=credentials(api))
    original = agent.tracker_store.append_events
    calls = [0]

    async def second_fails(*args: Any, **kwargs: Any) -> Any:
        calls[0] += 1
        if calls[0] == 2:  # the `/start` that follows `/restart` cannot be stored
            raise TrackerStoreError("Redis save failed: ConnectionError: connection refused")
        return await original(*args, **kwargs)

    agent.tracker_store.append_events = second_fails
    restart = text_update("/restart")
    response, stored = post_update(app, agent, restart)
    # delivered again, the update would store `/restart` a second time
    again, stored = post_update(app, agent, restart)
    assert (response.status, again.status, calls[0]) == (200, 200, 2)
    assert user_texts(stored) == ["/restart"]


@pytest.mark.redis
def test_a_failed_update_delivered_again_to_another_worker_is_handled(make_app, tiny_model,
                                                                      api: BotApi) -> None:
    import os
    import uuid

    import redis
    from failing_turns import store_down_for, user_texts

    from dialogflowlite.agent import Agent
    from dialogflowlite.stores.memory import MemoryTrackerStore
    from dialogflowlite.stores.redis import RedisLockStore

    url, prefix = os.environ.get("DFL_TEST_REDIS_URL"), f"dfltest-{uuid.uuid4().hex[:8]}:"
    if not url:
        pytest.skip("DFL_TEST_REDIS_URL is not set: no Redis server to test against")
    conversations = MemoryTrackerStore()
    workers = [Agent.load(tiny_model, tracker_store=conversations,
                          lock_store=RedisLockStore(url=url, key_prefix=prefix))
               for _ in range(2)]
    apps = [make_app(credentials=credentials(api), agent=worker) for worker in workers]
    store_down_for(workers[0])
    greet = text_update("/greet")
    try:
        failed, _ = post_update(apps[0], workers[0], greet)
        again, stored = post_update(apps[1], workers[1], greet)
    finally:
        with redis.Redis.from_url(url) as admin:
            for key in admin.scan_iter(f"{prefix}*"):
                admin.delete(key)
    assert (failed.status, again.status) == (503, 200)
    assert user_texts(stored) == ["/greet"]
    assert [c["text"] for c in api.sent("sendMessage")] == ["Hello! How can I help?"]


# ------------------------------------------------------------------ a platform that hangs up


def test_the_replies_are_sent_when_the_platform_hangs_up_mid_turn(make_app, tiny_model,
                                                                   api: BotApi,
                                                                   caplog) -> None:
    """The platform gives up on a slow turn and Sanic cancels the request: the turn is
    stored all the same, its replies still go out through the Bot API, and the server's
    stop waits for them."""
    import logging

    import aiohttp
    from failing_turns import GatedStore

    from dialogflowlite.agent import Agent
    from dialogflowlite.stores.memory import MemoryLockStore

    store = GatedStore()
    agent = Agent.load(tiny_model, tracker_store=store, lock_store=MemoryLockStore())
    app = make_app(agent=agent, credentials=credentials(api))

    async def scenario() -> list[dict]:
        async with serving(app) as url:
            async with aiohttp.ClientSession() as session:
                posting = asyncio.create_task(session.post(
                    f"{url}/webhooks/telegram/webhook", json=text_update("/greet")))
                await store.writing.wait()
                posting.cancel()  # Telegram hangs up
                with pytest.raises(asyncio.CancelledError):
                    await posting
            # Sanic notices the lost connection, cancels the handler
            await until(lambda: hang_ups_counted(app) == 1, "the hang-up to be noticed")
            sent_before = api.sent("sendMessage")
            # the turn ends while the server is stopping: the stop waits for its replies
            asyncio.get_running_loop().call_later(0.3, store.gate.set)
        return sent_before

    with caplog.at_level(logging.INFO, logger="dialogflowlite.server.handling"):
        assert asyncio.run(scenario()) == []
    assert api.sent("sendMessage") == [{"chat_id": 42, "text": "Hello! How can I help?"}]
    assert "request was cancelled" in caplog.text  # it was: the replies went out all the same
    stored = asyncio.run(agent.tracker_store.load_events("42"))
    assert [e["text"] for e in stored if e["event"] == "user"] == ["/greet"]
