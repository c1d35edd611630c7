"""Edges of the model choice under ``run --workers``: a publish that outlasts repeated
cancels, a pulled model dropped for a newer choice, the choice record read once per
change, and changes made when its lock cannot be had. Fakes only: nothing loads."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

RUN = "run-under-test"


def _fake_worker(folder: Path, **ctx: Any) -> Any:
    """An app as :mod:`dialogflowlite.server.models` sees a worker of ``run --workers``."""
    from dialogflowlite.server.models import SharedModelChoice

    metrics = SimpleNamespace(model_load_seconds=SimpleNamespace(set=lambda seconds: None),
                              model_loads=SimpleNamespace(inc=lambda: None))
    values = {"shared_model": SharedModelChoice(folder, RUN), "agent": None,
              "model_file": None, "config": None, "metrics": metrics,
              "model_swap_lock": asyncio.Lock()}
    values.update(ctx)
    return SimpleNamespace(ctx=SimpleNamespace(**values))


def _loads_without_models(monkeypatch) -> None:
    """Swaps that "load" any path at once, with an agent standing for it."""
    from dialogflowlite.server import models

    monkeypatch.setattr(models, "resolve_model_path", lambda config, requested: Path(requested))
    monkeypatch.setattr(models, "load_server_agent",
                        lambda config, model_file, stores: (f"agent of {model_file.name}",
                                                            model_file))


# --- a change cancelled while the record is locked ---------------------------------------

@pytest.mark.parametrize("change", ["PUT", "DELETE"])
def test_a_change_cancelled_while_the_record_is_locked_changes_nothing(
        tmp_path: Path, monkeypatch, change: str) -> None:
    """A ``PUT`` or ``DELETE /model`` whose client hangs up while another worker holds
    the choice record's lock: the change is recorded before it is made, so it is made
    in no worker, and the swap lock is free again for the next change."""
    from dialogflowlite.server import models
    from dialogflowlite.server.process_lock import process_lock

    _loads_without_models(monkeypatch)
    old = tmp_path / "old.tar"

    async def main() -> Any:
        app = _fake_worker(tmp_path, model_file=old, agent="agent of old.tar")
        async with process_lock(tmp_path / ".served.lock"):  # another worker's
            request = asyncio.create_task(
                models.swap_model(app, str(tmp_path / "new.tar")) if change == "PUT"
                else models.unload_model(app))
            await asyncio.sleep(0.3)  # loaded, and waiting for the record's lock
            assert not request.done()
            request.cancel()
            with pytest.raises(asyncio.CancelledError):
                await request
        assert not app.ctx.model_swap_lock.locked()
        return app

    app = asyncio.run(main())
    assert (app.ctx.model_file, app.ctx.agent) == (old, "agent of old.tar")
    assert app.ctx.shared_model.latest() is None


# --- a pulled model dropped for a newer choice --------------------------------------------

class FakeModelServer:
    """What the model server of a ``ModelServer`` answers: one model, ETag "v1"."""

    def __init__(self) -> None:
        self.downloads = 0

    def attach(self, server: Any) -> Any:
        async def download(current: Path | None) -> Path | None:
            if server.etag == '"v1"':
                return None  # 304
            self.downloads += 1
            target = server.folder / f"pulled-{self.downloads}.tar"
            target.write_bytes(b"model v1")
            server.etag = '"v1"'
            return target

        server._download = download
        return server


def _model_server(app: Any, folder: Path, fake: FakeModelServer) -> Any:
    from dialogflowlite.server.model_server import ModelServer, share_pulls

    server = ModelServer("https://models.example.com/bot.tar", folder,
                         wait_time_between_pulls=None)
    return fake.attach(share_pulls(app, server))


def test_a_pulled_model_dropped_for_a_newer_choice_is_deleted_and_not_pulled_again(
        tmp_path: Path, monkeypatch) -> None:
    """A ``PUT /model`` made while the pulled model loads wins; the dropped file does not
    stay in models/ (a restart without ``--model`` would serve it, the newest file), and
    the other worker still takes the pull's ETag instead of downloading the model and
    serving it over the ``PUT``."""
    from dialogflowlite.server import models
    from dialogflowlite.server.model_server import PULL_RECORD, keep_pulling

    _loads_without_models(monkeypatch)
    trained = tmp_path / "trained.tar"
    trained.write_bytes(b"trained")
    chosen = tmp_path / "chosen.tar"
    one = _fake_worker(tmp_path, model_file=trained, agent="agent of trained.tar")
    two = _fake_worker(tmp_path, model_file=trained, agent="agent of trained.tar")
    load = models.load_server_agent

    def load_while_a_put_is_answered(config: Any, model_file: Path, stores: Any) -> Any:
        if model_file.name.startswith("pulled"):
            # a PUT /model answered by this worker meanwhile (its swap waits for the lock)
            one.ctx.model_changes = getattr(one.ctx, "model_changes", 0) + 1
            one.ctx.model_file = chosen
        return load(config, model_file, stores)

    monkeypatch.setattr(models, "load_server_agent", load_while_a_put_is_answered)
    fake = FakeModelServer()

    async def main() -> None:
        await keep_pulling(one, _model_server(one, tmp_path, fake))
        await keep_pulling(two, _model_server(two, tmp_path, fake))

    asyncio.run(main())
    assert one.ctx.model_file == chosen
    assert not (tmp_path / "pulled-1.tar").exists()
    assert json.loads((tmp_path / PULL_RECORD).read_text())["etag"] == '"v1"'
    assert fake.downloads == 1  # the other worker took the ETag
    assert two.ctx.model_file == trained


def test_a_pulled_model_that_serves_is_kept(tmp_path: Path, monkeypatch) -> None:
    from dialogflowlite.server.model_server import keep_pulling

    _loads_without_models(monkeypatch)
    one = _fake_worker(tmp_path)
    asyncio.run(keep_pulling(one, _model_server(one, tmp_path, FakeModelServer())))
    assert one.ctx.model_file == tmp_path / "pulled-1.tar"
    assert one.ctx.model_file.exists()


def test_an_earlier_servers_pull_dropped_for_a_newer_choice_is_kept(
        tmp_path: Path, monkeypatch) -> None:
    """The file of an earlier server's pull was not downloaded by this pull: a worker
    that started on it, as the newest file in models/, may serve it."""
    import time

    from dialogflowlite.server.model_server import PULL_RECORD

    earlier = tmp_path / "pulled-0.tar"
    earlier.write_bytes(b"model v1")
    (tmp_path / PULL_RECORD).write_text(json.dumps({
        "etag": '"v1"', "file": earlier.name, "time": time.time(),
        "url": "https://models.example.com/bot.tar", "run": "an earlier run"}))
    one = _fake_worker(tmp_path, model_file=tmp_path / "trained.tar", agent="agent")
    server = _model_server(one, tmp_path, FakeModelServer())
    server.wait_time_between_pulls = 100.0

    async def dropped(pulled: Path) -> None:
        return None  # a newer choice was made while it loaded

    assert asyncio.run(server.pull(one.ctx.model_file, switch=dropped)) == earlier
    assert earlier.exists()


# --- following a choice of the path a worker serves ---------------------------------------

def test_a_new_file_at_the_served_path_is_loaded_when_another_worker_chooses_it(
        tmp_path: Path, monkeypatch) -> None:
    """A worker serves ``bot.tar``; a new model is then moved to that path and another
    worker switches to it: following that choice loads the new file, as the path alone
    no longer says which model the worker serves."""
    from dialogflowlite.server import models

    _loads_without_models(monkeypatch)
    loaded: list[bytes] = []
    load = models.load_server_agent

    def reading(config: Any, model_file: Path, stores: Any) -> Any:
        loaded.append(model_file.read_bytes())
        return load(config, model_file, stores)

    monkeypatch.setattr(models, "load_server_agent", reading)
    model = tmp_path / "bot.tar"
    model.write_bytes(b"model one")
    choosing, following = _fake_worker(tmp_path), _fake_worker(tmp_path)

    async def choose_then_follow() -> None:
        await models.swap_model(choosing, str(model))
        await models.follow_shared_choice(following)

    asyncio.run(choose_then_follow())
    (tmp_path / "new.tar").write_bytes(b"model two, longer")
    (tmp_path / "new.tar").replace(model)
    asyncio.run(choose_then_follow())
    assert loaded == [b"model one", b"model one", b"model two, longer",
                      b"model two, longer"]


def test_a_file_put_over_the_path_while_it_loads_is_loaded_when_chosen(
        tmp_path: Path, monkeypatch) -> None:
    """A new model moved to ``bot.tar`` while a worker loads the old one there: the
    worker serves the old model, so another worker's choice of ``bot.tar`` loads the
    new one (the signature taken after the load was the new file's, and the choice
    was taken as served already)."""
    from dialogflowlite.server import models

    _loads_without_models(monkeypatch)
    loaded: list[bytes] = []
    load = models.load_server_agent
    model = tmp_path / "bot.tar"

    def reading_then_replaced(config: Any, model_file: Path, stores: Any) -> Any:
        loaded.append(model_file.read_bytes())
        if len(loaded) == 1:  # a deploy moves a new model in meanwhile
            (tmp_path / "new.tar").write_bytes(b"model two, longer")
            (tmp_path / "new.tar").replace(model)
        return load(config, model_file, stores)

    monkeypatch.setattr(models, "load_server_agent", reading_then_replaced)
    model.write_bytes(b"model one")
    following, choosing = _fake_worker(tmp_path), _fake_worker(tmp_path)

    async def main() -> None:
        await models.swap_model(following, str(model), announce=False)
        await models.swap_model(choosing, str(model))
        await models.follow_shared_choice(following)

    asyncio.run(main())
    assert loaded == [b"model one", b"model two, longer", b"model two, longer"]


def test_a_choice_of_the_unchanged_served_file_loads_nothing(
        tmp_path: Path, monkeypatch) -> None:
    from dialogflowlite.server import models

    _loads_without_models(monkeypatch)
    loads: list[Path] = []
    load = models.load_server_agent
    monkeypatch.setattr(models, "load_server_agent",
                        lambda config, model_file, stores:
                        loads.append(model_file) or load(config, model_file, stores))
    model = tmp_path / "bot.tar"
    model.write_bytes(b"model one")
    one, two = _fake_worker(tmp_path), _fake_worker(tmp_path)

    async def main() -> None:
        await models.swap_model(two, str(model))
        await models.swap_model(one, str(model))  # the choice two follows: its own file
        await models.follow_shared_choice(two)

    asyncio.run(main())
    assert loads == [model, model]
    assert two.ctx.model_file == model


# --- the choice record under its lock -----------------------------------------------------

@pytest.mark.parametrize("change", ["pull", "PUT", "DELETE", "PUT without a ticket"])
def test_a_change_reads_the_choice_record_once(tmp_path: Path, monkeypatch,
                                               change: str) -> None:
    """The record is read once per change under its lock: what the check and the new
    record need comes from that one reading."""
    from dialogflowlite.server import models

    _loads_without_models(monkeypatch)
    other, app = _fake_worker(tmp_path), _fake_worker(tmp_path)
    reads: list[int] = []
    read = models.SharedModelChoice._read

    def counted(self: Any) -> Any:
        reads.append(1)
        return read(self)

    async def main() -> None:
        await models.swap_model(other, str(tmp_path / "a.tar"),
                                ticket=await models.choice_ticket(other))
        await models.follow_shared_choice(app)
        mark, ticket = models.choice_mark(app), await models.choice_ticket(app)
        monkeypatch.setattr(models.SharedModelChoice, "_read", counted)
        chosen = str(tmp_path / "b.tar")
        if change == "pull":
            await models.swap_model(app, chosen, since=mark)
        elif change == "PUT":
            await models.swap_model(app, chosen, ticket=ticket)
        elif change == "DELETE":
            await models.unload_model(app, ticket=ticket)
        else:
            await models.swap_model(app, chosen)

    asyncio.run(main())
    assert reads == [1]
    assert app.ctx.shared_model.latest()["number"] == 2


def _lock_that_cannot_be_had(monkeypatch) -> None:
    """The record's lock file cannot be opened (a read-only or full disk)."""
    import contextlib

    from dialogflowlite.server import process_lock

    @contextlib.asynccontextmanager
    async def refused(path: Path) -> Any:
        raise PermissionError(13, "Permission denied", str(path))
        yield  # pragma: no cover - makes this a generator

    monkeypatch.setattr(process_lock, "process_lock", refused)


