"""Options every command takes where Rasa users type them."""

from __future__ import annotations

import pytest

from dialogflowlite.cli.main import build_parser


@pytest.mark.parametrize("argv", [["--debug", "train"], ["train", "--debug"],
                                  ["data", "validate", "--debug"],
                                  ["data", "--debug", "validate"],
                                  ["data", "split", "--debug", "nlu"]])
def test_debug_before_or_after_the_command(argv: list[str]) -> None:
    args = build_parser().parse_args(argv)
    assert args.debug and not args.quiet


def test_quiet_after_the_command_and_the_defaults() -> None:
    assert build_parser().parse_args(["run", "-q"]).quiet
    assert build_parser().parse_args(["data", "-q", "validate"]).quiet
    before_the_group = build_parser().parse_args(["--log-file", "a.log", "data", "validate"])
    assert before_the_group.log_file == "a.log"
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


def test_rasas_verbosity_spellings() -> None:
    assert build_parser().parse_args(["train", "-vv"]).debug
    assert build_parser().parse_args(["-vv", "run"]).debug
    assert build_parser().parse_args(["shell", "-v"]).verbose


LOGGING_CONFIG = """
version: 1
disable_existing_loggers: false
formatters:
  plain: {format: "CONFIGURED %(levelname)s %(message)s"}
handlers:
  file: {class: logging.FileHandler, filename: FILE, formatter: plain, level: WARNING}
root: {level: INFO, handlers: [file]}
"""


@pytest.fixture()
def warning_project(write_project):
    return write_project(
        domain='version: "3.1"\nintents: [greet, lonely]\nresponses:\n'
               '  utter_hi: [{text: "Hi"}]\n',
        nlu='version: "3.1"\nnlu:\n- intent: greet\n  examples: |\n    - hi\n    - hello\n',
        rules='version: "3.1"\nrules:\n- rule: r\n  steps:\n  - intent: greet\n'
              '  - action: utter_hi\n',
        config="language: en\npipeline:\n- name: WhitespaceTokenizer\n"
               "- name: KeywordIntentClassifier\npolicies:\n- name: RulePolicy\n")


def _restore_logging():
    from dialogflowlite.shared.log_setup import LogSettings, configure_logging

    configure_logging(LogSettings())


def test_log_file_gets_the_log_too(warning_project, tmp_path) -> None:
    from dialogflowlite.cli.main import main

    log = tmp_path / "logs" / "dfl.log"
    try:
        # a dry run logs the check's warnings and has no model to compare with: exit 1
        assert main(["train", "--dry-run", "--project", str(warning_project), "--log-file",
                     str(log)]) == 1
        assert main(["--log-file", str(tmp_path / "before.log"), "train", "--dry-run",
                     "--project", str(warning_project)]) == 1
    finally:
        _restore_logging()
    text = log.read_text(encoding="utf-8")
    assert "WARNING" in text and "intent 'lonely' has no NLU examples" in text
    assert "lonely" in (tmp_path / "before.log").read_text(encoding="utf-8")


def test_logging_config_file_replaces_the_default_setup(warning_project, tmp_path,
                                                         capsys) -> None:
    from dialogflowlite.cli.main import main

    log = tmp_path / "configured.log"
    config = tmp_path / "logging.yml"
    config.write_text(LOGGING_CONFIG.replace("FILE", str(log)), encoding="utf-8")
    try:
        assert main(["train", "--dry-run", "--project", str(warning_project),
                     "--logging-config-file", str(config)]) == 1
    finally:
        _restore_logging()
    assert "CONFIGURED WARNING" in log.read_text(encoding="utf-8")
    config.write_text("version: 1\nhandlers:\n  h: {class: no.such.Handler}\n",
                      encoding="utf-8")
    try:
        assert main(["train", "--dry-run", "--project", str(warning_project),
                     "--logging-config-file", str(config)]) == 1
    finally:
        _restore_logging()
    assert "the logging config is not valid" in capsys.readouterr().err


def test_a_path_that_cannot_be_written_is_one_line(warning_project, tmp_path, capsys) -> None:
    from dialogflowlite.cli.main import main

    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    command = ["data", "split", "nlu", "--project", str(warning_project), "--out",
               str(blocker / "split")]
    assert main(command) == 1
    err = capsys.readouterr().err
    assert f"error: Not a directory: {blocker}" in err and "Traceback" not in err
    assert "--debug shows where it happened" in err
    assert main([*command, "--debug"]) == 1
    assert "Traceback" in capsys.readouterr().err
