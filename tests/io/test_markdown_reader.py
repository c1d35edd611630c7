"""Rasa's Markdown training data: NLU files, stories and rules, and projects that use them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from keyword_bot import REGEX_CONFIG
from plain_data import plain, write

from dialogflowlite.io.loader import load_project
from dialogflowlite.io.markdown_reader import (
    is_markdown_nlu,
    read_markdown_nlu,
    read_markdown_stories,
)
from dialogflowlite.io.nlu_reader import NluReader
from dialogflowlite.io.problems import ProblemLog
from dialogflowlite.io.story_reader import StoryReader
from dialogflowlite.io.validate import validate_project
from dialogflowlite.io.yaml import read_yaml
from dialogflowlite.shared.stories import (
    ActionStep,
    ActiveLoopStep,
    CheckpointStep,
    OrStep,
    SlotStep,
    UserStep,
)


def nlu(path: Path, root: Path | None = None) -> tuple[Any, list[str]]:
    log = ProblemLog()
    data = read_markdown_nlu(path, log, root)
    return data, [str(p) for p in log.problems]


def stories(path: Path) -> tuple[list, list[str]]:
    log = ProblemLog()
    found = read_markdown_stories(path, log)
    return found, [str(p) for p in log.problems]


def yaml_nlu(tmp_path: Path, text: str) -> Any:
    path = write(tmp_path, "expected_nlu.yml", text)
    log = ProblemLog()
    reader = NluReader(log)
    data = read_yaml(path.read_text(), path)
    reader.read(path, data, data["nlu"])
    assert log.problems == []
    return reader.data


def yaml_stories(tmp_path: Path, text: str) -> list:
    path = write(tmp_path, "expected_stories.yml", text)
    log = ProblemLog()
    data = read_yaml(path.read_text(), path)
    found = []
    for key in ("stories", "rules"):
        if key in data:
            found += StoryReader(log).read(path, data, key, data[key], "story")
    assert log.problems == []
    return found


# ---------------------------------------------------------------- NLU


NLU_MD = """
<!-- Rasa 1 style NLU data:
     everything in here is a comment -->
## intent:check_balance
- what is my balance <!-- no entity -->
- how much do I have on my [savings](source_account)
* how much is on my [savings account](source_account:savings)
+ from [Berlin]{"entity": "city", "role": "from"} to [NYC]{"entity":"city", "value":"New York"}
-a [bag][{"entity": "item"}, {"entity": "luggage"}] without a space after the dash

## intent:faq/ask_name
- what is your name?

## synonym:savings
- pink pig

## regex:zipcode
- [0-9]{5}

## lookup:currencies
- Yen
- USD
"""

NLU_YAML = """
nlu:
- intent: check_balance
  examples: |
    - what is my balance
    - how much do I have on my [savings](source_account)
    - how much is on my [savings account](source_account:savings)
    - from [Berlin]{"entity": "city", "role": "from"} to [NYC]{"entity":"city", "value":"New York"}
    - a [bag][{"entity": "item"}, {"entity": "luggage"}] without a space after the dash
- intent: faq/ask_name
  examples: |
    - what is your name?
- synonym: savings
  examples: |
    - pink pig
- regex: zipcode
  examples: |
    - [0-9]{5}
- lookup: currencies
  examples: |
    - Yen
    - USD
