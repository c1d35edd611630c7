"""Channels as plugins: which ones a server mounts, the WebSocket channel, CORS."""

from __future__ import annotations

import asyncio
import json

import aiohttp
import pytest
from serving_helpers import CARDS, greet_with, request, serving

from dialogflowlite.errors import ConfigError
from dialogflowlite.server.channels.loader import channel_classes, enabled_channels


def test_builtin_channels_come_from_the_plugin_hook(plugin_manager) -> None:
    assert {"rest", "websocket", "console", "rocketchat", "webexteams", "hangouts",
            "twilio_voice"} <= set(channel_classes())


def test_credentials_choose_the_channels(plugin_manager, caplog) -> None:
    assert [c.name() for c in enabled_channels({})] == ["rest", "websocket"]
    assert [c.name() for c in enabled_channels({"rest": None})] == ["rest"]
    with caplog.at_level("WARNING"):
        channels = enabled_channels({"rest": {}, "carrier_pigeon": {"user": "x"}})
    assert [c.name() for c in channels] == ["rest"]
    assert "'carrier_pigeon'" in caplog.text and "known: botframework, " in caplog.text
    caplog.clear()
    with caplog.at_level("WARNING"):
        enabled_channels({"telegrm": {"access_token": "x"}})
    assert ("names the channel 'telegrm', which no installed plugin provides; the server "
            "runs without it (did you mean 'telegram'?)") in caplog.text
    with pytest.raises(ConfigError, match="settings of channel 'rest'"):
        enabled_channels({"rest": "yes"})


def test_rest_and_websocket_refuse_settings_they_do_not_take(plugin_manager) -> None:
    with pytest.raises(ConfigError, match=r"credentials\.yml rest: no setting 'max_chars'") as e:
        enabled_channels({"rest": {"max_chars": 10}})
    assert "max_message_chars" in e.value.hint
    with pytest.raises(ConfigError, match="`max_message_chars` must be a whole number"):
        enabled_channels({"rest": {"max_message_chars": "lots"}})
    assert enabled_channels({"rest": {"max_message_chars": 10}})[0].max_chars == 10
    with pytest.raises(ConfigError, match=r"credentials\.yml websocket: no setting 'path'"):
        enabled_channels({"websocket": {"path": "/ws"}})


def test_a_plugin_channel_is_mounted_under_webhooks(register_plugin, make_app) -> None:
    from sanic import Blueprint
    from sanic.response import json as json_response

    from dialogflowlite import hookimpl
    from dialogflowlite.dialogue.messages import IncomingMessage
    from dialogflowlite.server.channels.base import InputChannel

    class ShoutChannel(InputChannel):
        channel_name = "shout"

        def blueprint(self, on_message):
            bp = Blueprint("shout", url_prefix=self.url_prefix())

            @bp.post("/in")
            async def receive(request):
                replies = await on_message(IncomingMessage(request.json["say"],
                                                           sender_id="s", channel="shout"))
                return json_response([r["text"].upper() for r in replies])

            return bp

    class Plugin:
        @hookimpl
        def dfl_register_channels(self):
            return [ShoutChannel]

    register_plugin(Plugin(), "shout-channel")
    app = make_app(credentials={"shout": {}})
    response = asyncio.run(request(app, "post", "/webhooks/shout/in", json={"say": "/greet"}))
    assert response.json == ["HELLO! HOW CAN I HELP?"]
    assert asyncio.run(request(app, "get", "/webhooks/rest/")).status == 404


