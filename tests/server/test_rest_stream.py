"""The REST channel's ``?stream=true``: Rasa's streamed answer, one JSON reply per line."""

from __future__ import annotations

import asyncio
import json

import aiohttp
from serving_helpers import CARDS, greet_with, request, serving

WEBHOOK = "/webhooks/rest/webhook"


def _lines(body: bytes) -> list[dict]:
    text = body.decode()
    assert text.endswith("\n"), "each reply, the last one too, ends its line"
    return [json.loads(line) for line in text.splitlines()]


def test_stream_true_answers_each_reply_as_a_json_line(make_app, agent) -> None:
    greet_with(agent, CARDS)  # a text and two cards: three replies in Rasa's REST shape
    app = make_app()

    async def main() -> tuple:
        body = {"sender": "streamer", "message": "/greet"}
        plain = await request(app, "post", WEBHOOK, json={**body, "sender": "plain"})
        streamed = await request(app, "post", f"{WEBHOOK}?stream=true", json=body)
        return plain, streamed

    plain, streamed = asyncio.run(main())
    assert streamed.status == 200
    assert streamed.headers["content-type"].startswith("text/event-stream")
    lines = _lines(streamed.body)
    assert len(lines) == 3 and lines[0]["text"] == "Our cats"
    assert all(line["recipient_id"] == "streamer" for line in lines)
    # the same replies as the plain answer, which stays a JSON list
    assert plain.headers["content-type"].startswith("application/json")
    assert lines == [{**reply, "recipient_id": "streamer"} for reply in plain.json]
    tracker = asyncio.run(agent.tracker_store.retrieve("streamer"))
    assert [e.text for e in tracker.events if e.type_name == "bot"] == ["Our cats"]


def test_stream_false_and_a_bad_flag(make_app) -> None:
    app = make_app()

    async def main() -> tuple:
        body = {"sender": "u", "message": "/greet"}
        off = await request(app, "post", f"{WEBHOOK}?stream=false", json=body)
        bad = await request(app, "post", f"{WEBHOOK}?stream=maybe", json=body)
        return off, bad

    off, bad = asyncio.run(main())
    assert off.json == [{"recipient_id": "u", "text": "Hello! How can I help?"}]
    assert bad.status == 400 and "stream must be true or false" in bad.text


def test_a_turn_that_fails_keeps_its_error_status_when_streamed(make_app) -> None:
    app = make_app()
    app.ctx.agent = None  # no model loaded

    response = asyncio.run(request(app, "post", f"{WEBHOOK}?stream=true",
                                   json={"sender": "u", "message": "/greet"}))
    assert response.status == 409
    assert "no model is loaded" in response.json["message"]


def test_a_turn_without_replies_streams_an_empty_body(make_app, agent) -> None:
    app = make_app()
    agent.domain.responses.pop("utter_greet")  # the action then says nothing

    response = asyncio.run(request(app, "post", f"{WEBHOOK}?stream=true",
                                   json={"sender": "u", "message": "/greet"}))
    assert response.status == 200 and response.body == b""


def test_the_callback_channel_does_not_stream(make_app) -> None:
    from serving_helpers import StubHttpServer

    posted: list[dict] = []
    stub = StubHttpServer(lambda r: (posted.append(json.loads(r.body)) or 200, {}, b""))
    try:
        app = make_app(credentials={"callback": {"url": stub.url}})
        response = asyncio.run(request(app, "post", "/webhooks/callback/webhook?stream=true",
                                       json={"sender": "u", "message": "/greet"}))
    finally:
        stub.close()
    # as Rasa's callback channel: the replies go to the URL, the request gets `success`
    assert response.status == 200 and response.text == "success"
    assert posted == [{"recipient_id": "u", "text": "Hello! How can I help?"}]


def test_a_served_stream_arrives_line_by_line_over_http(make_app, agent) -> None:
    greet_with(agent, CARDS)
    app = make_app()

    async def main() -> tuple[str, list[bytes]]:
        async with serving(app) as url, aiohttp.ClientSession() as session, \
                session.post(f"{url}{WEBHOOK}?stream=true",
                             json={"sender": "wire", "message": "/greet"}) as response:
            return (response.headers["Content-Type"],
                    [line async for line in response.content])

    content_type, lines = asyncio.run(main())
    assert content_type.startswith("text/event-stream")
    assert [json.loads(line)["text"] for line in lines] == ["Our cats", "Tom : grey",
                                                            "Kit : black"]


class _SlowAfterGreeting:
    """Greets, then runs an action that waits until the client has read the greeting."""

    def __init__(self) -> None:
        self.greeting_read = asyncio.Event()

    def predict_next_action(self, tracker, domain):
        from types import SimpleNamespace

        done = [e.name for e in tracker.events[tracker.events.index(tracker.latest_message):]
                if e.type_name == "action"]
        name = {0: "utter_greet", 1: "action_wait_for_reader"}.get(len(done), "action_listen")
        return SimpleNamespace(action_name=name, confidence=1.0, policy_name="Test")

    def action(self):
        gate = self.greeting_read

        class WaitForReader:
            def name(self):
                return "action_wait_for_reader"

            async def run(self, dispatcher, tracker, domain):
                await asyncio.wait_for(gate.wait(), timeout=10)
                dispatcher.utter_message(text="after the wait")
                return []

        return WaitForReader()


def test_each_actions_replies_are_on_the_wire_before_the_next_action_ends(make_app,
                                                                          agent) -> None:
    from dialogflowlite.dialogue.custom_actions import CustomActionExecutor

    policy = _SlowAfterGreeting()
    agent.processor.policies = policy
    agent.processor.executor = CustomActionExecutor(
        local_actions={"action_wait_for_reader": policy.action()})
    app = make_app()

    async def main() -> list[str]:
        read: list[str] = []
        async with serving(app) as url, aiohttp.ClientSession() as session, \
                session.post(f"{url}{WEBHOOK}?stream=true",
                             json={"sender": "early", "message": "/greet"}) as response:
            async for line in response.content:
                read.append(json.loads(line)["text"])
                # the second action waits for this: without streaming, it would time out
                app.ctx.agent.processor.policies.greeting_read.set()
        return read

    assert asyncio.run(main()) == ["Hello! How can I help?", "after the wait"]


def test_a_turn_that_fails_after_its_first_replies_cuts_the_stream_off(make_app, agent) -> None:
    from failing_turns import store_down_for

    greet_with(agent, CARDS)
    store_down_for(agent)
    app = make_app()

    async def main() -> tuple[list[bytes], BaseException | None]:
        lines: list[bytes] = []
        async with serving(app) as url, aiohttp.ClientSession() as session, \
                session.post(f"{url}{WEBHOOK}?stream=true",
                             json={"sender": "cut", "message": "/greet"}) as response:
            try:
                async for line in response.content:
                    lines.append(line)
            except aiohttp.ClientError as error:
                return lines, error
        return lines, None

    lines, error = asyncio.run(main())
    # it ended as a turn that went well (a 200 and a finished stream), nothing stored
    assert error is not None, lines
    assert "cut" not in asyncio.run(agent.tracker_store.keys())
