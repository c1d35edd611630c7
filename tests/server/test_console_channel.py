"""The console channel: numbers pick the buttons of the bot's latest message, sent unasked too."""

from __future__ import annotations

import asyncio
import io
from typing import Any

from dialogflowlite.server.channels.base import send_unasked
from dialogflowlite.server.channels.console import ConsoleChannel

STRETCH = [{"recipient_id": "me", "text": "Time to stretch?",
            "quick_replies": [{"title": "Yes", "payload": "/affirm"},
                              {"title": "Later", "payload": "/deny"}]}]


def console(typed: str) -> ConsoleChannel:
    return ConsoleChannel(sender_id="me", stdin=io.StringIO(typed), stdout=io.StringIO(),
                          history_file=None)


def chat(channel: ConsoleChannel, answers: list[list[dict[str, Any]]],
         unasked: list[dict[str, Any]] | None = None) -> list[str]:
    """Run the console; what the bot got. ``unasked`` replies arrive before the first line."""
    got: list[str] = []

    async def on_message(message: Any) -> list[dict[str, Any]]:
        got.append(message.text)
        return answers.pop(0) if answers else []

    async def main() -> None:
        if unasked is not None:
            assert await send_unasked(channel, "me", unasked)
        await channel.run(on_message)

    asyncio.run(main())
    return got


def test_a_number_picks_a_button_of_a_reminders_message() -> None:
    channel = console("2\n")
    assert chat(channel, [], unasked=STRETCH) == ["/deny"]
    shown = channel.stdout.getvalue().splitlines()
    assert shown[:3] == ["Time to stretch?", "  1: Yes", "  2: Later"]


def test_the_latest_message_shown_is_the_one_picked_from() -> None:
    colours = [{"text": "Pick a colour", "buttons": [{"title": "Red", "payload": "/red"}]}]
    channel = console("/greet\n1\n1\nok\n1\n")
    got: list[str] = []

    async def on_message(message: Any) -> list[dict[str, Any]]:
        got.append(message.text)
        if message.text == "/greet":
            return colours
        if message.text == "/red":
            # a reminder fires while the bot thinks; the answer itself shows nothing
            await channel.send_to("me", STRETCH)
            return []
        return [{"text": "Fine."}]

    asyncio.run(channel.run(on_message))
    # the answer's button; then the reminder's; then an answer without buttons
    assert got == ["/greet", "/red", "/affirm", "ok", "1"]


def test_another_conversations_messages_are_not_shown() -> None:
    channel = console("1\n")
    assert asyncio.run(channel.send_to("someone-else", STRETCH)) is False
    assert channel.stdout.getvalue() == ""
    # nothing to pick: the number goes as typed
    assert chat(channel, []) == ["1"]


def test_a_restart_forgets_the_buttons_shown_before() -> None:
    channel = console("/restart\n1\n")
    assert chat(channel, [[]], unasked=STRETCH) == ["/restart", "1"]