def test_a_worker_that_followed_a_later_change_refuses_an_earlier_one_without_the_lock(
        tmp_path: Path, monkeypatch) -> None:
    """``PUT`` A arrives at one worker, ``PUT`` B after it at another, which serves it;
    the first worker follows B. When A finishes and the record's lock cannot be had,
    the first worker still knows that B arrived later: A is a 409 and B stays."""
    from dialogflowlite.errors import ApiError
    from dialogflowlite.server import models

    _loads_without_models(monkeypatch)
    first, second = _fake_worker(tmp_path), _fake_worker(tmp_path)

    async def main() -> None:
        earlier = await models.choice_ticket(first)
        later = await models.choice_ticket(second)
        await models.swap_model(second, str(tmp_path / "b.tar"), ticket=later)
        await models.follow_shared_choice(first)
        assert first.ctx.served_ticket == later
        _lock_that_cannot_be_had(monkeypatch)
        with pytest.raises(ApiError) as refused:
            await models.swap_model(first, str(tmp_path / "a.tar"), ticket=earlier)
        assert refused.value.status == 409

    asyncio.run(main())
    assert first.ctx.model_file == tmp_path / "b.tar"


def test_a_pull_whose_record_cannot_be_locked_is_still_served_here(
        tmp_path: Path, monkeypatch, caplog) -> None:
    """No lock on the record: the pulled model is served by the worker that pulled it,
    and the log says the others keep theirs."""
    from dialogflowlite.server import models

    _loads_without_models(monkeypatch)
    app = _fake_worker(tmp_path)
    _lock_that_cannot_be_had(monkeypatch)

    async def main() -> Path | None:
        return await models.swap_model(app, str(tmp_path / "pulled.tar"),
                                       since=models.choice_mark(app))

    with caplog.at_level("ERROR"):
        assert asyncio.run(main()) == tmp_path / "pulled.tar"
    assert app.ctx.model_file == tmp_path / "pulled.tar"
    assert "cannot be told of the model change" in caplog.text


