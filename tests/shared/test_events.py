from __future__ import annotations

import pytest

from dialogflowlite.errors import DialogueError
from dialogflowlite.shared.events import (
    EVENT_TYPES,
    ActionExecuted,
    ActiveLoop,
    BotUttered,
    SlotSet,
    UserUttered,
    event_from_dict,
)


def test_every_event_type_round_trips_through_json() -> None:
    samples = {
        "user": {"text": "hi", "parse_data": {"intent": {"name": "greet", "confidence": 1.0}},
                 "input_channel": "rest", "message_id": "m1"},
        "bot": {"text": "hello", "data": {"buttons": [{"title": "a", "payload": "/a"}]}},
        "action": {"name": "utter_greet", "policy": "RulePolicy", "confidence": 1.0},
        "slot": {"name": "city", "value": "Berlin"},
        "active_loop": {"name": "some_form"},
        "loop_interrupted": {"is_interrupted": True},
        "followup": {"name": "action_x"},
        "reminder": {"intent": "EXTERNAL_x", "date_time": "2026-01-01T10:00:00",
                     "name": "r1", "kill_on_user_msg": False, "entities": None},
        "cancel_reminder": {"name": "r1", "intent": None, "entities": None},
        "action_execution_rejected": {"name": "some_form", "policy": None, "confidence": None},
        "entities": {"entities": [{"entity": "city", "value": "Berlin"}]},
        "user_featurization": {"use_text_for_featurization": True},
    }
    for name, cls in EVENT_TYPES.items():
        data = {"event": name, "timestamp": 123.0, "metadata": {"k": "v"}, **samples.get(name, {})}
        event = event_from_dict(data)
        assert isinstance(event, cls)
        assert event.as_dict() == {**data, **event.payload()}
        assert event_from_dict(event.as_dict()).as_dict() == event.as_dict()


def test_action_event_json_has_rasa_fields() -> None:
    event = ActionExecuted(name="utter_greet", policy="MemoizationPolicy", confidence=0.9)
    data = event.as_dict()
    assert data["event"] == "action"
    assert data["name"] == "utter_greet"
    assert data["policy"] == "MemoizationPolicy"
    assert data["confidence"] == 0.9
    assert isinstance(data["timestamp"], float)


def test_old_form_event_name_is_read_as_active_loop() -> None:
    event = event_from_dict({"event": "form", "name": "restaurant_form"})
    assert isinstance(event, ActiveLoop) and event.name == "restaurant_form"


def test_unknown_event_type_is_a_clear_error() -> None:
    with pytest.raises(DialogueError, match="unknown event type 'teleport'"):
        event_from_dict({"event": "teleport"})


def test_same_as_ignores_timestamps() -> None:
    assert SlotSet(name="a", value=1, timestamp=1).same_as(SlotSet(name="a", value=1, timestamp=2))
    assert not SlotSet(name="a", value=1).same_as(SlotSet(name="a", value=2))
    assert not BotUttered(text="x").same_as(UserUttered(text="x"))


def test_strict_reading_refuses_events_without_what_they_are_about() -> None:
    for data in ({"event": "slot", "value": 1}, {"event": "followup"},
                 {"event": "action", "name": ""}, {"event": "slot", "name": ["x"]}):
        with pytest.raises(DialogueError, match="malformed"):
            event_from_dict(data, strict=True)
        # stored events are read as they are: a conversation is not lost over one
        assert event_from_dict(data).type_name == data["event"]
    # an end-to-end bot turn is an action event with a text and no name
    e2e = event_from_dict({"event": "action", "action_text": "Hi!"}, strict=True)
    assert e2e.action_text == "Hi!"


def test_a_malformed_parse_result_is_refused_coming_in_and_read_going_out() -> None:
    malformed = {"event": "user", "text": "hi",
                 "parse_data": {"intent": "greet",
                                "entities": ["x", {"value": 1}, {"entity": "a"}]}}
    with pytest.raises(DialogueError, match=r"parse_data\.intent must be an object"):
        event_from_dict(malformed, strict=True)
    # a conversation that already holds such a message is still read: every later turn
    # used to fail on it (a text intent has no .get)
    event = event_from_dict(malformed)
    assert event.intent_name == "greet"
    assert event.entities == [{"entity": "a"}]
    assert event_from_dict({"event": "user", "parse_data": {"intent": 5}}).intent_name is None
    well_formed = {"intent": {"name": "greet", "confidence": 0.9}, "entities": []}
    assert event_from_dict({"event": "user", "parse_data": well_formed},
                           strict=True).parse_data == well_formed
