"""The ``slots`` of ``GET /conversations/{id}/tracker``, as Rasa's tracker lists them."""

from __future__ import annotations

import asyncio

from serving_helpers import request


def test_a_new_conversation_lists_every_slot_and_session_started_metadata(make_app) -> None:
    app = make_app()

    async def main() -> dict:
        return (await request(app, "get", "/conversations/new-one/tracker")).json["slots"]

    # Rasa's domain always has session_started_metadata: null until a session sets it
    assert asyncio.run(main()) == {"colour": None, "email": None,
                                   "session_started_metadata": None}

