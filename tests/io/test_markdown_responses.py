"""Rasa 1's Markdown files that name no `utter_` action: stories of custom actions and
forms, and `responses.md`, the texts of retrieval intents."""

from __future__ import annotations

from pathlib import Path

import pytest

from dialogflowlite.cli.main import main
from dialogflowlite.io.loader import (
    MARKDOWN_RESPONSES,
    MARKDOWN_STORIES,
    load_project,
    old_training_data_format,
)
from dialogflowlite.io.markdown_reader import read_markdown_responses
from dialogflowlite.io.problems import ProblemLog
from dialogflowlite.io.yaml import read_yaml_file

RESPONSES_MD = """\
## ask name
* chitchat/ask_name
  - my name is Sara
  - I am Sara, a bot

## ask weather
* chitchat/ask_weather
  - sunny, I hope
"""

NLU_MD = """\
## intent:chitchat/ask_name
- what is your name
- who are you
## intent:chitchat/ask_weather
- how is the weather
## intent:greet
- hi
"""

#: no step names an utter_ or action_ action: a file like it was not read at all
CUSTOM_STORIES_MD = """\
## chitchat path
* chitchat
  - utter_chitchat

## custom
<!-- the greeting of a custom action -->
* greet
  - greet_user
"""

FORM_STORIES_MD = """\
## the form
* greet
  - booking_form
  - form{"name": "booking_form"}
"""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "bot"
    (root / "data").mkdir(parents=True)
    (root / "domain.yml").write_text(
        'version: "2.0"\nintents: [chitchat, greet]\nactions: [greet_user]\n',
        encoding="utf-8")
    (root / "config.yml").write_text("language: en\npolicies: [{name: RulePolicy}]\n",
                                     encoding="utf-8")
    for name, text in {"responses.md": RESPONSES_MD, "nlu.md": NLU_MD,
                       "stories.md": CUSTOM_STORIES_MD}.items():
        (root / "data" / name).write_text(text, encoding="utf-8")
    return root


def test_the_formats_are_told_apart(tmp_path: Path) -> None:
    for text, kind in [(RESPONSES_MD, MARKDOWN_RESPONSES), (CUSTOM_STORIES_MD, MARKDOWN_STORIES),
                       (FORM_STORIES_MD, MARKDOWN_STORIES),
                       (">> a rule\n* greet\n  - greet_user\n", MARKDOWN_STORIES),
                       # a retrieval intent in a story, answered by its action: a story
                       ("## faq\n* faq/ask_name\n  - utter_faq\n* greet\n  - x\n",
                        MARKDOWN_STORIES),
                       ("# Notes\n\nsome text\n", None)]:
        file = tmp_path / "data.md"
        file.write_text(text, encoding="utf-8")
        assert old_training_data_format(file) == kind, text


#: Markdown that is no training data: a heading above a bulleted list
NOTES_MD = """\
# Training data

## Layout

* nlu.yml holds the examples
* stories come later, with their own
  - checks
"""


def test_notes_with_headings_and_bullets_are_no_stories(tmp_path: Path) -> None:
    # each was read as Markdown stories (a `## title` above a `*` item was enough)
    for text in [NOTES_MD, "## Features\n* Fast\n* Small\n", "### Setup\n* install python\n",
                 "## [1.2.0] - 2020-01-01\n* fixed a crash/hang in the parser\n  - thanks\n"]:
        file = tmp_path / "notes.md"
        file.write_text(text, encoding="utf-8")
        assert old_training_data_format(file) is None, text


def test_stories_of_retrieval_intents_and_checkpoints_are_stories(tmp_path: Path) -> None:
    for text in [
            # every user turn a retrieval intent, answered by its respond_ action: these
            # were taken for responses.md
            "## faq\n* faq/ask_name\n  - respond_faq\n",
            "## chitchat\n* chitchat/ask_name: what is your name\n  - respond_chitchat\n",
            # a story that starts at a checkpoint and names no utter_ or action_ step
            "## part two\n> check_greeted\n* ask\n  - respond_faq\n"]:
        file = tmp_path / "stories.md"
        file.write_text(text, encoding="utf-8")
        assert old_training_data_format(file) == MARKDOWN_STORIES, text


