"""The callback channel: messages in over HTTP, replies POSTed to the configured URL."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator

import pytest
from serving_helpers import StubHttpServer, request

from dialogflowlite.errors import ConfigError
from dialogflowlite.server.channels.callback import CallbackChannel
from dialogflowlite.server.channels.loader import enabled_channels


class Receiver(StubHttpServer):
    """A callback URL that records the JSON posted to it (or refuses with a status)."""

    def __init__(self, status: int = 200) -> None:
        super().__init__(lambda request: (status, {}, b""), path="/replies")

    @property
    def received(self) -> list[dict]:
        return [json.loads(r.body) for r in self.requests]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    found = Receiver()
    try:
        yield found
    finally:
        found.close()


def test_replies_go_to_the_callback_url_in_order(make_app, agent, receiver: Receiver) -> None:
    app = make_app(credentials={"callback": {"url": receiver.url}})

    async def main() -> tuple[int, str, list[dict]]:
        response = await request(app, "post", "/webhooks/callback/webhook",
                                 json={"sender": "cal", "message": "/ask_choice"})
        stored = await agent.tracker_store.load_events("cal")
        return response.status, response.text, stored

    status, text, stored = asyncio.run(main())
    assert (status, text) == (200, "success")
    assert receiver.received == [{
        "recipient_id": "cal", "text": "Pick a colour",
        "buttons": [{"title": "Red", "payload": '/choose{"colour": "red"}'},
                    {"title": "Blue", "payload": '/choose{"colour": "blue"}'}]}]
    user = next(e for e in stored if e["event"] == "user")
    assert user["input_channel"] == "callback"


def test_a_refused_delivery_is_logged_and_the_turn_kept(make_app, agent, caplog) -> None:
    refusing = Receiver(status=503)
    try:
        app = make_app(credentials={"callback": {"url": refusing.url}})
        with caplog.at_level("ERROR"):
            response = asyncio.run(request(app, "post", "/webhooks/callback/webhook",
                                           json={"sender": "ref", "message": "/greet"}))
    finally:
        refusing.close()
    assert response.text == "success"
    assert refusing.received == [{"recipient_id": "ref", "text": "Hello! How can I help?"}]
    assert "a reply to 'ref' was not delivered" in caplog.text and "status 503" in caplog.text
    assert any(e["event"] == "bot"
               for e in asyncio.run(agent.tracker_store.load_events("ref")))


def test_an_unreachable_url_is_logged(caplog) -> None:
    channel = CallbackChannel({"url": "http://127.0.0.1:9/nothing", "timeout": 2})
    with caplog.at_level("ERROR"):
        delivered = asyncio.run(channel.deliver([{"recipient_id": "x", "text": "hi"}]))
    assert delivered == 0
    assert "a reply to 'x' was not delivered to http://127.0.0.1:9/nothing" in caplog.text


def test_bad_requests_and_settings(make_app, receiver: Receiver) -> None:
    app = make_app(credentials={"callback": {"url": receiver.url}})
    response = asyncio.run(request(app, "post", "/webhooks/callback/webhook",
                                   json={"sender": "x"}))
    assert response.status == 400 and "message" in response.json["message"]
    assert receiver.received == []
    with pytest.raises(ConfigError, match="callback needs `url:`"):
        enabled_channels({"callback": {}})
    with pytest.raises(ConfigError, match="callback needs `url:`"):
        enabled_channels({"callback": {"url": "example.com/replies"}})
    with pytest.raises(ConfigError, match="timeout must be a number"):
        enabled_channels({"callback": {"url": receiver.url, "timeout": "soon"}})
