"""``PUT /model`` with ``model_server``: download a model and switch to it, as Rasa does."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from serving_helpers import OTHER_GREETING, StubHttpServer, request, serving, until


def _host(body: bytes) -> StubHttpServer:
    def answer(request: Any) -> tuple[int, dict, bytes]:
        if request.headers.get("If-None-Match") == '"v1"':
            return 304, {}, b""
        return 200, {"ETag": '"v1"'}, body

    return StubHttpServer(answer, path="/bot.tar")


async def _greeting(app) -> str:
    response = await request(app, "post", "/webhooks/rest/webhook",
                             json={"sender": "mo", "message": "/greet"})
    return response.json[0]["text"]


def test_the_model_is_downloaded_and_served(make_app, other_model, tmp_path) -> None:
    host = _host(other_model.read_bytes())
    app = make_app()

    async def main() -> None:
        assert await _greeting(app) != OTHER_GREETING
        response = await request(app, "put", "/model", json={"model_server": {
            "url": host.url, "wait_time_between_pulls": 0}})
        assert response.status == 204, response.text
        assert await _greeting(app) == OTHER_GREETING
        assert app.ctx.model_file.parent == tmp_path / "models"
        assert app.ctx.model_file.name.startswith("pulled-")
        assert app.ctx.model_pulling is None  # 0: pulled once

    try:
        asyncio.run(main())
    finally:
        host.close()


def test_the_server_keeps_pulling_from_there(make_app, other_model) -> None:
    # Rasa pulls every `wait_time_between_pulls` seconds (100 unless given) from then on
    import aiohttp

    host = _host(other_model.read_bytes())
    app = make_app()

    async def main() -> None:
        async with serving(app) as url, aiohttp.ClientSession() as session:
            async with session.put(f"{url}/model", json={"model_server": {
                    "url": host.url, "wait_time_between_pulls": 0.05}}) as response:
                assert response.status == 204, await response.text()
            await until(lambda: len(host.requests) >= 3,
                        "a pull, then two more requests to the model server")
            async with session.post(f"{url}/webhooks/rest/webhook",
                                    json={"sender": "mo", "message": "/greet"}) as response:
                assert (await response.json())[0]["text"] == OTHER_GREETING

    try:
        asyncio.run(main())
    finally:
        host.close()
    # asked again with the ETag of what it has: 304 changes nothing
    assert [r.headers.get("If-None-Match") for r in host.requests[:3]] == [None, '"v1"', '"v1"']


def test_a_download_that_is_no_model_is_400_and_the_model_stays(make_app, tmp_path) -> None:
    host = _host(b"this is not a model")
    app = make_app()

    async def main() -> None:
        before = await _greeting(app)
        response = await request(app, "put", "/model", json={"model_server": {
            "url": host.url, "wait_time_between_pulls": 0}})
        assert response.status == 400 and response.json["reason"] == "LoadingError"
        assert response.json["message"] == (
            f"the model server {host.url} sent no model to serve (it sent no usable model "
            "(no model file)); the running model stays")
        assert await _greeting(app) == before
        assert not list((tmp_path / "models").glob("pulled-*"))

    try:
        asyncio.run(main())
    finally:
        host.close()


def test_a_model_server_with_no_model_is_400_saying_so(make_app) -> None:
    """A model server that has no model yet answers 204: the 400 says so (it said "the
    server's log says why", and the log said nothing of a 204)."""
    host = StubHttpServer(lambda request: (204, {}, b""), path="/bot.tar")
    app = make_app()

    async def main() -> None:
        response = await request(app, "put", "/model", json={"model_server": {
            "url": host.url, "wait_time_between_pulls": 0}})
        assert response.status == 400 and response.json["reason"] == "LoadingError"
        assert response.json["message"] == (
            f"the model server {host.url} sent no model to serve (it answered HTTP 204: "
            "it has no model); the running model stays")

    try:
        asyncio.run(main())
    finally:
        host.close()


@pytest.mark.parametrize("section", [
    "https://models.example.com/bot.tar",
    {"url": "ftp://models.example.com/bot.tar"},
    {"wait_time_between_pulls": 10},
    {"url": "https://models.example.com/bot.tar", "keep": 0},
])
def test_a_model_server_that_is_not_one_is_400_naming_it(make_app, section) -> None:
    response = asyncio.run(request(make_app(), "put", "/model",
                                   json={"model_server": section}))
    assert response.status == 400, response.text
    assert response.json["details"] == {"parameter": "model_server", "in": "body"}
    assert "endpoints.yml" not in response.json["message"]


def test_remote_storage_is_refused_naming_it(make_app) -> None:
    response = asyncio.run(request(make_app(), "put", "/model",
                                   json={"remote_storage": "aws"}))
    assert response.status == 400
    assert response.json["details"] == {"parameter": "remote_storage", "in": "body"}
