"""``PUT /model`` swaps the model while serving; old models are freed, memory stays flat."""

from __future__ import annotations

import asyncio
import gc
import shutil
import weakref
from pathlib import Path

import aiohttp
import psutil
from serving_helpers import serving

from dialogflowlite.server.app import ServerConfig, create_app

SWAPS = 20


def test_twenty_swaps_while_serving_free_every_old_model(tiny_project: Path) -> None:
    first = next((tiny_project / "models").glob("*.tar"))
    second = first.with_name("second.tar")
    shutil.copy(first, second)
    app = create_app(ServerConfig(project=str(tiny_project), enable_api=True, credentials={},
                                  endpoints={}))
    process = psutil.Process()
    old_agents: list[weakref.ref] = []
    rss: dict[int, int] = {}

    async def main() -> dict:
        async with serving(app) as url, aiohttp.ClientSession() as session:
            stop = asyncio.Event()
            answers: list[int] = []

            async def chat() -> None:
                turn = 0
                while not stop.is_set():
                    text = ("/greet", '/choose{"colour": "red"}')[turn % 2]
                    async with session.post(f"{url}/webhooks/rest/webhook",
                                            json={"sender": "swapper", "message": text}) as r:
                        answers.append(r.status)
                        assert r.status == 200 and (await r.json())[0]["text"]
                    turn += 1

            chatter = asyncio.create_task(chat())
            for swap in range(1, SWAPS + 1):
                old_agents.append(weakref.ref(app.ctx.agent))
                target = (second if swap % 2 else first).name
                async with session.put(f"{url}/model",
                                       json={"model_file": f"models/{target}"}) as response:
                    assert response.status == 204, await response.text()
                assert app.ctx.model_file.name == target
                await asyncio.sleep(0.02)
                if swap in (5, SWAPS):
                    gc.collect()
                    rss[swap] = process.memory_info().rss
            stop.set()
            await chatter
            async with session.get(f"{url}/conversations/swapper/tracker",
                                   params={"include_events": "ALL"}) as response:
                state = await response.json()
            async with session.get(f"{url}/metrics") as response:
                metrics = await response.text()
            return {"answers": answers, "state": state, "metrics": metrics}

    result = asyncio.run(main())
    assert len(result["answers"]) >= SWAPS and set(result["answers"]) == {200}
    # The conversation went on through every swap, in one tracker store.
    users = [e for e in result["state"]["events"] if e["event"] == "user"]
    assert len(users) == len(result["answers"])
    gc.collect()
    alive = [ref for ref in old_agents if ref() is not None]
    assert alive == [], f"{len(alive)} of {SWAPS} replaced agents are still in memory"
    growth_mb = (rss[SWAPS] - rss[5]) / 2**20
    assert growth_mb < 25, f"RSS grew by {growth_mb:.1f} MB over {SWAPS - 5} swaps"
    assert f"dfl_model_loads_total {SWAPS + 1}" in result["metrics"]


def test_a_bad_model_file_keeps_the_running_model(tiny_project: Path) -> None:
    model = next((tiny_project / "models").glob("*.tar"))
    (tiny_project / "models" / "broken.tar").write_bytes(b"not a tar file")
    app = create_app(ServerConfig(project=str(tiny_project), model_path=str(model),
                                  enable_api=True, credentials={}, endpoints={}))

    async def main() -> None:
        async with serving(app) as url, aiohttp.ClientSession() as session:
            running = app.ctx.agent
            async with session.put(f"{url}/model",
                                   json={"model_file": "models/broken.tar"}) as response:
                body = await response.json()
                assert response.status == 400 and body["reason"] == "LoadingError"
                assert str(tiny_project) not in body["message"]
            assert app.ctx.agent is running
            async with session.post(f"{url}/webhooks/rest/webhook",
                                    json={"sender": "a", "message": "/greet"}) as response:
                assert response.status == 200

    asyncio.run(main())


def test_the_stop_cancels_the_reminders_of_a_swapped_out_model(tiny_project: Path) -> None:
    """A reminder scheduled on a model that ``PUT /model`` then replaced is still
    pending there; the server's stop cancels it before the stores close."""
    from datetime import datetime, timedelta, timezone

    from dialogflowlite.shared.events import ReminderScheduled

    first = next((tiny_project / "models").glob("*.tar"))
    shutil.copy(first, first.with_name("second.tar"))
    app = create_app(ServerConfig(project=str(tiny_project), model_path=str(first),
                                  enable_api=True, credentials={}, endpoints={}))
    due = (datetime.now(timezone.utc) + timedelta(seconds=30)).isoformat()

    async def main() -> tuple[int, int, int]:
        async with serving(app) as url, aiohttp.ClientSession() as session:
            old = app.ctx.agent.processor
            old.reminders.schedule(ReminderScheduled(intent="greet", date_time=due,
                                                     name="later"), "rem")
            async with session.put(f"{url}/model",
                                   json={"model_file": "models/second.tar"}) as response:
                assert response.status == 204, await response.text()
            assert app.ctx.agent.processor is not old
            new = app.ctx.agent.processor
            new.reminders.schedule(ReminderScheduled(intent="greet", date_time=due,
                                                     name="later"), "rem")
            before = len(old.reminders.pending())
        return before, len(old.reminders.pending()), len(new.reminders.pending())

    assert asyncio.run(main()) == (1, 0, 0)
