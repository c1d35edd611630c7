"""NLU examples of an `interactive` session written into an existing NLU file: the
new examples and entries are inserted as lines, and every line the author wrote
stays as it was (the domain and stories files get the same treatment, see
test_interactive_rasa_audit.py)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from plain_data import added_lines

from dialogflowlite.dialogue import interactive_export
from dialogflowlite.dialogue.interactive_export import (
    export_conversations,
    insert_nlu_lines,
    write_nlu,
)
from dialogflowlite.io.loader import load_project
from dialogflowlite.io.nlu_writer import nlu_yaml
from dialogflowlite.io.yaml import read_yaml, read_yaml_file
from dialogflowlite.shared.events import ActionExecuted, UserUttered
from dialogflowlite.shared.message import Message
from dialogflowlite.shared.training_data import RegexPattern, Synonym, TrainingData, annotate


def _turn(text: str, intent: str, entities=()) -> list:
    parse = {"intent": {"name": intent, "confidence": 1.0}, "entities": list(entities)}
    return [ActionExecuted(name="action_listen"), UserUttered(text=text, parse_data=parse),
            ActionExecuted(name="action_listen")]


def _texts(project: Path, intent: str) -> list[str]:
    return [annotate(m.text, m.entities) for m in load_project(project).nlu.examples
            if m.intent == intent]


@pytest.mark.parametrize(("name", "nlu_file"), [
    ("moodbot", "data/nlu.yml"),
    ("formbot", "data/nlu.yml"),
    ("financial_demo", "data/nlu/nlu.yml"),
])
def test_examples_join_the_authors_nlu_file_as_new_lines(
        rasa_projects: Path, tmp_path: Path, name: str, nlu_file: str) -> None:
    project = shutil.copytree(rasa_projects / name, tmp_path / name)
    path = project / nlu_file
    before = path.read_text(encoding="utf-8")
    entries = read_yaml_file(path)["nlu"]
    first, last = entries[0]["intent"], [e for e in entries if "intent" in e][-1]["intent"]
    conversation = [*_turn("one more way to say it", first),
                    *_turn("and another for the last", last),
                    *_turn("fly me to Berlin", "book_flight_zz",
                           [{"entity": "city", "start": 10, "end": 16, "value": "Berlin",
                             "role": "destination"}])]
    report = export_conversations(project, [conversation], nlu_file=nlu_file)

    assert report.nlu_file == path and report.examples == 3 and report.notes == []
    after = path.read_text(encoding="utf-8")
    column = min(len(line) - len(line.lstrip()) for line in before.splitlines()
                 if line.lstrip().startswith("- intent:"))
    added = added_lines(before, after)
    assert [line.strip() for line in added] == [
        "- one more way to say it", "- and another for the last", "- intent: book_flight_zz",
        "examples: |", '- fly me to [Berlin]{"entity": "city", "role": "destination"}']
    assert added[2] == " " * column + "- intent: book_flight_zz"
    assert _texts(project, first)[-1] == "one more way to say it"
    assert _texts(project, last)[-1] == "and another for the last"
    assert _texts(project, "book_flight_zz") == [
        'fly me to [Berlin]{"entity": "city", "role": "destination"}']


MIXED = """\
version: "3.1"
# how people greet
nlu:
  - intent: greet
    examples: |
        - hi   # a comment that is an example
        - hello

  # leaving
  - intent: goodbye
    examples: |-
      - bye
      - see you
    # last words
"""


def test_a_mixed_indentation_file_keeps_its_layout(tmp_path: Path) -> None:
    path = tmp_path / "nlu.yml"
    path.write_text(MIXED, encoding="utf-8")
    before = path.read_text(encoding="utf-8")
    notes: list[str] = []
    write_nlu([Message("hey there", intent="greet"), Message("ciao", intent="goodbye"),
               Message("thanks", intent="thank")], path, notes)

    after = path.read_text(encoding="utf-8")
    assert notes == []
    assert added_lines(before, after) == [
        "        - hey there", "      - ciao", "  - intent: thank", "    examples: |",
        "      - thanks"]
    data = read_yaml(after)["nlu"]
    assert data[0]["examples"].endswith("- hello\n- hey there\n")
    # a `|-` block keeps ending without a line break
    assert data[1]["examples"] == "- bye\n- see you\n- ciao"


def test_every_line_of_a_blank_line_spaced_file_stays(tmp_path: Path) -> None:
    path = tmp_path / "nlu.yml"
    before = ('version: "3.1"\nnlu:\n- intent: greet\n  examples: |\n      - hi\n\n'
              "- intent: bye\n  examples: |\n      - bye\n")
    path.write_text(before, encoding="utf-8")
    write_nlu([Message("hello", intent="greet"), Message("yes", intent="affirm"),
               Message("no", intent="deny")], path, [])
    assert path.read_text(encoding="utf-8") == (
        'version: "3.1"\nnlu:\n- intent: greet\n  examples: |\n      - hi\n      - hello\n\n'
        "- intent: bye\n  examples: |\n      - bye\n\n"
        "- intent: affirm\n  examples: |\n    - yes\n\n"
        "- intent: deny\n  examples: |\n    - no\n")


def test_synonym_and_regex_entries_go_after_the_last_entry(tmp_path: Path) -> None:
    text = 'nlu:\n  - intent: greet\n    examples: |\n      - hi\n  # the end\n'
    fresh_text = nlu_yaml(TrainingData([Message("hello", intent="greet")],
                                       synonyms=[Synonym("NYC", ["new york"])],
                                       regexes=[RegexPattern("zip", r"\d{5}")]))
    inserted = insert_nlu_lines(text, interactive_export._round_trip_yaml().load(text),
                                read_yaml(fresh_text), fresh_text)
    # the indented comment belongs to the section (as in the domain), the block ends there
    assert inserted == ('nlu:\n  - intent: greet\n    examples: |\n      - hi\n'
                        '      - hello\n  # the end\n  - synonym: NYC\n    examples: |\n'
                        '      - new york\n  - regex: zip\n    examples: |\n'
                        '      - \\d{5}\n')


def test_examples_given_as_a_list_are_merged_by_the_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "nlu.yml"
    path.write_text('nlu:\n- intent: greet\n  examples:\n  - text: "hi"\n', encoding="utf-8")
    notes: list[str] = []
    write_nlu([Message("hello", intent="greet")], path, notes)
    assert notes == []
    assert read_yaml_file(path)["nlu"][0]["examples"] == [{"text": "hi"}, {"text": "hello"}]


def test_lines_that_do_not_read_back_fall_back_to_the_round_trip(
        tmp_path: Path, monkeypatch) -> None:
    path = tmp_path / "nlu.yml"
    path.write_text("nlu:\n    - intent: greet\n      examples: |\n        - hi\n",
                    encoding="utf-8")
    # insertion that loses the new example must not be written
    monkeypatch.setattr(interactive_export, "insert_nlu_lines",
                        lambda text, *_: text)
    write_nlu([Message("hello", intent="greet")], path, [])
    assert read_yaml_file(path)["nlu"][0]["examples"] == "- hi\n- hello\n"
