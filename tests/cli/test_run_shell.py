"""``dialogflowlite run`` and ``dialogflowlite shell`` with a tiny trained bot.

The server tests run ``run`` as a real subprocess: conversations survive a
restart (SQLite in the project by default), a stopping server finishes the
message it is answering, and two workers share one SQLite file.
"""

from __future__ import annotations

import asyncio
import io
import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import serving_helpers
from plain_data import packed

from dialogflowlite.cli.main import main


@pytest.fixture
def project(tiny_bot: Path) -> Path:
    return tiny_bot


# ---------------------------------------------------------------- shell


def test_shell_chats_on_piped_input_with_numbered_buttons(project: Path) -> None:
    from dialogflowlite.cli.shell import run_shell

    stdin = io.StringIO("/greet\n/ask_choice\n2\n/restart\n\n/stop\n/goodbye\n")
    stdout = io.StringIO()
    sent = asyncio.run(run_shell(project, sender_id="tester", stdin=stdin, stdout=stdout,
                                 history_file=project / "history"))
    output = stdout.getvalue().splitlines()
    assert sent == 4  # nothing after /stop
    assert "Hello! How can I help?" in output
    assert output[output.index("Pick a colour") + 1:][:2] == ["  1: Red", "  2: Blue"]
    assert "You chose blue." in output  # "2" sent the second button's payload
    assert "(conversation restarted)" in output
    assert "Bye!" not in output


def test_the_console_reads_messages_until_stop() -> None:
    from dialogflowlite.server.channels.console import ConsoleChannel

    async def read(text: str) -> list[str]:
        channel = ConsoleChannel(stdin=io.StringIO(text), stdout=io.StringIO())
        return [message async for message in channel.messages()]

    # stripped, blank lines skipped; /stop ends it, as the end of input does
    assert asyncio.run(read("  hi there \n\n   \n2\n /stop \nnot read\n")) == ["hi there", "2"]
    assert asyncio.run(read("hello\r\n/stopping\n")) == ["hello", "/stopping"]


def test_shell_command_in_a_subprocess(project: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "dialogflowlite.cli.main", "shell", "--project", str(project)],
        input="/greet\n/ask_choice\n1\n", capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "Hello! How can I help?" in result.stdout
    assert "  1: Red" in result.stdout and "You chose red." in result.stdout


def test_shell_nlu_prints_parse_results_of_a_whole_bot(project: Path) -> None:
    from dialogflowlite.cli.shell import run_shell

    stdout = io.StringIO()
    sent = asyncio.run(run_shell(project, stdin=io.StringIO("/greet\n/stop\n"), stdout=stdout,
                                 history_file=project / "history", nlu_only=True))
    assert sent == 1
    text = stdout.getvalue()
    parsed = json.loads(text[text.index("{"):text.rindex("}") + 1])
    assert parsed["intent"]["name"] == "greet" and parsed["text"] == "/greet"
    assert "Hello! How can I help?" not in text  # the bot does not answer


def test_shell_nlu_says_what_it_does_and_parses_restart(project: Path) -> None:
    from dialogflowlite.cli.shell import run_shell

    stdout = io.StringIO()
    parsed = asyncio.run(run_shell(project, stdin=io.StringIO("/restart\n/stop\n/greet\n"),
                                   stdout=stdout, history_file=project / "history",
                                   nlu_only=True))
    text = stdout.getvalue()
    first = text.splitlines()[0]
    # before: "Chatting as 'shell-...'. Type /stop to quit, /restart to start over."
    assert first.startswith("NLU model loaded. Type a message and press enter to parse it.")
    assert "/stop or the end of input (Ctrl-D) quits" in first
    assert "start over" not in text and "Chatting as" not in text
    # there is no conversation to restart: /restart is a message to parse, like Rasa's
    assert "(conversation restarted)" not in text
    result = json.loads(text[text.index("{"):text.rindex("}") + 1])
    assert result["intent"]["name"] == "restart" and result["text"] == "/restart"
    assert parsed == 1  # /stop quit before /greet


