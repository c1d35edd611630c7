"""endpoints.yml ``models:``: the server pulls new models from a model server and switches."""

from __future__ import annotations

import asyncio
import logging
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from serving_helpers import OTHER_GREETING, StubHttpServer, serving, until

from dialogflowlite.errors import ConfigError
from dialogflowlite.server.model_server import ModelServer


class ModelHost(StubHttpServer):
    """Serves one model file with an ETag, answering 304 to a matching If-None-Match."""

    def __init__(self, body: bytes, etag: str = '"v1"') -> None:
        def reply(request: Any) -> tuple[int, dict, bytes]:
            if request.headers.get("If-None-Match") == etag:
                return 304, {}, b""
            return 200, {"ETag": etag}, body

        super().__init__(reply, path="/bot.tar")

    @property
    def if_none_match(self) -> list[str | None]:
        return [r.headers.get("If-None-Match") for r in self.requests]


@pytest.fixture
def host(other_model: Path) -> Iterator[ModelHost]:
    """A model server offering ``other_model`` (the fixture of the server tests)."""
    found = ModelHost(other_model.read_bytes())
    try:
        yield found
    finally:
        found.close()


def app_for(project: Path, models: dict[str, Any]) -> Any:
    from dialogflowlite.server.app import ServerConfig, create_app

    return create_app(ServerConfig(project=str(project), endpoints={"models": models},
                                   credentials={}))


async def greet(url: str) -> str:
    import aiohttp

    async with aiohttp.ClientSession() as session, session.post(
            f"{url}/webhooks/rest/webhook", json={"sender": "mo", "message": "/greet"}) as r:
        return (await r.json())[0]["text"]


def test_the_server_switches_to_the_pulled_model(tiny_project: Path, host: ModelHost) -> None:
    app = app_for(tiny_project, {"url": host.url, "wait_time_between_pulls": 0.1})

    async def scenario() -> list[str]:
        async with serving(app) as url:
            answers = [await greet(url)]
            await until(lambda: len(host.if_none_match) >= 3,
                        "a pull, then two more requests to the model server")
            answers.append(await greet(url))
            return answers

    before, after = asyncio.run(scenario())
    assert after == OTHER_GREETING
    assert before in ("Hello! How can I help?", after)
    # the first request has no ETag; later ones send it, and 304 changes nothing
    assert host.if_none_match[0] is None and set(host.if_none_match[1:]) == {'"v1"'}
    pulled = sorted((tiny_project / "models").glob("pulled-*.tar"))
    assert len(pulled) == 1 and app.ctx.model_file == pulled[0]


def test_a_bad_download_keeps_the_running_model(tiny_project: Path, caplog) -> None:
    garbage = ModelHost(b"this is not a model")
    app = app_for(tiny_project, {"url": garbage.url, "wait_time_between_pulls": 0})
    try:
        async def scenario() -> str:
            async with serving(app) as url:
                await asyncio.wait_for(asyncio.shield(app.ctx.model_pulling), 30)
                return await greet(url)

        with caplog.at_level("ERROR"):
            answer = asyncio.run(scenario())
    finally:
        garbage.close()
    assert answer == "Hello! How can I help?"
    assert "sent no usable model" in caplog.text
    assert not list((tiny_project / "models").glob("pulled-*")) and \
        not list((tiny_project / "models").glob("*.partial"))


def test_without_a_local_model_run_pulls_one_first(tiny_project: Path, host: ModelHost) -> None:
    from dialogflowlite.server.app import ServerConfig
    from dialogflowlite.server.serve import check_config

    shutil.rmtree(tiny_project / "models")
    config = ServerConfig(project=str(tiny_project), endpoints={"models": {"url": host.url}})
    check_config(config, workers=1)
    assert len(list((tiny_project / "models").glob("pulled-*.tar"))) == 1

    shutil.rmtree(tiny_project / "models")
    # pulled once only (no wait_time_between_pulls): nothing would bring a model later
    down = ServerConfig(project=str(tiny_project), endpoints={"models": {
        "url": "http://127.0.0.1:9/x.tar", "timeout": 2, "wait_time_between_pulls": 0}})
    with pytest.raises(ConfigError, match="no local model, and none could be pulled") as info:
        check_config(down, workers=1)
    assert info.value.message.endswith("it cannot be reached (ClientConnectorError)")
    assert "wait_time_between_pulls" in (info.value.hint or "")
    # a model server with no model yet: the error says what it answered
    with StubHttpServer(lambda request: (204, {}, b""), path="/bot.tar") as empty:
        config = ServerConfig(project=str(tiny_project), endpoints={
            "models": {"url": empty.url, "wait_time_between_pulls": None}})
        with pytest.raises(ConfigError) as info:
            check_config(config, workers=1)
    assert info.value.message == (f"no local model, and none could be pulled from {empty.url}: "
                                  "it answered HTTP 204: it has no model")


