"""Model changes made one after the other (``PUT`` and ``DELETE /model``): the one that
arrived last is served, whichever loads or downloads faster; the earlier one, finished
later, is a 409 and changes nothing."""

from __future__ import annotations

import asyncio
import shutil
import threading
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from serving_helpers import StubHttpServer, request, serving
from test_model_choice_edges import _fake_worker, _loads_without_models

#: seconds a test waits for a step that takes well under one
PATIENCE = 60.0


class Gate:
    """A step held until :meth:`open` (threads and the event loop alike): ``reached``
    is set once something waits at it."""

    def __init__(self) -> None:
        self.reached, self.opened = threading.Event(), threading.Event()

    def wait(self) -> None:
        self.reached.set()
        assert self.opened.wait(PATIENCE), "the gate was never opened"

    async def until_reached(self) -> None:
        reached = await asyncio.get_running_loop().run_in_executor(
            None, self.reached.wait, PATIENCE)
        assert reached, "nothing reached the gate"

    def open(self) -> None:
        self.opened.set()


def _held_model_server(body: bytes, gate: Gate) -> StubHttpServer:
    """A model server that sends ``body`` once ``gate`` opens."""
    def answer(request: Any) -> tuple[int, dict, bytes]:
        gate.wait()
        return 200, {"ETag": '"v1"'}, body

    return StubHttpServer(answer, path="/bot.tar")


@pytest.mark.parametrize("later", ["PUT", "DELETE"])
def test_a_model_server_put_downloaded_after_a_later_change_is_409_and_changes_nothing(
        make_app, other_model: Path, tmp_path: Path, later: str) -> None:
    """The model server is slow; a ``PUT`` (or ``DELETE``) ``/model`` arriving while it
    sends the model is served, and the download, done after it, is not switched to."""
    gate = Gate()
    host = _held_model_server(other_model.read_bytes(), gate)
    (tmp_path / "models").mkdir(exist_ok=True)
    shutil.copy(other_model, tmp_path / "models" / "chosen.tar")
    app = make_app()

    async def main() -> tuple[Any, Any]:
        first = asyncio.create_task(request(app, "put", "/model", json={"model_server": {
            "url": host.url, "wait_time_between_pulls": 0}}))
        await gate.until_reached()  # the first change downloads
        if later == "PUT":
            second = await request(app, "put", "/model", json={"model_file": "models/chosen.tar"})
        else:
            second = await request(app, "delete", "/model")
        gate.open()
        return await first, second

    try:
        first, second = asyncio.run(main())
    finally:
        gate.open()
        host.close()
    assert second.status == 204, second.text
    assert first.status == 409, first.text
    assert "arrived after this one" in first.json["message"]
    if later == "PUT":
        assert app.ctx.model_file == tmp_path / "models" / "chosen.tar"
    else:
        assert app.ctx.agent is None
    # the dropped download is not left as the newest model for the next start
    assert list((tmp_path / "models").glob("pulled*")) == []


def test_a_put_that_loads_slowly_is_served_before_a_later_quick_put_of_the_same_worker(
        make_app, other_model: Path, tmp_path: Path, monkeypatch) -> None:
    """One worker loads one model at a time, in the order its ``PUT`` requests arrived: the
    later one waits for the earlier one and then replaces it (both are 204)."""
    from dialogflowlite.server import models

    (tmp_path / "models").mkdir(exist_ok=True)
    for name in ("slow.tar", "quick.tar"):
        shutil.copy(other_model, tmp_path / "models" / name)
    gate = Gate()
    load = models.load_server_agent

    def load_slow_slowly(config: Any, model_file: Path | None = None,
                         stores: Any = None) -> Any:
        if model_file is not None and model_file.name == "slow.tar":
            gate.wait()
        return load(config, model_file, stores)

    monkeypatch.setattr(models, "load_server_agent", load_slow_slowly)
    app = make_app()

    async def main() -> tuple[Any, Any]:
        first = asyncio.create_task(
            request(app, "put", "/model", json={"model_file": "models/slow.tar"}))
        await gate.until_reached()
        second = asyncio.create_task(
            request(app, "put", "/model", json={"model_file": "models/quick.tar"}))
        # the second has arrived (it is numbered) while the first still loads
        for _ in range(int(PATIENCE * 100)):
            if getattr(app.ctx, "choice_tickets", 0) == 2:
                break
            await asyncio.sleep(0.01)
        assert app.ctx.choice_tickets == 2 and not first.done()
        gate.open()
        return await first, await second

    try:
        first, second = asyncio.run(main())
    finally:
        gate.open()
    assert (first.status, second.status) == (204, 204), (first.text, second.text)
    assert app.ctx.model_file == tmp_path / "models" / "quick.tar"


