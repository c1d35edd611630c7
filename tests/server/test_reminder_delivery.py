"""A fired reminder's messages reach the user through the channel of the latest user message."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone

import pytest
from serving_helpers import StubHttpServer, request

GREETING = {"recipient_id": "cal", "text": "Hello! How can I help?"}


class Receiver(StubHttpServer):
    """A callback URL that records the JSON posted to it."""

    def __init__(self) -> None:
        super().__init__(lambda request: (200, {}, b""), path="/replies")

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


def greet_reminder(seconds: float = 0.3) -> dict:
    when = datetime.now(timezone.utc) + timedelta(seconds=seconds)
    return {"event": "reminder", "intent": "greet", "date_time": when.isoformat(),
            "kill_on_user_msg": False}


async def remind_after_message(app, agent, channel: str, sender: str) -> list[dict]:
    """The user writes through ``channel``, a reminder is scheduled and fires; the
    conversation's stored events."""
    webhook = "/webhooks/callback/webhook" if channel == "callback" else "/webhooks/rest/webhook"
    response = await request(app, "post", webhook, json={"sender": sender, "message": "/greet"})
    assert response.status == 200, response.text
    response = await request(app, "post", f"/conversations/{sender}/tracker/events",
                             json=[greet_reminder()], params={"execute_side_effects": "true"})
    assert response.status == 200, response.text
    await asyncio.sleep(1.0)
    await agent.processor.reminders.close()
    return await agent.tracker_store.load_events(sender)


def test_a_reminder_is_pushed_through_the_channel_the_user_wrote_through(
        make_app, agent, receiver: Receiver) -> None:
    app = make_app(credentials={"callback": {"url": receiver.url}, "rest": {}})
    stored = asyncio.run(remind_after_message(app, agent, "callback", "cal"))
    assert stored[-1]["event"] == "action" and stored[-1]["name"] == "action_listen"
    assert [e["text"] for e in stored if e["event"] == "user"][-1] == "EXTERNAL: greet"
    # the answer to the user's message, then the reminder's message, unasked
    assert receiver.received == [GREETING, GREETING]


def test_a_reminder_of_a_rest_conversation_is_only_stored(make_app, agent, receiver: Receiver,
                                                          caplog) -> None:
    app = make_app(credentials={"callback": {"url": receiver.url}, "rest": {}})
    with caplog.at_level(logging.DEBUG, logger="dialogflowlite.dialogue.processor"):
        stored = asyncio.run(remind_after_message(app, agent, "rest", "rex"))
    assert [e["text"] for e in stored if e["event"] == "bot"] == [GREETING["text"]] * 2
    assert receiver.received == []
    assert "of 'rex' were only stored" in caplog.text