def test_a_model_server_without_a_model_at_start_is_waited_for(
        tiny_project: Path, other_model: Path, caplog) -> None:
    """As Rasa: the server starts without a model (409 meanwhile) and the pulls load one."""
    import aiohttp

    from dialogflowlite.server.app import ServerConfig, create_app
    from dialogflowlite.server.serve import check_config

    shutil.rmtree(tiny_project / "models")
    offered: dict[str, bytes] = {}

    def reply(request: Any) -> tuple[int, dict, bytes]:
        if "model" not in offered:
            return 204, {}, b""
        return 200, {"ETag": '"v1"'}, offered["model"]

    with StubHttpServer(reply, path="/bot.tar") as models:
        config = ServerConfig(project=str(tiny_project), credentials={}, endpoints={
            "models": {"url": models.url, "wait_time_between_pulls": 0.2}})
        with caplog.at_level(logging.WARNING, logger="dialogflowlite.server.serve"):
            check_config(config, workers=1)
        assert config.start_without_model
        assert "starts without a model and pulls again every 0.2 s" in caplog.text
        assert "it answered HTTP 204: it has no model" in caplog.text
        app = create_app(config)

        async def scenario() -> tuple[int, int, str]:
            async with serving(app, healthy=False) as url:
                async with aiohttp.ClientSession() as session:
                    async with session.post(f"{url}/webhooks/rest/webhook",
                                            json={"sender": "mo", "message": "/greet"}) as r:
                        before = r.status
                    async with session.get(f"{url}/health") as r:
                        health = r.status
                offered["model"] = other_model.read_bytes()
                await until(lambda: app.ctx.agent is not None, "the pulled model loaded")
                return before, health, await greet(url)

        before, health, after = asyncio.run(scenario())
    assert (before, health) == (409, 503)
    assert after == OTHER_GREETING
    assert len(list((tiny_project / "models").glob("pulled-*.tar"))) == 1


def test_only_the_newest_pulled_files_are_kept(tmp_path: Path) -> None:
    import os

    server = ModelServer.from_config({"url": "http://x", "keep": 2}, tmp_path)
    assert server is not None
    folder = tmp_path / "models"
    folder.mkdir()
    files = [folder / f"pulled-2026120{n}-000000.tar" for n in range(1, 6)]
    for age, path in enumerate(reversed(files)):
        path.write_bytes(b"model")
        os.utime(path, (1000 - age, 1000 - age))  # files[-1] is the newest
    trained = folder / "20260101-000000.tar"
    trained.write_bytes(b"model")
    os.utime(trained, (1, 1))
    removed = server.prune(current=files[0])  # the oldest is still being served
    assert sorted(removed) == files[1:3]
    assert sorted(folder.iterdir()) == sorted([trained, files[0], files[3], files[4]])


def test_settings_are_checked(tmp_path: Path) -> None:
    assert ModelServer.from_config(None, tmp_path) is None
    with pytest.raises(ConfigError, match="models needs a `url`"):
        ModelServer.from_config({"wait_time_between_pulls": 10}, tmp_path)
    with pytest.raises(ConfigError, match="not an http"):
        ModelServer.from_config({"url": "models.example.com/x"}, tmp_path)
    with pytest.raises(ConfigError, match="numbers of seconds"):
        ModelServer.from_config({"url": "http://x", "wait_time_between_pulls": "often"},
                                tmp_path)
    with pytest.raises(ConfigError, match="keep must be a whole number"):
        ModelServer.from_config({"url": "http://x", "keep": 0}, tmp_path)
    once = ModelServer.from_config({"url": "http://x", "wait_time_between_pulls": None},
                                   tmp_path)
    assert once is not None and once.wait_time_between_pulls is None
    # a misspelt setting was dropped without a word
    with pytest.raises(ConfigError, match="models has no setting 'wait_time_betwen_pulls'") \
            as error:
        ModelServer.from_config({"url": "http://x", "wait_time_betwen_pulls": 3}, tmp_path)
    assert "wait_time_between_pulls" in error.value.hint
    with pytest.raises(ConfigError, match="models: `basic_auth` needs a `username`"):
        ModelServer.from_config({"url": "http://x", "basic_auth": {"username": "u"}}, tmp_path)