def test_a_put_that_loads_longer_than_a_later_put_in_another_worker_is_409(
        two_workers, tiny_project: Path, monkeypatch) -> None:
    """``run --workers``: the first ``PUT`` goes to one worker and loads slowly, the second
    to the other and loads at once. Every worker then serves the second."""
    from dialogflowlite.server import models

    one, two = two_workers
    first_model = Path(one.ctx.config.model_path)
    shutil.copy(first_model, tiny_project / "models" / "chosen.tar")
    gate = Gate()
    load = models.load_server_agent

    def load_other_slowly(config: Any, model_file: Path | None = None,
                          stores: Any = None) -> Any:
        if model_file is not None and model_file.name == "other.tar":
            gate.wait()
        return load(config, model_file, stores)

    monkeypatch.setattr(models, "load_server_agent", load_other_slowly)

    async def put(session: aiohttp.ClientSession, url: str, model_file: str) -> int:
        async with session.put(f"{url}/model", json={"model_file": model_file}) as response:
            return response.status

    async def served(session: aiohttp.ClientSession, url: str) -> str:
        async with session.get(f"{url}/status") as response:
            return (await response.json())["model_file"]

    async def main() -> tuple[int, int, list[str]]:
        async with serving(one) as url_one, serving(two) as url_two, \
                aiohttp.ClientSession() as session:
            first = asyncio.create_task(put(session, url_one, "models/other.tar"))
            await gate.until_reached()  # the first model loads
            second = await put(session, url_two, "models/chosen.tar")
            gate.open()
            return await first, second, [await served(session, url)
                                         for url in (url_one, url_two)]

    try:
        first, second, serving_now = asyncio.run(main())
    finally:
        gate.open()
    assert (first, second) == (409, 204)
    assert serving_now == ["chosen.tar", "chosen.tar"]


@pytest.mark.parametrize("early", ["PUT", "DELETE"])
@pytest.mark.parametrize("late_finishes", ["last", "first"])
def test_a_change_arriving_while_its_worker_follows_another_is_ordered_by_its_arrival(
        two_workers, tiny_project: Path, monkeypatch, early: str, late_finishes: str) -> None:
    """``run --workers``: a change arrives at a worker that is still loading the model
    another worker chose, and must wait for it; a later change arrives at the other
    worker meanwhile. The later change is served by both, whichever finishes first
    (the earlier is 204 when it finishes first, else 409)."""
    from dialogflowlite.server import models

    one, two = two_workers
    first_model = Path(one.ctx.config.model_path)
    shutil.copy(first_model, tiny_project / "models" / "early.tar")
    shutil.copy(first_model, tiny_project / "models" / "late.tar")
    following, late_loading = Gate(), Gate()
    loads_of_other: list[Path] = []
    load = models.load_server_agent

    def held_loads(config: Any, model_file: Path | None = None, stores: Any = None) -> Any:
        if model_file is not None and model_file.name == "other.tar":
            loads_of_other.append(model_file)
            if len(loads_of_other) == 2:  # worker one follows worker two's choice
                following.wait()
        if model_file is not None and model_file.name == "late.tar":
            late_loading.wait()
        return load(config, model_file, stores)

    monkeypatch.setattr(models, "load_server_agent", held_loads)

    async def change(session: aiohttp.ClientSession, url: str, method: str,
                     name: str = "") -> int:
        body = {"json": {"model_file": f"models/{name}"}} if method == "PUT" else {}
        async with session.request(method, f"{url}/model", **body) as response:
            return response.status

    async def served(session: aiohttp.ClientSession, url: str) -> str | None:
        async with session.get(f"{url}/status") as response:
            return (await response.json())["model_file"] if response.status == 200 else None

    async def main() -> tuple[int, int, list[str | None]]:
        async with serving(one) as url_one, serving(two) as url_two, \
                aiohttp.ClientSession() as session:
            assert await change(session, url_two, "PUT", "other.tar") == 204
            earlier = asyncio.create_task(change(session, url_one, early, "early.tar"))
            await following.until_reached()  # it waits for worker one to follow
            later = asyncio.create_task(change(session, url_two, "PUT", "late.tar"))
            await late_loading.until_reached()
            if late_finishes == "first":
                late_loading.open()
                later_status = await later
                following.open()
                earlier_status = await earlier
            else:
                following.open()
                earlier_status = await earlier
                late_loading.open()
                later_status = await later
            return earlier_status, later_status, [await served(session, url)
                                                  for url in (url_one, url_two)]

    try:
        earlier, later, serving_now = asyncio.run(main())
    finally:
        following.open()
        late_loading.open()
    assert later == 204
    assert earlier == (409 if late_finishes == "first" else 204)
    assert serving_now == ["late.tar", "late.tar"]


