"""Rasa's JSON NLU training data (``rasa_nlu_data``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from plain_data import plain, write

from dialogflowlite.io.json_nlu_reader import read_json_nlu
from dialogflowlite.io.loader import load_project
from dialogflowlite.io.nlu_reader import NluReader
from dialogflowlite.io.problems import ProblemLog
from dialogflowlite.io.yaml import read_yaml


def read(path: Path, root: Path | None = None) -> tuple[Any, list[str]]:
    log = ProblemLog()
    data = read_json_nlu(path, log, root)
    return data, [str(p) for p in log.problems]


RASA_JSON = {
    "rasa_nlu_data": {
        "common_examples": [
            {"text": "hey", "intent": "greet", "entities": []},
            {
                "text": "fly from Berlin to NYC",
                "intent": "book",
                "entities": [
                    {"start": 9, "end": 15, "value": "Berlin", "entity": "city", "role": "from"},
                    {"start": 19, "end": 22, "value": "New York", "entity": "city", "group": 1},
                ],
            },
            {
                "text": "  two bags ",
                "intent": "book",
                "entities": [
                    {"start": 2, "end": 5, "entity": "count"},
                    {"start": 2, "end": 5, "entity": "number"},
                ],
                "metadata": {"source": "web"},
            },
            {"text": "what is your name", "intent": "faq/ask_name"},
        ],
        "entity_synonyms": [{"value": "New York", "synonyms": ["NYC", "the big apple"]}],
        "regex_features": [{"name": "zipcode", "pattern": "[0-9]{5}"}],
        "lookup_tables": [
            {"name": "city", "elements": ["Berlin", "Oslo"]},
            {"name": "currency", "elements": "data/currencies.txt"},
        ],
    }
}

EQUIVALENT_YAML = """
nlu:
- intent: greet
  examples: |
    - hey
- intent: book
  examples:
  - text: >-
      fly from [Berlin]{"entity": "city", "role": "from"}
      to [NYC]{"entity": "city", "value": "New York", "group": "1"}
  - text: |
      [two][{"entity": "count"}, {"entity": "number"}] bags
    metadata: {source: web}
- intent: faq/ask_name
  examples: |
    - what is your name
- synonym: New York
  examples: |
    - NYC
    - the big apple
- regex: zipcode
  examples: |
    - [0-9]{5}
- lookup: city
  examples: |
    - Berlin
    - Oslo
- lookup: currency
  examples: |
    - EUR
    - USD
