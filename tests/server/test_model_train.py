"""``POST /model/train``: a project sent as one YAML body, trained into a model file."""

from __future__ import annotations

import asyncio
import io
import tarfile
from pathlib import Path
from typing import Any

import pytest
from pipe_lines import PipeLines
from serving_helpers import (
    CONFIG,
    DOMAIN,
    RULES,
    StubHttpServer,
    request,
    training_body,
    until,
)

from dialogflowlite.server.training_jobs import split_training_payload

YAML = {"Content-Type": "application/yaml"}


def _is_model(data: bytes) -> bool:
    with tarfile.open(fileobj=io.BytesIO(data)) as archive:
        return any(name.endswith("manifest.json") for name in archive.getnames())


def test_a_trained_model_is_returned_saved_and_loadable(make_app, tmp_path: Path) -> None:
    app = make_app()

    async def main():
        trained = await request(app, "post", "/model/train?fixed_model_name=from-api",
                                content=training_body(CONFIG, DOMAIN, RULES), headers=YAML)
        loaded = await request(app, "put", "/model",
                               json={"model_file": str(tmp_path / "models" / "from-api.tar")})
        replies = await request(app, "post", "/webhooks/rest/webhook",
                                json={"sender": "t", "message": "/goodbye"})
        status = await request(app, "get", "/status")
        return trained, loaded, replies, status

    trained, loaded, replies, status = asyncio.run(main())
    assert trained.status == 200, trained.text
    assert trained.headers["filename"] == "from-api.tar"
    assert _is_model(trained.body)
    assert (tmp_path / "models" / "from-api.tar").read_bytes() == trained.body
    assert loaded.status == 204
    assert replies.json == [{"recipient_id": "t", "text": "Bye!"}]
    assert status.json["model_file"] == "from-api.tar"
    assert status.json["num_active_training_jobs"] == 0


def test_with_nothing_changed_the_newest_model_is_the_answer(make_app, tmp_path: Path) -> None:
    app = make_app()
    body = training_body(CONFIG, DOMAIN, RULES)

    async def main():
        return [await request(app, "post", f"/model/train{query}", content=body, headers=YAML)
                for query in ("", "", "?force_training=true")]

    first, again, forced = asyncio.run(main())
    assert first.status == again.status == forced.status == 200, again.text
    # Rasa 2's "Nothing changed": the model of the first training, no new file
    assert again.headers["filename"] == first.headers["filename"]
    assert again.body == first.body
    assert forced.headers["filename"] != first.headers["filename"]
    assert sorted(p.name for p in (tmp_path / "models").glob("*.tar")) == sorted(
        [first.headers["filename"], forced.headers["filename"]])


def test_without_saving_the_model_is_only_returned(make_app, tmp_path: Path) -> None:
    app = make_app()
    response = asyncio.run(request(
        app, "post", "/model/train?save_to_default_model_directory=false&force_training=true",
        content=training_body(CONFIG, DOMAIN, RULES),
        headers={"Content-Type": "application/x-yaml"}))
    assert response.status == 200, response.text
    assert _is_model(response.body)
    assert not (tmp_path / "models").exists()


def test_a_project_the_trainer_rejects_is_a_400_naming_the_part(make_app) -> None:
    broken = RULES.replace("action: utter_goodbye", "action: utter_farewell")
    response = asyncio.run(request(make_app(), "post", "/model/train",
                                   content=training_body(CONFIG, DOMAIN, broken), headers=YAML))
    assert response.status == 400
    assert response.json["reason"] == "BadRequest"
    assert "utter_farewell" in response.json["message"]
    assert "dfl-train-" not in response.json["message"]  # the temporary folder is not shown


@pytest.mark.parametrize(("content", "headers", "expected"), [
    (b"pipeline: [", YAML, "not valid YAML"),
    (b"- a list", YAML, "must be a YAML mapping"),
    (b'{"nlu": [}', {"Content-Type": "application/json"}, "not valid JSON"),
    (b"intents: [greet]", {"Content-Type": "text/html"}, "must be sent as YAML"),
    (b"intents: [greet]\npolicy: []\nnlu: []", YAML, "'policy'"),
    (b"intents: [greet]", YAML, "no training data"),
])
def test_bodies_that_are_not_a_project(make_app, content, headers, expected) -> None:
    response = asyncio.run(request(make_app(), "post", "/model/train", content=content,
                                   headers=headers))
    assert response.status == 400
    assert expected in response.json["message"]