def _record_that_cannot_be_written(monkeypatch) -> None:
    """The record's lock is had, but its file cannot be written: the disk fills up
    halfway through the temporary file."""
    from dialogflowlite.server import models

    def dump_half(data: Any, out: Any) -> None:
        out.write(json.dumps(data)[:5])
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(models, "json", SimpleNamespace(loads=json.loads, dump=dump_half))


@pytest.mark.parametrize("failure", ["lock", "file"])
@pytest.mark.parametrize("change", ["PUT", "DELETE", "PUT without a ticket"])
def test_a_change_that_cannot_be_recorded_is_made_in_no_worker(
        tmp_path: Path, monkeypatch, change: str, failure: str) -> None:
    """Worker one serves model a.tar, which worker two follows. A ``PUT`` or ``DELETE
    /model`` at worker one whose choice cannot be recorded (the record's lock or file
    cannot be had) changes nothing, in neither worker, and its 503 says what to do;
    made in worker one alone, it split the workers until the next choice."""
    from dialogflowlite.errors import ApiError
    from dialogflowlite.server import models

    _loads_without_models(monkeypatch)
    one, two = _fake_worker(tmp_path), _fake_worker(tmp_path)
    served = tmp_path / "a.tar"

    async def main() -> None:
        await models.swap_model(one, str(served), ticket=await models.choice_ticket(one))
        await models.follow_shared_choice(two)
        ticket = await models.choice_ticket(one)
        if failure == "lock":
            _lock_that_cannot_be_had(monkeypatch)
        else:
            _record_that_cannot_be_written(monkeypatch)
        with pytest.raises(ApiError) as refused:
            if change == "DELETE":
                await models.unload_model(one, ticket=ticket)
            else:
                await models.swap_model(one, str(tmp_path / "b.tar"),
                                        ticket=ticket if change == "PUT" else None)
        assert refused.value.status == 503
        assert "no worker changed its model" in refused.value.message
        assert "then send the request again" in refused.value.message
        monkeypatch.undo()
        _loads_without_models(monkeypatch)
        await models.follow_shared_choice(two)

    asyncio.run(main())
    assert (one.ctx.model_file, one.ctx.agent) == (served, "agent of a.tar")
    assert (two.ctx.model_file, two.ctx.agent) == (served, "agent of a.tar")
    assert one.ctx.shared_model.latest()["model_file"] == str(served)
    assert not list(tmp_path.glob(".served.json.*"))  # no half record left either


