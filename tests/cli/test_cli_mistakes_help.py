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
