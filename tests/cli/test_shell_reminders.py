"""``dialogflowlite shell`` prints a fired reminder's messages like the bot's answers."""

from __future__ import annotations

import asyncio
import io
from datetime import datetime, timedelta, timezone
from pathlib import Path

from dialogflowlite.cli.shell import connect_console_reminders, console_sender
from dialogflowlite.server.channels.console import ConsoleChannel
from dialogflowlite.shared.events import ReminderScheduled


def console(sender_id: str = "tester") -> ConsoleChannel:
    return ConsoleChannel(sender_id=sender_id, stdin=io.StringIO(), stdout=io.StringIO(),
                          history_file=None)


def test_replies_of_the_consoles_conversation_print_like_answers() -> None:
    channel = console()
    send = console_sender(channel)
    replies = [{"recipient_id": "tester", "text": "Time to stretch!"},
               {"recipient_id": "tester", "text": "Now?",
                "quick_replies": [{"title": "Yes", "payload": "/affirm"}]}]
    assert asyncio.run(send("tester", "console", replies)) is True
    assert channel.stdout.getvalue().splitlines() == ["Time to stretch!", "Now?", "  1: Yes"]
    # the reminder's buttons are the ones a number picks next, as an answer's are
    assert channel.resolve_choice("1") == "/affirm"


def test_replies_of_another_conversation_or_channel_are_not_printed() -> None:
    channel = console()
    send = console_sender(channel)
    reply = [{"recipient_id": "x", "text": "hi"}]
    assert asyncio.run(send("someone-else", "console", reply)) is False
    assert asyncio.run(send("tester", "rest", reply)) is False
    assert asyncio.run(send("tester", None, reply)) is False
    assert channel.stdout.getvalue() == ""


def test_a_fired_reminder_of_the_shells_conversation_is_printed(tiny_bot_model: Path) -> None:
    from dialogflowlite.agent import Agent

    agent = Agent.load(tiny_bot_model)
    channel = console()
    connect_console_reminders(agent, channel)
    when = (datetime.now(timezone.utc) + timedelta(seconds=60)).isoformat()
    reminder = ReminderScheduled(intent="greet", date_time=when, name="hello-again")

    async def main() -> None:
        await agent.processor.append_events("tester", [reminder])
        # as the scheduler calls it once the time has come, with the channel of the
        # turn that scheduled it
        await agent.processor.handle_reminder(reminder, "tester", "console")
        await agent.processor.close()

    asyncio.run(main())
    assert channel.stdout.getvalue().splitlines() == ["Hello! How can I help?"]


def test_a_sender_set_already_is_kept() -> None:
    class Processor:
        unasked_sender = object()

    class Owner:
        processor = Processor()

    owner = Owner()
    kept = owner.processor.unasked_sender
    connect_console_reminders(owner, console())
    assert owner.processor.unasked_sender is kept