# --- a pull the other workers were not told of ---------------------------------------------

def _model_archive() -> bytes:
    """The bytes of a model archive as a model server sends it (a manifest alone)."""
    import io
    import tarfile

    manifest = json.dumps({"format": 2}).encode()
    archive = io.BytesIO()
    with tarfile.open(fileobj=archive, mode="w") as tar:
        info = tarfile.TarInfo("manifest.json")
        info.size = len(manifest)
        tar.addfile(info, io.BytesIO(manifest))
    return archive.getvalue()


def _record_lock_refused(real_lock: Any) -> Any:
    """A ``process_lock`` under which the choice record's lock cannot be had (too many
    open files), as for a worker whose choices the others are not told of."""
    import contextlib

    @contextlib.asynccontextmanager
    async def locked(path: Path):
        if path.name == ".served.lock":
            raise OSError(24, "Too many open files", str(path))
        async with real_lock(path):
            yield

    return locked


def test_a_pull_the_others_were_not_told_of_is_loaded_by_them_from_its_file(
        tmp_path: Path, monkeypatch) -> None:
    """Worker A pulls a new model but cannot lock the choice record (too many open
    files): it serves the model alone. Its pull record says so, so worker B switches to
    the file itself and records the choice (B took the ETag and waited for a recorded
    choice that never came: the workers stayed split)."""
    from serving_helpers import StubHttpServer

    from dialogflowlite.server import model_server, process_lock

    _loads_without_models(monkeypatch)
    archive = _model_archive()
    old = tmp_path / "old.tar"
    old.write_bytes(b"old model")
    a = _fake_worker(tmp_path, model_file=old, agent="agent of old.tar")
    b = _fake_worker(tmp_path, model_file=old, agent="agent of old.tar")
    real_lock = process_lock.process_lock

    def answer(request: Any) -> tuple[int, dict, bytes]:
        if request.headers.get("If-None-Match") == '"v2"':
            return 304, {}, b""
        return 200, {"ETag": '"v2"'}, archive

    async def main(url: str) -> None:
        monkeypatch.setattr(process_lock, "process_lock", _record_lock_refused(real_lock))
        await model_server.keep_pulling(
            a, model_server.ModelServer(url, tmp_path, wait_time_between_pulls=None))
        monkeypatch.setattr(process_lock, "process_lock", real_lock)
        await model_server.keep_pulling(
            b, model_server.ModelServer(url, tmp_path, wait_time_between_pulls=None))

    with StubHttpServer(answer, path="/bot.tar") as host:
        asyncio.run(main(host.url))
    assert a.ctx.model_file.name.startswith("pulled-")
    assert b.ctx.model_file == a.ctx.model_file
    assert b.ctx.shared_model.recorded()["model_file"] == str(a.ctx.model_file)