@pytest.mark.parametrize(("rich", "expected"), [
    (False, [{"recipient_id": "s", "text": "Our cats"},
             {"recipient_id": "s", "text": "Tom : grey",
              "buttons": [{"title": "Adopt", "payload": "/choose"}]},
             {"recipient_id": "s", "text": "Kit : black", "buttons": []}]),
    (True, [{"recipient_id": "s", "text": "Our cats"},
            {"recipient_id": "s", "elements": CARDS["elements"]}]),
], ids=["rest-shape", "rich"])
def test_a_channel_gets_cards_only_when_it_shows_them(register_plugin, make_app, agent, rich,
                                                      expected) -> None:
    from sanic import Blueprint
    from sanic.response import json as json_response

    from dialogflowlite import hookimpl
    from dialogflowlite.dialogue.messages import IncomingMessage

    class EchoChannel:
        """A plugin's channel that returns its replies as they came (no base class)."""

        rich_replies = rich

        def __init__(self, config):
            self.config = config

        @classmethod
        def name(cls):
            return "echo"

        def blueprint(self, on_message):
            bp = Blueprint("echo", url_prefix="/webhooks/echo")

            @bp.post("/in")
            async def receive(request):
                return json_response(await on_message(IncomingMessage("/greet", sender_id="s")))

            return bp

    class Plugin:
        @hookimpl
        def dfl_register_channels(self):
            return [EchoChannel]

    register_plugin(Plugin(), "echo-channel")
    greet_with(agent, CARDS)
    app = make_app(credentials={"echo": {}})
    response = asyncio.run(request(app, "post", "/webhooks/echo/in"))
    assert response.json == expected


def test_websocket_channel_holds_a_conversation(make_app, agent) -> None:
    app = make_app()

    async def main() -> list[dict]:
        async with serving(app) as url, aiohttp.ClientSession() as session, \
                session.ws_connect(f"{url}/webhooks/websocket/ws?sender=wendy") as ws:
            frames = [json.loads((await ws.receive()).data)]
            for text in ("/greet", "not json", '/choose{"colour": "red"}'):
                await ws.send_str(json.dumps({"message": text}) if text != "not json"
                                  else text)
                while True:
                    frame = json.loads((await ws.receive()).data)
                    frames.append(frame)
                    if frame["event"] in ("turn_done", "error"):
                        break
            return frames

    frames = asyncio.run(main())
    assert frames[0] == {"event": "session_confirm", "sender": "wendy"}
    assert frames[1] == {"event": "bot_uttered",
                         "data": {"recipient_id": "wendy", "text": "Hello! How can I help?"}}
    assert frames[2] == {"event": "turn_done"}
    assert frames[3]["event"] == "error" and frames[3]["data"]["reason"] == "BadRequest"
    assert frames[4]["data"]["text"] == "You chose red."
    tracker = asyncio.run(agent.tracker_store.retrieve("wendy"))
    assert {e.input_channel for e in tracker.events if e.type_name == "user"} == {"websocket"}


def test_cors_only_for_configured_origins(make_app) -> None:
    app = make_app(cors_origins=("https://shop.example",))
    allowed = {"Origin": "https://shop.example"}
    other = {"Origin": "https://evil.example"}

    async def main() -> None:
        ok = await request(app, "get", "/version", headers=allowed)
        assert ok.headers["access-control-allow-origin"] == "https://shop.example"
        refused = await request(app, "get", "/version", headers=other)
        assert "access-control-allow-origin" not in refused.headers
        preflight = await request(app, "options", "/webhooks/rest/webhook", headers={
            **allowed, "Access-Control-Request-Method": "POST"})
        assert preflight.status == 204
        assert "POST" in preflight.headers["access-control-allow-methods"]
        assert "Authorization" in preflight.headers["access-control-allow-headers"]
        refused_preflight = await request(app, "options", "/webhooks/rest/webhook", headers={
            **other, "Access-Control-Request-Method": "POST"})
        assert "access-control-allow-origin" not in refused_preflight.headers

    asyncio.run(main())


def test_cors_origins_may_be_patterns_and_compare_without_case(make_app) -> None:
    from dialogflowlite.errors import ConfigError
    from dialogflowlite.server.cors import AllowedOrigins

    # a pattern, as Rasa's CORS library reads one, allowed nothing and said nothing
    app = make_app(cors_origins=(r"https://.*\.example\.com", "https://Shop.Example"))

    async def origin_allowed(origin: str) -> str | None:
        response = await request(app, "get", "/version", headers={"Origin": origin})
        return response.headers.get("access-control-allow-origin")

    async def main() -> None:
        assert await origin_allowed("https://app.example.com") == "https://app.example.com"
        assert await origin_allowed("https://shop.example") == "https://shop.example"
        # the whole origin must match, not only its start
        assert await origin_allowed("https://app.example.com.elsewhere.net") is None
        assert await origin_allowed("https://example.org") is None

    asyncio.run(main())
    with pytest.raises(ConfigError, match=r"--cors 'https://\(' is no valid pattern"):
        AllowedOrigins.of(["https://("])