# --- the numbers of changes and pulls, with fakes: no timing ------------------------------

def test_a_pull_that_finishes_while_a_put_that_arrived_after_it_loads_gives_way_to_it(
        tmp_path: Path, monkeypatch) -> None:
    """A pull finishes while a ``PUT`` that arrived after it began still loads (in another
    worker): the pull is served until the ``PUT`` is, which is then recorded after it."""
    from dialogflowlite.server import models

    _loads_without_models(monkeypatch)
    pulling, putting = _fake_worker(tmp_path), _fake_worker(tmp_path)

    async def main() -> tuple[Path | None, Path | None]:
        mark = models.choice_mark(pulling)  # the pull begins
        ticket = await models.choice_ticket(putting)  # the PUT arrives
        pulled = await models.swap_model(pulling, str(tmp_path / "pulled.tar"), since=mark)
        put = await models.swap_model(putting, str(tmp_path / "put.tar"), ticket=ticket)
        await models.follow_shared_choice(pulling)
        return pulled, put

    pulled, put = asyncio.run(main())
    assert pulled == tmp_path / "pulled.tar"
    assert put == putting.ctx.model_file == pulling.ctx.model_file == tmp_path / "put.tar"
    assert putting.ctx.shared_model.latest()["model_file"] == str(tmp_path / "put.tar")


def _worker_or_workers(tmp_path: Path, workers: bool) -> tuple[Any, Any]:
    """(the worker that pulls, the one a ``PUT`` goes to): two workers of ``run
    --workers``, or twice the same app of a server without workers."""
    if not workers:
        app = _fake_worker(tmp_path, shared_model=None)
        return app, app
    return _fake_worker(tmp_path), _fake_worker(tmp_path)


@pytest.mark.parametrize("workers", [False, True], ids=["one worker", "--workers"])
def test_a_put_that_fails_while_a_pull_downloads_does_not_drop_the_pull(
        tmp_path: Path, monkeypatch, workers: bool) -> None:
    """A ``PUT`` that arrives while a pull downloads and then fails (its model does not
    load) changes nothing: the pull is served, with or without workers."""
    from dialogflowlite.errors import ModelLoadError
    from dialogflowlite.server import models

    _loads_without_models(monkeypatch)

    def no_model(config: Any, requested: str) -> Path:
        if requested.endswith("missing.tar"):
            raise ModelLoadError("no model file there")
        return Path(requested)

    monkeypatch.setattr(models, "resolve_model_path", no_model)
    pulling, putting = _worker_or_workers(tmp_path, workers)

    async def main() -> Path | None:
        mark = models.choice_mark(pulling)  # the pull begins
        ticket = await models.choice_ticket(putting)  # the PUT arrives
        with pytest.raises(ModelLoadError):
            await models.swap_model(putting, str(tmp_path / "missing.tar"), ticket=ticket)
        return await models.swap_model(pulling, str(tmp_path / "pulled.tar"), since=mark)

    assert asyncio.run(main()) == pulling.ctx.model_file == tmp_path / "pulled.tar"