"""


def test_markdown_nlu_reads_as_the_same_yaml_does(tmp_path: Path) -> None:
    data, problems = nlu(write(tmp_path, "nlu.md", NLU_MD))
    assert problems == []
    assert plain(data) == plain(yaml_nlu(tmp_path, NLU_YAML))
    # spot checks of what both produced
    assert data.synonym_map() == {
        "savings account": "savings",
        "pink pig": "savings",
        "nyc": "New York",
    }
    assert [(r.name, r.pattern) for r in data.regexes] == [("zipcode", "[0-9]{5}")]


def test_examples_remember_their_line_and_column(tmp_path: Path) -> None:
    path = write(tmp_path, "nlu.md", NLU_MD)
    data, _ = nlu(path)
    assert [(m.position.line, m.position.col) for m in data.examples[:5]] == [
        (4, 3),
        (5, 3),
        (6, 3),
        (7, 3),
        (8, 2),
    ]
    assert data.examples[0].position.file == str(path)
    assert (data.synonyms[0].position.line, data.lookups[0].position.line) == (13, 19)


def test_lookup_tables_from_files_and_their_problems(tmp_path: Path) -> None:
    root = tmp_path / "project"
    write(root, "data/lookups/cities.txt", "Berlin\n\n  Oslo  \n")
    write(root, "data/nearby.txt", "Bonn\n")
    path = write(
        root,
        "data/nlu.md",
        """
        ## lookup:city
        - Rome
        data/lookups/cities.txt
        nearby.txt

        ## lookup:country
        data/missing.txt
        """,
    )
    data, problems = nlu(path, root)
    assert [(t.name, t.elements) for t in data.lookups] == [
        ("city", ["Rome", "Berlin", "Oslo", "Bonn"]),
        ("country", []),
    ]
    assert problems == [
        f"{path}:7:1: error: lookup table file 'data/missing.txt' does not exist (hint: give "
        f"its path from the project folder ({root}), or list the elements as `- element` lines)"
    ]


def test_nlu_mistakes_are_problems_at_their_line(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "nlu.md",
        """
        # Training data
        ## intent:greet
        - hi [there(greeting)
        hello without a dash
        - [Berlin](city
        ## intnt:bye
        - bye
        ## regex:
        - x
        ## synonym:empty
        ## intent:ok
        - fine <!-- never closed
        - lost
        """,
    )
    data, problems = nlu(path)
    assert [m.text for m in data.examples] == ["fine"]
    assert problems == [
        f"{path}:12:8: error: comment '<!--' is never closed "
        "(hint: close it with '-->': everything after it would be lost)",
        f"{path}:1:1: warning: text outside a section is ignored (hint: start a section "
        "with `## intent:<name>` (or synonym, regex, lookup))",
        f"{path}:4:1: warning: line under intent 'greet' is not a list item and is ignored "
        "(hint: start it with '- ')",
        f"{path}:6:1: error: unknown section 'intnt' (hint: did you mean 'intent'?)",
        f"{path}:8:1: error: '## regex:' without a name (hint: write `## regex:<name>`)",
        f"{path}:3:6: error: unclosed '[' in example 'hi [there(greeting)' "
        "(hint: close the entity text with ']' and add (entity_name))",
        f"{path}:5:11: error: unclosed '(' in example '[Berlin](city' "
        "(hint: write the entity name as [text](entity))",
        f"{path}:10:1: warning: synonym 'empty' has no entries "
        "(hint: list them below the header, one `- entry` per line)",
    ]


def test_regex_and_synonym_entries_are_not_read_as_annotation(tmp_path: Path) -> None:
    data, problems = nlu(
        write(
            tmp_path,
            "nlu.md",
            """
        ## regex:account
        - [A-Z]{2}(\\d+)
        ## synonym:[weird](name)
        - [x](y)
        """,
        )
    )
    assert problems == []
    assert [(r.name, r.pattern) for r in data.regexes] == [("account", "[A-Z]{2}(\\d+)")]
    assert [(s.value, s.variants) for s in data.synonyms] == [("[weird](name)", ["[x](y)"])]


def test_a_markdown_file_is_nlu_when_it_has_an_nlu_section() -> None:
    assert is_markdown_nlu("## intent:greet\n- hi\n")
    assert is_markdown_nlu("  ##lookup : x\n")
    assert not is_markdown_nlu("## greet path\n* greet\n  - utter_greet\n")


# ---------------------------------------------------------------- stories


STORIES_MD = """
## happy path <!-- the name ends before the comment -->
* greet
  - utter_greet
* inform{"city": "Berlin", "seats": [1, 2]}
  - action_search
  - slot{"city": "Berlin", "found": true}
> after_search

## booking
> after_search{"found": true}
* book OR inform{"note": "one OR two"} OR /affirm
  - book_form
  - form{"name": "book_form"}
  - active_loop{"name": null}
  - form{"name": null}
* thanks: thank you, [Ana](name)!
  - utter_welcome

>> greet anywhere
  - active_loop{"name": "book_form"}
  - ...
* greet
  - utter_greet
  - ...

>> welcome at the start
* greet
  - utter_welcome
"""

STORIES_YAML = """
stories:
- story: happy path
  steps:
  - intent: greet
  - action: utter_greet
  - intent: inform
    entities:
    - city: Berlin
    - seats: 1
    - seats: 2
  - action: action_search
  - slot_was_set:
    - city: Berlin
    - found: true
  - checkpoint: after_search
- story: booking
  steps:
  - checkpoint: after_search
    slot_was_set:
    - found: true
  - or:
    - intent: book
    - intent: inform
      entities:
      - note: one OR two
    - intent: affirm
  - action: book_form
  - active_loop: book_form
  - active_loop: null
  - active_loop: null
  - intent: thanks
    user: thank you, [Ana](name)!
  - action: utter_welcome
rules:
- rule: greet anywhere
  condition:
  - active_loop: book_form
  steps:
  - intent: greet
  - action: utter_greet
  wait_for_user_input: false
- rule: welcome at the start
  conversation_start: true
  steps:
  - intent: greet
  - action: utter_welcome
"""


def test_markdown_stories_read_as_the_same_yaml_does(tmp_path: Path) -> None:
    found, problems = stories(write(tmp_path, "stories.md", STORIES_MD))
    assert problems == []
    assert [(s.name, s.kind) for s in found] == [
        ("happy path", "story"),
        ("booking", "story"),
        ("greet anywhere", "rule"),
        ("welcome at the start", "rule"),
    ]
    assert plain(found) == plain(yaml_stories(tmp_path, STORIES_YAML))


def test_story_steps_remember_their_line_and_column(tmp_path: Path) -> None:
    path = write(tmp_path, "stories.md", STORIES_MD)
    happy, booking, *_ = stories(path)[0]
    assert happy.position.line == 1
    assert [(type(s), s.position.line, s.position.col) for s in happy.steps] == [
        (UserStep, 2, 3),
        (ActionStep, 3, 5),
        (UserStep, 4, 3),
        (ActionStep, 5, 5),
        (SlotStep, 6, 5),
        (CheckpointStep, 7, 1),
    ]
    either = booking.steps[1]
    assert isinstance(either, OrStep)
    assert [(a.intent, a.position.col) for a in either.alternatives] == [
        ("book", 3),
        ("inform", 11),
        ("affirm", 43),
    ]
    assert isinstance(booking.steps[3], ActiveLoopStep)
    assert booking.steps[-2].text == "thank you, Ana!"


def test_story_mistakes_are_problems_at_their_line_and_column(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "stories.md",
        """
        * greet
          - utter_greet
        ## broken
        * inform{"city": Berlin}
        * inform{"city": "Berlin"} now
        * {"city": "x"}
          - slot{}
          - form{"title": "x"}
          - ...
        > {"a": 1}
        * thanks: [Ana(name)
          - utter_ok
        ## empty
        """,
    )
    found, problems = stories(path)
    assert [(s.name, [type(step).__name__ for step in s.steps]) for s in found] == [
        ("broken", ["ActionStep"])
    ]
    assert problems == [
        f"{path}:1:1: error: step outside a story (hint: start each story with a "
        "`## <story name>` line)",
        f"{path}:4:18: error: bad JSON after intent 'inform' (Expecting value) "
        '(hint: write entities as {"entity": "value"} with double quotes)',
        f"{path}:5:28: error: unexpected text 'now' after intent 'inform' "
        '(hint: write `* intent{"entity": "value"}`, or `* intent: user text`)',
        f"{path}:6:3: error: user step without an intent "
        '(hint: write `* intent` or `* intent{"entity": "value"}`)',
        f"{path}:7:5: error: slot event without a slot "
        '(hint: write `- slot{"slot_name": "value"}`)',
        f"{path}:8:5: error: form event without a name "
        '(hint: write `- form{"name": "form_name"}` or `- form{"name": null}`)',
        f"{path}:9:5: error: `- ...` belongs in rules (`>> rule name`), not in stories "
        "(hint: remove it)",
        f"{path}:10:3: error: checkpoint without a name (hint: write `> <checkpoint name>`)",
        f"{path}:11:11: error: unclosed '[' in example '[Ana(name)' "
        "(hint: close the entity text with ']' and add (entity_name))",
        f"{path}:13:1: warning: story 'empty' has no steps and is left out "
        "(hint: add steps below it, or remove the header)",
    ]


def test_rasa_1_form_steps_and_events_without_a_step_are_skipped_with_a_warning(
    tmp_path: Path,
) -> None:
    path = write(
        tmp_path,
        "stories.md",
        """
        ## form story
        * request_table
          - table_form
          - form{"name": "table_form"}
        * form: inform{"cuisine": "thai"}
          - form: table_form
          - form_validation{"validate": false}
          - restart
          - utter_ok{"ignored": 1}
        """,
    )
    [story], problems = stories(path)
    assert [type(s).__name__ for s in story.steps] == [
        "UserStep",
        "ActionStep",
        "ActiveLoopStep",
        "ActionStep",
    ]
    assert story.steps[-1].name == "utter_ok"
    assert problems == [
        f"{path}:7:5: warning: event 'form_validation' has no story step here and is skipped "
        "(hint: remove it; stories hold user steps, actions, slots, active loops and "
        "checkpoints)",
        f"{path}:8:5: warning: event 'restart' has no story step here and is skipped "
        "(hint: remove it; stories hold user steps, actions, slots, active loops and "
        "checkpoints)",
        f"{path}:9:5: warning: parameters after action 'utter_ok' are ignored "
        "(hint: an action step is only its name: remove them)",
        f"{path}:5:1: warning: 2 step(s) with Rasa 1's `form: ` prefix are skipped, as "
        "Rasa 2 skipped them (hint: remove them: a form handles these turns itself)",
    ]


def test_a_rule_with_a_marker_in_the_middle_is_an_error(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "rules.md",
        """
        >> odd rule
          - ...
        * greet
          - ...
          - utter_greet
        """,
    )
    [rule], problems = stories(path)
    assert not rule.conversation_start and rule.wait_for_user_input
    assert [type(s).__name__ for s in rule.steps] == ["UserStep", "ActionStep"]
    assert problems == [
        f"{path}:4:3: error: rule 'odd rule' has a `- ...` in the middle (hint: `- ...` may "
        "only open a rule (after its condition) or close it)"
    ]


# ---------------------------------------------------------------- a Rasa 2 project


DOMAIN = """
version: "2.0"
intents: [greet, inform, book, thanks, goodbye]
entities: [city]
slots:
  city:
    type: text
responses:
  utter_greet: [{text: "Hi!"}]
  utter_ask_city: [{text: "Where to?"}]
  utter_booked: [{text: "Booked a trip to {city}."}]
  utter_welcome: [{text: "You're welcome."}]
  utter_goodbye: [{text: "Bye."}]
"""

PROJECT_NLU_MD = """
## intent:greet
- hi
- hello there
## intent:inform
- to [Rome](city)
- [Oslo](city) please
- I want to go to [Paris](city)
## intent:book
- book a trip
- I want to travel
## intent:thanks
- thanks
- thank you
## intent:goodbye
- bye
## regex:city
- Rome|Paris|Oslo
"""

PROJECT_STORIES_MD = """
## book a trip
* greet
  - utter_greet
* book
  - utter_ask_city
* inform{"city": "Rome"}
  - slot{"city": "Rome"}
  - utter_booked
* thanks
  - utter_welcome

## goodbye
* goodbye
  - utter_goodbye
"""

@pytest.fixture
def rasa2_project(write_project) -> Path:
    return write_project(
        domain=DOMAIN,
        config=REGEX_CONFIG,
        files={"data/nlu.md": PROJECT_NLU_MD, "data/stories.md": PROJECT_STORIES_MD},
    )


def test_a_rasa_2_markdown_project_loads_and_validates(rasa2_project: Path, capsys) -> None:
    from dialogflowlite.cli.main import main

    assert main(["data", "validate", "--project", str(rasa2_project)]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == (
        f"0 error(s), 2 warning(s) in {rasa2_project}: 5 intents, 10 examples, 1 entities, "
        "1 slots, 0 forms, 5 responses, 2 stories, 0 rules, 0 test stories"
    )
    project = load_project(rasa2_project)
    counts = project.counts()
    assert (counts["examples"], counts["stories"], counts["regexes"]) == (10, 2, 1)
    assert rasa2_project / "data/nlu.md" in project.files
    problems = validate_project(project)
    assert [p.message for p in problems] == [
        "nlu.md holds Markdown NLU data, a deprecated format: it is read, but convert it",
        "stories.md holds Markdown stories, a deprecated format: it is read, but convert it",
    ]


def test_validation_points_into_the_markdown_file(rasa2_project: Path) -> None:
    stories_md = rasa2_project / "data/stories.md"
    stories_md.write_text(
        PROJECT_STORIES_MD + '* inform{"town": "x"}\n  - utter_gone\n', encoding="utf-8"
    )
    problems = [
        str(p) for p in validate_project(load_project(rasa2_project, strict=False)) if p.is_error
    ]
    assert problems == [
        f"{stories_md}:16:3: error: story 'goodbye' uses entity 'town' that the domain lacks "
        "(hint: declare it under entities: in the domain)",
        f"{stories_md}:17:5: error: story 'goodbye' runs 'utter_gone' but no response of that "
        "name exists (hint: did you mean 'utter_goodbye' or 'utter_greet' or 'utter_booked'?)",
    ]


def test_markdown_and_yaml_data_are_merged(rasa2_project: Path) -> None:
    (rasa2_project / "data/more.yml").write_text(
        "nlu:\n- intent: greet\n  examples: |\n    - good morning\n"
        "rules:\n- rule: bye\n  steps:\n  - intent: goodbye\n  - action: utter_goodbye\n",
        encoding="utf-8",
    )
    project = load_project(rasa2_project)
    assert [m.text for m in project.nlu.examples if m.intent == "greet"] == [
        "good morning",
        "hi",
        "hello there",
    ]
    assert ([s.name for s in project.stories], [r.name for r in project.rules]) == (
        ["book a trip", "goodbye"],
        ["bye"],
    )


def test_errors_in_markdown_data_stop_a_strict_load(rasa2_project: Path) -> None:
    from dialogflowlite.errors import ProjectValidationError

    (rasa2_project / "data/nlu.md").write_text(
        PROJECT_NLU_MD.lstrip() + "## intent:inform\n- to [Rome(city)\n", encoding="utf-8"
    )
    with pytest.raises(ProjectValidationError, match=r"nlu\.md:19:6: error: unclosed '\['"):
        load_project(rasa2_project)


def test_a_rasa_2_markdown_project_trains_and_passes_its_tests(rasa2_project: Path, capsys) -> None:
    from dialogflowlite.cli.main import main

    write(
        rasa2_project,
        "tests/test_stories.yml",
        """
        stories:
        - story: book a trip
          steps:
          - intent: greet
          - action: utter_greet
          - intent: book
          - action: utter_ask_city
          - intent: inform
            entities:
            - city: Rome
          - slot_was_set:
            - city: Rome
          - action: utter_booked
        """,
    )
    assert main(["train", "--project", str(rasa2_project), "--fixed-model-name", "md"]) == 0
    assert (
        main(
            [
                "test",
                "core",
                "--project",
                str(rasa2_project),
                "--model",
                str(rasa2_project / "models/md.tar"),
                "--fail-on-prediction-errors",
            ]
        )
        == 0
    )
    assert "Stories: 1 / 1 correct" in capsys.readouterr().out

    from dialogflowlite.agent import Agent

    agent = Agent.load(rasa2_project / "models" / "md.tar")
    try:
        import asyncio

        parsed = asyncio.run(agent.parse_message("fly to Oslo"))
    finally:
        agent.close()
    # the regex of nlu.md finds the city
    assert [(e["entity"], e["value"]) for e in parsed["entities"]] == [("city", "Oslo")]


def test_a_file_that_is_not_utf8_is_reported_at_its_line_and_column(tmp_path: Path) -> None:
    # before: "at byte 27", which no editor shows
    file = tmp_path / "nlu.md"
    file.write_bytes("## intent:greet\n- hello\n- caf\xe9\n".encode("latin-1"))
    log = ProblemLog()
    read_markdown_nlu(file, log)
    [problem] = log.problems
    assert (problem.code, problem.position.line, problem.position.col) == ("DFL102", 3, 6)
    assert "byte 0xe9 at line 3, column 6" in problem.message