def test_a_change_recorded_after_a_pull_the_others_were_not_told_of_wins(
        tmp_path: Path, monkeypatch) -> None:
    """Worker A serves a pull it could not record as a choice; then worker C's ``PUT
    /model`` is recorded. Worker B's next pull follows the PUT: A's pull came before
    it (B switched to A's file and recorded it as the newest choice, undoing the PUT)."""
    from serving_helpers import StubHttpServer

    from dialogflowlite.server import model_server, process_lock
    from dialogflowlite.server.models import swap_model

    _loads_without_models(monkeypatch)
    archive = _model_archive()
    old = tmp_path / "old.tar"
    old.write_bytes(b"old model")
    a, b, c = (_fake_worker(tmp_path, model_file=old, agent="agent of old.tar")
               for _ in range(3))
    real_lock = process_lock.process_lock

    def answer(request: Any) -> tuple[int, dict, bytes]:
        if request.headers.get("If-None-Match") == '"v2"':
            return 304, {}, b""
        return 200, {"ETag": '"v2"'}, archive

    async def main(url: str) -> None:
        monkeypatch.setattr(process_lock, "process_lock", _record_lock_refused(real_lock))
        await model_server.keep_pulling(
            a, model_server.ModelServer(url, tmp_path, wait_time_between_pulls=None))
        monkeypatch.setattr(process_lock, "process_lock", real_lock)
        await swap_model(c, str(tmp_path / "x.tar"))
        await model_server.keep_pulling(
            b, model_server.ModelServer(url, tmp_path, wait_time_between_pulls=None))

    with StubHttpServer(answer, path="/bot.tar") as host:
        asyncio.run(main(host.url))
    assert a.ctx.model_file.name.startswith("pulled-")
    assert b.ctx.model_file == tmp_path / "x.tar"
    assert b.ctx.shared_model.recorded()["model_file"] == str(tmp_path / "x.tar")