def test_bad_query_parameters(make_app) -> None:
    app = make_app()
    for query, parameter in (("force_training=maybe", "force_training"),
                             ("num_threads=0", "num_threads")):
        response = asyncio.run(request(app, "post", f"/model/train?{query}",
                                       content=training_body(CONFIG, DOMAIN, RULES), headers=YAML))
        assert response.status == 400
        assert response.json["details"] == {"parameter": parameter, "in": "query"}


def test_the_route_needs_the_token(make_app) -> None:
    app = make_app(auth_token="secret")
    response = asyncio.run(request(app, "post", "/model/train",
                                   content=training_body(CONFIG, DOMAIN, RULES), headers=YAML))
    assert response.status == 401  # as Rasa: no token is not authenticated


def test_with_a_callback_url_the_model_is_posted_there(tmp_path: Path) -> None:
    from serving_helpers import serving

    app = _modelless_app(tmp_path)
    with StubHttpServer(lambda r: (200, {}, b""), path="/trained") as receiver:

        async def main() -> int:
            # a running server: the ASGI client stops the app after each request, and
            # with it the training
            async with serving(app, healthy=False) as url:
                status = await _post_training(url, f"callback_url={receiver.url}")
                await until(lambda: receiver.requests, "the trained model", timeout=120)
            return status

        status = asyncio.run(main())
        assert status == 204
        assert len(receiver.requests) == 1
        delivered = receiver.requests[0]
        assert delivered.method == "POST" and _is_model(delivered.body)
        assert delivered.headers["filename"].endswith(".tar")
        assert (tmp_path / "models" / delivered.headers["filename"]).is_file()


def test_a_callback_url_that_is_no_http_address_names_the_parameter(make_app) -> None:
    app = make_app()
    answer = asyncio.run(request(app, "post", "/model/train?callback_url=ftp://x",
                                 content=training_body(CONFIG, DOMAIN, RULES), headers=YAML))
    assert answer.status == 400
    # the other query parameters' errors named it; this one gave "details": {}
    assert answer.json["details"] == {"parameter": "callback_url", "in": "query"}


#: the keys of every error the API answers (Rasa's error body)
ERROR_KEYS = {"version", "status", "message", "reason", "details", "help", "code"}


def _modelless_app(project: Path) -> Any:
    """A server of ``project`` without a model (none is needed to train one)."""
    from dialogflowlite.server.app import ServerConfig, create_app

    return create_app(ServerConfig(project=str(project), enable_api=True, credentials={},
                                   endpoints={}, start_without_model=True))


async def _post_training(url: str, query: str) -> int:
    """The status a training request with ``query`` is answered with."""
    import aiohttp

    async with aiohttp.ClientSession() as session, \
            session.post(f"{url}/model/train?{query}", headers=YAML,
                         data=training_body(CONFIG, DOMAIN, RULES)) as answer:
        return answer.status


def _posted_after_failure(tmp_path: Path, monkeypatch,
                          failure: BaseException) -> tuple[int, Any]:
    """The status of a training request with a callback URL, and what was POSTed there
    once the training failed with ``failure``."""
    from serving_helpers import serving

    from dialogflowlite.server.routes import training

    async def failing_train(job, models_dir: Path) -> Path:
        raise failure

    monkeypatch.setattr(training, "train_model", failing_train)
    app = _modelless_app(tmp_path)
    with StubHttpServer(lambda r: (200, {}, b""), path="/trained") as receiver:

        async def main() -> int:
            # a running server (the ASGI client stops the app after each request, which
            # stops the work of a callback too)
            async with serving(app, healthy=False) as url:
                status = await _post_training(url, f"callback_url={receiver.url}")
                await until(lambda: receiver.requests, "the callback")
            return status

        status = asyncio.run(main())
    return status, receiver.requests[0]


