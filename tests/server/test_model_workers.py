"""``run --workers N``: a model replaced or unloaded through one worker is replaced or
unloaded in all of them, so an answer never depends on the worker that gives it.

Two apps on one project stand for two worker processes of one server.
"""

from __future__ import annotations

import asyncio
import json
import shutil
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from serving_helpers import OTHER_GREETING, StubHttpServer, serving, until


async def _greeting(session: aiohttp.ClientSession, url: str) -> str:
    async with session.post(f"{url}/webhooks/rest/webhook",
                            json={"sender": "w", "message": "/greet"}) as response:
        assert response.status == 200, await response.text()
        return (await response.json())[0]["text"]


def test_a_model_put_through_one_worker_serves_in_every_worker(two_workers) -> None:
    one, two = two_workers

    async def main() -> None:
        async with serving(one) as url_one, serving(two) as url_two, \
                aiohttp.ClientSession() as session:
            assert await _greeting(session, url_two) != OTHER_GREETING
            async with session.put(f"{url_one}/model",
                                   json={"model_file": "models/other.tar"}) as response:
                assert response.status == 204, await response.text()
            # the very next request to the other worker is answered by the new model
            assert await _greeting(session, url_two) == OTHER_GREETING
            async with session.get(f"{url_two}/status") as response:
                assert (await response.json())["model_file"] == "other.tar"
            assert await _greeting(session, url_one) == OTHER_GREETING

            # and back, through the other worker
            async with session.put(f"{url_two}/model", json={"model_file": str(
                    one.ctx.config.model_path)}) as response:
                assert response.status == 204, await response.text()
            assert await _greeting(session, url_one) != OTHER_GREETING

    asyncio.run(main())
    # the workers followed each other once each; none loaded a model more often
    assert one.ctx.metrics.model_loads.value() == two.ctx.metrics.model_loads.value() == 3


def test_a_model_unloaded_through_one_worker_is_unloaded_in_every_worker(two_workers) -> None:
    one, two = two_workers

    async def main() -> None:
        async with serving(one) as url_one, serving(two) as url_two, \
                aiohttp.ClientSession() as session:
            async with session.delete(f"{url_one}/model") as response:
                assert response.status == 204
            # the readiness probe of the other worker says so before any other request
            async with session.get(f"{url_two}/health") as response:
                assert response.status == 503, await response.text()
            async with session.post(f"{url_two}/model/parse", json={"text": "/greet"}) as r:
                assert r.status == 409 and (await r.json())["reason"] == "Conflict"
            async with session.put(f"{url_two}/model",
                                   json={"model_file": "models/other.tar"}) as response:
                assert response.status == 204, await response.text()
            # the probe of a worker with no model does not wait for the load it starts
            async with session.get(f"{url_one}/health") as response:
                assert response.status in (200, 503), await response.text()
            async with session.get(f"{url_one}/status") as response:
                assert (await response.json())["model_file"] == "other.tar"
            async with session.get(f"{url_one}/health") as response:
                assert response.status == 200, await response.text()
            assert await _greeting(session, url_one) == OTHER_GREETING

    asyncio.run(main())


def test_the_choice_of_an_earlier_server_is_not_followed(two_workers,
                                                         tiny_project: Path) -> None:
    """A restart serves the model it is started with, whatever the last run chose."""
    one, _ = two_workers
    (tiny_project / "models" / ".served.json").write_text(json.dumps(
        {"run": "an-earlier-run", "number": 7, "model_file": "models/other.tar",
         "model_server": None}), encoding="utf-8")

    async def main() -> None:
        async with serving(one) as url, aiohttp.ClientSession() as session:
            assert await _greeting(session, url) != OTHER_GREETING

    asyncio.run(main())


