"""Mistakes typed on the command line: unknown options, a busy port, a missing endpoints file.

Each answer names what is wrong (the option, the port, the file) and the way out,
where argparse, the socket or the exporter alone gave a message about something else.
"""

from __future__ import annotations

import argparse
import errno
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from dialogflowlite.cli.command import Command
from dialogflowlite.cli.main import build_parser, main


def _usage_error(argv: list[str], capsys) -> str:
    with pytest.raises(SystemExit) as raised:
        main(argv)
    assert raised.value.code == 2
    return capsys.readouterr().err


@pytest.mark.parametrize(("argv", "command", "option"), [
    # argparse blamed the value on the `part` positional: "invalid choice: '3'"
    (["train", "--epochs", "3"], "dialogflowlite train", "--epochs"),
    (["run", "--sanic-backlog", "100"], "dialogflowlite run", "--sanic-backlog"),
    # ... or on the strategy of `evaluate markers`
    (["evaluate", "markers", "-m", "models", "all", "out.csv"],
     "dialogflowlite evaluate markers", "-m"),
    # the top-level parser reported these, with a usage that lists no command option
    (["visualize", "-m", "models"], "dialogflowlite visualize", "-m"),
    (["data", "split", "nlu", "--nope"], "dialogflowlite data split nlu", "--nope"),
])
def test_an_unknown_option_is_named_by_the_command_that_lacks_it(argv, command, option,
                                                                  capsys) -> None:
    err = _usage_error(argv, capsys)
    assert f"{command}: error: unknown option {option} " in err
    assert f"`{command} --help`" in err
    assert "invalid choice" not in err
    assert f"usage: {command} " in err


@pytest.mark.parametrize(("argv", "closest"), [
    (["test", "--stories-path", "tests/"], "--stories"),
    (["run", "--auth_token", "secret"], "--auth-token"),
    (["run", "actions", "--actionz", "my_actions"], "--actions"),
    (["train", "--fixed-model", "bot", "--dry-runn"], "--dry-run"),
])
def test_a_mistyped_option_gets_the_closest_one(argv, closest, capsys) -> None:
    assert f"did you mean {closest}?" in _usage_error(argv, capsys)


@pytest.mark.parametrize(("argv", "short", "value", "closest"), [
    # before: "argument --port/-p: not a port number: 'ort'"
    (["run", "-port", "5006"], "-p", "ort", "--port"),
    # before: "argument part: invalid choice: 'models'"
    (["shell", "-model", "models"], "-m", "odel", "--model"),
    # with its value after `=`: the value named was 'ort', argparse's is 'ort=5006'
    (["run", "-port=5006"], "-p", "ort=5006", "--port=5006"),
    # argparse took it (the model "odel=models"): it was refused only when no model was there
    (["shell", "-model=models"], "-m", "odel=models", "--model=models"),
    (["train", "-debug"], "-d", "ebug", "--debug"),
])
def test_a_long_option_with_one_dash_gets_its_two_dash_name(argv, short, value, closest,
                                                             capsys) -> None:
    err = _usage_error(argv, capsys)
    assert (f"unknown option {argv[1]} (one dash makes it {short} with the value "
            f"'{value}'); did you mean {closest}?") in err
    assert "invalid choice" not in err and "not a port number" not in err


@pytest.mark.parametrize(("argv", "closest"), [
    # run has no -e: the hint named an option that is not there
    (["run", "-enable-api"], "--enable-api"),
    # -v is a flag: it takes no value that "erbose" could be
    (["run", "-verbose"], "--verbose"),
    # ... and --verbose none that "1" could be
    (["run", "-verbose=1"], "--verbose"),
])
def test_one_dash_names_no_short_option_that_takes_no_such_value(argv, closest,
                                                                  capsys) -> None:
    err = _usage_error(argv, capsys)
    assert f"unknown option {argv[1]}; did you mean {closest}?" in err
    assert "one dash makes it" not in err


def test_an_unlike_option_gets_no_far_fetched_suggestion(capsys) -> None:
    # with the dashes compared, "--bogus" came out as "--out"
    err = _usage_error(["test", "--bogus"], capsys)
    assert "unknown option --bogus" in err
    assert "did you mean" not in err


@pytest.mark.parametrize("argv", [
    ["train", "--fixed-model", "bot"],  # an unambiguous prefix, as argparse allows
    ["export", "--offset-timestamps-by-seconds", "-3600"],  # a negative value
    ["run", "--cors", "*", "actions"],
    ["train", "core", "-vv"],
])
def test_what_argparse_accepts_still_parses(argv) -> None:
    assert build_parser().parse_args(argv)


