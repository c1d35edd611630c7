"""The callback channel: messages in over HTTP, replies POSTed to the configured URL."""

from __future__ import annotations

import asyncio
import json

import pytest
from serving_helpers import CARDS, CallbackReceiver, greet_with, request

from dialogflowlite.errors import ConfigError
from dialogflowlite.server.channels.callback import CallbackChannel
from dialogflowlite.server.channels.loader import enabled_channels


def test_replies_go_to_the_callback_url_in_order(
        make_app, agent, callback_receiver: CallbackReceiver) -> None:
    app = make_app(credentials={"callback": {"url": callback_receiver.url}})

    async def main() -> tuple[int, str, list[dict]]:
        response = await request(app, "post", "/webhooks/callback/webhook",
                                 json={"sender": "cal", "message": "/ask_choice"})
        stored = await agent.tracker_store.load_events("cal")
        return response.status, response.text, stored

    status, text, stored = asyncio.run(main())
    assert (status, text) == (200, "success")
    assert callback_receiver.received == [{
        "recipient_id": "cal", "text": "Pick a colour",
        "buttons": [{"title": "Red", "payload": '/choose{"colour": "red"}'},
                    {"title": "Blue", "payload": '/choose{"colour": "blue"}'}]}]
    user = next(e for e in stored if e["event"] == "user")
    assert user["input_channel"] == "callback"


def test_cards_are_delivered_as_rasas_rest_replies(
        make_app, agent, callback_receiver: CallbackReceiver) -> None:
    greet_with(agent, CARDS)
    app = make_app(credentials={"callback": {"url": callback_receiver.url}})
    asyncio.run(request(app, "post", "/webhooks/callback/webhook",
                        json={"sender": "cal", "message": "/greet"}))
    assert callback_receiver.received == [
        {"recipient_id": "cal", "text": "Our cats"},
        {"recipient_id": "cal", "text": "Tom : grey",
         "buttons": [{"title": "Adopt", "payload": "/choose"}]},
        {"recipient_id": "cal", "text": "Kit : black", "buttons": []}]


def test_a_refused_delivery_is_logged_and_the_turn_kept(make_app, agent, caplog) -> None:
    refusing = CallbackReceiver(status=503)
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


def test_bad_requests_and_settings(make_app, callback_receiver: CallbackReceiver) -> None:
    app = make_app(credentials={"callback": {"url": callback_receiver.url}})
    response = asyncio.run(request(app, "post", "/webhooks/callback/webhook",
                                   json={"sender": "x"}))
    assert response.status == 400 and "message" in response.json["message"]
    assert callback_receiver.received == []
    with pytest.raises(ConfigError, match="callback: `url` is missing"):
        enabled_channels({"callback": {}})
    with pytest.raises(ConfigError, match="callback: `url` must be an http"):
        enabled_channels({"callback": {"url": "example.com/replies"}})
    for timeout in ("soon", 0, -5, True, float("nan"), "inf"):
        # zero or less would only fail every delivery once the server runs
        with pytest.raises(ConfigError, match="`timeout` must be a positive number"):
            enabled_channels({"callback": {"url": callback_receiver.url, "timeout": timeout}})
    with pytest.raises(ConfigError, match="no setting 'timeuot'"):
        enabled_channels({"callback": {"url": callback_receiver.url, "timeuot": 5}})
    # the address is kept exactly as written, a trailing slash included
    assert enabled_channels({"callback": {"url": "http://x/in/"}})[0].url == "http://x/in/"


def test_rasas_endpoint_keys_authenticate_the_deliveries(
        callback_receiver: CallbackReceiver) -> None:
    import base64

    from dialogflowlite.server.channels.callback import CallbackChannel

    channel = CallbackChannel({"url": callback_receiver.url, "headers": {"X-Api-Key": "k1"},
                               "params": {"tenant": "shop"}, "token": "t0ken",
                               "token_name": "auth", "basic_auth": {"username": "bot",
                                                                    "password": "pw"}})
    assert asyncio.run(channel.deliver([{"recipient_id": "u", "text": "hi"}])) == 1
    (delivery,) = callback_receiver.requests
    assert delivery.headers["X-Api-Key"] == "k1"
    assert delivery.headers["Authorization"] == "Basic " + base64.b64encode(b"bot:pw").decode()
    assert sorted(delivery.path.partition("?")[2].split("&")) == ["auth=t0ken", "tenant=shop"]
    assert json.loads(delivery.body) == {"recipient_id": "u", "text": "hi"}