def test_a_model_server_put_through_one_worker_is_pulled_by_every_worker(
        two_workers, other_model: Path, tiny_project: Path) -> None:
    one, two = two_workers
    body = other_model.read_bytes()

    def answer(request: Any) -> tuple[int, dict, bytes]:
        if request.headers.get("If-None-Match") == '"v1"':
            return 304, {}, b""
        return 200, {"ETag": '"v1"'}, body

    async def main() -> None:
        with StubHttpServer(answer, path="/bot.tar") as host:
            async with serving(one) as url_one, serving(two) as url_two, \
                    aiohttp.ClientSession() as session:
                async with session.put(f"{url_one}/model", json={"model_server": {
                        "url": host.url, "wait_time_between_pulls": 300,
                        "headers": {"Authorization": "Bearer t0ken"}}}) as response:
                    assert response.status == 204, await response.text()
                assert await _greeting(session, url_two) == OTHER_GREETING
                # the other worker pulls from that server from now on, too
                for app in (one, two):
                    assert app.ctx.model_pulling is not None
                    assert not app.ctx.model_pulling.done()
                assert two.ctx.model_file == one.ctx.model_file
                assert two.ctx.model_file.parent == tiny_project / "models"
                # the record holds the model server's headers: its owner alone reads it
                record = tiny_project / "models" / ".served.json"
                assert record.stat().st_mode & 0o077 == 0
            # one download for both workers
            assert len(host.requests) == 1
            assert host.requests[0].headers["Authorization"] == "Bearer t0ken"

    asyncio.run(main())


def test_a_model_another_worker_chose_that_does_not_load_here_keeps_this_workers_model(
        two_workers, tiny_project: Path, caplog) -> None:
    one, _ = two_workers

    async def main() -> None:
        async with serving(one) as url, aiohttp.ClientSession() as session:
            (tiny_project / "models" / ".served.json").write_text(json.dumps(
                {"run": one.ctx.shared_model.run_id, "number": 1,
                 "model_file": str(tiny_project / "models" / "gone.tar"),
                 "model_server": None}), encoding="utf-8")
            assert await _greeting(session, url) != OTHER_GREETING
            assert await _greeting(session, url) != OTHER_GREETING

    asyncio.run(main())
    failures = [r for r in caplog.records if "cannot load" in r.getMessage()]
    assert len(failures) == 1 and "gone.tar" in failures[0].getMessage()


def _pulls_once(app: Any, url: str) -> Any:
    """A model server for ``app`` that :func:`keep_pulling` asks once."""
    from dialogflowlite.server.model_server import ModelServer

    return ModelServer(url, app.ctx.config.project_dir / "models",
                       wait_time_between_pulls=None)


def _model_server_of(body: bytes, downloads: list[Any]) -> Any:
    """Answers as a model server with one model (ETag "v1"), recording each full download."""

    def answer(request: Any) -> tuple[int, dict, bytes]:
        if request.headers.get("If-None-Match") == '"v1"':
            return 304, {}, b""
        downloads.append(request)
        return 200, {"ETag": '"v1"'}, body

    return answer


def _loads(app: Any) -> int:
    return app.ctx.metrics.model_loads.value()


@dataclass
class _Pulled:
    """Both workers served after the first pulled the other model from a model server."""

    session: aiohttp.ClientSession
    url_one: str
    url_two: str
    #: the second worker pulls from the same model server, once
    second_pulls: Callable[[], Awaitable[None]]


@asynccontextmanager
async def _pull_then_change(two_workers: tuple[Any, Any], other_model: Path,
                            downloads: list[Any]) -> AsyncIterator[_Pulled]:
    """Serves both workers beside a model server of ``other_model`` (recording each full
    download in ``downloads``) once the first worker has pulled it: the test then changes
    the model and says when the second worker pulls."""
    from dialogflowlite.server.model_server import keep_pulling

    one, two = two_workers
    with StubHttpServer(_model_server_of(other_model.read_bytes(), downloads),
                        path="/bot.tar") as host:
        async with serving(one) as url_one, serving(two) as url_two, \
                aiohttp.ClientSession() as session:
            await keep_pulling(one, _pulls_once(one, host.url))

            async def second_pulls() -> None:
                await keep_pulling(two, _pulls_once(two, host.url))

            yield _Pulled(session, url_one, url_two, second_pulls)


async def _put_model_file(session: aiohttp.ClientSession, url: str, model_file: Path) -> None:
    async with session.put(f"{url}/model", json={"model_file": str(model_file)}) as response:
        assert response.status == 204, await response.text()


async def _neither_greets_with_the_pulled_model(pulled: _Pulled) -> None:
    assert await _greeting(pulled.session, pulled.url_one) != OTHER_GREETING
    assert await _greeting(pulled.session, pulled.url_two) != OTHER_GREETING


