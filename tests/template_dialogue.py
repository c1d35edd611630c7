"""Talk to a template's trained dialogue policies with /intent messages (no NLU needed)."""

from __future__ import annotations

import asyncio

#: actions every conversation has, which say nothing about the policies' choices
_ROUTINE = ("action_listen", "action_session_start")


def bot_actions(agent, sender: str, intents: list[str]) -> list[tuple[str, str]]:
    """(action, policy) of every bot action after each of ``intents``, sent as /intent."""

    async def talk():
        for intent in intents:
            await agent.handle_text(f"/{intent}", sender_id=sender)
        return await agent.get_tracker(sender)

    events = [event.as_dict() for event in asyncio.run(talk()).events]
    return [(e["name"], e["policy"]) for e in events
            if e["event"] == "action" and e["name"] not in _ROUTINE]


def last_bot_text(agent, sender: str) -> str | None:
    """The text of the bot's last message to ``sender``, also when an ``action_restart``
    came after it (a restart clears ``latest_bot_utterance``, not the events)."""
    texts = bot_texts(agent, sender)
    return texts[-1] if texts else None


def bot_texts(agent, sender: str) -> list[str | None]:
    """The texts of every bot message to ``sender`` so far, restarts included."""
    events = asyncio.run(agent.get_tracker(sender)).events
    return [e.text for e in events if e.as_dict()["event"] == "bot"]
