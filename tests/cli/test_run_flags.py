"""``dialogflowlite run`` with the options of ``rasa run``: -i, -t, timeouts, TLS, --connector,
--remote-storage, syslog, and ``run actions`` (rasa-sdk's action server)."""

from __future__ import annotations

import datetime
import http.client
import ipaddress
import json
import logging
import os
import signal
import socket
import ssl
import subprocess
import sys
import textwrap
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import serving_helpers

from dialogflowlite.cli.main import build_parser, main
from dialogflowlite.errors import ConfigError


@pytest.fixture
def project(tiny_bot: Path) -> Path:
    return tiny_bot


def _args(*argv: str):
    return build_parser().parse_args(["run", *argv])


def _app(tmp_path: Path, **settings):
    """An app for ``settings`` (no model is loaded: nothing here starts it)."""
    from dialogflowlite.server.app import ServerConfig, create_app

    settings.setdefault("credentials", {})
    settings.setdefault("endpoints", {})
    return create_app(ServerConfig(project=str(tmp_path), **settings))


# ---------------------------------------------------------------- -i, -t and the timeouts


def test_rasa_spellings_set_the_same_settings() -> None:
    from dialogflowlite.cli.run import config_from_args

    for spelling in ("-i", "--interface", "--host"):
        assert _args(spelling, "127.0.0.1").host == "127.0.0.1"
    args = _args("-t", "secret", "--response-timeout", "120", "--request-timeout", "30",
                 "--connector", "rest", "--use-syslog", "--syslog-address", "logs.example",
                 "--syslog-port", "1514", "--syslog-protocol", "tcp")
    config = config_from_args(args)
    assert config.auth_token == "secret"
    assert (config.response_timeout, config.request_timeout) == (120, 30)
    assert config.connector == "rest"
    assert config.syslog == ("logs.example", 1514, "TCP")
    defaults = config_from_args(_args())
    assert (defaults.response_timeout, defaults.request_timeout) == (60, None)
    assert defaults.syslog is None and defaults.connector is None


@pytest.mark.parametrize("value", ["0", "-5", "soon"])
def test_timeouts_must_be_positive_whole_seconds(value: str, capsys) -> None:
    with pytest.raises(SystemExit) as exit_info:
        _args("--response-timeout", value)
    assert exit_info.value.code == 2
    assert "--response-timeout" in capsys.readouterr().err


@pytest.mark.parametrize(("option", "value", "message"), [
    ("--max-message-chars", "0", "must be 1 or more, not 0"),
    ("--max-message-chars", "-1", "must be 1 or more, not -1"),
    ("--syslog-port", "0", "a server's port is 1 to 65535, not 0"),
    ("--syslog-port", "-3", "a server's port is 1 to 65535, not -3"),
    ("--syslog-port", "70000", "a server's port is 1 to 65535, not 70000"),
])
def test_numbers_out_of_range_are_usage_errors(option: str, value: str, message: str,
                                                capsys) -> None:
    # before, --max-message-chars 0 served a bot that answered every message with 413
    with pytest.raises(SystemExit) as exit_info:
        _args(option, value)
    assert exit_info.value.code == 2
    assert f"argument {option}: {message}" in capsys.readouterr().err


def test_a_folder_given_as_a_file_is_called_a_folder(tmp_path: Path) -> None:
    # before: "does not exist", which sends the user looking for a typo
    from dialogflowlite.server.app import ServerConfig
    from dialogflowlite.server.tls import create_ssl_context

    (tmp_path / "settings_folder").mkdir()
    for kind in ("endpoints", "credentials"):
        config = ServerConfig(project=str(tmp_path), **{f"{kind}_file": "settings_folder"})
        with pytest.raises(ConfigError,
                           match=f"the {kind} file settings_folder is a folder") as error:
            getattr(config, f"read_{kind}")()
        assert f"--{kind}" in error.value.hint
    with pytest.raises(ConfigError, match=f"the --ssl-certificate file {tmp_path} is a folder"):
        create_ssl_context(str(tmp_path))
    from dialogflowlite.agent import read_endpoints

    with pytest.raises(ConfigError, match="is a folder"):
        read_endpoints(tmp_path)