def test_a_model_pulled_by_one_worker_and_followed_by_another_is_downloaded_once(
        two_workers, other_model: Path) -> None:
    from dialogflowlite.server.model_server import keep_pulling

    one, two = two_workers
    downloads: list[Any] = []

    async def main() -> None:
        with StubHttpServer(_model_server_of(other_model.read_bytes(), downloads),
                            path="/bot.tar") as host:
            async with serving(one), serving(two) as url_two, \
                    aiohttp.ClientSession() as session:
                await keep_pulling(one, _pulls_once(one, host.url))
                assert await _greeting(session, url_two) == OTHER_GREETING  # followed
                # the other worker's own pull asks with the ETag of what it now serves
                await keep_pulling(two, _pulls_once(two, host.url))
                assert two.ctx.model_file == one.ctx.model_file

    asyncio.run(main())
    assert len(downloads) == 1
    assert _loads(one) == _loads(two) == 2


def test_a_worker_taking_another_workers_pull_reloads_nothing_anywhere(
        two_workers, other_model: Path, tiny_project: Path) -> None:
    from dialogflowlite.server.model_server import keep_pulling

    one, two = two_workers
    downloads: list[Any] = []

    async def main() -> None:
        with StubHttpServer(_model_server_of(other_model.read_bytes(), downloads),
                            path="/bot.tar") as host:
            async with serving(one) as url_one, serving(two) as url_two, \
                    aiohttp.ClientSession() as session:
                await keep_pulling(one, _pulls_once(one, host.url))
                # pulls before its next request: takes the file the first worker pulled
                await keep_pulling(two, _pulls_once(two, host.url))
                assert two.ctx.model_file == one.ctx.model_file
                assert await _greeting(session, url_one) == OTHER_GREETING
                assert await _greeting(session, url_two) == OTHER_GREETING

    asyncio.run(main())
    assert len(downloads) == 1
    # one load of the pulled model each: neither loaded it again on the other's word
    assert _loads(one) == _loads(two) == 2
    record = json.loads((tiny_project / "models" / ".served.json").read_text("utf-8"))
    assert record["number"] == 1


def test_a_pull_taken_late_does_not_undo_a_model_put_since(
        two_workers, other_model: Path) -> None:
    one, two = two_workers
    first = Path(one.ctx.config.model_path)

    async def main() -> None:
        async with _pull_then_change(two_workers, other_model, []) as pulled:
            await _put_model_file(pulled.session, pulled.url_one, first)
            # the second worker takes the earlier pull before it hears of the put
            await pulled.second_pulls()
            await _neither_greets_with_the_pulled_model(pulled)

    asyncio.run(main())
    assert one.ctx.model_file == two.ctx.model_file == first


@pytest.mark.parametrize("change", ["put", "delete"])
def test_a_pull_taken_after_a_newer_choice_was_followed_does_not_undo_it(
        two_workers, other_model: Path, change: str) -> None:
    """The newest recorded choice wins: another worker's earlier pull, found by a pull
    made after this worker followed a newer ``PUT /model`` (or ``DELETE``), loads nothing."""
    one, two = two_workers
    first = Path(one.ctx.config.model_path)

    async def second_worker_kept_the_change(session: aiohttp.ClientSession,
                                            url_two: str) -> None:
        if change == "put":
            assert await _greeting(session, url_two) != OTHER_GREETING
        else:
            async with session.post(f"{url_two}/model/parse",
                                    json={"text": "/greet"}) as response:
                assert response.status == 409

    async def main() -> None:
        async with _pull_then_change(two_workers, other_model, []) as pulled:
            session, url_one, url_two = pulled.session, pulled.url_one, pulled.url_two
            assert await _greeting(session, url_two) == OTHER_GREETING  # followed
            if change == "put":
                await _put_model_file(session, url_one, first)
            else:
                async with session.delete(f"{url_one}/model") as response:
                    assert response.status == 204
            await second_worker_kept_the_change(session, url_two)  # followed
            # the second worker's own pull finds the first worker's (older) pull
            await pulled.second_pulls()
            await second_worker_kept_the_change(session, url_two)

    asyncio.run(main())
    expected = first if change == "put" else None
    assert one.ctx.model_file == two.ctx.model_file == expected


def test_a_pull_made_long_after_a_newer_choice_does_not_download_the_older_model_again(
        two_workers, other_model: Path, tiny_project: Path) -> None:
    """Another worker's pull of this server is taken however old it is: downloaded
    again, the same model would be recorded as a newer choice than the ``PUT`` since."""
    one, two = two_workers
    first = Path(one.ctx.config.model_path)
    downloads: list[Any] = []
    record = tiny_project / "models" / ".pulled.json"

    async def main() -> None:
        async with _pull_then_change(two_workers, other_model, downloads) as pulled:
            await _put_model_file(pulled.session, pulled.url_one, first)
            # the second worker's first pull comes long after the first worker's
            last_pull = json.loads(record.read_text("utf-8"))
            record.write_text(json.dumps({**last_pull, "time": 1.0}), "utf-8")
            await pulled.second_pulls()
            await _neither_greets_with_the_pulled_model(pulled)

    asyncio.run(main())
    assert len(downloads) == 1
    assert one.ctx.model_file == two.ctx.model_file == first


