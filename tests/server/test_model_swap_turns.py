"""A turn runs on one model: the model that parses its message handles it, whatever
``PUT /model`` or ``DELETE /model`` does while the turn waits for its parse."""

from __future__ import annotations

import asyncio
import shutil
import threading
from pathlib import Path
from typing import Any

import aiohttp
from serving_helpers import GREETING, OTHER_GREETING, serving, until

from dialogflowlite.server.app import ServerConfig, create_app


class GatedParses:
    """Wraps an agent's parsing: records what it parsed, and holds the parse of
    ``"blocker"`` (on the NLU thread) until :attr:`gate` opens."""

    def __init__(self, agent: Any) -> None:
        self.parsed: list[str] = []
        self.gate = threading.Event()
        original = agent.parse_messages

        async def gated(texts: list[str]) -> Any:
            self.parsed.extend(texts)
            if "blocker" in texts:
                self.gate.wait(30)
            return await original(texts)

        agent.parse_messages = gated


async def _turn_waiting_for_its_parse(app: Any, url: str, session: aiohttp.ClientSession
                                      ) -> tuple[GatedParses, asyncio.Task, asyncio.Task]:
    """A ``/model/parse`` that holds the NLU thread, and a turn whose parse waits
    behind it, begun (and holding its agent) on the running model."""
    old = GatedParses(app.ctx.agent)
    blocker = asyncio.create_task(session.post(f"{url}/model/parse", json={"text": "blocker"}))
    await until(lambda: "blocker" in old.parsed, "the blocking parse to begin")
    turn = asyncio.create_task(session.post(f"{url}/webhooks/rest/webhook",
                                            json={"sender": "t", "message": "/greet"}))
    await until(lambda: len(app.ctx.handler.batcher._pending) == 1,
                "the turn's parse to wait behind it")
    return old, blocker, turn


def _app(tiny_project: Path, other_model: Path) -> Any:
    shutil.copy(other_model, tiny_project / "models" / "other.tar")
    first = next(p for p in (tiny_project / "models").glob("*.tar") if p.name != "other.tar")
    return create_app(ServerConfig(project=str(tiny_project), model_path=str(first),
                                   enable_api=True, credentials={}, endpoints={}))


def test_a_model_swapped_in_during_a_turn_neither_parses_nor_handles_it(
        tiny_project: Path, other_model: Path) -> None:
    app = _app(tiny_project, other_model)

    async def main() -> None:
        async with serving(app) as url, aiohttp.ClientSession() as session:
            old, blocker, turn = await _turn_waiting_for_its_parse(app, url, session)
            async with session.put(f"{url}/model",
                                   json={"model_file": "models/other.tar"}) as response:
                assert response.status == 204, await response.text()
            new = GatedParses(app.ctx.agent)
            old.gate.set()
            async with await blocker as response:
                assert response.status == 200
            async with await turn as response:
                assert response.status == 200, await response.text()
                replies = await response.json()
            # parsed and handled by the model the turn began on
            assert "/greet" in old.parsed and "/greet" not in new.parsed
            assert [r["text"] for r in replies] == [GREETING]
            # the next turn runs on the new model, both halves
            async with session.post(f"{url}/webhooks/rest/webhook",
                                    json={"sender": "t2", "message": "/greet"}) as response:
                assert [r["text"] for r in await response.json()] == [OTHER_GREETING]
            assert old.parsed.count("/greet") == 1 and new.parsed == ["/greet"]

    asyncio.run(main())


def test_a_turn_running_when_the_model_is_unloaded_finishes_on_its_model(
        tiny_project: Path, other_model: Path) -> None:
    app = _app(tiny_project, other_model)

    async def main() -> None:
        async with serving(app) as url, aiohttp.ClientSession() as session:
            old, blocker, turn = await _turn_waiting_for_its_parse(app, url, session)
            async with session.delete(f"{url}/model") as response:
                assert response.status == 204
            old.gate.set()
            async with await blocker as response:
                assert response.status == 200
            async with await turn as response:
                assert response.status == 200, await response.text()
                assert [r["text"] for r in await response.json()] == [GREETING]
            # later requests: no model, 409 as in Rasa
            async with session.post(f"{url}/webhooks/rest/webhook",
                                    json={"sender": "t", "message": "/greet"}) as response:
                assert response.status == 409
                assert (await response.json())["reason"] == "Conflict"
            async with session.post(f"{url}/model/parse", json={"text": "hi"}) as response:
                assert response.status == 409
            # the turn was stored: the next model continues the conversation
            async with session.put(f"{url}/model",
                                   json={"model_file": "models/other.tar"}) as response:
                assert response.status == 204, await response.text()
            async with session.get(f"{url}/conversations/t/tracker") as response:
                events = (await response.json())["events"]
            assert [e["text"] for e in events if e["event"] == "bot"] == [GREETING]

    asyncio.run(main())


def test_parse_many_parses_every_chunk_with_the_model_current_when_called() -> None:
    """A batch of texts (a story test's) is parsed by one model, even when ``PUT /model``
    replaces it between two chunks."""
    from types import SimpleNamespace

    from dialogflowlite.server.handling import MessageHandler

    app = SimpleNamespace(ctx=SimpleNamespace(agent=None, metrics=None))

    class Model:
        def __init__(self, name: str) -> None:
            self.name = name

        async def parse_messages(self, texts: list[str]) -> list[dict[str, Any]]:
            app.ctx.agent = replacement  # swapped in while this chunk is parsed
            return [{"text": text, "model": self.name} for text in texts]

    replacement = Model("new")
    app.ctx.agent = Model("old")
    results = asyncio.run(MessageHandler(app).parse_many(["a", "b", "c"], chunk=1))
    assert [r["model"] for r in results] == ["old", "old", "old"]
    assert [r["text"] for r in results] == ["a", "b", "c"]