def test_a_dropped_pull_is_told_whatever_an_earlier_choice_of_its_worker_was(
        tmp_path: Path, monkeypatch) -> None:
    """Worker A, one of whose earlier choices was not told, takes an earlier server's
    pull; before its switch runs it follows worker C's ``PUT /model``, so the switch is
    dropped and records no choice. Its pull record says the others know: worker B keeps
    the PUT (the earlier failure marked the pull untold, and B switched to its file,
    undoing the PUT)."""
    import time

    from dialogflowlite.server import model_server, models

    _loads_without_models(monkeypatch)
    old = tmp_path / "old.tar"
    old.write_bytes(b"old model")
    earlier = tmp_path / "pulled-0.tar"
    earlier.write_bytes(b"model v1")
    url = "https://models.example.com/bot.tar"
    (tmp_path / ".pulled.json").write_text(json.dumps({
        "etag": '"v1"', "file": earlier.name, "time": time.time(), "url": url,
        "run": "an earlier run"}))
    a, b, c = (_fake_worker(tmp_path, model_file=old, agent="agent of old.tar")
               for _ in range(3))
    a.ctx.shared_model.untold_choices = 1

    async def main() -> None:
        await models.follow_shared_choice(a)
        mark = models.choice_mark(a)
        await models.swap_model(c, str(tmp_path / "y.tar"))

        async def switch(pulled: Path) -> None:
            await models.follow_shared_choice(a)  # a request of A follows the PUT first
            await models.swap_model(a, str(pulled), since=mark)

        server = model_server.share_pulls(
            a, model_server.ModelServer(url, tmp_path, wait_time_between_pulls=100.0))
        await server.pull(a.ctx.model_file, switch=switch)
        unchanged = model_server.ModelServer(url, tmp_path, wait_time_between_pulls=None)

        async def not_modified(current: Path | None) -> None:
            return None

        unchanged._download = not_modified
        await model_server.keep_pulling(b, model_server.share_pulls(b, unchanged))

    asyncio.run(main())
    assert a.ctx.model_file == b.ctx.model_file == tmp_path / "y.tar"


def test_the_same_bytes_under_a_new_etag_keep_a_pull_untold(tmp_path: Path,
                                                             monkeypatch) -> None:
    """A pull the others were not told of, sent again with the same bytes under a new
    ETag: the rewritten pull record still says they were not told, so worker B switches
    to the file (the record said told, and B waited for a recorded choice that never
    came)."""
    from serving_helpers import StubHttpServer

    from dialogflowlite.server import model_server, process_lock

    _loads_without_models(monkeypatch)
    archive = _model_archive()
    old = tmp_path / "old.tar"
    old.write_bytes(b"old model")
    a, b = (_fake_worker(tmp_path, model_file=old, agent="agent of old.tar") for _ in range(2))
    real_lock = process_lock.process_lock
    sent = []

    def answer(request: Any) -> tuple[int, dict, bytes]:
        etag = '"v2b"' if sent else '"v2"'
        if request.headers.get("If-None-Match") == etag:
            return 304, {}, b""
        sent.append(etag)
        return 200, {"ETag": etag}, archive

    async def main(url: str) -> None:
        a_server = model_server.ModelServer(url, tmp_path, wait_time_between_pulls=None)
        monkeypatch.setattr(process_lock, "process_lock", _record_lock_refused(real_lock))
        await model_server.keep_pulling(a, a_server)
        monkeypatch.setattr(process_lock, "process_lock", real_lock)
        await model_server.keep_pulling(a, a_server)  # the same bytes, tagged "v2b"
        await model_server.keep_pulling(
            b, model_server.ModelServer(url, tmp_path, wait_time_between_pulls=None))

    with StubHttpServer(answer, path="/bot.tar") as host:
        asyncio.run(main(host.url))
    assert sent == ['"v2"', '"v2b"']
    assert json.loads((tmp_path / ".pulled.json").read_text())["etag"] == '"v2b"'
    assert b.ctx.model_file == a.ctx.model_file != old