def test_a_worker_that_missed_a_choice_loads_only_the_newest(
        two_workers, tiny_project: Path) -> None:
    from dialogflowlite.server.models import follow_shared_choice

    one, two = two_workers
    shutil.copy(one.ctx.config.model_path, tiny_project / "models" / "third.tar")

    async def main() -> None:
        async with serving(one) as url_one, serving(two), aiohttp.ClientSession() as session:
            async with session.put(f"{url_one}/model",
                                   json={"model_file": "models/other.tar"}) as response:
                assert response.status == 204, await response.text()
            # the second worker reads that choice, then waits for its own swap to end
            async with two.ctx.model_swap_lock:
                following = asyncio.create_task(follow_shared_choice(two))
                await asyncio.sleep(0.05)
                async with session.put(f"{url_one}/model",
                                       json={"model_file": "models/third.tar"}) as response:
                    assert response.status == 204, await response.text()
            await following
            assert two.ctx.model_file.name == "third.tar"

    asyncio.run(main())
    assert _loads(two) == 2


def test_a_model_server_put_asks_the_server_though_a_pull_of_it_is_recorded(
        two_workers, other_model: Path, tiny_project: Path) -> None:
    """``PUT /model`` with ``model_server`` serves what the server serves now, not a model
    pulled from it earlier in this run (however old that pull's record is)."""
    one, two = two_workers
    downloads: list[Any] = []
    models = tiny_project / "models"
    # a worker pulled the first model from that server earlier; it serves another since
    shutil.copy(one.ctx.config.model_path, models / "pulled-20260101-000000.tar")

    async def main() -> None:
        with StubHttpServer(_model_server_of(other_model.read_bytes(), downloads),
                            path="/bot.tar") as host:
            (models / ".pulled.json").write_text(json.dumps(
                {"etag": '"v0"', "file": "pulled-20260101-000000.tar", "time": 1.0,
                 "url": host.url, "run": one.ctx.shared_model.run_id}), "utf-8")
            async with serving(one) as url_one, serving(two) as url_two, \
                    aiohttp.ClientSession() as session:
                async with session.put(f"{url_one}/model", json={"model_server": {
                        "url": host.url, "wait_time_between_pulls": 0}}) as response:
                    assert response.status == 204, await response.text()
                assert await _greeting(session, url_one) == OTHER_GREETING
                assert await _greeting(session, url_two) == OTHER_GREETING

    asyncio.run(main())
    assert len(downloads) == 1


#: how long a gated load or download waits at most for its test to let it go on (longer
#: than any wait of the tests: a test that fails first still ends)
GATE_LIMIT = 60.0


class _Gate:
    """A point where a server thread waits until its test calls :meth:`open`: the test
    acts while the thread is held there, however slow the machine, instead of guessing
    how long the thread takes. A wait that ran out (the test let go too late, or never)
    is recorded: :meth:`assert_never_ran_out` fails on it."""

    def __init__(self) -> None:
        import threading

        self.reached = threading.Event()
        self._opened = threading.Event()
        self._ran_out = False

    def wait_here(self) -> None:
        """In the gated thread: say it got here, then wait until the test opens the gate."""
        self.reached.set()
        if not self._opened.wait(GATE_LIMIT):
            self._ran_out = True

    def open(self) -> None:
        """Let every waiting thread, and every later one, go on."""
        self._opened.set()

    def assert_never_ran_out(self, what: str) -> None:
        # a thread that gave up waiting went on on its own: the test's checks after
        # that point no longer saw the state they meant to check
        assert not self._ran_out, f"{what} waited {GATE_LIMIT:.0f} s and went on ungated"


class _GatedLoads(_Gate):
    """Model loads that wait at a :class:`_Gate` in their worker thread;
    ``gated(config, model_file)`` picks the loads that wait."""

    def __init__(self, monkeypatch, gated: Callable[[Any, Path | None], bool]) -> None:
        from dialogflowlite.server import models

        super().__init__()
        load = models.load_server_agent

        def waiting(config: Any, model_file: Path | None = None, stores: Any = None) -> Any:
            if gated(config, model_file):
                self.wait_here()
            return load(config, model_file, stores)

        monkeypatch.setattr(models, "load_server_agent", waiting)


