"""``/intent{...}`` messages: entities span the JSON object, as Rasa 2's and Rasa 3's
``start`` / ``end``, and text after the JSON leaves the entities in place, as in Rasa."""

from __future__ import annotations

import json
import logging

import pytest

from dialogflowlite.components.nlu.intent_shortcut import parse_intent_shortcut
from dialogflowlite.shared.message import Message


def _spans(text: str) -> list[tuple[str, object, int, int]]:
    message = parse_intent_shortcut(text)
    assert message is not None
    return [(e.entity, e.value, e.start, e.end) for e in message.entities]


@pytest.mark.parametrize("text", [
    '/inform{"city": "Berlin", "cuisine": ["thai", "lao"]}',
    '/inform@0.4{"city": "Berlin", "cuisine": ["thai", "lao"]}',
    '   /inform{"city": "Berlin", "cuisine": ["thai", "lao"]}  ',
])
def test_each_entity_spans_the_json_object(text: str) -> None:
    # offsets count in the text without the whitespace around it, as in Rasa
    read = text.strip()
    start, end = read.index("{"), read.rindex("}") + 1
    assert _spans(text) == [("city", "Berlin", start, end), ("cuisine", "thai", start, end),
                            ("cuisine", "lao", start, end)]
    assert read[start:end].startswith("{") and read[start:end].endswith("}")


def test_whitespace_around_the_message_is_left_out_as_rasa_does() -> None:
    # Rasa's RegexMessageHandler strips the text, then matches it: the parse result's
    # text is the stripped one and each entity's span is the JSON object in it
    text = '  \t /inform{"city": "Berlin"}\n'
    message = parse_intent_shortcut(text)
    assert message is not None
    result = message.parse_result()
    assert result["text"] == '/inform{"city": "Berlin"}'
    [entity] = result["entities"]
    assert (entity["start"], entity["end"]) == (7, 25)
    assert result["text"][entity["start"] : entity["end"]] == '{"city": "Berlin"}'


def test_text_after_the_json_keeps_the_entities_with_a_warning(caplog) -> None:
    text = '/inform{"city": "Berlin"} please'
    with caplog.at_level(logging.WARNING):
        spans = _spans(text)
    # before: no entities at all (the whole rest was read as JSON, which failed)
    start = text.index("{")
    assert spans == [("city", "Berlin", start, text.index("}") + 1)]
    assert "continuing without 'please'" in caplog.text
    message = parse_intent_shortcut(text)
    assert message is not None and message.intent == "inform"


def test_json_that_does_not_parse_still_gives_no_entities(caplog) -> None:
    with caplog.at_level(logging.WARNING):
        assert _spans('/inform{"city": Berlin} please') == []
    assert "not valid JSON" in caplog.text


def test_a_list_of_entity_objects_is_read_here_only() -> None:
    # Rasa reads `/book[` as the intent's name and refuses it with a warning; here the
    # list gives entities with roles and groups, spanning the list
    text = '/book[{"entity": "city", "value": "Rome", "role": "to", "group": 1}]'
    message = parse_intent_shortcut(text)
    assert message is not None and message.intent == "book"
    [entity] = message.entities
    assert (entity.entity, entity.value, entity.role, entity.group) == ("city", "Rome", "to", "1")
    assert (entity.start, entity.end) == (text.index("["), len(text))


def test_entities_read_as_rasa_3_writes_them() -> None:
    # Rasa 3's RegexMessageHandler: entity, value, start, end, and itself as extractor
    text = '/inform{"city": "Berlin", "cuisine": ["thai", "lao"]}'
    message = parse_intent_shortcut(text)
    assert message is not None
    entities = message.parse_result()["entities"]
    assert json.dumps(entities[0]) == (
        '{"entity": "city", "value": "Berlin", "start": 7, "end": 53, '
        '"extractor": "RegexMessageHandler"}'
    )
    assert [list(e) for e in entities] == [["entity", "value", "start", "end", "extractor"]] * 3
    # read back from a tracker event, the entities keep that order
    again = Message.from_parse_result(message.parse_result())
    assert again.parse_result()["entities"] == entities
    assert [list(e) for e in again.parse_result()["entities"]] == [list(e) for e in entities]


def test_a_listed_entity_keeps_its_role_and_group_before_the_extractor() -> None:
    text = '/book[{"entity": "city", "value": "Rome", "role": "to", "group": 1}]'
    message = parse_intent_shortcut(text)
    assert message is not None
    [entity] = message.parse_result()["entities"]
    assert list(entity) == ["entity", "value", "start", "end", "role", "group", "extractor"]
    assert entity["extractor"] == "RegexMessageHandler"
