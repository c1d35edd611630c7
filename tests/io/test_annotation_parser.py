"""Inline entity annotation in NLU examples: the four syntaxes, offsets, unicode, errors."""

from __future__ import annotations

import pytest

from dialogflowlite.errors import AnnotationError, Position
from dialogflowlite.io.loader import load_project
from dialogflowlite.shared.training_data import annotate, parse_annotated_text


def spans(text: str, entities) -> list[tuple]:
    return [(text[e.start : e.end], e.entity, e.value, e.role, e.group) for e in entities]


def test_entity_name_in_round_brackets() -> None:
    text, entities = parse_annotated_text("fly to [Berlin](city) today")
    assert text == "fly to Berlin today"
    assert spans(text, entities) == [("Berlin", "city", "Berlin", None, None)]
    assert (entities[0].start, entities[0].end) == (7, 13)


def test_entity_with_value_shorthand() -> None:
    text, entities = parse_annotated_text("a flight to [NYC](city:New York)")
    assert text == "a flight to NYC"
    assert spans(text, entities) == [("NYC", "city", "New York", None, None)]


def test_json_object_with_value_role_and_group() -> None:
    text, entities = parse_annotated_text(
        'from [Paris]{"entity": "city", "role": "from", "group": 1} to '
        '[NYC]{"entity": "city", "value": "New York", "role": "to", "group": "1"}'
    )
    assert text == "from Paris to NYC"
    assert spans(text, entities) == [
        ("Paris", "city", "Paris", "from", "1"),
        ("NYC", "city", "New York", "to", "1"),
    ]


def test_a_number_role_or_group_is_read_as_text() -> None:
    # as the JSON data and stories read them; a role 0 was lost, and roles 1 and "to"
    # of one entity could not be sorted
    from dialogflowlite.shared.message import Message
    from dialogflowlite.shared.training_data import TrainingData

    text, entities = parse_annotated_text(
        'from [Paris]{"entity": "city", "role": 0, "group": 1} to '
        '[Rome]{"entity": "city", "role": "to", "group": 2}'
    )
    assert [(e.role, e.group) for e in entities] == [("0", "1"), ("to", "2")]
    assert entities[0].label == "city#role=0#group=1"
    data = TrainingData([Message(text=text, intent="book", entities=entities)])
    assert data.entity_roles == {"city": ["0", "to"]}


def test_json_list_gives_several_entities_on_one_span() -> None:
    text, entities = parse_annotated_text(
        'I live in [Berlin][{"entity": "city"}, {"entity": "location", "value": "DE-BE"}]'
    )
    assert text == "I live in Berlin"
    assert spans(text, entities) == [
        ("Berlin", "city", "Berlin", None, None),
        ("Berlin", "location", "DE-BE", None, None),
    ]


def test_offsets_account_for_earlier_annotations() -> None:
    text, entities = parse_annotated_text(
        '[two](number) tickets from [Köln]{"entity": "city"} to [München](city)'
    )
    assert text == "two tickets from Köln to München"
    assert [text[e.start : e.end] for e in entities] == ["two", "Köln", "München"]


def test_unicode_offsets_are_in_characters() -> None:
    text, entities = parse_annotated_text("🚀 nach [東京](city) und [Zürich](city) ✓")
    assert text == "🚀 nach 東京 und Zürich ✓"
    assert [text[e.start : e.end] for e in entities] == ["東京", "Zürich"]
    assert entities[0].start == 7


def test_spaces_inside_the_brackets_stay_in_the_text_not_in_the_entity() -> None:
    # the entity's value was ' Berlin ', which no prediction matches: `test nlu` scored
    # every right answer as wrong
    text, entities = parse_annotated_text("fly to [ Berlin ](city) and [ New  York](city:NYC)")
    assert text == "fly to  Berlin  and  New  York"
    assert [(text[e.start : e.end], e.value) for e in entities] == [
        ("Berlin", "Berlin"), ("New  York", "NYC")]


def test_plain_square_brackets_stay_text() -> None:
    text, entities = parse_annotated_text("see [1] and [note] here")
    assert text == "see [1] and [note] here"
    assert entities == []


@pytest.mark.parametrize(
    "annotated", ["sad :-[", "my [ key is broken", "fly to [Berlin", "[ or ] or [esc]"])
def test_a_bracket_no_annotation_follows_is_text_as_in_rasa(annotated) -> None:
    # Rasa trains these as written; they stopped the whole project's training here
    text, entities = parse_annotated_text(annotated)
    assert (text, entities) == (annotated, [])


def test_a_bracket_never_closed_is_a_warning_at_its_column() -> None:
    warnings: list[AnnotationError] = []
    text, entities = parse_annotated_text(
        "[NYC](city) is :-[ today", Position("data/nlu.yml", 12, 9), warnings)
    assert text == "NYC is :-[ today"
    assert [e.entity for e in entities] == ["city"]
    [warning] = warnings
    assert warning.message.startswith("'[' is never closed, so it is read as text")
    assert warning.position == Position("data/nlu.yml", 12, 9 + 17)
    assert "[text](entity_name)" in warning.hint