async def _delete_model_while_held(session: aiohttp.ClientSession, url: str,
                                   held: str) -> None:
    """``DELETE /model``, answered while ``held`` waits at its gate: a DELETE that
    waited for it fails here, instead of being answered once the gate gave up."""
    try:
        async with session.delete(f"{url}/model",
                                  timeout=aiohttp.ClientTimeout(total=GATE_LIMIT / 2)) as r:
            status, text = r.status, await r.text()
    except asyncio.TimeoutError:
        status = None  # failed below, outside the handler: no chained aiohttp traceback
    if status is None:
        pytest.fail(f"DELETE /model not answered in {GATE_LIMIT / 2:g} s while {held} waited")
    assert status == 204, text


def _is_pulled(config: Any, model_file: Path | None) -> bool:
    return model_file is not None and model_file.name.startswith("pulled")


def test_health_does_not_wait_for_a_model_another_worker_chose(
        two_workers, monkeypatch) -> None:
    """A probe is answered while the worker loads the new model (the load waits until the
    probe has its answer); the old model answers meanwhile."""
    one, two = two_workers

    async def main() -> None:
        async with serving(one) as url_one, serving(two) as url_two, \
                aiohttp.ClientSession() as session:
            async with session.put(f"{url_one}/model",
                                   json={"model_file": "models/other.tar"}) as response:
                assert response.status == 204, await response.text()
            # from here on, the second worker's loads wait for the probe's answer
            loads = _GatedLoads(monkeypatch, lambda config, _: config is two.ctx.config)
            try:
                # a probe that waited for the load would time out here
                probe = aiohttp.ClientTimeout(total=GATE_LIMIT / 2)
                async with session.get(f"{url_two}/health", timeout=probe) as response:
                    assert response.status == 200, await response.text()
                # the probe started that load
                await until(loads.reached.is_set, "the second worker to load the model")
            finally:
                loads.open()
            # the next request waits for that load
            assert await _greeting(session, url_two) == OTHER_GREETING
            loads.assert_never_ran_out("the second worker's load")

    asyncio.run(main())
    assert _loads(two) == 2


@pytest.mark.parametrize(("through", "phase"), [
    ("pulling worker", "download"), ("other worker", "download"),
    ("other worker", "load"),
])
def test_a_model_unloaded_while_a_pull_downloads_or_loads_stays_unloaded(
        two_workers, other_model: Path, monkeypatch, through: str, phase: str) -> None:
    """A ``DELETE /model`` answered while a pulled model downloads or loads wins: the
    pull, finished later, does not serve its model. The download (or the load) waits
    until the ``DELETE`` is answered."""
    from dialogflowlite.server.model_server import keep_pulling

    one, two = two_workers
    loads = _GatedLoads(monkeypatch, lambda config, model_file: phase == "load"
                        and _is_pulled(config, model_file))
    download = _Gate()
    answer = _model_server_of(other_model.read_bytes(), [])

    def gated_answer(request: Any) -> tuple[int, dict, bytes]:
        if phase == "download":
            download.wait_here()
        return answer(request)

    async def main() -> None:
        with StubHttpServer(gated_answer, path="/bot.tar") as host:
            async with serving(one) as url_one, serving(two) as url_two, \
                    aiohttp.ClientSession() as session:
                pulling = asyncio.create_task(keep_pulling(one, _pulls_once(one, host.url)))
                try:
                    gate = download if phase == "download" else loads
                    await until(gate.reached.is_set, f"the pulled model's {phase}")
                    url = url_one if through == "pulling worker" else url_two
                    await _delete_model_while_held(session, url, f"the pulled model's {phase}")
                finally:
                    download.open()
                    loads.open()
                await pulling
                for url in (url_one, url_two):
                    async with session.post(f"{url}/model/parse",
                                            json={"text": "/greet"}) as response:
                        assert response.status == 409, await response.text()

    asyncio.run(main())
    download.assert_never_ran_out("the pulled model's download")
    loads.assert_never_ran_out("the pulled model's load")
    assert one.ctx.agent is None and two.ctx.agent is None