def test_a_readme_in_data_is_not_read_as_stories(project: Path) -> None:
    (project / "data" / "README.md").write_text(NOTES_MD, encoding="utf-8")
    loaded = load_project(project)
    assert [s.name for s in loaded.stories] == ["chitchat path", "custom"]
    assert not any("README" in str(p) for p in loaded.problems)


def test_stories_of_custom_actions_and_the_responses_are_read(project: Path) -> None:
    loaded = load_project(project)
    assert [s.name for s in loaded.stories] == ["chitchat path", "custom"]
    responses = loaded.domain.responses
    name = responses["utter_chitchat/ask_name"]
    assert [v["text"] for v in name.variations] == ["my name is Sara", "I am Sara, a bot"]
    assert (name.position.file, name.position.line) == (str(project / "data" /
                                                            "responses.md"), 2)
    weather = responses["utter_chitchat/ask_weather"]
    assert [v["text"] for v in weather.variations] == ["sunny, I hope"]
    warned = [str(p) for p in loaded.problems]
    assert any("responses.md holds Markdown responses, a deprecated format" in p
               and "data convert nlg" in p for p in warned)


def test_a_markdown_file_that_is_no_training_data_is_named(project: Path) -> None:
    (project / "data" / "notes.md").write_text("# Our data\n\nWritten by hand.\n",
                                               encoding="utf-8")
    (project / "data" / "README.md").write_text("# About\n* one\n", encoding="utf-8")
    warned = [str(p) for p in load_project(project).problems]
    assert any(p.startswith(f"{project / 'data' / 'notes.md'}:1:1: warning: notes.md is "
                            "not read") for p in warned), warned
    assert not any("README" in p for p in warned)  # (a README is no data, of course)


def test_mistakes_in_markdown_responses_name_their_line(tmp_path: Path) -> None:
    file = tmp_path / "responses.md"
    file.write_text("## x\n  - a text first\n* faq/ask_name\n* faq/ask_time\n  - nine\n"
                    "* ask_nothing\n  - hm\n", encoding="utf-8")
    log = ProblemLog()
    data = read_markdown_responses(file, log)
    assert [str(p).split(str(file))[1] for p in log.errors] == [
        ":2:3: error: a text before any `* intent/key` line (hint: put the retrieval intent "
        "it answers above it: `* faq/ask_name`)",
        ":6:1: error: 'ask_nothing' names no retrieval intent (hint: write the full "
        "retrieval intent: `* faq/ask_name`)",
        ":7:3: error: a text before any `* intent/key` line (hint: put the retrieval intent "
        "it answers above it: `* faq/ask_name`)",
        ":3:1: error: 'faq/ask_name' has no texts (hint: list its texts below it, one "
        "`- text` per line)",
    ]
    assert list(data["responses"]) == ["utter_faq/ask_name", "utter_faq/ask_time"]


def test_data_convert_nlg_writes_the_responses_as_yaml(project: Path, monkeypatch,
                                                      capsys) -> None:
    monkeypatch.chdir(project)
    assert main(["data", "convert", "nlg", "--data", "data/responses.md",
                 "--out", "data/responses.yml"]) == 0
    assert "data/responses.md -> data/responses.yml (2 responses)" in capsys.readouterr().out
    written = read_yaml_file(project / "data" / "responses.yml")
    assert written["responses"]["utter_chitchat/ask_name"] == [
        {"text": "my name is Sara"}, {"text": "I am Sara, a bot"}]
    (project / "data" / "responses.md").unlink()
    assert "utter_chitchat/ask_weather" in load_project(project).domain.responses
    # stories are not responses, and the error says which command takes them
    assert main(["data", "convert", "nlg", "--data", "data/stories.md", "--out", "x.yml"]) == 1
    assert "is not Markdown responses but Markdown stories (hint: use `data convert core`)" \
        in capsys.readouterr().err