def test_a_failed_training_posts_the_api_s_error_body_to_the_callback(tmp_path: Path,
                                                                      monkeypatch) -> None:
    import json

    from dialogflowlite.errors import ApiError

    status, posted = _posted_after_failure(
        tmp_path, monkeypatch, ApiError(400, "BadRequest", "the domain is invalid"))
    assert status == 204
    error = json.loads(posted.body)
    # as Rasa posts an error to the callback: the whole error body (details and help were
    # left out)
    assert set(error) == ERROR_KEYS
    assert (error["code"], error["reason"], error["message"]) == (
        400, "BadRequest", "the domain is invalid")
    assert posted.headers["Content-Type"].startswith("application/json")


def test_an_unexpected_training_failure_is_posted_to_the_callback_too(tmp_path: Path,
                                                                     monkeypatch) -> None:
    import json

    # it was only logged, and the callback URL waited for ever
    status, posted = _posted_after_failure(tmp_path, monkeypatch, OSError("disk full"))
    assert status == 204
    error = json.loads(posted.body)
    assert set(error) == ERROR_KEYS
    assert error["code"] == 500 and error["reason"] == "ServerError"
    assert "disk full" not in error["message"]  # as every unexpected error is answered


def test_the_body_is_split_into_the_project_s_files() -> None:
    parts = split_training_payload(training_body(CONFIG, DOMAIN, RULES).decode())
    assert set(parts) == {"config.yml", "domain.yml", "data/training_data.yml"}
    assert parts["config.yml"]["policies"][0] == {"name": "MemoizationPolicy"}
    assert "responses" in parts["domain.yml"] and "rules" in parts["data/training_data.yml"]
    assert all(part["version"] == "3.1" for part in parts.values())


def test_a_project_sent_as_json_is_trained_as_its_yaml(make_app, monkeypatch) -> None:
    import json

    from dialogflowlite.io.yaml import read_yaml, to_plain
    from dialogflowlite.server.routes import training

    trained = []

    async def fake_train(job, models_dir: Path) -> Path:
        trained.append(job.parts)
        models_dir.mkdir(parents=True, exist_ok=True)
        path = models_dir / "from-json.tar"
        path.write_bytes(b"model")
        return path

    monkeypatch.setattr(training, "train_model", fake_train)
    project = to_plain(read_yaml(training_body(CONFIG, DOMAIN, RULES).decode(), "project"))
    app = make_app()
    # Rasa 3 reads every body of this route as YAML, which JSON is (`requests.post(url,
    # json=project)`); it was a 400 asking for YAML
    answers = [asyncio.run(request(app, "post", "/model/train", content=body,
                                   headers={"Content-Type": kind}))
               for kind, body in (("application/json", json.dumps(project, indent="\t")),
                                  ("application/yaml", training_body(CONFIG, DOMAIN, RULES)))]
    assert [a.status for a in answers] == [200, 200], answers[0].text
    assert trained[0] == trained[1]


def test_a_worker_trains_one_model_at_a_time(make_app, monkeypatch, tmp_path: Path) -> None:
    from dialogflowlite.server.routes import training

    running, most = 0, 0

    async def fake_train(job, models_dir: Path) -> Path:
        nonlocal running, most
        running += 1
        most = max(most, running)
        await asyncio.sleep(0.2)
        running -= 1
        models_dir.mkdir(parents=True, exist_ok=True)
        path = models_dir / f"{job.fixed_model_name}.tar"
        path.write_bytes(b"model")
        return path

    monkeypatch.setattr(training, "train_model", fake_train)
    app = make_app()

    async def main():
        return await asyncio.gather(*(
            request(app, "post", f"/model/train?fixed_model_name=m{i}",
                    content=training_body(CONFIG, DOMAIN, RULES), headers=YAML) for i in range(3)))

    answers = asyncio.run(main())
    assert [a.status for a in answers] == [200, 200, 200]
    assert sorted(a.headers["filename"] for a in answers) == ["m0.tar", "m1.tar", "m2.tar"]
    assert most == 1