def test_the_token_params_and_basic_auth_reach_the_model_server(tmp_path: Path,
                                                               host: ModelHost) -> None:
    # only url, the waits, keep and headers were read: Rasa X's `token` never reached
    # the server, which answered 401
    server = ModelServer.from_config(
        {"url": host.url, "token": "s3cret", "params": {"tag": "prod"},
         "basic_auth": {"username": "bot", "password": "pw"}, "headers": {"X-Bot": "1"}},
        tmp_path)
    assert server is not None
    assert asyncio.run(server.pull()) is not None
    from urllib.parse import parse_qsl, urlsplit

    [request] = host.requests
    assert dict(parse_qsl(urlsplit(request.path).query)) == {"tag": "prod", "token": "s3cret"}
    assert request.headers.get("X-Bot") == "1"
    assert request.headers.get("Authorization") == "Basic Ym90OnB3"  # bot:pw


def test_workers_share_a_pull_instead_of_downloading_it_again(tmp_path: Path,
                                                              host: ModelHost) -> None:
    section = {"url": host.url, "wait_time_between_pulls": 60}
    first, second = (ModelServer.from_config(section, tmp_path) for _ in range(2))

    async def main():
        # two workers pulling at the same moment: one downloads, the other takes its file
        together = await asyncio.gather(first.pull(), second.pull())
        again = await asyncio.gather(first.pull(together[0]), second.pull(together[1]))
        return together, again

    together, again = asyncio.run(main())
    assert together[0] == together[1] and together[0].is_file()
    statuses = [r.headers.get("If-None-Match") for r in host.requests]
    assert statuses[0] is None  # one download ...
    assert len(host.requests) == 3 and statuses[1:] == ['"v1"', '"v1"']  # ... then 304s
    assert again == [None, None]
    assert first.etag == second.etag == '"v1"'
    pulled = sorted(p.name for p in (tmp_path / "models").glob("*.tar"))
    assert pulled == [together[0].name]


def test_an_old_or_missing_record_is_not_taken(tmp_path: Path, host: ModelHost) -> None:
    import json

    folder = tmp_path / "models"
    folder.mkdir()
    (folder / "pulled-20260101-000000.tar").write_bytes(b"old model")
    (folder / ".pulled.json").write_text(json.dumps(
        {"etag": '"v0"', "file": "pulled-20260101-000000.tar", "time": 1.0}))
    server = ModelServer.from_config({"url": host.url}, tmp_path)
    pulled = asyncio.run(server.pull())
    assert pulled is not None and pulled.name != "pulled-20260101-000000.tar"
    assert host.if_none_match == [None] and server.etag == '"v1"'
    record = json.loads((folder / ".pulled.json").read_text())
    assert record["etag"] == '"v1"' and record["file"] == pulled.name


def _pull_record(folder: Path, **fields: Any) -> None:
    import json

    (folder / "pulled-20260101-000000.tar").write_bytes(b"a pulled model")
    (folder / ".pulled.json").write_text(json.dumps(
        {"etag": '"v0"', "file": "pulled-20260101-000000.tar", "time": 1.0, **fields}))


def test_a_pull_of_this_servers_workers_gives_its_etag_however_old(
        tmp_path: Path, host: ModelHost) -> None:
    """That worker records its pull as a model choice: this one follows the choices."""
    folder = tmp_path / "models"
    folder.mkdir()
    _pull_record(folder, url=host.url, run="this-run")
    server = ModelServer.from_config({"url": host.url}, tmp_path)
    server.run_id = "this-run"
    pulled = asyncio.run(server.pull())
    assert pulled == folder / "pulled-20260101-000000.tar"
    assert server.taken_from_another_worker and server.etag == '"v0"'
    assert host.requests == []


def test_a_recent_pull_of_an_earlier_server_becomes_this_workers_pull(
        tmp_path: Path, host: ModelHost) -> None:
    import json
    import time

    folder = tmp_path / "models"
    folder.mkdir()
    _pull_record(folder, url=host.url, run="earlier-run", time=time.time())
    server = ModelServer.from_config({"url": host.url}, tmp_path)
    server.run_id = "this-run"
    pulled = asyncio.run(server.pull())
    # this worker switches to it and records it as a choice of this run
    assert pulled == folder / "pulled-20260101-000000.tar"
    assert not server.taken_from_another_worker and host.requests == []
    record = json.loads((folder / ".pulled.json").read_text())
    assert record["run"] == "this-run" and record["etag"] == '"v0"'


