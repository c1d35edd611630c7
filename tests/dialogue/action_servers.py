"""Action servers on loopback and the trip-form domain their tests talk about.

``trip_form_domain`` writes the domain both remote-action suites share (a
form asking for the city, a ``visits`` slot custom actions count in);
``LoopbackServer`` serves an aiohttp app on a free port; ``converse`` runs
messages through a bot whose custom actions go to such a server.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from dialogflowlite.dialogue.custom_actions import CustomActionExecutor
from dialogflowlite.dialogue.messages import IncomingMessage
from dialogflowlite.dialogue.remote_actions import ActionEndpoint

#: the responses of the trip form: its question and its answer once filled
TRIP_RESPONSES = """\
  utter_ask_city:
  - text: Where to?
  utter_done:
  - text: "Going to {city}"
"""

_CITY_SLOT = """\
  city:
    type: text
    mappings: [{type: from_entity, entity: city}]
"""

_VISITS_SLOT = """\
  visits:
    type: float
    mappings: [{type: custom}]
"""


def trip_form_domain(intents: list[str], actions: list[str], *, slots: str = "",
                     responses: str = "") -> str:
    """A Rasa 3 domain with the city entity, a ``trip_form`` asking for it, and the
    ``visits`` slot; ``slots`` and ``responses`` (indented entries) come before the
    shared ones."""
    return ('version: "3.1"\n'
            f"intents: [{', '.join(intents)}]\n"
            "entities: [city]\n"
            "slots:\n" + _CITY_SLOT + slots + _VISITS_SLOT
            + "forms:\n  trip_form:\n    required_slots: [city]\n"
            + "responses:\n" + responses + TRIP_RESPONSES
            + f"actions: [{', '.join(actions)}]\n")


def sdk_message(text: str | None = None, **fields: Any) -> dict[str, Any]:
    """A response as rasa-sdk's ``dispatcher.utter_message`` sends it: every key, the
    ones not given empty."""
    return {"text": text, "buttons": [], "elements": [], "custom": {}, "template": None,
            "response": None, "image": None, "attachment": None, **fields}


Route = Callable[[web.Request], Awaitable[web.StreamResponse]]


class LoopbackServer:
    """An aiohttp app on a free port of 127.0.0.1; ``url`` is its ``/webhook``."""

    def __init__(self) -> None:
        self.runner: web.AppRunner | None = None
        self.url = ""

    def routes(self) -> dict[str, Route]:
        """The POST routes of the app, by path."""
        raise NotImplementedError

    async def start(self) -> None:
        app = web.Application()
        for path, route in self.routes().items():
            app.router.add_post(path, route)
        self.runner = web.AppRunner(app)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}/webhook"

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()


def converse(bot: Callable[..., Any], domain: str, rules: Any, messages: list[str], *,
             url: str | None = None, server: LoopbackServer | None = None,
             timeout: float = 5.0, selective_domain: bool = False,
             path: str = "/webhook") -> list[Any]:
    """The turns of ``messages`` (from ``ann``) with ``bot(domain, rules)``, whose custom
    actions go to ``url``, or to ``server`` (running for the conversation) at ``path``."""

    async def main() -> list[Any]:
        address = url
        if server is not None:
            await server.start()
            address = server.url.removesuffix("/webhook") + path
        endpoint = ActionEndpoint(url=address, timeout=timeout,
                                  selective_domain=selective_domain)
        processor = bot(domain, rules, executor=CustomActionExecutor(endpoint))
        try:
            return [await processor.handle_message(IncomingMessage(text, "ann"))
                    for text in messages]
        finally:
            if server is not None:
                await server.stop()

    return asyncio.run(main())