def test_an_example_with_a_bracket_never_closed_loads_with_a_warning(write_project) -> None:
    root = write_project(
        domain="""
        version: "3.1"
        intents: [complain]
        """,
        nlu="""
        version: "3.1"
        nlu:
          - intent: complain
            examples: |
              - my [ key is broken
              - so sad :-[
        """,
    )
    project = load_project(root)
    assert [m.text for m in project.nlu.examples] == ["my [ key is broken", "so sad :-["]
    lines = (root / "data/nlu.yml").read_text(encoding="utf-8").splitlines()
    assert [(p.severity, p.position.line, p.position.col) for p in project.problems
            if "never closed" in p.message] == [
        ("warning", 5, lines[4].index("[") + 1), ("warning", 6, lines[5].index("[") + 1)]


def test_annotate_writes_back_what_parsing_reads() -> None:
    original = 'from [Paris]{"entity": "city", "role": "from"} to [NYC](city) for [two](number)'
    text, entities = parse_annotated_text(original)
    again, entities_again = parse_annotated_text(annotate(text, entities))
    assert again == text
    assert spans(again, entities_again) == spans(text, entities)


@pytest.mark.parametrize(
    ("annotated", "message", "index"),
    [
        ("fly to [Berlin(city)", "unclosed '['", 7),
        ('fly to [Berlin{"entity": "city"}', "unclosed '['", 7),
        ("fly to [Ber[lin](city)", "unclosed '['", 7),
        ("fly to [Berlin](city", "unclosed '('", 15),
        ("fly to [Berlin]()", "empty entity name", 15),
        ("fly to [](city)", "empty entity text", 7),
        ('fly to [Berlin]{"entity": city}', "bad JSON in entity annotation", 26),
        ("fly to [Berlin]{'entity': 'city'}", "bad JSON in entity annotation", 16),
        ("fly to [Berlin][1, 2]", "entity annotation must be a JSON object", 15),
        ('fly to [Berlin]{"value": "x"}', 'annotation without "entity"', 15),
        ('fly to [Berlin]{"entity": "city", "rol": "to"}', "unknown annotation key(s) rol", 15),
    ],
)
def test_malformed_annotation_names_the_column(annotated, message, index) -> None:
    start = Position("data/nlu.yml", 12, 9)
    with pytest.raises(AnnotationError) as info:
        parse_annotated_text(annotated, start)
    error = info.value
    assert error.message.startswith(message)
    assert repr(annotated) in error.message
    assert error.position == Position("data/nlu.yml", 12, 9 + index)
    assert error.hint


def test_error_column_in_a_file_counts_unicode_characters(write_project) -> None:
    root = write_project(
        domain="""
        version: "3.1"
        intents: [inform]
        entities: [city]
        """,
        nlu="""
        version: "3.1"
        nlu:
          - intent: inform
            examples: |
              - über 東京 nach [Köln(city)
              - okay [Bonn](city)
        """,
    )
    project = load_project(root, strict=False)
    [problem] = project.problems
    line = (root / "data/nlu.yml").read_text(encoding="utf-8").splitlines()[4]
    assert problem.position == Position(str(root / "data/nlu.yml"), 5, line.index("[") + 1)
    # The broken example is skipped, the good one still loads.
    assert [m.text for m in project.nlu.examples] == ["okay Bonn"]


def test_examples_written_as_a_list_of_texts_point_at_the_text(write_project) -> None:
    root = write_project(
        domain="""
        version: "3.1"
        intents: [inform]
        entities: [city]
        """,
        nlu="""
        version: "3.1"
        nlu:
          - intent: inform
            examples:
              - text: "to [Rome](city)"
                metadata: {source: chat}
              - text: 'to [Oslo](city'
        """,
    )
    project = load_project(root, strict=False)
    [example] = project.nlu.examples
    assert example.text == "to Rome"
    assert example.metadata == {"source": "chat"}
    [problem] = project.problems
    line = (root / "data/nlu.yml").read_text(encoding="utf-8").splitlines()[6]
    assert problem.position.line == 7
    assert problem.position.col == line.index("(") + 1


def test_an_empty_examples_block_is_a_warning_at_its_line(write_project) -> None:
    root = write_project(
        domain='version: "3.1"\nintents: [greet, bye]\n',
        nlu="""
        version: "3.1"
        nlu:
          - intent: greet
            examples: |
              - hi
          - intent: bye
            examples: |
          - synonym: New York
            examples: ""
        """,
    )
    project = load_project(root, strict=False)
    # each was read as having no examples, without a word (a missing `examples:` is an error)
    found = [(p.severity, p.message, p.position.line) for p in project.problems]
    assert found == [
        ("warning", "nlu intent 'bye' has an empty `examples:`, so it adds nothing", 7),
        ("warning", "nlu synonym 'New York' has an empty `examples:`, so it adds nothing", 9),
    ]