def test_an_earlier_one_process_servers_pull_that_fails_to_load_is_deleted(
        tmp_path: Path, host: ModelHost) -> None:
    """A one-process server has no run id, nor had the earlier one whose recent pull it
    takes: that pull belongs to no worker of this run, so a switch that fails on it
    deletes the file and keeps its ETag, as for a download of its own."""
    import time

    from dialogflowlite.server.model_server import share_pulls

    folder = tmp_path / "models"
    folder.mkdir()
    _pull_record(folder, url=host.url, run=None, time=time.time())
    server = share_pulls(_pulling_app(), ModelServer.from_config({"url": host.url}, tmp_path))
    assert server.run_id is None

    async def failing_switch(pulled: Path) -> None:
        raise RuntimeError("not a model")

    with pytest.raises(RuntimeError):
        asyncio.run(server.pull(None, switch=failing_switch))
    assert not (folder / "pulled-20260101-000000.tar").exists()
    assert server.etag == '"v0"' and host.requests == []


def test_a_pull_from_another_model_server_is_not_taken(tmp_path: Path,
                                                       host: ModelHost) -> None:
    import time

    folder = tmp_path / "models"
    folder.mkdir()
    _pull_record(folder, url="https://elsewhere.example.com/bot.tar", run="this-run",
                 time=time.time())
    server = ModelServer.from_config({"url": host.url}, tmp_path)
    server.run_id = "this-run"
    pulled = asyncio.run(server.pull())
    assert pulled is not None and pulled.name != "pulled-20260101-000000.tar"
    assert not server.taken_from_another_worker
    assert host.if_none_match == [None] and server.etag == '"v1"'


def test_the_same_model_under_a_new_etag_is_downloaded_once(
        tmp_path: Path, other_model: Path) -> None:
    """The server publishes the served bytes again under a new ETag: the pull that gets
    them records that ETag, so no pull asks with the old one (and downloads it) again."""
    import json

    folder = tmp_path / "models"
    folder.mkdir()
    current = folder / "pulled-20260101-000000.tar"
    shutil.copy(other_model, current)
    (folder / ".pulled.json").write_text(json.dumps(
        {"etag": '"v0"', "file": current.name, "time": 1.0, "run": "this-run"}))
    with ModelHost(other_model.read_bytes(), etag='"v1"') as host:
        record = json.loads((folder / ".pulled.json").read_text())
        (folder / ".pulled.json").write_text(json.dumps({**record, "url": host.url}))
        server = ModelServer.from_config({"url": host.url}, tmp_path)
        server.run_id, server.etag = "this-run", '"v0"'
        pulls = [asyncio.run(server.pull(current)) for _ in range(3)]
        assert pulls == [None, None, None]
        assert host.if_none_match == ['"v0"', '"v1"', '"v1"']
    assert json.loads((folder / ".pulled.json").read_text())["etag"] == '"v1"'


def test_an_earlier_runs_untold_pull_under_a_new_etag_counts_as_told(
        tmp_path: Path, other_model: Path) -> None:
    """The served bytes come back under a new ETag while the record is an earlier run's
    untold pull: its ``after`` numbered that run's choices, so the rewritten record of
    this run says told (the other workers follow this run's choices instead)."""
    import json

    folder = tmp_path / "models"
    folder.mkdir()
    current = folder / "pulled-20260101-000000.tar"
    shutil.copy(other_model, current)
    with ModelHost(other_model.read_bytes(), etag='"v1"') as host:
        (folder / ".pulled.json").write_text(json.dumps(
            {"etag": '"v0"', "file": current.name, "time": 1.0, "run": "earlier-run",
             "url": host.url, "told": False, "after": 5}))
        server = ModelServer.from_config({"url": host.url}, tmp_path)
        server.run_id, server.etag = "this-run", '"v0"'
        assert asyncio.run(server.pull(current, take=False)) is None
    record = json.loads((folder / ".pulled.json").read_text())
    # a told pull's record carries no told/after fields
    assert record["etag"] == '"v1"' and record["run"] == "this-run"
    assert "told" not in record and "after" not in record


def _pulling_app() -> Any:
    from types import SimpleNamespace

    return SimpleNamespace(ctx=SimpleNamespace(shared_model=None, model_file=None))


