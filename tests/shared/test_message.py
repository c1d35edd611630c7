"""Parse results: a confidence that is no number never reaches the JSON output; the
order of an entity's keys read back."""

from __future__ import annotations

import json
import math

import pytest

from dialogflowlite.components.nlu.duckling import DUCKLING_KEY_ORDER
from dialogflowlite.shared.events import UserUttered, event_from_dict
from dialogflowlite.shared.message import Entity, IntentPrediction, Message


@pytest.mark.parametrize("bad", [math.nan, math.inf])
def test_a_confidence_that_is_no_number_is_written_as_zero_and_ranked_last(bad) -> None:
    message = Message(text="hi")
    message.set_intent([IntentPrediction("broken", bad), IntentPrediction("greet", 0.4),
                        IntentPrediction("bye", 0.1)])
    assert [p.name for p in message.intent_ranking] == ["greet", "bye", "broken"]
    result = message.parse_result()
    assert result["intent"] == {"name": "greet", "confidence": 0.4}
    assert result["intent_ranking"][-1] == {"name": "broken", "confidence": 0.0}
    # valid JSON: json.dumps would write NaN / Infinity, which JSON has not
    json.dumps(result, allow_nan=False)


def test_a_top_intent_whose_confidence_is_no_number_is_written_with_zero() -> None:
    message = Message(text="hi", intent="greet", confidence=math.nan)
    assert message.parse_result()["intent"] == {"name": "greet", "confidence": 0.0}


def test_an_entity_read_in_the_usual_order_keeps_the_usual_order_when_keys_are_added() -> None:
    entity = Entity.from_dict({"entity": "city", "start": 3, "end": 6, "value": "NYC"})
    assert entity.key_order is None
    # a processor and a tagger's confidence and role, added after it was read back
    entity.value, entity.processors = "New York", ["EntitySynonymMapper"]
    entity.confidence, entity.role = 0.9, "to"
    assert list(entity.to_dict()) == ["entity", "start", "end", "confidence_entity", "role",
                                      "value", "processors"]


def test_an_entity_read_in_another_order_keeps_it() -> None:
    written = {"value": "NYC", "entity": "city", "end": 6, "start": 3, "extractor": "X"}
    entity = Entity.from_dict(written)
    assert entity.key_order == ("value", "entity", "end", "start", "extractor")
    assert list(entity.to_dict()) == list(written)


def test_duckling_s_key_order_survives_a_tracker_event_written_and_read_twice() -> None:
    duckling = Entity("time", 10, 23, "2026-12-04T20:00:00", confidence=None,
                      extractor="DucklingEntityExtractor",
                      extra={"text": "tomorrow at 8", "confidence": 1.0,
                             "additional_info": {"grain": "hour"}},
                      key_order=DUCKLING_KEY_ORDER)
    plain = Entity("city", 0, 3, "NYC", extractor="RegexEntityExtractor")
    message = Message("NYC tomorrow at 8", "inform", [duckling, plain])
    event = UserUttered.from_message(message)
    for _ in range(2):  # a tracker store writes the events as JSON and reads them back
        event = event_from_dict(json.loads(json.dumps(event.as_dict())))
        event = UserUttered.from_message(event.message)
    entities = event.parse_data["entities"]
    assert list(entities[0]) == list(DUCKLING_KEY_ORDER)
    assert list(entities[1]) == ["entity", "start", "end", "value", "extractor"]
    assert event.message.entities[1].key_order is None
