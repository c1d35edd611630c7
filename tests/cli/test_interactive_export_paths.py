"""The answers to the interactive export's questions: folders, backslashes, the default
offered for a ``--domain`` folder, and the help shown for ``/export``."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from dialogflowlite.dialogue.interactive import COMMANDS
from dialogflowlite.dialogue.interactive_export import (
    default_domain_file,
    export_path_answer,
    export_path_problem,
)
from dialogflowlite.io.loader import ProjectSources


def problem(answer: str, root: Path) -> str | None:
    return export_path_problem(export_path_answer(answer), root, "the stories",
                               "data/stories.yml")


@pytest.mark.skipif(os.sep == "\\", reason="a backslash separates folders on Windows")
def test_a_windows_style_path_is_explained(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    assert problem("data\\stories.yml", tmp_path) == (
        "data\\stories.yml separates folders with \\, which this system reads as part of a "
        "file name: write the folders with /, e.g. data/stories.yml.")
    assert problem("data/stories.yml", tmp_path) is None


def test_an_answer_ending_in_a_slash_names_a_folder(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    # the slash was dropped before, and data/stories.yml/ written as a file
    assert problem("data/stories.yml/", tmp_path) == (
        "data/stories.yml/ names a folder (it ends in /): give a file for the stories, "
        "e.g. data/stories.yml.")
    assert problem("new/", tmp_path).startswith("new/ names a folder (it ends in /)")
    # an existing folder is named as one, whatever its name ends with
    assert problem("data", tmp_path) == (
        "data is a folder: give a file for the stories, e.g. data/stories.yml.")


def test_a_domain_folder_offers_its_interactive_domain_file(tmp_path: Path) -> None:
    project = tmp_path / "bot"
    (project / "shared_domain").mkdir(parents=True)
    given = ProjectSources(domain="shared_domain")
    # the folder the session was trained with, not the project's own domain.yml
    assert default_domain_file(project, given) == (
        project / "shared_domain" / "interactive_domain.yml").resolve()
    outside = tmp_path / "common"
    outside.mkdir()
    assert default_domain_file(project, ProjectSources(domain=str(outside))) == (
        outside.resolve() / "interactive_domain.yml")
    assert default_domain_file(project, None) == project / "domain.yml"
    # a domain file given is where the additions go
    (project / "other.yml").write_text("version: \"3.1\"\nintents: [greet]\n")
    assert default_domain_file(project, ProjectSources(domain="other.yml")).resolve() == (
        project / "other.yml").resolve()


def test_the_export_command_says_that_it_asks_first() -> None:
    # it asks before it writes: the help said it wrote at once
    assert COMMANDS["/export"] == (
        "ask where the stories, NLU examples and domain additions go, write them, then quit")
