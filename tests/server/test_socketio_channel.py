"""The socketio channel, driven by a real Socket.IO client (python-socketio) over WebSocket."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
import socketio
from serving_helpers import CARDS, QUICK_REPLIES, greet_with, request, serving, until

from dialogflowlite.errors import ConfigError
from dialogflowlite.server.channels.loader import enabled_channels
from dialogflowlite.server.channels.socketio import (
    encode_packet,
    parse_packet,
    socketio_messages,
)


class Widget:
    """A chat widget: a Socket.IO client that records what the bot emits."""

    def __init__(self) -> None:
        self.client = socketio.AsyncClient(reconnection=False)
        self.received: asyncio.Queue = asyncio.Queue()
        for event in ("session_confirm", "bot_uttered", "error"):
            self.client.on(event, self._recorder(event))

    def _recorder(self, event: str) -> Any:
        async def record(data: Any = None) -> None:
            await self.received.put((event, data))

        return record

    async def next(self) -> tuple[str, Any]:
        return await asyncio.wait_for(self.received.get(), 10)

    async def connect(self, url: str, path: str = "/socket.io", auth: Any = None,
                      transports: tuple[str, ...] = ("websocket",)) -> None:
        await self.client.connect(url, transports=list(transports), socketio_path=path,
                                  wait_timeout=10, auth=auth)


def run_app(app: Any, scenario) -> Any:
    async def main() -> Any:
        async with serving(app) as url:
            return await scenario(url)

    return asyncio.run(main())


def test_a_widget_chats_with_session_persistence(make_app, agent) -> None:
    app = make_app(credentials={"socketio": {"session_persistence": True}})

    async def scenario(url: str) -> list[tuple[str, Any]]:
        widget = Widget()
        await widget.connect(url)
        seen = []
        await widget.client.emit("session_request", {"session_id": "sock-1"})
        seen.append(await widget.next())
        await widget.client.emit("user_uttered", {"message": "/ask_choice",
                                                  "session_id": "sock-1",
                                                  "metadata": {"page": "home"}})
        seen.append(await widget.next())
        await widget.client.emit("user_uttered", {"message": '/choose{"colour": "blue"}',
                                                  "session_id": "sock-1"})
        seen.append(await widget.next())
        await widget.client.emit("user_uttered", {"message": "/greet"})  # no session_id
        seen.append(await widget.next())
        await widget.client.disconnect()
        return seen

    seen = run_app(app, scenario)
    assert seen[0] == ("session_confirm", "sock-1")
    assert seen[1] == ("bot_uttered", {"text": "Pick a colour", "quick_replies": [
        {"content_type": "text", "title": "Red", "payload": '/choose{"colour": "red"}'},
        {"content_type": "text", "title": "Blue", "payload": '/choose{"colour": "blue"}'}]})
    assert seen[2] == ("bot_uttered", {"text": "You chose blue."})
    assert seen[3][0] == "error" and "session_id" in seen[3][1]["message"]
    stored = asyncio.run(agent.tracker_store.load_events("sock-1"))
    user = next(e for e in stored if e["event"] == "user")
    assert user["input_channel"] == "socketio" and user["metadata"] == {"page": "home"}


def test_quick_replies_and_cards_reach_the_widget_as_rasa_emits_them(make_app, agent) -> None:
    app = make_app(credentials={"socketio": {}})

    async def scenario(url: str) -> list[tuple[str, Any]]:
        widget = Widget()
        await widget.connect(url)
        seen = []
        greet_with(agent, QUICK_REPLIES)
        await widget.client.emit("user_uttered", {"message": "/greet"})
        seen.append(await widget.next())
        greet_with(agent, CARDS)
        await widget.client.emit("user_uttered", {"message": "/greet"})
        seen += [await widget.next() for _ in range(3)]
        await widget.client.disconnect()
        return seen

    quick, text, *cards = run_app(app, scenario)
    assert quick == ("bot_uttered", {"text": "Which size?", "quick_replies": [
        {"content_type": "text", "title": "Small", "payload": "/choose"},
        {"content_type": "text", "title": "Large", "payload": "/goodbye"}]})
    assert text == ("bot_uttered", {"text": "Our cats"})
    # as Rasa's socketio: a generic template per card, the card itself as `elements`
    assert cards == [("bot_uttered", {"attachment": {"type": "template", "payload": {
        "template_type": "generic", "elements": card}}}) for card in CARDS["elements"]]


def test_without_persistence_each_connection_is_a_conversation(make_app, agent) -> None:
    app = make_app(credentials={"socketio": {"bot_message_evt": "bot_uttered",
                                             "socketio_path": "/chat-socket"}})

    async def scenario(url: str) -> list[Any]:
        replies = []
        for _ in range(2):
            widget = Widget()
            await widget.connect(url, path="/chat-socket")
            await widget.client.emit("session_request", {})
            _, session = await widget.next()
            assert len(session) == 32  # a new id when the client has none
            await widget.client.emit("user_uttered", {"message": "/greet"})
            replies.append(await widget.next())
            await widget.client.disconnect()
        return replies

    replies = run_app(app, scenario)
    assert replies == [("bot_uttered", {"text": "Hello! How can I help?"})] * 2
    conversations = asyncio.run(agent.tracker_store.keys())
    assert len([k for k in conversations if len(k) == 32]) == 2


def test_a_client_with_default_transports_polls_then_upgrades(make_app) -> None:
    app = make_app(credentials={"socketio": {"session_persistence": True}})

    async def scenario(url: str) -> list[Any]:
        widget = Widget()
        await widget.client.connect(url, wait_timeout=10)  # polling first, as widgets do
        seen = []
        await widget.client.emit("session_request", {"session_id": "poll-1"})
        seen.append(await widget.next())
        await widget.client.emit("user_uttered", {"message": "/greet", "session_id": "poll-1"})
        seen.append(await widget.next())
        for _ in range(100):  # the client upgrades in the background
            if widget.client.transport() == "websocket":
                break
            await asyncio.sleep(0.05)
        seen.append(widget.client.transport())
        await widget.client.emit("user_uttered", {"message": "/goodbye", "session_id": "poll-1"})
        seen.append(await widget.next())
        await widget.client.disconnect()
        return seen

    assert run_app(app, scenario) == [("session_confirm", "poll-1"),
                                      ("bot_uttered", {"text": "Hello! How can I help?"}),
                                      "websocket",
                                      ("bot_uttered", {"text": "Bye!"})]


def test_a_polling_only_client_chats(make_app) -> None:
    app = make_app(credentials={"socketio": {}})

    async def scenario(url: str) -> tuple[str, Any]:
        widget = Widget()
        await widget.client.connect(url, transports=["polling"], wait_timeout=10)
        await widget.client.emit("user_uttered", {"message": "/greet"})
        reply = await widget.next()
        transport = widget.client.transport()
        await widget.client.disconnect()
        return transport, reply

    assert run_app(app, scenario) == ("polling",
                                      ("bot_uttered", {"text": "Hello! How can I help?"}))


def test_unknown_sessions_and_old_protocols_are_refused(make_app) -> None:
    import aiohttp

    app = make_app(credentials={"socketio": {}})

    async def scenario(url: str) -> list[tuple[int, str]]:
        answers = []
        async with aiohttp.ClientSession() as session:
            for query in ("EIO=4&transport=polling&sid=nobody", "EIO=3&transport=polling"):
                async with session.get(f"{url}/socket.io/?{query}") as response:
                    answers.append((response.status, await response.text()))
        return answers

    (unknown, old) = run_app(app, scenario)
    assert unknown[0] == 400 and "Session ID unknown" in unknown[1]
    assert old[0] == 400 and "Engine.IO 4" in old[1]


def test_packets_and_messages() -> None:
    assert parse_packet('2["user_uttered",{"message":"hi"}]') == (
        "2", "/", None, ["user_uttered", {"message": "hi"}])
    assert parse_packet('2/bot,12["x"]') == ("2", "/bot", 12, ["x"])
    assert parse_packet("0") == ("0", "/", None, None)
    assert encode_packet("3", "/", [], 12) == "312[]"
    assert encode_packet("0", "/bot", {"sid": "a"}) == '0/bot,{"sid": "a"}'
    assert socketio_messages({"recipient_id": "a", "text": "Look", "image": "http://x/i.png",
                              "custom": {"kind": "map"}}) == [
        {"text": "Look"},
        {"attachment": {"type": "image", "payload": {"src": "http://x/i.png"}}},
        {"kind": "map"}]


def test_settings_are_checked() -> None:
    with pytest.raises(ConfigError, match="no setting 'bot_message_event'") as error:
        enabled_channels({"socketio": {"bot_message_event": "x"}})
    assert "bot_message_evt" in str(error.value.hint)
    with pytest.raises(ConfigError, match="jwt_method 'HS999' is not") as error:
        enabled_channels({"socketio": {"jwt_key": "secret", "jwt_method": "HS999"}})
    assert "HS256" in str(error.value.hint)
    # both started, then refused every client's token as a wrong one
    with pytest.raises(ConfigError, match="jwt_method 'none' is not") as error:
        enabled_channels({"socketio": {"jwt_key": "secret", "jwt_method": "none"}})
    assert "none" not in str(error.value.hint).split(", ")
    with pytest.raises(ConfigError, match="jwt_key is no key for RS256") as error:
        enabled_channels({"socketio": {"jwt_key": "secret", "jwt_method": "RS256"}})
    assert "PEM" in str(error.value.hint)
    for seconds in ("often", 0, -1):
        with pytest.raises(ConfigError, match="`ping_interval` must be a positive number"):
            enabled_channels({"socketio": {"ping_interval": seconds}})
        with pytest.raises(ConfigError, match="`ping_timeout` must be a positive number"):
            enabled_channels({"socketio": {"ping_timeout": seconds}})
    # a namespace written without its "/" is the one clients connect to
    assert [c.namespace for c in enabled_channels({"socketio": {"namespace": "bot"}})] == ["/bot"]
    assert [c.namespace for c in enabled_channels({"socketio": {"namespace": "/bot"}})] == ["/bot"]
    assert [c.namespace for c in enabled_channels({"socketio": {}})] == ["/"]


@pytest.mark.parametrize("transports", [["websocket"], ["polling"]])
def test_pings_keep_a_quiet_connection_open(make_app, transports: list[str]) -> None:
    # a client that answered no ping would be dropped after 1.55 s; one answer may take
    # 1.5 s (a loaded machine)
    app = make_app(credentials={"socketio": {"ping_interval": 0.05, "ping_timeout": 1.5}})

    async def scenario(url: str) -> tuple[bool, Any]:
        widget = Widget()
        await widget.client.connect(url, transports=transports, wait_timeout=10)
        await asyncio.sleep(2.5)  # dozens of pings, each answered by the client
        alive = widget.client.connected
        await widget.client.emit("user_uttered", {"message": "/greet"})
        reply = await widget.next()
        await widget.client.disconnect()
        return alive, reply

    alive, reply = run_app(app, scenario)
    assert alive and reply == ("bot_uttered", {"text": "Hello! How can I help?"})


def test_a_silent_client_is_dropped(make_app) -> None:
    import aiohttp

    app = make_app(credentials={"socketio": {"ping_interval": 0.05, "ping_timeout": 0.1}})

    async def scenario(url: str) -> tuple[int, int]:
        async with aiohttp.ClientSession() as session:
            async with session.get(f"{url}/socket.io/?EIO=4&transport=polling") as response:
                sid = json.loads((await response.text())[1:])["sid"]
            await asyncio.sleep(0.6)  # never polls, never answers a ping
            async with session.get(
                    f"{url}/socket.io/?EIO=4&transport=polling&sid={sid}") as response:
                return response.status, len(await response.text())

    status, _ = run_app(app, scenario)
    assert status == 400  # the session is gone


def test_stopping_the_server_ends_waiting_polls(make_app) -> None:
    import aiohttp

    app = make_app(credentials={"socketio": {}})  # pings every 25 s: a poll waits that long

    async def main() -> str:
        async with aiohttp.ClientSession() as session:
            async with serving(app) as url:
                async with session.get(f"{url}/socket.io/?EIO=4&transport=polling") as r:
                    sid = json.loads((await r.text())[1:])["sid"]

                async def poll() -> str:
                    async with session.get(
                            f"{url}/socket.io/?EIO=4&transport=polling&sid={sid}") as r:
                        return await r.text()

                waiting = asyncio.ensure_future(poll())
                await until(lambda: app.ctx.metrics.in_flight.value() == 1,
                            "the poll to wait at the server")
            # the server has stopped: the poll was answered, not left to time out
            return await asyncio.wait_for(waiting, 5)

    assert asyncio.run(main()) == "6"


@pytest.mark.parametrize("transports", [("websocket",), ("polling",)])
def test_jwt_key_admits_only_clients_with_a_valid_token(make_app, transports) -> None:
    import jwt

    key = "a-secret-key-long-enough-for-hs256!"
    app = make_app(credentials={"socketio": {"jwt_key": key, "jwt_method": "HS256"}})
    good = jwt.encode({"user": {"username": "ann"}}, key, algorithm="HS256")
    forged = jwt.encode({"user": {"username": "ann"}}, key[::-1], algorithm="HS256")
    expired = jwt.encode({"exp": 1}, key, algorithm="HS256")

    async def scenario(url: str) -> tuple[list[str], tuple[str, Any]]:
        refused = []
        for auth in (None, {"token": forged}, {"token": expired}, {"token": 42}):
            widget = Widget()
            reasons: list[Any] = []

            async def connect_error(data: Any, reasons: list[Any] = reasons) -> None:
                reasons.append(data)

            widget.client.on("connect_error", connect_error)
            with pytest.raises(socketio.exceptions.ConnectionError):
                await widget.connect(url, auth=auth, transports=transports)
            refused.append(reasons[0]["message"])
        widget = Widget()
        await widget.connect(url, auth={"token": good}, transports=transports)
        await widget.client.emit("user_uttered", {"message": "/greet"})
        reply = await widget.next()
        await widget.client.disconnect()
        return refused, reply

    refused, reply = run_app(app, scenario)
    assert len(refused) == 4 and all("Not authorized" in r for r in refused)
    assert "needs a token" in refused[0] and "invalid or expired" in refused[1]
    assert reply == ("bot_uttered", {"text": "Hello! How can I help?"})


def test_events_before_an_accepted_connect_are_ignored() -> None:
    from dialogflowlite.server.channels.socketio import SocketIOChannel, SocketIOConnection

    sent: list[str] = []
    handled: list[Any] = []

    class Session:
        sid = "engine-1"

        async def send(self, packet: str) -> None:
            sent.append(packet)

    async def on_message(message: Any) -> list[Any]:
        handled.append(message)
        return []

    channel = SocketIOChannel({"jwt_key": "k"})
    connection = SocketIOConnection(channel, Session(), on_message)

    async def scenario() -> None:
        await connection.handle('0{"token": "not-a-jwt"}')
        await connection.handle('2["user_uttered",{"message":"hi"}]')

    asyncio.run(scenario())
    assert sent[0].startswith("44") and "Not authorized" in sent[0]
    assert handled == [] and len(sent) == 1


def test_replies_take_rasas_socketio_shapes() -> None:
    # a text with buttons: a message per paragraph, the buttons on the last one; as in
    # Rasa, the paragraphs before it have quick replies too, none of them
    assert socketio_messages({"text": "Welcome!\n\nPick one", "buttons": [
        {"title": "Red", "payload": "/red"}, {"title": "Help"}, "not a button"]}) == [
        {"text": "Welcome!", "quick_replies": []},
        {"text": "Pick one", "quick_replies": [
            {"content_type": "text", "title": "Red", "payload": "/red"},
            {"content_type": "text", "title": "Help", "payload": "Help"}]}]
    # Rasa emits the `data` of a custom payload alone, as widgets written for it expect
    carousel = {"attachment": {"type": "template", "payload": {"template_type": "generic"}}}
    assert socketio_messages({"custom": {"data": carousel}}) == [carousel]
    assert socketio_messages({"custom": {"data": carousel, "room": "x"}}) == [carousel]


class RecordingSession:
    """An Engine.IO session that keeps what the server sends."""

    sid = "engine-1"

    def __init__(self) -> None:
        self.sent: list[str] = []

    async def send(self, packet: str) -> None:
        self.sent.append(packet)


def test_metadata_sent_as_json_text_is_read_as_rasa_reads_it() -> None:
    from dialogflowlite.server.channels.socketio import SocketIOChannel, SocketIOConnection

    handled: list[Any] = []

    async def on_message(message: Any) -> list[Any]:
        handled.append(message)
        return []

    session = RecordingSession()
    channel = SocketIOChannel({"metadata_key": "customData"})
    connection = SocketIOConnection(channel, session, on_message)
    given = [{"message": "hi", "customData": json.dumps({"language": "en"})},
             {"message": "hi", "customData": {"language": "de"}},
             {"message": "hi", "customData": "not json"}]

    async def scenario() -> None:
        await connection.handle("0")
        for data in given:
            await connection.handle(encode_packet("2", "/", ["user_uttered", data]))

    asyncio.run(scenario())
    assert [m.metadata for m in handled] == [{"language": "en"}, {"language": "de"}]
    assert "'customData' is text that is not JSON" in session.sent[-1]


def test_every_connection_of_a_persistent_session_gets_its_replies(make_app) -> None:
    app = make_app(credentials={"socketio": {"session_persistence": True}})

    async def scenario(url: str) -> tuple[Any, Any, list[Any]]:
        first, second, other = Widget(), Widget(), Widget()
        for widget, session in ((first, "tab-session"), (second, "tab-session"),
                                (other, "someone-else")):
            await widget.connect(url)
            await widget.client.emit("session_request", {"session_id": session})
            await widget.next()
        await first.client.emit("user_uttered", {"message": "/greet",
                                                 "session_id": "tab-session"})
        mine, theirs = await first.next(), await second.next()
        await second.client.disconnect()
        await first.client.emit("user_uttered", {"message": "/goodbye",
                                                 "session_id": "tab-session"})
        after = await first.next()
        await first.client.disconnect()
        await other.client.disconnect()
        leftover = []
        while not other.received.empty():
            leftover.append(other.received.get_nowait())
        return (mine, theirs), after, leftover

    (mine, theirs), after, leftover = run_app(app, scenario)
    assert mine == theirs == ("bot_uttered", {"text": "Hello! How can I help?"})
    assert after == ("bot_uttered", {"text": "Bye!"})
    assert leftover == []
    channel = app.ctx.channels[0]
    assert channel.rooms == {}  # every connection left its room when it ended


def test_a_jwt_after_bearer_is_taken_as_rasa_takes_it() -> None:
    import jwt

    from dialogflowlite.server.channels.socketio import SocketIOChannel

    key = "a-secret-key-long-enough-for-hs256!"
    channel = SocketIOChannel({"jwt_key": key})
    token = jwt.encode({"user": {"username": "ann"}}, key, algorithm="HS256")
    assert channel.refuse_connect({"token": token}) is None
    assert channel.refuse_connect({"token": f"Bearer {token}"}) is None
    assert channel.refuse_connect({"token": f"bearer  {token} "}) is None
    assert "invalid" in channel.refuse_connect({"token": "Bearer "})
    assert "invalid" in channel.refuse_connect({"token": f"Bearer {token[:-3]}xyz"})


def test_rasas_health_route_answers_under_webhooks(make_app) -> None:
    app = make_app(credentials={"socketio": {"socketio_path": "/chat-socket"}})
    health = asyncio.run(request(app, "get", "/webhooks/socketio/"))
    assert (health.status, health.json) == (200, {"status": "ok"})


def test_a_turn_the_store_could_not_keep_is_an_error_event_and_logged_as_lost(
        make_app, agent, caplog) -> None:
    from failing_turns import store_down_for, user_texts

    app = make_app(credentials={"socketio": {"session_persistence": True}})
    store_down_for(agent)

    async def scenario(url: str) -> list[tuple[str, Any]]:
        widget = Widget()
        await widget.connect(url)
        await widget.client.emit("session_request", {"session_id": "sock-9"})
        seen = [await widget.next()]
        await widget.client.emit("user_uttered", {"message": "/greet", "session_id": "sock-9"})
        seen.append(await widget.next())
        # told, the client sends the message again, and this time it is stored
        await widget.client.emit("user_uttered", {"message": "/greet", "session_id": "sock-9"})
        seen.append(await widget.next())
        await widget.client.disconnect()
        return seen

    with caplog.at_level("ERROR"):
        seen = run_app(app, scenario)
    assert seen[1][0] == "error" and "Redis save failed" in seen[1][1]["message"]
    assert seen[2] == ("bot_uttered", {"text": "Hello! How can I help?"})
    assert user_texts(asyncio.run(agent.tracker_store.load_events("sock-9"))) == ["/greet"]
    assert "conversation 'sock-9' could not be handled and is lost" in caplog.text
