"""``--help`` of a command group says what the group is for and what it holds."""

from __future__ import annotations

import argparse

import pytest

from dialogflowlite.cli.command import Command
from dialogflowlite.cli.main import build_parser, main


def _help(argv: list[str], capsys) -> str:
    with pytest.raises(SystemExit):
        main([*argv, "--help"])
    return " ".join(capsys.readouterr().out.split())  # argparse wraps lines anywhere


@pytest.mark.parametrize(("group", "words"), [
    ("data", ["convert", "migrate", "split", "validate"]),
    ("evaluate", ["markers"]),
    ("plugin", ["new"]),
])
def test_the_top_level_help_lists_what_each_group_holds(group: str, words: list[str],
                                                         capsys) -> None:
    text = _help([], capsys)
    # before: "data  data commands", which says nothing
    assert f"{group} {group} commands" not in text
    assert f"`{group} {' | '.join(words)}`" in text


def test_a_group_help_says_what_it_is_for(capsys) -> None:
    text = _help(["data", "split"], capsys)
    assert "split NLU data or stories into a training and a test part" in text
    assert "`data split nlu | stories`" in text


def test_a_plugin_group_is_named_by_its_sub_commands() -> None:
    def nothing(parser: argparse.ArgumentParser) -> None:
        pass

    commands = [Command("audit bots", "audit the bots", nothing, lambda args: 0),
                Command("audit logs", "audit the logs", nothing, lambda args: 0)]
    text = " ".join(build_parser(commands).format_help().split())
    assert "audit the commands `audit bots | logs`" in text


def test_run_actions_is_named_where_a_rasa_user_looks_for_it(capsys) -> None:
    # before, the list of commands said only "run  serve the trained bot over HTTP"
    assert "run serve the trained bot over HTTP (`run actions`: start rasa-sdk's action " \
           "server)" in _help([], capsys)
    assert "`run actions` starts rasa-sdk's action server instead" in _help(["run"], capsys)
    with pytest.raises(SystemExit) as done:
        main(["run", "actions", "--help"])
    assert done.value.code == 0
    actions_help = " ".join(capsys.readouterr().out.split())
    assert "usage: dialogflowlite run " in actions_help
    assert "--actions MODULE module the actions are in" in actions_help


def test_the_list_of_commands_names_shell_nlu(capsys) -> None:
    assert "chat with the trained bot in the terminal (`shell nlu`: see how messages are " \
           "parsed)" in _help([], capsys)
