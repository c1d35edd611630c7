"""``DELETE /model``: later requests get 409 as in Rasa; the stores stay open for the
next model and close at the server's stop."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import aiohttp
from serving_helpers import serving

from dialogflowlite.server.app import ServerConfig, create_app


def _app(tiny_project: Path) -> Any:
    return create_app(ServerConfig(project=str(tiny_project), enable_api=True,
                                   credentials={}, endpoints={}))


def test_the_model_put_after_an_unload_continues_in_the_same_stores(tiny_project: Path) -> None:
    app = _app(tiny_project)
    model = next((tiny_project / "models").glob("*.tar"))

    async def main() -> None:
        async with serving(app) as url, aiohttp.ClientSession() as session:
            stores = (app.ctx.agent.tracker_store, app.ctx.agent.lock_store)
            async with session.post(f"{url}/webhooks/rest/webhook",
                                    json={"sender": "u", "message": "/greet"}) as response:
                assert response.status == 200
            async with session.delete(f"{url}/model") as response:
                assert response.status == 204
            for method, path, body in (("get", "/status", None), ("get", "/domain", None),
                                       ("post", "/model/parse", {"text": "hi"}),
                                       ("post", "/webhooks/rest/webhook",
                                        {"sender": "u", "message": "/greet"})):
                async with session.request(method, f"{url}{path}", json=body) as response:
                    assert response.status == 409, path
            async with session.put(f"{url}/model",
                                   json={"model_file": f"models/{model.name}"}) as response:
                assert response.status == 204, await response.text()
            # no second set of connections: the new model took the unloaded one's stores
            assert (app.ctx.agent.tracker_store, app.ctx.agent.lock_store) == stores
            async with session.get(f"{url}/conversations/u/tracker") as response:
                events = (await response.json())["events"]
            assert [e["text"] for e in events if e["event"] == "user"] == ["/greet"]

    asyncio.run(main())


def test_the_stop_closes_the_stores_of_an_unloaded_model(tiny_project: Path) -> None:
    app = _app(tiny_project)
    closed: list[str] = []

    async def main() -> None:
        async with serving(app) as url, aiohttp.ClientSession() as session:
            store = app.ctx.agent.tracker_store
            close = store.close

            async def recording_close() -> None:
                closed.append(type(store).__name__)
                await close()

            store.close = recording_close
            async with session.delete(f"{url}/model") as response:
                assert response.status == 204

    asyncio.run(main())
    assert len(closed) == 1