@pytest.mark.parametrize("workers", [False, True], ids=["one worker", "--workers"])
def test_a_put_still_loading_when_a_later_pull_is_served_replaces_it(
        tmp_path: Path, monkeypatch, workers: bool) -> None:
    """A pull that begins while a ``PUT`` loads, and finishes first, never refuses the
    ``PUT``: it is 204 and its model served, with or without workers."""
    from dialogflowlite.server import models

    _loads_without_models(monkeypatch)
    putting, pulling = _worker_or_workers(tmp_path, workers)

    async def main() -> None:
        ticket = await models.choice_ticket(putting)  # the PUT arrives, loads slowly
        mark = models.choice_mark(pulling)  # a pull begins
        await models.swap_model(pulling, str(tmp_path / "pulled.tar"), since=mark)
        await models.swap_model(putting, str(tmp_path / "put.tar"), ticket=ticket)
        await models.follow_shared_choice(pulling)

    asyncio.run(main())
    assert putting.ctx.model_file == pulling.ctx.model_file == tmp_path / "put.tar"


def test_a_change_that_never_finished_does_not_drop_the_pulls_after_it(
        tmp_path: Path, monkeypatch) -> None:
    """A ``PUT`` numbered as it arrived whose model did not load: a pull that begins
    after it is served."""
    from dialogflowlite.server import models

    _loads_without_models(monkeypatch)
    app = _fake_worker(tmp_path)

    async def main() -> Path | None:
        await models.choice_ticket(app)  # a PUT that then failed
        mark = models.choice_mark(app)
        return await models.swap_model(app, str(tmp_path / "pulled.tar"), since=mark)

    assert asyncio.run(main()) == tmp_path / "pulled.tar"
    assert app.ctx.model_file == tmp_path / "pulled.tar"


def test_an_earlier_put_finishing_after_a_later_one_in_the_same_worker_is_409(
        tmp_path: Path, monkeypatch) -> None:
    """One worker, no ``--workers``: the numbers alone order the changes."""
    from dialogflowlite.errors import ApiError
    from dialogflowlite.server import models

    _loads_without_models(monkeypatch)
    app = _fake_worker(tmp_path, shared_model=None)

    async def main() -> None:
        earlier = await models.choice_ticket(app)
        later = await models.choice_ticket(app)
        await models.swap_model(app, str(tmp_path / "later.tar"), ticket=later)
        with pytest.raises(ApiError) as refused:
            await models.swap_model(app, str(tmp_path / "earlier.tar"), ticket=earlier)
        assert refused.value.status == 409

    asyncio.run(main())
    assert app.ctx.model_file == tmp_path / "later.tar"


def test_a_pull_recorded_after_a_later_put_keeps_an_earlier_put_a_409(
        tmp_path: Path, monkeypatch) -> None:
    """``PUT`` A arrives, ``PUT`` B arrives and is served, a pull is recorded after B,
    then A finishes: the pull's record keeps B's ticket, so A is still a 409."""
    from dialogflowlite.errors import ApiError
    from dialogflowlite.server import models

    _loads_without_models(monkeypatch)
    first, second, puller = (_fake_worker(tmp_path), _fake_worker(tmp_path),
                             _fake_worker(tmp_path))

    async def main() -> None:
        earlier = await models.choice_ticket(first)  # A arrives, loads slowly
        later = await models.choice_ticket(second)  # B arrives after it
        await models.swap_model(second, str(tmp_path / "b.tar"), ticket=later)
        await models.follow_shared_choice(puller)
        mark = models.choice_mark(puller)  # a pull begins after B is served
        await models.swap_model(puller, str(tmp_path / "pulled.tar"), since=mark)
        with pytest.raises(ApiError) as refused:  # A finishes last
            await models.swap_model(first, str(tmp_path / "a.tar"), ticket=earlier)
        assert refused.value.status == 409

    asyncio.run(main())
    assert first.ctx.model_file is None
    assert puller.ctx.model_file == tmp_path / "pulled.tar"


