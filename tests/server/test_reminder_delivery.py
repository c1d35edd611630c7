"""A fired reminder's messages reach the user through the channel of the request that
scheduled it, as in Rasa: here the ``output_channel`` of ``POST .../tracker/events``."""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import datetime, timedelta, timezone

from serving_helpers import CallbackReceiver, request

GREETING = {"recipient_id": "cal", "text": "Hello! How can I help?"}


def greet_reminder(seconds: float = 0.3) -> dict:
    when = datetime.now(timezone.utc) + timedelta(seconds=seconds)
    return {"event": "reminder", "intent": "greet", "date_time": when.isoformat(),
            "kill_on_user_msg": False}


async def remind_after_message(app, agent, channel: str, sender: str,
                               output_channel: str | None = "latest") -> list[dict]:
    """The user writes through ``channel``, a reminder is scheduled (with
    ``output_channel``) and fires; the conversation's stored events."""
    webhook = "/webhooks/callback/webhook" if channel == "callback" else "/webhooks/rest/webhook"
    response = await request(app, "post", webhook, json={"sender": sender, "message": "/greet"})
    assert response.status == 200, response.text
    params = {"execute_side_effects": "true"}
    if output_channel is not None:
        params["output_channel"] = output_channel
    response = await request(app, "post", f"/conversations/{sender}/tracker/events",
                             json=[greet_reminder()], params=params)
    assert response.status == 200, response.text
    await _reminder_fired(agent, sender)
    await agent.processor.reminders.close()
    return await agent.tracker_store.load_events(sender)


async def _reminder_fired(agent, sender: str, timeout: float = 30.0) -> None:
    """Wait until the reminder's message (``EXTERNAL: greet``) is in the conversation: a
    loaded machine may fire it seconds late, and closing the reminders before would
    cancel it."""
    deadline = time.monotonic() + timeout
    while not any(e["event"] == "user" and e["text"] == "EXTERNAL: greet"
                  for e in await agent.tracker_store.load_events(sender)):
        assert time.monotonic() < deadline, f"the reminder did not fire in {timeout:.0f} s"
        await asyncio.sleep(0.05)


def test_a_reminder_is_pushed_through_the_channel_the_user_wrote_through(
        make_app, agent, callback_receiver: CallbackReceiver) -> None:
    app = make_app(credentials={"callback": {"url": callback_receiver.url}, "rest": {}})
    stored = asyncio.run(remind_after_message(app, agent, "callback", "cal"))
    assert stored[-1]["event"] == "action" and stored[-1]["name"] == "action_listen"
    assert [e["text"] for e in stored if e["event"] == "user"][-1] == "EXTERNAL: greet"
    # the answer to the user's message, then the reminder's message, unasked
    assert callback_receiver.received == [GREETING, GREETING]


def test_a_reminder_of_a_rest_conversation_is_only_stored(
        make_app, agent, callback_receiver: CallbackReceiver, caplog) -> None:
    app = make_app(credentials={"callback": {"url": callback_receiver.url}, "rest": {}})
    with caplog.at_level(logging.DEBUG, logger="dialogflowlite.dialogue.processor"):
        stored = asyncio.run(remind_after_message(app, agent, "rest", "rex"))
    assert [e["text"] for e in stored if e["event"] == "bot"] == [GREETING["text"]] * 2
    assert callback_receiver.received == []
    assert "of 'rex' were only stored" in caplog.text


def test_a_reminder_appended_without_an_output_channel_is_only_stored(
        make_app, agent, callback_receiver: CallbackReceiver) -> None:
    # Rasa's collecting output channel: the messages of the reminder reach no one,
    # though the user's latest message came through a channel that could push them
    app = make_app(credentials={"callback": {"url": callback_receiver.url}, "rest": {}})
    stored = asyncio.run(remind_after_message(app, agent, "callback", "cid", None))
    assert [e["text"] for e in stored if e["event"] == "bot"] == [GREETING["text"]] * 2
    assert callback_receiver.received == [{**GREETING, "recipient_id": "cid"}]


def test_a_reminder_put_without_a_name_is_stored_with_one(make_app, agent) -> None:
    app = make_app()

    async def main() -> list[dict]:
        response = await request(app, "put", "/conversations/pat/tracker/events",
                                 json=[greet_reminder(60)])
        assert response.status == 200, response.text
        [answered] = [e for e in response.json["events"] if e["event"] == "reminder"]
        stored = await agent.tracker_store.load_events("pat")
        assert [e["name"] for e in stored if e["event"] == "reminder"] == [answered["name"]]
        return stored

    stored = asyncio.run(main())
    assert all(e["name"] for e in stored if e["event"] == "reminder")