@pytest.mark.parametrize("workers", ["1", "2"])
def test_a_busy_port_is_named_with_the_way_out(tiny_bot: Path, workers: str) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        done = subprocess.run(
            [sys.executable, "-m", "dialogflowlite.cli.main", "run", "--project", str(tiny_bot),
             "--host", "127.0.0.1", "--port", str(port), "--workers", workers],
            capture_output=True, text=True, timeout=120)
    assert done.returncode == 1, done.stderr
    # before: "Address already in use (hint: check that the path exists ...)"
    assert f"port {port} on 127.0.0.1 is already in use" in done.stderr
    assert "--port" in done.stderr
    assert "path" not in done.stderr.splitlines()[-1]
    # the port is taken before anything else: the log said "serving bot on ..." first
    # (and with workers Sanic's "Experienced exception while trying to serve" followed)
    assert "serving" not in done.stderr
    assert "loaded model" not in done.stderr
    assert "exception" not in done.stderr.lower() and "Traceback" not in done.stderr


@pytest.mark.parametrize(("failure", "message", "hint"), [
    (OSError(errno.EADDRNOTAVAIL, "Cannot assign requested address"),
     "cannot listen on 192.0.2.1 (port 80): Cannot assign requested address",
     "pass an address of this machine with -i"),
    (PermissionError(errno.EACCES, "Permission denied"),
     "no permission to listen on port 80 on 192.0.2.1", "--port 1024 or higher"),
])
def test_an_address_that_cannot_be_listened_on_is_named(tmp_path: Path, monkeypatch,
                                                         failure: OSError, message: str,
                                                         hint: str) -> None:
    from dialogflowlite.errors import ConfigError
    from dialogflowlite.server.app import ServerConfig
    from dialogflowlite.server.serve import serve

    def refuse(host: str, port: int, **kwargs) -> socket.socket:
        raise failure

    # (the machine may be allowed either, so the bind is made to fail)
    monkeypatch.setattr("sanic.server.socket.bind_socket", refuse)
    with pytest.raises(ConfigError) as raised:
        # the project is not looked at: the address is checked first
        serve(ServerConfig(project=str(tmp_path / "nosuch")), host="192.0.2.1", port=80)
    assert raised.value.message == message
    assert hint in raised.value.hint


def test_an_os_error_without_a_path_gets_no_path_hint(monkeypatch, capsys) -> None:
    def refuse(args: argparse.Namespace) -> int:
        raise ConnectionRefusedError(errno.ECONNREFUSED, "Connection refused")

    command = Command("refuse", "fails", lambda parser: None, refuse)
    monkeypatch.setattr("dialogflowlite.cli.main._commands", lambda: [command])
    assert main(["refuse"]) == 1
    err = capsys.readouterr().err
    assert "Connection refused" in err
    assert "path" not in err


def test_export_without_endpoints_yml_says_it_is_missing(tmp_path: Path, capsys) -> None:
    # before: "endpoints.yml has no event_broker section", about a file that is not there
    assert main(["export", "--project", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert f"there is no endpoints.yml in {tmp_path.resolve()}" in err
    assert "--endpoints FILE" in err


def test_export_names_the_endpoints_file_given(tmp_path: Path, capsys) -> None:
    other = tmp_path / "other-endpoints.yml"
    other.write_text("action_endpoint:\n  url: http://localhost:5055/webhook\n",
                     encoding="utf-8")
    assert main(["export", "--project", str(tmp_path), "--endpoints", str(other)]) == 1
    assert f"{other} has no event_broker section" in capsys.readouterr().err


@pytest.mark.parametrize(("argv", "wrong", "closest"), [
    (["tain"], "tain", "train"),
    (["data", "valdate"], "valdate", "validate"),
    (["test", "cor"], "cor", "core"),
    (["evaluate", "markers", "firstn", "3", "out.csv"], "firstn", "first_n"),
])
def test_a_mistyped_command_gets_the_closest_one(argv, wrong, closest, capsys) -> None:
    err = _usage_error(argv, capsys)
    assert f"invalid choice: '{wrong}'" in err
    assert f"did you mean '{closest}'?" in err


@pytest.mark.parametrize(("argv", "wrong", "closest"), [
    (["visualize", "--format", "DOT"], "DOT", "dot"),
    (["train", "NLU"], "NLU", "nlu"),
])
def test_a_choice_in_other_capitals_gets_the_right_one(argv, wrong, closest, capsys) -> None:
    # before: "invalid choice" with no suggestion ("DOT" and "dot" share no character)
    err = _usage_error(argv, capsys)
    assert f"invalid choice: '{wrong}'" in err
    assert f"did you mean '{closest}'?" in err


def test_a_connector_in_capitals_gets_the_right_one(tmp_path: Path, capsys) -> None:
    # before: the hint said a custom channel is a plugin, not a module path
    assert main(["run", "--project", str(tmp_path), "--host", "127.0.0.1", "--port", "0",
                 "--connector", "REST"]) == 1
    assert "(hint: did you mean 'rest'?)" in capsys.readouterr().err