def test_a_pulled_model_served_before_a_cancel_is_kept_and_recorded(
        tmp_path: Path, host: ModelHost) -> None:
    """``PUT /model`` with ``model_server`` is cancelled after its switch (the client
    hung up while the choice was published): the file now served stays."""
    import json

    from dialogflowlite.server.model_server import share_pulls

    app = _pulling_app()
    server = share_pulls(app, ModelServer.from_config({"url": host.url}, tmp_path))

    async def switch_then_cancelled(pulled: Path) -> None:
        app.ctx.model_file = pulled
        raise asyncio.CancelledError

    with pytest.raises(asyncio.CancelledError):
        asyncio.run(server.pull(None, take=False, switch=switch_then_cancelled))
    assert app.ctx.model_file.is_file()
    record = json.loads((tmp_path / "models" / ".pulled.json").read_text())
    assert record["file"] == app.ctx.model_file.name


def test_a_pulled_model_that_does_not_switch_is_deleted(tmp_path: Path,
                                                         host: ModelHost) -> None:
    from dialogflowlite.server.model_server import share_pulls

    app = _pulling_app()
    server = share_pulls(app, ModelServer.from_config({"url": host.url}, tmp_path))
    tried: list[Path] = []

    async def failing_switch(pulled: Path) -> None:
        tried.append(pulled)
        raise RuntimeError("not a model")

    with pytest.raises(RuntimeError):
        asyncio.run(server.pull(None, take=False, switch=failing_switch))
    assert len(tried) == 1 and not tried[0].exists()
    assert not (tmp_path / "models" / ".pulled.json").exists()


def test_a_pull_record_that_cannot_be_written_does_not_fail_the_switch(
        tmp_path: Path, host: ModelHost, monkeypatch, caplog) -> None:
    """The model switched and its choice was published: ``PUT /model`` answers 204 and
    the pull is no failure; the record is a warning."""
    from dialogflowlite.server.model_server import share_pulls

    app = _pulling_app()
    server = share_pulls(app, ModelServer.from_config({"url": host.url}, tmp_path))

    def full_disk(pulled: Path, told: bool, after: int | None = None) -> None:
        raise OSError("no space left on device")

    monkeypatch.setattr(server, "_write_record", full_disk)

    async def switch(pulled: Path) -> None:
        app.ctx.model_file = pulled

    pulled = asyncio.run(server.pull(None, take=False, switch=switch))
    assert pulled == app.ctx.model_file and pulled.is_file()
    assert any(r.levelname == "WARNING" and "no space left" in r.getMessage()
               for r in caplog.records)


class StalledModelHost:
    """A model server that sends the start of a model, then nothing until :attr:`release`
    is set (a slow network, a server that hangs)."""

    def __init__(self) -> None:
        import socket
        import threading

        self.release = threading.Event()
        self._socket = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._socket.getsockname()[1]}/bot.tar"
        threading.Thread(target=self._answer, daemon=True).start()

    def _answer(self) -> None:
        connection, _ = self._socket.accept()
        with connection:
            connection.recv(65536)
            connection.sendall(b'HTTP/1.1 200 OK\r\nETag: "v1"\r\nContent-Length: 1000000\r\n\r\n')
            connection.sendall(b"x" * 100_000)
            self.release.wait(60)

    def close(self) -> None:
        self.release.set()
        self._socket.close()


def test_a_cancelled_download_leaves_no_partial_file(tmp_path: Path) -> None:
    """A download cancelled midway (a ``PUT`` whose client hung up, the server
    stopping) deletes what it wrote: nothing is left in ``models/``."""
    stalled = StalledModelHost()
    server = ModelServer(stalled.url, tmp_path / "models", timeout=60)
    models = tmp_path / "models"

    def partly_written() -> bool:
        return any(p.stat().st_size > 0 for p in models.glob("*.partial"))

    async def main() -> None:
        download = asyncio.create_task(server.pull(None, take=False))
        await until(partly_written, "the start of the model written to disk")
        download.cancel()
        with pytest.raises(asyncio.CancelledError):
            await download

    try:
        asyncio.run(main())
    finally:
        stalled.close()
    assert sorted(p.name for p in models.iterdir() if not p.name.startswith(".")) == []