def test_a_shell_style_cors_wildcard_is_said_to_allow_nothing(caplog) -> None:
    from dialogflowlite.server.cors import AllowedOrigins

    # as a regular expression, `//*` repeats the slash: no subdomain's page was let in,
    # without a word
    with caplog.at_level("WARNING", logger="dialogflowlite.server.cors"):
        origins = AllowedOrigins.of(["https://*.example.com", "http://localhost:*",
                                     r"https://.*\.shop\.example"])
    assert not origins.allows("https://app.example.com")
    assert origins.allows("https://app.shop.example")
    warned = [r.getMessage() for r in caplog.records]
    assert len(warned) == 2
    assert warned[0].endswith(r"write 'https://.*\.example\.com'")
    assert warned[1].endswith("write 'http://localhost:.*'")


def test_a_preflight_allows_the_headers_the_page_asks_for(make_app) -> None:
    app = make_app(cors_origins=("*",))

    async def main():
        return await request(app, "options", "/conversations/a/tracker/events", headers={
            "Origin": "https://shop.example", "Access-Control-Request-Method": "PUT",
            "Access-Control-Request-Headers": "content-type, X-Requested-With,bad header"})

    preflight = asyncio.run(main())
    # only Authorization and Content-Type were allowed: a widget sending X-Requested-With
    # was blocked by the browser (Rasa allows any header)
    assert preflight.headers["access-control-allow-headers"] == \
        "Authorization, content-type, X-Requested-With"
    assert "Access-Control-Request-Headers" in preflight.headers["vary"]


def test_no_cors_headers_without_configured_origins(make_app) -> None:
    app = make_app()
    response = asyncio.run(request(app, "get", "/version",
                                   headers={"Origin": "https://shop.example"}))
    assert "access-control-allow-origin" not in response.headers


def test_any_origin_with_a_star(make_app) -> None:
    app = make_app(cors_origins=("*",))
    response = asyncio.run(request(app, "get", "/version",
                                   headers={"Origin": "https://anywhere.example"}))
    assert response.headers["access-control-allow-origin"] == "*"


def test_rest_and_callback_json_keep_rasas_shape_when_a_reply_has_a_button_type() -> None:
    import asyncio
    import json as jsonlib

    from dialogflowlite.server.channels.callback import CallbackChannel
    from dialogflowlite.server.channels.rest import RestChannel

    reply = {"recipient_id": "u1", "text": "Which one?", "button_type": "vertical",
             "buttons": [{"title": "A", "payload": "/a"}]}
    response = asyncio.run(RestChannel().answer([reply]))
    assert jsonlib.loads(response.body) == [{"recipient_id": "u1", "text": "Which one?",
                                             "buttons": [{"title": "A", "payload": "/a"}]}]

    posted: list[bytes] = []
    from serving_helpers import StubHttpServer

    stub = StubHttpServer(lambda request: (posted.append(request.body) or 200, {}, b""))
    try:
        channel = CallbackChannel({"url": stub.url})
        assert asyncio.run(channel.deliver([reply])) == 1
    finally:
        stub.close()
    assert "button_type" not in jsonlib.loads(posted[0])