# --- run --workers: a pull in one worker, a PUT in the other -------------------------------

def _pull_once(app: Any, url: str) -> Any:
    """One pull of ``app`` from the model server at ``url``, as its background pulls do."""
    from dialogflowlite.server.model_server import ModelServer, keep_pulling

    return keep_pulling(app, ModelServer(url, app.ctx.config.project_dir / "models",
                                         wait_time_between_pulls=None))


async def _served(session: aiohttp.ClientSession, url: str) -> str:
    async with session.get(f"{url}/status") as response:
        return Path((await response.json())["model_file"]).name


def test_a_put_that_fails_in_one_worker_while_another_pulls_does_not_drop_the_pull(
        two_workers, other_model: Path) -> None:
    """The ``PUT`` names no model file (400) while the other worker downloads a model:
    that model is served in both workers, and a later pull (304) keeps it."""
    one, two = two_workers
    gate = Gate()

    def answer(request: Any) -> tuple[int, dict, bytes]:
        if request.headers.get("If-None-Match") == '"v1"':
            return 304, {}, b""
        gate.wait()
        return 200, {"ETag": '"v1"'}, other_model.read_bytes()

    host = StubHttpServer(answer, path="/bot.tar")

    async def main() -> tuple[int, list[str], str]:
        async with serving(one) as url_one, serving(two) as url_two, \
                aiohttp.ClientSession() as session:
            pull = asyncio.create_task(_pull_once(two, host.url))
            await gate.until_reached()  # the pull downloads
            async with session.put(f"{url_one}/model",
                                   json={"model_file": "models/missing.tar"}) as response:
                put = response.status
            gate.open()
            await pull
            pulled = [await _served(session, url) for url in (url_one, url_two)]
            await _pull_once(two, host.url)
            return put, pulled, await _served(session, url_two)

    try:
        put, pulled, after_next_pull = asyncio.run(main())
    finally:
        gate.open()
        host.close()
    assert put == 400
    assert pulled[0] == pulled[1] == after_next_pull
    assert pulled[0].startswith("pulled")
    assert [r.headers.get("If-None-Match") for r in host.requests] == [None, '"v1"']


def test_a_put_loading_in_one_worker_while_another_pulls_is_served_after_the_pull(
        two_workers, other_model: Path, tiny_project: Path, monkeypatch) -> None:
    """The ``PUT`` arrives first and loads slowly; the other worker pulls a model and
    serves it meanwhile. The ``PUT`` is then 204, and every worker serves its model."""
    from dialogflowlite.server import models

    one, two = two_workers
    shutil.copy(Path(one.ctx.config.model_path), tiny_project / "models" / "chosen.tar")
    gate = Gate()
    load = models.load_server_agent

    def load_chosen_slowly(config: Any, model_file: Path | None = None,
                           stores: Any = None) -> Any:
        if model_file is not None and model_file.name == "chosen.tar":
            gate.wait()
        return load(config, model_file, stores)

    monkeypatch.setattr(models, "load_server_agent", load_chosen_slowly)
    host = StubHttpServer(lambda request: (200, {"ETag": '"v1"'}, other_model.read_bytes()),
                          path="/bot.tar")

    async def put(session: aiohttp.ClientSession, url: str) -> int:
        async with session.put(f"{url}/model",
                               json={"model_file": "models/chosen.tar"}) as response:
            return response.status

    async def main() -> tuple[str, int, list[str]]:
        async with serving(one) as url_one, serving(two) as url_two, \
                aiohttp.ClientSession() as session:
            putting = asyncio.create_task(put(session, url_one))
            await gate.until_reached()  # the PUT's model loads
            await _pull_once(two, host.url)
            pulled = two.ctx.model_file.name
            gate.open()
            return pulled, await putting, [await _served(session, url)
                                           for url in (url_one, url_two)]

    try:
        pulled, status, serving_now = asyncio.run(main())
    finally:
        gate.open()
        host.close()
    assert pulled.startswith("pulled")
    assert status == 204
    assert serving_now == ["chosen.tar", "chosen.tar"]