def test_downloads_in_the_same_second_get_names_of_their_own(
        two_workers: tuple[Any, Any], other_model: Path, tiny_project: Path,
        monkeypatch) -> None:
    """``run --workers``: two ``PUT /model`` with ``model_server`` in one clock second.
    The second download never takes the first one's file, so the worker that loaded the
    first (following the other worker) switches to the second too."""
    import aiohttp

    from dialogflowlite import artifact

    # the clock of both downloads reads the same second
    monkeypatch.setattr(artifact, "model_file_name",
                        lambda prefix="": f"{prefix}-20260101-120000.tar")
    one, two = two_workers
    first_model = Path(one.ctx.config.model_path)
    host_a = ModelHost(other_model.read_bytes(), etag='"a"')
    host_b = ModelHost(first_model.read_bytes(), etag='"b"')

    async def put(session: aiohttp.ClientSession, url: str, host: ModelHost) -> int:
        async with session.put(f"{url}/model", json={"model_server": {
                "url": host.url, "wait_time_between_pulls": 0}}) as response:
            return response.status

    async def served(session: aiohttp.ClientSession, url: str) -> str:
        async with session.get(f"{url}/status") as response:
            return (await response.json())["model_file"]

    async def main() -> tuple[list[int], str, list[str], list[str]]:
        async with serving(one) as url_one, serving(two) as url_two, \
                aiohttp.ClientSession() as session:
            statuses = [await put(session, url_one, host_a)]
            followed = await served(session, url_two)  # worker two loads model A
            statuses.append(await put(session, url_one, host_b))
            return (statuses, followed,
                    [await served(session, url) for url in (url_one, url_two)],
                    [await greet(url) for url in (url_one, url_two)])

    try:
        statuses, followed, now, greetings = asyncio.run(main())
    finally:
        host_a.close()
        host_b.close()
    assert statuses == [204, 204]
    assert followed == "pulled-20260101-120000.tar"
    assert now == ["pulled-20260101-120000-2.tar"] * 2
    assert greetings[0] == greetings[1] != OTHER_GREETING
    assert sorted(p.name for p in (tiny_project / "models").glob("pulled*")) == [
        "pulled-20260101-120000-2.tar", "pulled-20260101-120000.tar"]


def test_without_hard_links_a_name_is_claimed_without_an_empty_model(tmp_path: Path,
                                                                       monkeypatch) -> None:
    """Where the file system has no hard links, the name is claimed with a side file:
    an empty ``pulled-*.tar`` would be the newest model a start without ``--model`` picks
    if the process died before the download took its place."""
    import os

    from dialogflowlite import artifact
    from dialogflowlite.server import model_server

    monkeypatch.setattr(artifact, "model_file_name",
                        lambda prefix="": f"{prefix}-20260101-120000.tar")

    def no_links(source, target):
        raise PermissionError("no hard links here")

    seen_at_replace: list[list[str]] = []
    real_replace = os.replace

    def replace_and_look(source, target):
        seen_at_replace.append(sorted(p.name for p in tmp_path.glob("*.tar")))
        real_replace(source, target)

    monkeypatch.setattr(model_server.os, "link", no_links)
    monkeypatch.setattr(model_server.os, "replace", replace_and_look)
    (tmp_path / "pulled-20260101-120000.tar").write_bytes(b"first")
    downloaded = tmp_path / "x.partial"
    downloaded.write_bytes(b"second")

    target = model_server.claim_pulled_name(downloaded)

    assert target.name == "pulled-20260101-120000-2.tar"
    assert target.read_bytes() == b"second"
    assert (tmp_path / "pulled-20260101-120000.tar").read_bytes() == b"first"
    # no empty pulled-*.tar stood in models/ while the name was claimed, and no claim
    # file is left behind
    assert seen_at_replace == [["pulled-20260101-120000.tar"]]
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "pulled-20260101-120000-2.tar", "pulled-20260101-120000.tar"]


def _until_change_times_pass(folder: Path, ns: int) -> None:
    """Wait until a file changed now gets a change time after ``ns``: a file system's
    clock may tick in milliseconds, and two changes within one tick look the same."""
    import time

    probe = folder / "clock.probe"
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        probe.write_bytes(b"tick")
        if probe.stat().st_ctime_ns > ns:
            probe.unlink()
            return
        time.sleep(0.001)
    pytest.fail("the file system's change times did not move in 5 s")