def test_a_pull_that_never_switched_leaves_no_record_the_others_would_skip(
        two_workers, other_model: Path, tiny_project: Path, monkeypatch) -> None:
    """A worker that stops while its pulled model loads (it dies, in production) leaves
    no pull record: the next worker to pull downloads and serves the model itself."""
    from dialogflowlite.server.model_server import keep_pulling

    one, two = two_workers
    downloads: list[Any] = []
    loads = _GatedLoads(monkeypatch, _is_pulled)

    async def main() -> None:
        with StubHttpServer(_model_server_of(other_model.read_bytes(), downloads),
                            path="/bot.tar") as host:
            async with serving(one), serving(two) as url_two, \
                    aiohttp.ClientSession() as session:
                pulling = asyncio.create_task(keep_pulling(one, _pulls_once(one, host.url)))
                try:
                    await until(loads.reached.is_set, "the pulled model's load")  # downloaded
                    pulling.cancel()
                    with pytest.raises(asyncio.CancelledError):
                        await pulling
                    assert not (tiny_project / "models" / ".pulled.json").exists()
                finally:
                    loads.open()
                await keep_pulling(two, _pulls_once(two, host.url))
                assert await _greeting(session, url_two) == OTHER_GREETING

    asyncio.run(main())
    loads.assert_never_ran_out("the pulled model's load")
    assert len(downloads) == 2


# --- the model choice machinery alone, with fakes: no timing ------------------------------

def _fake_worker(folder: Path, **ctx: Any) -> Any:
    """An app as :mod:`dialogflowlite.server.models` sees a worker of ``run --workers``."""
    from types import SimpleNamespace

    from dialogflowlite.server.models import SharedModelChoice

    metrics = SimpleNamespace(model_load_seconds=SimpleNamespace(set=lambda seconds: None),
                              model_loads=SimpleNamespace(inc=lambda: None))
    values = {"shared_model": SharedModelChoice(folder, "run-under-test"), "agent": None,
              "model_file": None, "config": None, "metrics": metrics}
    values.update(ctx)
    return SimpleNamespace(ctx=SimpleNamespace(**values))


def test_a_follow_that_failed_is_logged_once_and_never_raised_into_later_requests(
        tmp_path: Path, monkeypatch, caplog) -> None:
    """A switch ``GET /health`` started and nobody waited for fails unexpectedly: it is
    logged once, and the requests after it go on instead of raising its error."""
    from dialogflowlite.server import models

    app = _fake_worker(tmp_path)
    other = models.SharedModelChoice(tmp_path, "run-under-test")

    async def broken_follow(app: Any, record: dict[str, Any]) -> None:
        raise RuntimeError("broken follow")

    monkeypatch.setattr(models, "_follow", broken_follow)

    async def main() -> None:
        app.ctx.model_swap_lock = asyncio.Lock()
        await other.publish(tmp_path / "a.tar", None)
        assert models.start_following(app) is not None  # as GET /health: nobody waits
        await asyncio.wait({app.ctx.shared_model.following})
        for _ in range(2):  # the next requests
            await models.follow_shared_choice(app)

    asyncio.run(main())
    assert [r.exc_info[1].args for r in caplog.records if r.exc_info] == [("broken follow",)]


def test_a_pull_mark_counts_a_choice_recorded_while_a_started_follow_loaded(
        tmp_path: Path, monkeypatch) -> None:
    """``GET /health`` started loading choice 1; another worker records choice 2 while it
    loads. The pull that follows the choices then begins after choice 2: its mark
    counts it, so the pulled model is not dropped for a choice made before it began."""
    from dialogflowlite.server import models

    app = _fake_worker(tmp_path)
    other = models.SharedModelChoice(tmp_path, "run-under-test")

    async def fake_load(app: Any, requested: str, model_server: Any, announce: bool,
                        since: Any = None) -> Path:
        if Path(requested).name == "a.tar":  # meanwhile another worker chooses b.tar
            await other.publish(tmp_path / "b.tar", None)
        app.ctx.model_file = Path(requested)
        app.ctx.model_changes = getattr(app.ctx, "model_changes", 0) + 1
        return Path(requested)

    monkeypatch.setattr(models, "_swap_holding_lock", fake_load)
    monkeypatch.setattr(models, "_serves", lambda app, wanted: False)

    async def main() -> tuple[Any, int]:
        app.ctx.model_swap_lock = asyncio.Lock()
        await other.publish(tmp_path / "a.tar", None)
        models.start_following(app)  # GET /health
        await models.follow_shared_choice(app)  # what keep_pulling does before a pull
        return models.choice_mark(app), app.ctx.shared_model.newest_number()

    mark, newest = asyncio.run(main())
    assert app.ctx.model_file == tmp_path / "b.tar"
    assert mark == (2, newest) == (2, 2)