def test_workers_take_turns_through_the_project_s_lock_file(make_app, monkeypatch) -> None:
    """Another process (another worker) holding the lock delays this worker's training
    until it lets go."""
    import contextlib
    import fcntl
    import subprocess
    import sys

    from dialogflowlite.server.routes import training

    # what happened, in order: "asked" for the lock, "tried" it (each try while it was
    # taken), the other process told to "let go", the lock "acquired", "trained"
    steps: list[str] = []

    async def fake_train(job, models_dir: Path) -> Path:
        steps.append("trained")
        models_dir.mkdir(parents=True, exist_ok=True)
        path = models_dir / "m.tar"
        path.write_bytes(b"model")
        return path

    monkeypatch.setattr(training, "train_model", fake_train)
    app = make_app()
    lock_file = training.train_lock_path(app.ctx.config.project_dir)
    taking_the_lock = training.process_lock

    @contextlib.asynccontextmanager
    async def recorded_lock(path: Path) -> Any:
        steps.append("asked")
        async with taking_the_lock(path):
            steps.append("acquired")
            yield

    flock = fcntl.flock

    def recorded_flock(handle: Any, operation: int) -> None:
        # a try on the project's lock file: from here on only the holder's let-go
        # lets the training go on (it is not the time the test waits that does)
        if operation & fcntl.LOCK_EX and Path(getattr(handle, "name", "")) == lock_file:
            steps.append("tried")
        flock(handle, operation)

    monkeypatch.setattr(training, "process_lock", recorded_lock)
    monkeypatch.setattr(fcntl, "flock", recorded_flock)
    # the other process holds the lock until it is told to let go
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import fcntl, sys\n"
         f"f = open({str(lock_file)!r}, 'a')\n"
         "fcntl.flock(f, fcntl.LOCK_EX)\n"
         "print('held', flush=True)\n"
         "sys.stdin.readline()\n"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)

    async def main() -> Any:
        training_request = asyncio.create_task(request(
            app, "post", "/model/train", content=training_body(CONFIG, DOMAIN, RULES),
            headers=YAML))
        await until(lambda: "tried" in steps or "acquired" in steps,
                    "the training to try the project's lock file")
        assert "acquired" not in steps, f"took the lock another process held: {steps}"
        steps.append("let go")
        holder.stdin.write("let go\n")
        holder.stdin.flush()
        return await training_request

    said = PipeLines(holder.stdout)
    try:
        said.until(lambda lines: "held\n" in lines, "the other process to hold the lock")
        answer = asyncio.run(main())
    finally:
        holder.stdin.close()  # lets go, where the test ended before it said so
        holder.wait(30)
        said.to_end()  # the reading thread is done with the pipe before it is closed
        holder.stdout.close()
    assert answer.status == 200, answer.text
    assert [step for step in steps if step != "tried"] == ["asked", "let go", "acquired",
                                                           "trained"]


def test_a_stopping_server_stops_a_training_for_a_callback_and_says_so_there(
        tmp_path: Path, monkeypatch) -> None:
    import json

    from serving_helpers import serving

    from dialogflowlite.server.routes import training

    stopped: list[bool] = []

    async def endless_train(job, models_dir: Path) -> Path:
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:  # where train_model ends its child process
            stopped.append(True)
            raise

    monkeypatch.setattr(training, "train_model", endless_train)
    app = _modelless_app(tmp_path)
    with StubHttpServer(lambda r: (200, {}, b""), path="/trained") as receiver:

        async def main() -> tuple[int, list[bool], int]:
            async with serving(app, healthy=False) as url:
                status = await _post_training(url, f"callback_url={receiver.url}")
                await until(lambda: getattr(app.ctx, "training_jobs", 0) == 1, "the training")
            # the server has stopped (asyncio.run would cancel what is left only later)
            return status, list(stopped), app.ctx.training_jobs

        status, stopped_with_server, jobs = asyncio.run(main())
    assert status == 204
    # the training went on with the server gone (its child process orphaned, its files
    # left), and the URL waited for ever
    assert stopped_with_server == [True] and jobs == 0
    assert len(receiver.requests) == 1
    error = json.loads(receiver.requests[0].body)
    assert set(error) == ERROR_KEYS
    assert (error["code"], error["reason"]) == (503, "ServiceUnavailable")
    assert "the server stopped before the training ended" in error["message"]
