"""Training, testing and loading a model through the API may outlast ``--response-timeout``;
messages may not."""

from __future__ import annotations

import asyncio
from pathlib import Path

import aiohttp
from serving_helpers import CONFIG, DOMAIN, RULES, serving, training_body

SLOW = 2.5  # seconds the slow work below takes, over the 1 s response timeout
YAML = {"Content-Type": "application/yaml"}
BODY = training_body(CONFIG, DOMAIN, RULES)


async def _post(url: str, **kwargs) -> tuple[int, bytes]:
    # a session of its own: a connection another request used is not reused
    async with aiohttp.ClientSession() as session, session.post(url, **kwargs) as response:
        return response.status, await response.read()


def test_a_training_longer_than_the_response_timeout_is_answered(make_app, monkeypatch) -> None:
    from dialogflowlite.server.routes import training

    async def slow_train(job, models_dir: Path) -> Path:
        await asyncio.sleep(SLOW)
        models_dir.mkdir(parents=True, exist_ok=True)
        path = models_dir / "slow.tar"
        path.write_bytes(b"model")
        return path

    monkeypatch.setattr(training, "train_model", slow_train)
    app = make_app(response_timeout=1)

    async def main() -> tuple[int, bytes]:
        async with serving(app) as url:
            return await _post(f"{url}/model/train", data=BODY, headers=YAML)

    assert asyncio.run(main()) == (200, b"model")


def test_a_model_load_longer_than_the_response_timeout_is_answered(make_app,
                                                                   monkeypatch) -> None:
    # cut off, the model would be loaded and thrown away, and the client told 503
    from dialogflowlite.server import models

    switched: list[str] = []

    async def slow_swap(app, requested: str, **kwargs) -> Path:
        await asyncio.sleep(SLOW)
        switched.append(requested)
        return Path(requested)

    monkeypatch.setattr(models, "swap_model", slow_swap)
    app = make_app(response_timeout=1)

    async def main() -> int:
        async with serving(app) as url, aiohttp.ClientSession() as session, \
                session.put(f"{url}/model", json={"model_file": "models/big.tar"}) as answer:
            return answer.status

    assert asyncio.run(main()) == 204
    assert switched == ["models/big.tar"]


def test_a_message_longer_than_the_response_timeout_is_still_a_503(make_app,
                                                                   monkeypatch) -> None:
    from dialogflowlite.server.handling import MessageHandler

    handle = MessageHandler.handle

    async def slow_handle(self, *args, **kwargs):
        await asyncio.sleep(SLOW)
        return await handle(self, *args, **kwargs)

    monkeypatch.setattr(MessageHandler, "handle", slow_handle)
    app = make_app(response_timeout=1)

    async def main() -> int:
        async with serving(app) as url:
            status, _ = await _post(f"{url}/webhooks/rest/webhook",
                                    json={"sender": "slow", "message": "/greet"})
            return status

    assert asyncio.run(main()) == 503


def test_a_message_after_a_training_on_the_same_connection_keeps_the_timeout(
        make_app, monkeypatch) -> None:
    # a reverse proxy sends any client's requests through the connections it keeps open
    from dialogflowlite.server.handling import MessageHandler
    from dialogflowlite.server.routes import training

    async def fast_train(job, models_dir: Path) -> Path:
        models_dir.mkdir(parents=True, exist_ok=True)
        path = models_dir / "fast.tar"
        path.write_bytes(b"model")
        return path

    handle = MessageHandler.handle

    async def slow_handle(self, *args, **kwargs):
        await asyncio.sleep(SLOW)
        return await handle(self, *args, **kwargs)

    monkeypatch.setattr(training, "train_model", fast_train)
    monkeypatch.setattr(MessageHandler, "handle", slow_handle)
    app = make_app(response_timeout=1)

    async def main() -> list[int]:
        statuses = []
        async with serving(app) as url, aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=1)) as session:
            async with session.post(f"{url}/model/train", data=BODY, headers=YAML) as answer:
                await answer.read()
                statuses.append(answer.status)
            async with session.post(f"{url}/webhooks/rest/webhook",
                                    json={"sender": "slow", "message": "/greet"}) as answer:
                await answer.read()
                statuses.append(answer.status)
        return statuses

    assert asyncio.run(main()) == [200, 503]


def _padded(size: int) -> bytes:
    """The training body, grown to ``size`` bytes by a YAML comment."""
    body = training_body(CONFIG, DOMAIN, RULES) + b"\n# "
    return body + b"x" * (size - len(body))


def test_a_project_larger_than_a_message_body_may_be_is_trained(make_app, monkeypatch) -> None:
    from dialogflowlite.server import long_requests
    from dialogflowlite.server.routes import training

    received: list[int] = []

    async def fake_train(job, models_dir: Path) -> Path:
        received.append(len(job.parts))
        models_dir.mkdir(parents=True, exist_ok=True)
        path = models_dir / "big.tar"
        path.write_bytes(b"model")
        return path

    monkeypatch.setattr(training, "train_model", fake_train)
    monkeypatch.setattr(long_requests, "LARGE_BODY_BYTES", 3_000_000)
    app = make_app(max_request_bytes=1_000_000)

    async def main() -> list[int]:
        async with serving(app) as url:
            return [
                (await _post(f"{url}/model/train", data=_padded(2_000_000), headers=YAML))[0],
                (await _post(f"{url}/model/train", data=_padded(4_000_000), headers=YAML))[0],
                (await _post(f"{url}/webhooks/rest/webhook", headers={
                    "Content-Type": "application/json"},
                    data=b'{"sender": "s", "message": "' + b"x" * 1_500_000 + b'"}'))[0],
            ]

    assert asyncio.run(main()) == [200, 413, 413]
    assert len(received) == 1 and received[0] > 0