def test_a_failed_switch_to_another_workers_untold_pull_keeps_its_file(
        tmp_path: Path, monkeypatch) -> None:
    """Worker B's switch to the file of A's untold pull fails once (a load error): the
    file A serves stays, and B tries again at its next pull (B deleted the file, and kept
    its ETag: neither B nor C switched to it ever)."""
    from serving_helpers import StubHttpServer

    from dialogflowlite.errors import ModelLoadError
    from dialogflowlite.server import model_server, models, process_lock

    _loads_without_models(monkeypatch)
    archive = _model_archive()
    old = tmp_path / "old.tar"
    old.write_bytes(b"old model")
    a, b, c = (_fake_worker(tmp_path, model_file=old, agent="agent of old.tar")
               for _ in range(3))
    real_lock = process_lock.process_lock
    load = models.load_server_agent
    failing = {"on": False}

    def flaky(config: Any, model_file: Path, stores: Any) -> Any:
        if failing["on"]:
            raise ModelLoadError("out of memory")
        return load(config, model_file, stores)

    monkeypatch.setattr(models, "load_server_agent", flaky)

    def answer(request: Any) -> tuple[int, dict, bytes]:
        if request.headers.get("If-None-Match") == '"v2"':
            return 304, {}, b""
        return 200, {"ETag": '"v2"'}, archive

    async def main(url: str) -> None:
        monkeypatch.setattr(process_lock, "process_lock", _record_lock_refused(real_lock))
        await model_server.keep_pulling(
            a, model_server.ModelServer(url, tmp_path, wait_time_between_pulls=None))
        monkeypatch.setattr(process_lock, "process_lock", real_lock)
        b_server = model_server.ModelServer(url, tmp_path, wait_time_between_pulls=None)
        failing["on"] = True
        await model_server.keep_pulling(b, b_server)
        assert a.ctx.model_file.is_file()
        assert b.ctx.model_file == old
        failing["on"] = False
        await model_server.keep_pulling(b, b_server)  # the next pull, the same server
        assert b.ctx.model_file == a.ctx.model_file  # it tried again, and switched
        await model_server.keep_pulling(
            c, model_server.ModelServer(url, tmp_path, wait_time_between_pulls=None))
        for worker in (a, b, c):
            await models.follow_shared_choice(worker)

    with StubHttpServer(answer, path="/bot.tar") as host:
        asyncio.run(main(host.url))
    assert a.ctx.model_file.is_file()
    assert b.ctx.model_file == c.ctx.model_file == a.ctx.model_file != old


# --- temporary record files left by killed processes --------------------------------------

def test_the_temporary_files_of_stopped_writers_are_deleted_and_no_live_ones(
        tmp_path: Path, monkeypatch) -> None:
    """A process killed between writing ``.served.json.<pid>`` (or the tickets' twin) and
    renaming it leaves the file behind; the next model change deletes it. The file of a
    process that runs is kept, unless it is older than any write takes (process ids
    are reused); other names are never touched."""
    import os
    import subprocess
    import sys
    import time

    from dialogflowlite.server import models

    _loads_without_models(monkeypatch)
    ended = subprocess.Popen([sys.executable, "-c", "pass"])
    ended.wait()
    running = os.getppid()
    left = [tmp_path / f".served.json.{ended.pid}", tmp_path / f".served.tickets.json.{ended.pid}"]
    being_written = tmp_path / f".served.json.{running}"
    stale = tmp_path / f".served.tickets.json.{running}"
    unrelated = tmp_path / ".served.json.backup"
    for path in [*left, being_written, stale, unrelated]:
        path.write_text('{"run": ', encoding="utf-8")
    long_ago = time.time() - models.LEFT_WRITE_AGE - 60
    os.utime(stale, (long_ago, long_ago))
    app = _fake_worker(tmp_path)

    async def main() -> None:
        await models.swap_model(app, str(tmp_path / "a.tar"),
                                ticket=await models.choice_ticket(app))

    asyncio.run(main())
    assert sorted(p.name for p in tmp_path.glob(".served*.json.*")) == \
        sorted([being_written.name, unrelated.name])
    assert app.ctx.shared_model.latest()["model_file"] == str(tmp_path / "a.tar")