def test_rest_takes_rasas_input_channel_from_the_body(make_app, agent) -> None:
    app = make_app()

    async def main() -> list:
        answers = []
        for body in ({"sender": "bridge", "message": "/greet", "input_channel": "whatsapp"},
                     {"sender": "plain", "message": "/greet", "input_channel": ""},
                     {"sender": "bad", "message": "/greet", "input_channel": 7},
                     {"sender": "bad", "message": "/greet", "input_channel": "a b"}):
            answers.append(await request(app, "post", "/webhooks/rest/webhook", json=body))
        return answers

    bridged, plain, number, spaced = asyncio.run(main())
    assert bridged.status == plain.status == 200
    assert bridged.json == [{"recipient_id": "bridge", "text": "Hello! How can I help?"}]

    def channels(sender: str) -> set:
        tracker = asyncio.run(agent.tracker_store.retrieve(sender))
        return {e.input_channel for e in tracker.events if e.type_name == "user"}

    assert channels("bridge") == {"whatsapp"} and channels("plain") == {"rest"}
    assert number.status == spaced.status == 400
    assert "'input_channel' must be a string" in number.text
    assert "'input_channel' must be a channel name" in spaced.text


def test_recent_deliveries_remember_a_bounded_number_of_ids() -> None:
    from dialogflowlite.server.channels.deliveries import RecentDeliveries

    seen = RecentDeliveries(size=2)
    assert seen.first_time("a") and seen.first_time("b")
    assert not seen.first_time("a")  # a re-delivery; "a" is now the most recent
    assert seen.first_time("c")  # "b", the oldest, is forgotten
    assert seen.first_time("b") and not seen.first_time("c")
    assert seen.first_time(None) and seen.first_time(None)  # no id: always new


def test_buttons_alone_join_the_plain_text_just_before_them() -> None:
    from dialogflowlite.server.channels.lone_buttons import buttons_on_texts

    buttons = [{"title": "Red", "payload": "/red"}]
    joined = buttons_on_texts([{"recipient_id": "u", "text": "Pick"},
                               {"recipient_id": "u", "buttons": buttons,
                                "button_type": "reply"}])
    assert joined == [{"recipient_id": "u", "text": "Pick", "buttons": buttons,
                       "button_type": "reply"}]
    # not onto an image, a text that has buttons of its own, or at the start
    kept = [{"image": "https://x.org/c.png"}, {"buttons": buttons},
            {"text": "Pick", "quick_replies": buttons}, {"quick_replies": buttons}]
    assert buttons_on_texts(kept) == kept
    assert buttons_on_texts([{"buttons": buttons}]) == [{"buttons": buttons}]
    # a reply holding more than buttons keeps them, not to lose the rest of it
    custom = [{"text": "Pick"}, {"buttons": buttons, "custom": {"x": 1}}]
    assert buttons_on_texts(custom) == custom


def test_rest_takes_a_bounded_number_of_input_channel_names(monkeypatch) -> None:
    from dialogflowlite.errors import ApiError
    from dialogflowlite.server.channels import rest

    monkeypatch.setattr(rest, "MAX_INPUT_CHANNELS", 2)
    channel = rest.RestChannel()
    assert channel.input_channel({"input_channel": " whatsapp "}) == "whatsapp"
    assert channel.input_channel({"input_channel": "viber"}) == "viber"
    assert channel.input_channel({"input_channel": "whatsapp"}) == "whatsapp"  # known
    assert channel.input_channel({}) is None
    # each name is a label of the server's metrics: they may not grow without end
    with pytest.raises(ApiError, match="after 2 others"):
        channel.input_channel({"input_channel": "line"})


def test_a_streamed_turn_that_fails_after_its_first_replies_is_logged_as_lost(
        make_app, agent, caplog) -> None:
    from failing_turns import store_down_for

    app = make_app(credentials={"rest": None})
    store_down_for(agent)
    with caplog.at_level("ERROR"), pytest.raises(AssertionError):
        # the replies went out before the store failed: the 200 cannot be taken back, so
        # the answer is left unfinished (the test client asserts a finished one; over
        # HTTP the client sees a cut-off transfer, tests/server/test_rest_stream.py)
        asyncio.run(request(app, "post", "/webhooks/rest/webhook?stream=true",
                            json={"sender": "streamer", "message": "/greet"}))
    assert asyncio.run(agent.tracker_store.load_events("streamer")) is None
    assert "conversation 'streamer'" in caplog.text and "the message is lost" in caplog.text