def test_timeouts_reach_sanic(tmp_path: Path) -> None:
    app = _app(tmp_path, response_timeout=120, request_timeout=30)
    assert (app.config.RESPONSE_TIMEOUT, app.config.REQUEST_TIMEOUT) == (120, 30)
    default = _app(tmp_path)
    assert (default.config.RESPONSE_TIMEOUT, default.config.REQUEST_TIMEOUT) == (60, 60)


# ---------------------------------------------------------------- TLS


def _write_certificate(folder: Path, name: str, password: str | None = None,
                       key_in_certificate: bool = False) -> tuple[Path, Path]:
    """A self-signed certificate for localhost and 127.0.0.1, and its key (PEM files)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.timezone.utc)
    certificate = (
        x509.CertificateBuilder().subject_name(subject).issuer_name(subject)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName(
            [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False)
        .sign(key, hashes.SHA256()))
    encryption = (serialization.BestAvailableEncryption(password.encode()) if password
                  else serialization.NoEncryption())
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                encryption)
    cert_pem = certificate.public_bytes(serialization.Encoding.PEM)
    cert_path, key_path = folder / f"{name}.crt", folder / f"{name}.key"
    cert_path.write_bytes(cert_pem + (key_pem if key_in_certificate else b""))
    key_path.write_bytes(key_pem)
    return cert_path, key_path


@pytest.fixture
def certificates(tmp_path: Path) -> dict[str, tuple[Path, Path]]:
    pytest.importorskip("cryptography")
    return {"plain": _write_certificate(tmp_path, "plain"),
            "encrypted": _write_certificate(tmp_path, "encrypted", password="s3cret"),
            "combined": _write_certificate(tmp_path, "combined", key_in_certificate=True),
            "combined-encrypted": _write_certificate(tmp_path, "combined-encrypted",
                                                     password="pw", key_in_certificate=True)}


def test_tls_context_from_good_files(certificates) -> None:
    from dialogflowlite.server.tls import create_ssl_context

    cert, key = certificates["plain"]
    context = create_ssl_context(str(cert), str(key), ca_file=str(cert))
    assert isinstance(context, ssl.SSLContext)
    assert context.cert_store_stats()["x509_ca"] == 0  # a leaf, not a CA
    assert context.cert_store_stats()["x509"] == 1  # the CA file was loaded
    cert, key = certificates["encrypted"]
    assert create_ssl_context(str(cert), str(key), password="s3cret") is not None
    assert create_ssl_context(str(certificates["combined"][0])) is not None
    combined = str(certificates["combined-encrypted"][0])
    assert create_ssl_context(combined, password="pw") is not None
    with pytest.raises(ConfigError, match=f"the key in {combined} could not be decrypted"):
        create_ssl_context(combined, password="wrong")
    assert create_ssl_context(None) is None


def test_tls_mistakes_are_one_clear_error_naming_the_file(certificates, tmp_path) -> None:
    from dialogflowlite.server.tls import create_ssl_context

    plain_cert, plain_key = (str(p) for p in certificates["plain"])
    enc_cert, enc_key = (str(p) for p in certificates["encrypted"])
    not_pem = tmp_path / "notes.txt"
    not_pem.write_text("hello", encoding="utf-8")
    cases = [
        ((enc_cert, enc_key, None, "wrong"), f"--ssl-keyfile {enc_key} could not be decrypted"),
        ((enc_cert, enc_key, None, None), f"the key in {enc_key} is encrypted"),
        ((plain_cert, enc_key, None, "s3cret"), f"{enc_key} is not the key of the "
                                                f"certificate {plain_cert}"),
        ((plain_cert, None, None, None), f"{plain_cert} holds no private key"),
        ((str(not_pem), plain_key, None, None), f"--ssl-certificate file {not_pem} holds no "
                                                "PEM certificate"),
        ((plain_cert, str(not_pem), None, None), f"--ssl-keyfile {not_pem} is not a PEM "
                                                 "private key"),
        ((plain_cert, plain_key, str(not_pem), None), f"--ssl-ca-file {not_pem} holds no PEM"),
        ((str(tmp_path / "gone.crt"), plain_key, None, None), "the --ssl-certificate file "
                                                              f"{tmp_path / 'gone.crt'} does "
                                                              "not exist"),
        ((None, plain_key, None, None), "--ssl-keyfile needs --ssl-certificate"),
        ((None, None, None, "pw"), "--ssl-password needs --ssl-certificate"),
    ]
    for (cert, key, ca, password), message in cases:
        with pytest.raises(ConfigError) as error:
            create_ssl_context(cert, key, ca, password)
        assert message in str(error.value), (cert, key, ca, password)
        assert error.value.hint


def test_run_stops_at_once_on_a_bad_certificate(project: Path, tmp_path: Path, capsys) -> None:
    missing = tmp_path / "missing.pem"
    assert main(["run", "--project", str(project), "--ssl-certificate", str(missing)]) == 1
    assert f"error: the --ssl-certificate file {missing} does not exist" in (
        capsys.readouterr().err)


def _get(url: str, context: ssl.SSLContext | None = None) -> tuple[int, str]:
    with urllib.request.urlopen(url, timeout=5, context=context) as response:
        return response.status, response.read().decode()


def _start(project: Path, *extra: str) -> tuple[subprocess.Popen, int]:
    port = serving_helpers.free_port()
    command = [sys.executable, "-m", "dialogflowlite.cli.main", "run", "--project", str(project),
               "-i", "127.0.0.1", "-p", str(port), *extra]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"},
                               start_new_session=True)
    return process, port


def _stop(process: subprocess.Popen) -> str:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
    try:
        return process.communicate(timeout=60)[0]
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        return process.communicate()[0]


@pytest.mark.parametrize("workers", [1, 2])
def test_run_serves_https_with_an_encrypted_key(project: Path, certificates,
                                                workers: int) -> None:
    cert, key = certificates["encrypted"]
    trusting = ssl.create_default_context(cafile=str(cert))
    process, port = _start(project, "--ssl-certificate", str(cert), "--ssl-keyfile", str(key),
                           "--ssl-password", "s3cret", "--workers", str(workers))
    try:
        deadline = time.monotonic() + 120
        while True:
            assert process.poll() is None, process.stdout.read()
            try:
                if _get(f"https://127.0.0.1:{port}/health", trusting)[0] == 200:
                    break
            except OSError:
                assert time.monotonic() < deadline, "the server did not become healthy"
                time.sleep(0.2)
        status, body = _get(f"https://localhost:{port}/", trusting)
        assert status == 200 and body.startswith("Hello from dialogflowlite")
        with pytest.raises((OSError, http.client.HTTPException)):
            _get(f"http://127.0.0.1:{port}/health")  # plain HTTP gets no answer
        with pytest.raises(urllib.error.URLError, match="CERTIFICATE_VERIFY_FAILED"):
            _get(f"https://127.0.0.1:{port}/health", ssl.create_default_context())
    finally:
        output = _stop(process)
    assert f"on https://127.0.0.1:{port}" in output
    assert "s3cret" not in output


def test_worker_processes_log_to_the_log_file_too(project: Path, tmp_path: Path) -> None:
    log = tmp_path / "server.log"
    process, port = _start(project, "--workers", "2", "--log-file", str(log))
    try:
        deadline = time.monotonic() + 120
        while True:
            assert process.poll() is None, process.stdout.read()
            try:
                if _get(f"http://127.0.0.1:{port}/health")[0] == 200:
                    break
            except OSError:
                assert time.monotonic() < deadline, "the server did not become healthy"
                time.sleep(0.2)
    finally:
        _stop(process)
    # "<time> <pid> <level> <logger>: <message>": the main process and its workers
    pids = {line.split()[2] for line in log.read_text(encoding="utf-8").splitlines()
            if line[:2] == "20" and len(line.split()) > 3}
    assert str(process.pid) in pids
    assert len(pids) >= 3, pids


# ---------------------------------------------------------------- --connector


def test_connector_serves_only_that_channel(tmp_path: Path, caplog) -> None:
    # the telegram section is broken; --connector leaves it alone, as Rasa does
    credentials = {"rest": {}, "telegram": {"access_token": "not a token"},
                   "callback": {"url": "http://127.0.0.1:9/replies"}}
    with caplog.at_level(logging.INFO, logger="dialogflowlite.server.app"):
        app = _app(tmp_path, credentials=credentials, connector="socketio")
    assert [channel.name() for channel in app.ctx.channels] == ["socketio"]
    assert "webchat" not in app.blueprints
    assert "no web chat at /chat" in caplog.text and "--connector socketio" in caplog.text

    app = _app(tmp_path, credentials=credentials, connector="rest")
    assert [channel.name() for channel in app.ctx.channels] == ["rest"]
    assert "webchat" in app.blueprints
    [callback] = _app(tmp_path, credentials=credentials, connector="callback").ctx.channels
    assert callback.config == {"url": "http://127.0.0.1:9/replies"}  # its section is used


def test_connector_without_credentials_and_unknown_connectors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="telegram: `access_token` is missing"):
        _app(tmp_path, connector="telegram")
    with pytest.raises(ConfigError) as error:
        _app(tmp_path, connector="telegarm")
    assert "--connector 'telegarm' is not a channel" in error.value.message
    assert "rest" in error.value.message and "socketio" in error.value.message
    assert error.value.hint == "did you mean 'telegram'?"
    with pytest.raises(ConfigError, match="dialogflowlite shell"):
        _app(tmp_path, connector="console")


def test_run_checks_the_connector_name_before_loading_the_model(tmp_path: Path,
                                                                capsys) -> None:
    # no model in the folder: the connector is what gets reported
    assert main(["run", "--project", str(tmp_path), "--connector", "slak"]) == 1
    err = capsys.readouterr().err
    assert "error: --connector 'slak' is not a channel" in err and "'slack'" in err


# ---------------------------------------------------------------- --remote-storage


@pytest.mark.parametrize("storage", ["aws", "gcs", "azure"])
def test_remote_storage_points_at_the_model_server(tmp_path: Path, storage: str,
                                                   capsys) -> None:
    assert main(["run", "--project", str(tmp_path), "--remote-storage", storage]) == 1
    err = capsys.readouterr().err
    assert f"error: --remote-storage {storage}:" in err and "not built into" in err
    assert "`models:` with a `url:`" in err and "-m FILE" in err


# ---------------------------------------------------------------- --jwt-private-key


def test_jwt_private_key_needs_the_public_key(tmp_path: Path, capsys) -> None:
    assert main(["run", "--project", str(tmp_path), "--jwt-private-key", "PRIVATE"]) == 1
    err = capsys.readouterr().err
    assert "--jwt-private-key was given without --jwt-secret" in err
    assert "PRIVATE" not in err


def test_jwt_private_key_is_accepted_and_not_used(caplog) -> None:
    from dialogflowlite.cli.run import check_jwt_private_key, config_from_args

    args = _args("--jwt-secret", "PUBLIC", "--jwt-method", "RS256",
                 "--jwt-private-key", "PRIVATE")
    with caplog.at_level(logging.INFO, logger="dialogflowlite.cli.run"):
        check_jwt_private_key(args)
    assert "--jwt-private-key is not used" in caplog.text and "PRIVATE" not in caplog.text
    config = config_from_args(args)
    assert (config.jwt_secret, config.jwt_method) == ("PUBLIC", "RS256")


def test_run_actions_refuses_the_jwt_private_key(tmp_path: Path, capsys) -> None:
    assert main(["run", "actions", "--project", str(tmp_path),
                 "--jwt-private-key", "PRIVATE"]) == 1
    assert "has no --jwt-private-key" in capsys.readouterr().err


# ---------------------------------------------------------------- syslog


def test_syslog_handler_sends_log_records_over_udp() -> None:
    from dialogflowlite.server.syslog_logging import install_syslog_handler

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as receiver:
        receiver.bind(("127.0.0.1", 0))
        receiver.settimeout(5)
        port = receiver.getsockname()[1]
        handler = install_syslog_handler("127.0.0.1", port, "udp")
        try:
            assert install_syslog_handler("127.0.0.1", port, "UDP") is handler  # once only
            assert logging.getLogger().handlers.count(handler) == 1
            logging.getLogger("dialogflowlite.test").warning("hello %s", "syslog")
            datagram = receiver.recv(4096).decode()
        finally:
            logging.getLogger().removeHandler(handler)
            handler.close()
    assert datagram.startswith("<12>")  # facility user (1) * 8 + warning (4)
    assert f"dialogflowlite[{os.getpid()}]: WARNING dialogflowlite.test: hello syslog" in datagram


def test_syslog_over_tcp_without_a_server_is_a_clear_error() -> None:
    from dialogflowlite.server.syslog_logging import install_syslog_handler

    port = serving_helpers.free_port()  # nothing listens there
    with pytest.raises(ConfigError, match=f"cannot reach the syslog server at 127.0.0.1:{port} "
                                          "over TCP"):
        install_syslog_handler("127.0.0.1", port, "tcp")


def test_the_app_installs_the_syslog_handler_of_its_config(tmp_path: Path) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as receiver:
        receiver.bind(("127.0.0.1", 0))
        target = ("127.0.0.1", receiver.getsockname()[1], "UDP")
        _app(tmp_path, syslog=target)
        installed = [h for h in logging.getLogger().handlers
                     if getattr(h, "dfl_syslog_target", None) == target]
        for handler in installed:
            logging.getLogger().removeHandler(handler)
            handler.close()
    assert len(installed) == 1


# ---------------------------------------------------------------- run actions


@pytest.fixture
def fake_rasa_sdk(tmp_path: Path) -> tuple[dict[str, str], Path]:
    """A ``rasa_sdk`` whose ``__main__`` records its arguments and exits with 3."""
    package = tmp_path / "fake" / "rasa_sdk"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("", encoding="utf-8")
    (package / "__main__.py").write_text(textwrap.dedent("""
        import json, os, sys
        with open(os.environ["FAKE_SDK_RECORD"], "w") as out:
            json.dump({"argv": sys.argv[1:], "cwd": os.getcwd(),
                       "host": os.environ.get("SANIC_HOST")}, out)
        sys.exit(3)
    """), encoding="utf-8")
    record = tmp_path / "record.json"
    paths = [str(package.parent), *filter(None, [os.environ.get("PYTHONPATH")])]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(paths), "FAKE_SDK_RECORD": str(record)}
    return env, record


def _run_actions(env: dict[str, str], *argv: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "dialogflowlite.cli.main", "run", "actions",
                           *argv], env=env, capture_output=True, text=True, timeout=60)


def test_run_actions_becomes_rasa_sdk_with_its_options(fake_rasa_sdk, tmp_path: Path) -> None:
    env, record = fake_rasa_sdk
    project = tmp_path / "bot"
    project.mkdir()
    result = _run_actions(env, "--project", str(project), "--actions", "my_bot.actions",
                          "-p", "6001", "--cors", "*", "--cors", "https://a.example",
                          "--ssl-certificate", "c.pem", "--ssl-keyfile", "k.pem",
                          "--ssl-password", "pw", "--auto-reload", "-i", "127.0.0.1",
                          "--debug")
    assert result.returncode == 3, result.stderr  # rasa-sdk's exit code: it replaced us
    seen = json.loads(record.read_text(encoding="utf-8"))
    assert seen["argv"] == ["--actions", "my_bot.actions", "--port", "6001",
                            "--cors", "*", "https://a.example", "--ssl-certificate", "c.pem",
                            "--ssl-keyfile", "k.pem", "--ssl-password", "pw", "--auto-reload",
                            "--debug"]
    assert Path(seen["cwd"]) == project.resolve()  # where the actions module is
    assert seen["host"] == "127.0.0.1"


def test_run_actions_defaults_are_rasas(fake_rasa_sdk, tmp_path: Path) -> None:
    env, record = fake_rasa_sdk
    env = {key: value for key, value in env.items() if key != "SANIC_HOST"}
    result = subprocess.run([sys.executable, "-m", "dialogflowlite.cli.main", "run", "actions"],
                            env=env, capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert result.returncode == 3, result.stderr
    seen = json.loads(record.read_text(encoding="utf-8"))
    assert seen["argv"] == ["--actions", "actions", "--port", "5055"]
    assert Path(seen["cwd"]) == tmp_path.resolve() and seen["host"] is None


def test_run_actions_passes_endpoints_on_for_rasa_sdks_tracing(fake_rasa_sdk,
                                                               tmp_path: Path) -> None:
    # rasa-sdk 3.8+ reads its tracing settings from --endpoints; it was refused as a bot
    # server option. The file is found as the bot server finds it (working folder, else
    # project) and passed as an absolute path, since rasa-sdk runs in the project.
    env, record = fake_rasa_sdk
    project = tmp_path / "bot"
    project.mkdir()
    (project / "tracing.yml").write_text("tracing: {type: jaeger}\n", encoding="utf-8")
    result = subprocess.run([sys.executable, "-m", "dialogflowlite.cli.main", "run", "actions",
                             "--project", "bot", "--endpoints", "tracing.yml"],
                            env=env, capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert result.returncode == 3, result.stderr
    seen = json.loads(record.read_text(encoding="utf-8"))
    assert seen["argv"] == ["--actions", "actions", "--port", "5055",
                            "--endpoints", str((project / "tracing.yml").resolve())]


def test_run_actions_log_file_is_where_the_command_was_run(tmp_path: Path,
                                                          fake_rasa_sdk) -> None:
    # rasa-sdk runs in the project folder: a relative --log-file went there, and the
    # user found only the empty file the command's own log set-up had made
    env, record = fake_rasa_sdk
    (tmp_path / "bot").mkdir()
    result = subprocess.run([sys.executable, "-m", "dialogflowlite.cli.main", "run", "actions",
                             "--project", "bot", "--log-file", "act.log"],
                            env=env, capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert result.returncode == 3, result.stderr
    seen = json.loads(record.read_text(encoding="utf-8"))
    assert seen["argv"][-2:] == ["--log-file", str((tmp_path / "act.log").resolve())]


def test_run_actions_endpoints_must_exist_and_suit_the_sdk(tmp_path: Path, monkeypatch) -> None:
    from dialogflowlite.cli import run_actions

    with pytest.raises(ConfigError, match=r"--endpoints nope\.yml: the file does not exist"):
        run_actions.endpoints_file("nope.yml", tmp_path)
    (tmp_path / "endpoints.yml").write_text("{}\n", encoding="utf-8")
    monkeypatch.setattr(run_actions, "installed_sdk_version", lambda: (3, 7))
    with pytest.raises(ConfigError, match=r"rasa-sdk 3\.7 has no --endpoints") as error:
        run_actions.endpoints_file("endpoints.yml", tmp_path)
    assert "leave --endpoints out" in (error.value.hint or "")
    monkeypatch.setattr(run_actions, "installed_sdk_version", lambda: (3, 8))
    found = run_actions.endpoints_file("endpoints.yml", tmp_path)
    assert found == str((tmp_path / "endpoints.yml").resolve())


@pytest.fixture
def no_exec(monkeypatch) -> None:
    """In-process tests must never get as far as replacing the test runner."""

    def refuse(*args: object) -> None:
        raise AssertionError(f"the action server was started: {args}")

    monkeypatch.setattr("dialogflowlite.cli.run_actions.os.execve", refuse)


def test_run_actions_without_rasa_sdk_names_the_ways_out(monkeypatch, tmp_path, capsys,
                                                         no_exec) -> None:
    monkeypatch.setitem(sys.modules, "rasa_sdk", None)  # import rasa_sdk now fails
    assert main(["run", "actions", "--project", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert "rasa-sdk is not installed" in err and "pip install rasa-sdk" in err
    assert "In-process custom actions" in err


def test_run_actions_refuses_the_bot_servers_options(tmp_path: Path, capsys, no_exec) -> None:
    assert main(["run", "actions", "--project", str(tmp_path), "--enable-api",
                 "--model", "m.tar", "--ssl-ca-file", "ca.pem"]) == 1
    err = capsys.readouterr().err
    assert "no --model, --enable-api, --ssl-ca-file" in err
    assert main(["run", "actions", "--actions", "actions/main.py"]) == 1
    assert "--actions actions.main" in capsys.readouterr().err
    assert main(["run", "--project", str(tmp_path), "--actions", "x", "--auto-reload"]) == 1
    assert "--actions, --auto-reload only apply to `dialogflowlite run actions`" in (
        capsys.readouterr().err)


def test_cors_takes_several_origins_as_rasa_and_gives_back_actions() -> None:
    from dialogflowlite.cli.run import _part_after_cors

    args = build_parser().parse_args(["run", "--cors", "https://a.example", "https://b.example",
                                      "--cors", "*"])
    assert args.cors == ["https://a.example", "https://b.example", "*"]
    args = build_parser().parse_args(["run", "--cors", "*", "actions"])
    _part_after_cors(args)
    assert args.part == "actions" and args.cors == ["*"]
    args = build_parser().parse_args(["run", "actions", "--cors", "*"])
    _part_after_cors(args)
    assert args.part == "actions" and args.cors == ["*"]


# ---------------------------------------------------------------- once-per-server work


def test_is_first_worker_reads_sanics_process_name(monkeypatch) -> None:
    from dialogflowlite.server.workers import is_first_worker

    monkeypatch.delenv("SANIC_WORKER_NAME", raising=False)
    assert is_first_worker()  # one process
    monkeypatch.setenv("SANIC_WORKER_NAME", "Sanic-Server-0-0")
    assert is_first_worker()
    monkeypatch.setenv("SANIC_WORKER_NAME", "Sanic-Server-0-2")  # the first, restarted
    assert is_first_worker()
    monkeypatch.setenv("SANIC_WORKER_NAME", "Sanic-Server-1-0")
    assert not is_first_worker()


def log_lines(log: Path, text: str) -> int:
    if not log.exists():
        return 0
    return sum(text in line for line in log.read_text(encoding="utf-8").splitlines())


def test_several_workers_register_the_telegram_webhook_once(project: Path) -> None:
    def bot_api(request) -> tuple[int, dict, bytes]:
        result = {"username": "tiny_bot"} if request.path.endswith("/getMe") else True
        return 200, {"Content-Type": "application/json"}, json.dumps(
            {"ok": True, "result": result}).encode()

    with serving_helpers.StubHttpServer(bot_api) as api:
        (project / "credentials.yml").write_text(textwrap.dedent(f"""\
            rest: {{}}
            telegram:
              access_token: "123:ABC"
              verify: tiny_bot
              webhook_url: https://bot.example.com/webhooks/telegram/webhook
              api_url: {api.url.rstrip("/")}
            """), encoding="utf-8")
        log = project / "server.log"
        process, _ = _start(project, "--workers", "3", "--log-file", str(log))
        try:
            deadline = time.monotonic() + 180
            # a worker loads its model after its start-up listeners have run
            while log_lines(log, "loaded in") < 3:
                assert process.poll() is None, process.stdout.read()
                assert time.monotonic() < deadline, "the workers did not load their models"
                time.sleep(0.2)
        finally:
            output = _stop(process)
    calls = [r.path.rsplit("/", 1)[-1] for r in api.requests]
    assert calls.count("setWebhook") == 1, (calls, output)
    assert calls.count("getMe") == 1, calls


def test_a_channel_setting_error_names_the_credentials_file_and_line(tmp_path: Path) -> None:
    from dialogflowlite.server.app import ServerConfig
    from dialogflowlite.server.serve import check_channels_and_stores

    given = tmp_path / "c11.yml"
    given.write_text("rest:\ntelegram:\n  access_token: '123:abc'\n  verify: bot\n"
                     "  webhook_url: http://example.com/hook\n", encoding="utf-8")
    config = ServerConfig(project=str(tmp_path), credentials_file=str(given))
    # it said "credentials.yml telegram: ...", naming neither the file nor a line
    with pytest.raises(ConfigError) as error:
        check_channels_and_stores(config)
    assert error.value.render().startswith(
        f"{given}:5: telegram: `webhook_url` must start with https://")
    given.write_text("telegram:\n  acess_token: x\n", encoding="utf-8")
    with pytest.raises(ConfigError) as error:
        check_channels_and_stores(ServerConfig(project=str(tmp_path),
                                               credentials_file=str(given)))
    assert error.value.render().startswith(f"{given}:2: telegram: no setting 'acess_token'")


def test_a_store_setting_error_names_the_endpoints_file_read(tmp_path: Path) -> None:
    from dialogflowlite.server.app import ServerConfig
    from dialogflowlite.server.serve import check_channels_and_stores

    given = tmp_path / "staging.yml"
    given.write_text("tracker_store:\n  type: sqlit\n", encoding="utf-8")
    # it said "endpoints.yml tracker_store type must be one of ...", naming another file
    with pytest.raises(ConfigError) as error:
        check_channels_and_stores(ServerConfig(project=str(tmp_path),
                                               endpoints_file=str(given)))
    assert f"{given} tracker_store type must be one of" in error.value.hint
    assert "endpoints.yml" not in error.value.render()


def test_with_one_worker_a_store_setting_error_names_the_endpoints_file_and_line(
        tmp_path: Path, monkeypatch) -> None:
    import socket

    from dialogflowlite.server import serve
    from dialogflowlite.server.app import ServerConfig

    given = tmp_path / "prod-endpoints.yml"
    given.write_text("tracker_store:\n  type: redis\n  url: 127.0.0.1\n  recrod_exp: 10\n",
                     encoding="utf-8")
    monkeypatch.setattr(serve, "check_config", lambda config, workers: None)  # no model here

    def load(app) -> None:
        raise AssertionError("the settings were not checked before the model loaded")

    monkeypatch.setattr(serve, "preload_agent", load)
    # only the several workers' path checked them at the file read: one worker (the
    # default) said "endpoints.yml tracker_store: ...", naming no file and no line
    with socket.socket() as sock, pytest.raises(ConfigError) as error:
        sock.bind(("127.0.0.1", 0))
        serve._serve_on(sock, ServerConfig(project=str(tmp_path), endpoints_file=str(given)),
                        "127.0.0.1", 1)
    assert error.value.render().startswith(
        f"{given}:4: tracker_store: RedisTrackerStore has no setting 'recrod_exp'")


def test_the_worker_manager_closes_the_listening_socket_when_told_to_stop() -> None:
    import socket

    from dialogflowlite.server.serve import _close_listener_at_shutdown

    stopped = []

    class Manager:
        def shutdown_signal(self, signum, frame):
            stopped.append(signum)

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    _close_listener_at_shutdown(Manager, listener)
    _close_listener_at_shutdown(Manager, listener)  # a second server: wrapped once
    Manager().shutdown_signal(15, None)
    # its copy kept the port open: connections after SIGTERM hung until the workers
    # ended, then were reset, where one worker refuses them at once
    assert listener.fileno() == -1
    assert stopped == [15]



def test_the_worker_manager_waits_for_workers_still_finishing_their_messages() -> None:
    from dialogflowlite.server.serve import _wait_for_workers_at_shutdown

    class Worker:
        """A worker process that is still answering messages for ``busy`` seconds."""

        def __init__(self, busy: float) -> None:
            self.until = time.monotonic() + busy

        def is_alive(self) -> bool:
            return time.monotonic() < self.until

    alive_at_cleanup: list[bool] = []

    class Manager:
        def __init__(self, *workers: Worker) -> None:
            self.processes = workers

        def cleanup(self) -> None:
            alive_at_cleanup.extend(process.is_alive() for process in self.processes)

    _wait_for_workers_at_shutdown(Manager, 5.0)
    _wait_for_workers_at_shutdown(Manager, 5.0)  # a second server: wrapped once
    # Sanic's cleanup gave each worker 10 s, then the manager exited and its workers
    # were terminated in the middle of their stop: a 12 s turn was lost, never stored
    Manager(Worker(0.2), Worker(0.4)).cleanup()
    assert alive_at_cleanup == [False, False]
    # a worker that never ends holds the manager up no longer than the given seconds
    _wait_for_workers_at_shutdown(Manager, 0.2)
    started = time.monotonic()
    Manager(Worker(60)).cleanup()
    assert alive_at_cleanup[-1] is True and time.monotonic() - started < 5


def test_a_cors_pattern_that_is_no_regular_expression_stops_the_server_first(
        tmp_path: Path) -> None:
    from dialogflowlite.server import serve
    from dialogflowlite.server.app import ServerConfig

    # with several workers each one's app found it, after the server said it was serving
    # (and here, without a model, the missing model was said instead)
    with pytest.raises(ConfigError, match=r"--cors 'https://\(' is no valid pattern"):
        serve.check_config(ServerConfig(project=str(tmp_path), cors_origins=("https://(",)), 2)