def test_shell_help_tells_the_nlu_mode_apart(capsys) -> None:
    with pytest.raises(SystemExit):
        main(["shell", "--help"])
    help_text = " ".join(capsys.readouterr().out.split())
    assert "/restart starts the conversation over" in help_text
    # before, /restart "started over" in `shell nlu` too
    assert ("`shell nlu` prints each message's parse result (intent, entities, ranking) as "
            "JSON instead: there is no conversation, /restart is parsed as any message, and "
            "/stop or Ctrl-D quits.") in help_text


def test_shell_without_a_model_is_a_clear_error(tmp_path: Path, capsys) -> None:
    assert main(["shell", "--project", str(tmp_path)]) == 1
    assert "error: no model under" in capsys.readouterr().err
    # a project folder that is not there is named as such
    for command in ("shell", "run"):
        assert main([command, "--project", str(tmp_path / "nosuch")]) == 1
        err = capsys.readouterr().err
        assert "error: the project folder" in err and "nosuch does not exist" in err


@pytest.mark.parametrize(("files", "marker"), [
    # Rasa 3: metadata.json at the top, pickled components beside it
    ({"metadata.json": "{}", "components/train_DIETClassifier0/model.pkl": "x"},
     "metadata.json"),
    # Rasa 2: fingerprint.json beside core/ and nlu/
    ({"fingerprint.json": "{}", "nlu/metadata.json": "{}", "core/domain.yml": ""},
     "fingerprint.json"),
])
def test_a_rasa_model_is_named_as_one(tmp_path: Path, capsys, files: dict[str, str],
                                      marker: str) -> None:
    model = packed(tmp_path / "20240101-rasa.tar.gz", files)
    for command in ("shell", "run"):
        assert main([command, "--project", str(tmp_path), "-m", str(model)]) == 1
        err = capsys.readouterr().err
        assert f"is a Rasa model (it holds {marker})" in err
        assert "dialogflowlite train" in err
        assert "dialogflowlite-models" not in err and "manifest.json" not in err


def test_a_tar_without_a_manifest_is_not_a_model(tmp_path: Path, capsys) -> None:
    model = packed(tmp_path / "notes.tar", {"notes.txt": "hello"})
    assert main(["shell", "--project", str(tmp_path), "-m", str(model)]) == 1
    err = capsys.readouterr().err
    assert "is not a dialogflowlite model: it has no manifest.json" in err
    assert "dialogflowlite-models" not in err


# ---------------------------------------------------------------- run: arguments