"""


def test_json_nlu_reads_as_the_same_yaml_does(tmp_path: Path) -> None:
    write(tmp_path, "data/currencies.txt", "EUR\nUSD\n")
    path = write(tmp_path, "data/nlu.json", json.dumps(RASA_JSON, indent=2))
    data, problems = read(path, tmp_path)
    assert problems == []
    yaml_path = write(tmp_path, "expected.yml", EQUIVALENT_YAML)
    reader = NluReader(ProblemLog())
    document = read_yaml(yaml_path.read_text(), yaml_path)
    reader.read(yaml_path, document, document["nlu"])
    assert plain(data) == plain(reader.data)
    # the stripped text keeps its entity on the same word
    bags = data.examples[2]
    assert (bags.text, bags.text[bags.entities[0].start : bags.entities[0].end]) == (
        "two bags",
        "two",
    )
    assert data.synonym_map()["nyc"] == "New York"


def test_examples_and_entries_remember_their_line(tmp_path: Path) -> None:
    path = write(tmp_path, "nlu.json", json.dumps(RASA_JSON, indent=2))
    data, _ = read(path, tmp_path / "nowhere")
    assert [(m.position.line, m.position.col) for m in data.examples] == [
        (4, 7),
        (9, 7),
        (29, 7),
        (48, 7),
    ]
    assert data.regexes[0].position.line == 63


def test_invalid_json_is_one_error_at_its_line_and_column(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "nlu.json",
        """
        {"rasa_nlu_data": {
          "common_examples": [
            {"text": "hi", "intent": "greet",}
          ]
        }}
        """,
    )
    data, problems = read(path)
    assert data.examples == []
    assert problems == [
        f"{path}:3:38: error: invalid JSON: Expecting property name enclosed in double quotes "
        "(hint: check commas, brackets and double quotes around this point)"
    ]


def test_every_mistake_is_a_problem_naming_its_line(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "nlu.json",
        """
        {"rasa_nlu_data": {
          "common_examples": [
            {"text": "hi", "intent": "greet", "intnet": "x"},
            {"text": "", "intent": "greet"},
            {"text": "only entities", "entities": [{"start": 0, "end": 4, "entity": "x"}]},
            {"text": "to Oslo", "intent": "go",
             "entities": [{"start": 3, "end": 30, "entity": "city"}]},
            {"text": "to Rome", "intent": "go",
             "entities": [{"start": 3, "end": 7, "value": "Rome"}]},
            "not an object"
          ],
          "entity_synonyms": [{"value": "NY", "synonyms": "NYC"}],
          "regex_features": [{"name": "zip"}],
          "lookup_tables": [{"name": "town", "elements": "towns.txt"}],
          "common_example": []
        }}
        """,
    )
    data, problems = read(path, tmp_path)
    assert [m.text for m in data.examples] == ["hi"]
    assert problems == [
        f"{path}:1:19: warning: unknown key 'common_example' in 'rasa_nlu_data' "
        "(hint: did you mean 'common_examples'?)",
        f"{path}:2:22: error: an entry of 'common_examples' is not an object: \"not an object\"",
        f"{path}:3:5: warning: unknown key 'intnet' in an example "
        "(hint: did you mean 'intent' or 'text'?)",
        f'{path}:4:5: error: an example has an empty \'text\' (hint: add "text": "...")',
        f"{path}:5:5: warning: example 'only entities' has no intent and is not read "
        '(hint: add "intent": "...")',
        f"{path}:7:19: error: entity 'city' of example 'to Oslo' has no valid span "
        "(start 3, end 30) (hint: start and end are character offsets, "
        "0 <= start < end <= 7)",
        f"{path}:9:19: error: an entity of example 'to Rome' has no 'entity' "
        '(hint: add "entity": "name")',
        f"{path}:12:23: error: 'synonyms' must be a list of texts "
        '(hint: "synonyms": ["NYC", "the big apple"])',
        f'{path}:13:22: error: a regex has no \'pattern\' (hint: add "pattern": "...")',
        f"{path}:14:21: error: lookup table file 'towns.txt' does not exist "
        f"(hint: give its path from the project folder ({tmp_path}), or list the elements)",
    ]


def test_a_file_without_rasa_nlu_data_is_an_error(tmp_path: Path) -> None:
    path = write(tmp_path, "nlu.json", '{"common_examples": []}')
    _, problems = read(path)
    assert problems == [
        f"{path}:1:1: error: a JSON NLU file holds one object under 'rasa_nlu_data' "
        '(hint: write {"rasa_nlu_data": {"common_examples": [...]}})'
    ]


def test_a_project_reads_json_nlu_under_data(write_project) -> None:
    root = write_project(
        domain='version: "2.0"\nintents: [greet, book, faq]\nentities: [city, count, number]\n',
        files={
            "data/nlu.json": json.dumps(RASA_JSON),
            "data/currencies.txt": "EUR\n",
            "data/other.json": '{"not": "training data"}',
        },
    )
    project = load_project(root)
    assert [m.intent for m in project.nlu.examples] == ["greet", "book", "book", "faq/ask_name"]
    assert [(t.name, t.elements) for t in project.nlu.lookups] == [
        ("city", ["Berlin", "Oslo"]),
        ("currency", ["EUR"]),
    ]
    assert [(str(p.position), p.message) for p in project.problems] == [
        (
            f"{root / 'data/nlu.json'}:1:1",
            "nlu.json holds JSON NLU data, a deprecated format: it is read, but convert it",
        )
    ]
    assert project.problems[0].hint == (
        "`dialogflowlite data convert nlu --data data/nlu.json --out data/nlu.yml`, "
        "then delete data/nlu.json"
    )


def test_a_file_that_is_not_utf8_is_reported_at_its_line_and_column(tmp_path: Path) -> None:
    file = tmp_path / "nlu.json"
    file.write_bytes('{"rasa_nlu_data": {\n  "common_examples": [{"text": "caf\xe9"}]}}\n'
                     .encode("latin-1"))
    log = ProblemLog()
    read_json_nlu(file, log)
    [problem] = log.problems
    assert (problem.code, problem.position.line, problem.position.col) == ("DFL102", 2, 36)
