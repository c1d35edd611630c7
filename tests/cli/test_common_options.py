"""Options every command takes where Rasa users type them."""

from __future__ import annotations

import pytest

from dialogflowlite.cli.main import build_parser


@pytest.mark.parametrize("argv", [["--debug", "train"], ["train", "--debug"],
                                  ["data", "validate", "--debug"]])
def test_debug_before_or_after_the_command(argv: list[str]) -> None:
    args = build_parser().parse_args(argv)
    assert args.debug and not args.quiet


def test_quiet_after_the_command_and_the_defaults() -> None:
    assert build_parser().parse_args(["run", "-q"]).quiet
    plain = build_parser().parse_args(["run"])
    assert plain.debug is False and plain.quiet is False


@pytest.mark.parametrize("command", ["run", "shell", "test"])
def test_m_is_short_for_model(command: str) -> None:
    assert build_parser().parse_args([command, "-m", "models/bot.tar"]).model == "models/bot.tar"


def test_python_m_runs_the_command_line(tmp_path) -> None:
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-m", "dialogflowlite", "init", str(tmp_path / "bot"),
                           ], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "bot" / "domain.yml").is_file()
    bad = subprocess.run([sys.executable, "-m", "dialogflowlite", "no-such-command"],
                         capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and "no-such-command" in bad.stderr