def test_a_file_copied_over_the_served_one_with_its_old_times_is_another_file(
        tmp_path: Path) -> None:
    """``cp -p`` (or ``tar x``) over a model writes it in place and puts its modification
    time back: its signature still differs, so a worker told to serve it loads it."""
    import os

    from dialogflowlite.server.models import file_signature

    served = tmp_path / "model.tar"
    served.write_bytes(b"old model")
    stat = served.stat()
    before = file_signature(served)
    _until_change_times_pass(tmp_path, stat.st_ctime_ns)
    with open(served, "r+b") as out:  # the same inode, the same size
        out.write(b"new model")
    os.utime(served, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert served.stat().st_mtime_ns == stat.st_mtime_ns
    assert file_signature(served) != before


def test_a_download_is_checked_off_the_event_loop(tmp_path: Path, host: ModelHost,
                                                  monkeypatch) -> None:
    """The downloaded model is compared with the running one and its manifest read in a
    worker thread: meanwhile the server goes on answering (a large model takes a while)."""
    import threading

    from dialogflowlite import artifact
    from dialogflowlite.server import model_server

    current = tmp_path / "current.tar"
    current.write_bytes(b"the running model")
    digesting, loop_ran = threading.Event(), threading.Event()
    on_the_loop_thread: list[bool] = []
    loop_in_time: list[bool] = []
    digest, read_manifest = model_server.file_digest, artifact.read_manifest

    def held_digest(path: Path) -> str:
        on_the_loop_thread.append(threading.current_thread() is threading.main_thread())
        digesting.set()
        loop_in_time.append(loop_ran.wait(5))  # set by the loop, unless this blocks it
        return digest(path)

    def watched_read_manifest(path: Path) -> Any:
        on_the_loop_thread.append(threading.current_thread() is threading.main_thread())
        return read_manifest(path)

    monkeypatch.setattr(model_server, "file_digest", held_digest)
    monkeypatch.setattr(artifact, "read_manifest", watched_read_manifest)
    server = ModelServer(host.url, tmp_path / "models")

    async def main() -> Path | None:
        pull = asyncio.create_task(server.pull(current, take=False))
        while not digesting.is_set():
            await asyncio.sleep(0.01)
        loop_ran.set()
        return await pull

    pulled = asyncio.run(main())
    assert pulled is not None and pulled.is_file()
    assert loop_in_time == [True, True]
    assert on_the_loop_thread == [False, False, False]  # two digests, one manifest


@pytest.mark.parametrize("answer", [304, 204, 500])
def test_an_answer_without_a_model_creates_no_partial_file(tmp_path: Path, monkeypatch,
                                                           answer: int, caplog) -> None:
    from dialogflowlite.server import model_server

    created: list[Path] = []
    create = model_server._create_partial
    monkeypatch.setattr(model_server, "_create_partial",
                        lambda folder: created.append(folder) or create(folder))
    host = StubHttpServer(lambda request: (answer, {}, b""), path="/bot.tar")
    try:
        server = ModelServer(host.url, tmp_path / "models")
        server.etag = '"v1"'
        with caplog.at_level(logging.ERROR, logger="dialogflowlite.server.model_server"):
            assert asyncio.run(server.pull(None, take=False)) is None
    finally:
        host.close()
    assert len(host.requests) == 1 and created == []
    # 304 and 204 say there is no newer model, as Rasa reads them: nothing is wrong
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert errors == ([f"model server {host.url}: it answered HTTP 500; the running model "
                       "stays"] if answer == 500 else [])


def test_files_left_by_a_killed_download_are_deleted_by_the_next_pull(
        tmp_path: Path, host: ModelHost) -> None:
    folder = tmp_path / "models"
    folder.mkdir()
    partial = folder / "pulled-20260101-000000.tar.0a1b2c3d.partial"
    partial.write_bytes(b"the start of a model")
    claim = folder / "pulled-20260101-000000.tar.claim"  # killed while moving it in
    claim.touch()
    kept = folder / "trained-20260101-000000.tar"
    kept.write_bytes(b"a model trained here")
    # what `train --fixed-model-name pulled-x` writes meanwhile: no download's file
    training = folder / "pulled-x.tar.partial"
    training.write_bytes(b"a model being trained")
    server = ModelServer(host.url, folder)
    server.etag = '"v1"'
    assert asyncio.run(server.pull(None, take=False)) is None  # 304
    assert sorted(p.name for p in folder.iterdir() if not p.name.startswith(".")) == sorted([
        kept.name, training.name])


def test_a_download_whose_last_bytes_the_disk_refuses_is_logged_as_such(
        tmp_path: Path, monkeypatch, caplog) -> None:
    """A small download sits in the file's buffer until it is closed: a full disk says
    so only then, and that too is the disk's error, not an unreachable server."""
    import os

    from dialogflowlite.server import model_server

    monkeypatch.setattr(model_server, "_create_partial",
                        lambda folder: (folder / "pulled-x.tar.0123abcd.partial",
                                        os.open("/dev/full", os.O_WRONLY)))
    with StubHttpServer(lambda request: (200, {"ETag": '"v1"'}, b"x" * 100),
                        path="/bot.tar") as small:
        server = ModelServer(small.url, tmp_path / "models")
        with caplog.at_level(logging.ERROR, logger="dialogflowlite.server.model_server"):
            assert asyncio.run(server.pull(None, take=False)) is None
    assert server.no_model_reason == (f"the download cannot be written to {tmp_path / 'models'}"
                                      ": [Errno 28] No space left on device")


def test_a_download_the_disk_refuses_is_logged_as_such(tmp_path: Path, host: ModelHost,
                                                       monkeypatch, caplog) -> None:
    """A full disk is the models folder's fault: the error names it and the folder, not
    an unreachable model server."""
    import errno

    from dialogflowlite.server import model_server

    def full_disk(folder: Path) -> Any:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(model_server, "_create_partial", full_disk)
    server = ModelServer(host.url, tmp_path / "models")
    with caplog.at_level(logging.ERROR, logger="dialogflowlite.server.model_server"):
        assert asyncio.run(server.pull(None, take=False)) is None
    assert server.no_model_reason == (f"the download cannot be written to {tmp_path / 'models'}"
                                      ": [Errno 28] No space left on device")
    assert server.no_model_reason in caplog.text and "cannot be reached" not in caplog.text


def test_a_pull_waiting_for_another_ones_download_leaves_its_partial_file(
        tmp_path: Path, host: ModelHost) -> None:
    """``run --workers``: a pull begins while another worker downloads; the file that
    download writes is not taken for one left behind."""
    stalled = StalledModelHost()
    folder = tmp_path / "models"
    downloading = ModelServer(stalled.url, folder, timeout=60)
    waiting = ModelServer(host.url, folder)
    waiting.etag = '"v1"'

    def partly_written() -> list[Path]:
        return [p for p in folder.glob("*.partial") if p.stat().st_size > 0]

    async def main() -> tuple[list[Path], list[Path]]:
        download = asyncio.create_task(downloading.pull(None, take=False))
        await until(partly_written, "the start of the model written to disk")
        before = partly_written()
        pull = asyncio.create_task(waiting.pull(None, take=False))
        await asyncio.sleep(0.3)  # the waiting pull tries the pull lock meanwhile
        during = [p for p in before if p.exists()]
        download.cancel()
        with pytest.raises(asyncio.CancelledError):
            await download
        assert await pull is None
        return before, during

    try:
        before, during = asyncio.run(main())
    finally:
        stalled.close()
    assert len(before) == 1 and during == before


def test_a_slow_or_cut_download_is_said_as_such(tmp_path: Path) -> None:
    # both said "it cannot be reached (TimeoutError / ClientPayloadError)", of a server
    # that was sending
    stalled = StalledModelHost()
    try:
        server = ModelServer(stalled.url, tmp_path / "models", timeout=0.5)
        assert asyncio.run(server.pull()) is None
        assert server.no_model_reason == ("the download did not finish within 0.5 s (the "
                                          "models endpoint's `timeout`)")
    finally:
        stalled.close()
    cut = StalledModelHost()
    try:
        server = ModelServer(cut.url, tmp_path / "models", timeout=30)
        cut.release.set()  # it sends a tenth of the model, then hangs up
        assert asyncio.run(server.pull()) is None
        assert server.no_model_reason.startswith("the download was cut off")
    finally:
        cut.close()
    assert ModelServer("http://x", tmp_path).timeout == 300  # Rasa's


def test_a_model_server_that_accepts_no_connection_in_time_is_said_so(
        tmp_path: Path, monkeypatch) -> None:
    # it was "the download did not finish within 300 s": no download had begun
    import aiohttp

    def no_connection(*args: Any, **kwargs: Any) -> Any:
        raise aiohttp.ConnectionTimeoutError("Connection timeout to host http://x")

    monkeypatch.setattr(aiohttp.ClientSession, "get", no_connection)
    server = ModelServer("http://models.example/bot.tar", tmp_path / "models", timeout=2)
    assert asyncio.run(server.pull()) is None
    assert server.no_model_reason == ("it did not accept a connection within 2 s (the "
                                      "models endpoint's `timeout`)")