def test_endpoint_keys_are_checked_at_start(callback_receiver: CallbackReceiver, tmp_path) -> None:
    url = callback_receiver.url
    with pytest.raises(ConfigError, match="`headers` must be a mapping"):
        enabled_channels({"callback": {"url": url, "headers": "X-Api-Key: k1"}})
    with pytest.raises(ConfigError, match="`basic_auth` needs a `username` and a `password`"):
        enabled_channels({"callback": {"url": url, "basic_auth": {"username": "bot"}}})
    with pytest.raises(ConfigError, match=r"`cafile` .* is not a file"):
        enabled_channels({"callback": {"url": url, "cafile": str(tmp_path / "none.pem")}})
    (tmp_path / "junk.pem").write_text("not a certificate")
    with pytest.raises(ConfigError, match=r"`cafile` .* holds no usable certificate"):
        enabled_channels({"callback": {"url": url, "cafile": str(tmp_path / "junk.pem")}})
    certifi = pytest.importorskip("certifi")

    assert enabled_channels({"callback": {"url": url, "cafile": certifi.where()}}
                            )[0].access.ssl_context is not None
    # Rasa's default token name
    channel = enabled_channels({"callback": {"url": url, "token": 12345}})[0]
    assert channel.access.params == {"token": "12345"}


def test_trigger_intent_pushes_the_messages_to_the_callback_url(
        make_app, callback_receiver: CallbackReceiver) -> None:
    app = make_app(credentials={"callback": {"url": callback_receiver.url}})
    response = asyncio.run(request(app, "post", "/conversations/cal/trigger_intent",
                                   json={"name": "greet"},
                                   params={"output_channel": "callback"}))
    assert response.status == 200
    assert callback_receiver.received == [{"recipient_id": "cal", "text": "Hello! How can I help?"}]
    assert response.json["messages"] == callback_receiver.received


def test_a_turn_the_store_could_not_keep_is_an_error_status_not_success(
        make_app, agent, callback_receiver: CallbackReceiver) -> None:
    from failing_turns import store_down_for, user_texts

    app = make_app(credentials={"callback": {"url": callback_receiver.url}})
    store_down_for(agent)
    body = {"sender": "cal", "message": "/greet"}

    async def main() -> tuple[object, object, list[dict] | None]:
        failed = await request(app, "post", "/webhooks/callback/webhook", json=body)
        again = await request(app, "post", "/webhooks/callback/webhook", json=body)
        return failed, again, await agent.tracker_store.load_events("cal")

    failed, again, stored = asyncio.run(main())
    # the client is told, so it can send the message again; nothing went to the URL
    assert failed.status == 503 and (again.status, again.text) == (200, "success")
    assert user_texts(stored) == ["/greet"]
    assert callback_receiver.received == [{"recipient_id": "cal", "text": "Hello! How can I help?"}]


def test_the_replies_are_delivered_when_the_client_hangs_up_mid_turn(
        make_app, tiny_model, callback_receiver: CallbackReceiver) -> None:
    """The client does not wait for the slow turn and Sanic cancels its request: the
    replies still reach the callback URL, before the server's stop is over."""

    import aiohttp
    from failing_turns import GatedStore
    from serving_helpers import hang_ups_counted, serving, until

    from dialogflowlite.agent import Agent
    from dialogflowlite.stores.memory import MemoryLockStore

    store = GatedStore()
    agent = Agent.load(tiny_model, tracker_store=store, lock_store=MemoryLockStore())
    app = make_app(agent=agent, credentials={"callback": {"url": callback_receiver.url}})

    async def scenario() -> list[dict]:
        async with serving(app) as url:
            async with aiohttp.ClientSession() as session:
                posting = asyncio.create_task(session.post(
                    f"{url}/webhooks/callback/webhook",
                    json={"sender": "cal", "message": "/greet"}))
                await store.writing.wait()
                posting.cancel()
                with pytest.raises(asyncio.CancelledError):
                    await posting
            # Sanic notices the lost connection, cancels the handler
            await until(lambda: hang_ups_counted(app) == 1, "the hang-up to be noticed")
            received_before = callback_receiver.received
            asyncio.get_running_loop().call_later(0.3, store.gate.set)
        return received_before

    assert asyncio.run(scenario()) == []
    assert callback_receiver.received == [{"recipient_id": "cal", "text": "Hello! How can I help?"}]