def test_run_without_a_model_is_a_clear_error(tmp_path: Path, capsys) -> None:
    assert main(["run", "--project", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert "error: no model under" in err and "dialogflowlite train" in err


def test_run_takes_a_token_and_a_jwt_secret_together_as_rasa_does() -> None:
    from dialogflowlite.cli.main import build_parser

    # argparse refused the two together; Rasa's launch scripts pass both
    args = build_parser().parse_args(["run", "--auth-token", "a", "--jwt-secret", "b"])
    assert (args.auth_token, args.jwt_secret) == ("a", "b")


def test_the_server_starts_with_a_token_and_a_jwt_secret_together(tmp_path: Path,
                                                                  capsys) -> None:
    # the server's own checks refused them still ("use either ..., not both"): what
    # stops it here is only the missing model
    assert main(["run", "--project", str(tmp_path), "--auth-token", "a",
                 "--jwt-secret", "b"]) == 1
    err = capsys.readouterr().err
    assert "not both" not in err
    assert "error: no model under" in err


@pytest.mark.parametrize(("host", "url"), [
    ("::1", "http://[::1]:5411"),  # it said http://::1:5411, which names no port
    ("fe80::1%eth0", "http://[fe80::1%25eth0]:5411"),
    ("127.0.0.1", "http://127.0.0.1:5411"),
    ("0.0.0.0", "http://0.0.0.0:5411"),
])
def test_the_serving_log_names_the_servers_url(tmp_path: Path, monkeypatch, caplog,
                                               host: str, url: str) -> None:
    import logging
    import types

    from dialogflowlite.server import serve as serving
    from dialogflowlite.server.app import ServerConfig

    # the address, model and app are stood in for: only the log line is looked at
    sock = types.SimpleNamespace(getsockname=lambda: (host, 5411), close=lambda: None)
    app = types.SimpleNamespace(run=lambda **kwargs: None)
    monkeypatch.setattr(serving, "listening_socket", lambda host, port: sock)
    monkeypatch.setattr(serving, "check_config", lambda config, workers: None)
    monkeypatch.setattr(serving, "create_app", lambda config, agent: app)
    monkeypatch.setattr(serving, "preload_agent", lambda app: None)
    with caplog.at_level(logging.INFO, logger=serving.__name__):
        serving.serve(ServerConfig(project=str(tmp_path), torch_threads=1), host=host,
                      port=5411)
    assert f"serving {tmp_path.name} on {url} with 1 worker(s)" in caplog.text


def test_run_arguments_become_the_server_config() -> None:
    from dialogflowlite.cli.main import build_parser
    from dialogflowlite.cli.run import config_from_args

    args = build_parser().parse_args([
        "run", "--project", "bot", "--model", "m.tar", "--enable-api", "--jwt-secret", "s",
        "--cors", "https://a.example", "--cors", "https://b.example", "--workers", "2",
        "--max-message-chars", "300"])
    config = config_from_args(args)
    assert (config.project, config.model_path, config.enable_api, config.jwt_secret) == (
        "bot", "m.tar", True, "s")
    assert config.cors_origins == ("https://a.example", "https://b.example")
    assert config.workers == 2 and config.max_message_chars == 300 and config.webchat


# ---------------------------------------------------------------- run: a real server


class SlowActionServer:
    """A rasa-sdk-style action server whose one action takes ``delay`` seconds;
    :attr:`called` is set once a call has come."""

    def __init__(self, delay: float) -> None:
        delay_ = delay
        self.called = called = threading.Event()

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                body = json.loads(self.rfile.read(length))
                called.set()
                time.sleep(delay_)
                answer = json.dumps({"events": [], "responses": [
                    {"text": f"done slowly for {body['sender_id']}"}]}).encode()
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/webhook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> str:
        self.thread.start()
        return self.url

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


def _http(method: str, url: str, body: object = None, timeout: float = 60) -> tuple[int, object]:
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method,
                                 headers={"content-type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"null")


class RunningServer:
    """``dialogflowlite run`` in a subprocess, stopped with SIGTERM."""

    def __init__(self, project: Path, *extra: str) -> None:
        self.port = serving_helpers.free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.command = [sys.executable, "-m", "dialogflowlite.cli.main", "run", "--project",
                        str(project), "--host", "127.0.0.1", "--port", str(self.port),
                        "--enable-api", "--auth-token", "t", *extra]
        self.process: subprocess.Popen | None = None

    def __enter__(self) -> RunningServer:
        self.process = subprocess.Popen(self.command, stdout=subprocess.PIPE,
                                        stderr=subprocess.STDOUT, text=True,
                                        env={**os.environ, "PYTHONUNBUFFERED": "1"},
                                        start_new_session=True)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            assert self.process.poll() is None, self.process.stdout.read()
            try:
                if _http("GET", f"{self.url}/health", timeout=2)[0] == 200:
                    return self
            except OSError:
                pass
            time.sleep(0.1)
        raise AssertionError("the server did not become healthy")

    def stop(self) -> tuple[int, str]:
        assert self.process is not None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        output, _ = self.process.communicate(timeout=60)
        return self.process.returncode, output

    def __exit__(self, *exc: object) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.communicate()


def _say(server: RunningServer, sender: str, text: str) -> list[dict]:
    status, body = _http("POST", f"{server.url}/webhooks/rest/webhook",
                         {"sender": sender, "message": text})
    assert status == 200, body
    return body


def _user_texts(server: RunningServer, sender: str) -> list[str]:
    status, state = _http("GET", f"{server.url}/conversations/{sender}/tracker"
                                 "?include_events=ALL&token=t")
    assert status == 200, state
    return [e["text"] for e in state["events"] if e["event"] == "user"]


def test_conversations_survive_a_restart(project: Path) -> None:
    with RunningServer(project) as server:
        assert _say(server, "pat", "/greet")[0]["text"] == "Hello! How can I help?"
        _say(server, "pat", '/choose{"colour": "red"}')
        code, output = server.stop()
        assert code == 0, output
    assert (project / "trackers.db").is_file()
    with RunningServer(project) as server:
        assert _user_texts(server, "pat") == ["/greet", '/choose{"colour": "red"}']
        _, state = _http("GET", f"{server.url}/conversations/pat/tracker?token=t")
        assert state["slots"]["colour"] == "red"
        code, _ = server.stop()
        assert code == 0


def test_stopping_finishes_the_message_in_flight(project: Path) -> None:
    action_server = SlowActionServer(delay=2.0)
    with action_server as action_url:
        (project / "endpoints.yml").write_text(
            f"action_endpoint:\n  url: {action_url}\n", encoding="utf-8")
        with RunningServer(project) as server:
            answer: dict = {}

            def send() -> None:
                answer["reply"] = _http("POST", f"{server.url}/webhooks/rest/webhook",
                                        {"sender": "quinn", "message": "/slow"})

            client = threading.Thread(target=send)
            client.start()
            # the action server is now working on it (for two more seconds)
            assert action_server.called.wait(60), "the message never reached the action"
            code, output = server.stop()
            client.join(30)
            assert code == 0, output
        assert answer["reply"] == (200, [{"recipient_id": "quinn",
                                          "text": "done slowly for quinn"}])
        with RunningServer(project) as server:
            assert _user_texts(server, "quinn") == ["/slow"]
            server.stop()


def test_two_workers_share_sqlite_and_keep_each_conversation_in_order(project: Path) -> None:
    senders = [f"w{n}" for n in range(6)]
    script = ["/greet", "/ask_choice", '/choose{"colour": "red"}', "/goodbye"]
    with RunningServer(project, "--workers", "2") as server:

        def chat(sender: str) -> None:
            for text in script:
                _say(server, sender, text)

        threads = [threading.Thread(target=chat, args=(s,)) for s in senders]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(120)
        for sender in senders:
            assert _user_texts(server, sender) == script
        code, output = server.stop()
        assert code == 0, output


@pytest.mark.postgres
@pytest.mark.redis
def test_two_workers_share_postgres_with_redis_locks(project: Path) -> None:
    import uuid

    postgres = os.environ.get("DFL_TEST_POSTGRES_URL")
    redis = os.environ.get("DFL_TEST_REDIS_URL")
    if not postgres or not redis:
        pytest.skip("DFL_TEST_POSTGRES_URL / DFL_TEST_REDIS_URL are not set: no PostgreSQL or "
                    "Redis server to test against (.ci/run starts them)")
    import psycopg

    name = f"dfl_run_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(postgres, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    url = postgres.partition("?")[0].rsplit("/", 1)[0] + f"/{name}"
    (project / "endpoints.yml").write_text(
        f"tracker_store:\n  type: SQL\n  dialect: postgresql\n  url: {json.dumps(url)}\n"
        f"lock_store:\n  type: redis\n  url: {json.dumps(redis)}\n"
        f'  key_prefix: "dfltest-{name}:"\n', encoding="utf-8")
    script = ["/greet", "/ask_choice", '/choose{"colour": "blue"}', "/goodbye"]
    try:
        with RunningServer(project, "--workers", "2") as server:
            threads = [threading.Thread(target=lambda s=s: [_say(server, s, t) for t in script])
                       for s in ("p1", "p2", "p3", "p4")]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(120)
            for sender in ("p1", "p2", "p3", "p4"):
                assert _user_texts(server, sender) == script
            code, output = server.stop()
            assert code == 0, output
        assert not (project / "trackers.db").exists()  # nothing went to the default store
    finally:
        with psycopg.connect(postgres, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_shell_and_run_take_other_endpoints_and_credentials_files(project: Path,
                                                                 tmp_path: Path) -> None:
    from dialogflowlite.cli.run import config_from_args
    from dialogflowlite.cli.shell import run_shell
    from dialogflowlite.errors import ConfigError
    from dialogflowlite.server.app import ServerConfig

    other = project / "prod"
    other.mkdir()
    (other / "endpoints.yml").write_text(
        f"event_broker:\n  type: file\n  path: {tmp_path / 'prod-events.log'}\n",
        encoding="utf-8")
    stdout = io.StringIO()
    asyncio.run(run_shell(project, sender_id="pat", stdin=io.StringIO("/greet\n"),
                          stdout=stdout, history_file=project / "history",
                          endpoints_file="prod/endpoints.yml"))  # found in the project
    assert "Hello! How can I help?" in stdout.getvalue()
    logged = (tmp_path / "prod-events.log").read_text(encoding="utf-8")
    assert '"sender_id": "pat"' in logged

    (other / "credentials.yml").write_text("rest: {}\n", encoding="utf-8")
    import argparse

    from dialogflowlite.cli.run import _add_arguments

    parser = argparse.ArgumentParser()
    _add_arguments(parser)
    args = parser.parse_args(["--project", str(project),
                              "--endpoints", str(other / "endpoints.yml"),
                              "--credentials", str(other / "credentials.yml")])
    config = config_from_args(args)
    assert config.read_credentials() == {"rest": {}}
    assert config.read_endpoints()["event_broker"]["type"] == "file"
    with pytest.raises(ConfigError, match=r"the endpoints file nowhere\.yml does not exist"):
        ServerConfig(project=str(project), endpoints_file="nowhere.yml").read_endpoints()


def test_unknown_endpoints_sections_are_named(project: Path, caplog) -> None:
    from dialogflowlite.server.app import ServerConfig

    (project / "endpoints.yml").write_text(
        "event_brokers:\n  type: file\ntelemetry: {enabled: false}\nnlg: {seed: 1}\n",
        encoding="utf-8")
    with caplog.at_level("WARNING"):
        endpoints = ServerConfig(project=str(project)).read_endpoints()
    assert set(endpoints) == {"event_brokers", "telemetry", "nlg"}
    assert "section 'event_brokers' is not used here; did you mean 'event_broker'?" in caplog.text
    assert "section 'telemetry' is not used here" in caplog.text
    assert "'nlg'" not in caplog.text


def test_an_unwritable_history_file_is_named_once(tmp_path: Path) -> None:
    from prompt_toolkit.history import FileHistory, InMemoryHistory

    from dialogflowlite.server.channels.console import ConsoleChannel

    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    out = io.StringIO()
    channel = ConsoleChannel(sender_id="me", stdin=io.StringIO(), stdout=out,
                             history_file=blocker / "history")
    assert isinstance(channel._session().history, InMemoryHistory)
    assert out.getvalue().startswith(f"(line history is not kept: cannot write {blocker}")

    good = tmp_path / "sub" / "history"
    out = io.StringIO()
    channel = ConsoleChannel(sender_id="me", stdin=io.StringIO(), stdout=out, history_file=good)
    assert isinstance(channel._session().history, FileHistory)
    assert good.exists() and out.getvalue() == ""
