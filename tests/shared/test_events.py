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


@pytest.mark.parametrize(("data", "problem"), [
    # a loop name that is a number: every later message failed in action_for_name
    ({"event": "active_loop", "name": 5}, "its 'name' must be a string or null, not a number 5"),
    # a user text that is a number: the conversation's story could not be written
    ({"event": "user", "text": 123}, "its 'text' must be a string or null, not a number 123"),
    ({"event": "action", "name": "utter_greet", "confidence": "high"},
     "its 'confidence' must be a finite number or null, not a string 'high'"),
    ({"event": "action", "name": "utter_greet", "confidence": True}, "not a boolean"),
    ({"event": "action", "name": "utter_greet", "confidence": float("nan")}, "finite number"),
    ({"event": "action", "name": "utter_greet", "hide_rule_turn": "yes"}, "'hide_rule_turn'"),
    ({"event": "reminder", "intent": "EXTERNAL_x", "date_time": "not a date"},
     "its 'date_time' must be an ISO 8601 date and time"),
    ({"event": "reminder", "date_time": "2030-01-01T10:00:00"}, "it has no 'intent'"),
    ({"event": "reminder", "intent": "EXTERNAL_x", "date_time": 1893492000},
     "'date_time' must be an ISO 8601"),
    # a list of pairs used to become a dict silently
    ({"event": "bot", "text": "hi", "metadata": [["a", "b"]]},
     "its 'metadata' must be an object or null, not an array"),
    ({"event": "slot", "name": "city", "timestamp": "noon"}, "its 'timestamp' must be"),
    ({"event": "slot", "name": ["city"]}, "its 'name' must be a string, not an array"),
    ({"event": "user", "text": "hi", "message_id": {"x": 1}}, "'message_id'"),
    ({"event": "user", "text": "hi", "parse_data": [1]}, "'parse_data' must be an object"),
    ({"event": "bot", "text": "hi", "data": "buttons"}, "'data' must be an object"),
    ({"event": "entities", "entities": [{"value": "Rome"}]}, "with a text 'entity'"),
    ({"event": "cancel_reminder", "entities": "city"}, "'entities' must be a list of objects"),
    ({"event": "loop_interrupted", "is_interrupted": "no"}, "'is_interrupted' must be a boolean"),
    ({"event": "form_validation", "validate": 0}, "'validate' must be a boolean"),
    ({"event": "user_featurization", "use_text_for_featurization": 1}, "must be a boolean"),
    ({"event": "action_execution_rejected", "name": 3}, "'name' must be a string"),
    ({"event": "action_execution_rejected"}, "it has no 'name'"),
])
def test_strict_reading_checks_the_type_of_every_field(data: dict, problem: str) -> None:
    with pytest.raises(DialogueError, match=problem) as error:
        event_from_dict(data, strict=True)
    assert f"event {data['event']!r} is malformed" in error.value.message


def test_strict_reading_takes_the_json_rasa_and_its_sdk_write() -> None:
    # Rasa's own as_dict() output, and rasa_sdk's event dicts (timestamp None, ...)
    accepted = [
        {"event": "user", "timestamp": 1700000000.5, "metadata": {"model_id": "x"},
         "text": "hi", "input_channel": "rest", "message_id": "0a1b",
         "parse_data": {"intent": {"name": "greet", "confidence": 0.99}, "entities": [],
                        "text": "hi", "message_id": "0a1b", "metadata": {},
                        "intent_ranking": [{"name": "greet", "confidence": 0.99}],
                        "response_selector": {"all_retrieval_intents": []}}},
        {"event": "user", "timestamp": None, "text": None, "parse_data": None,
         "input_channel": None},
        {"event": "bot", "timestamp": 1700000001, "metadata": {"utter_action": "utter_greet"},
         "text": "Hello", "data": {"elements": None, "quick_replies": None, "buttons": None,
                                   "attachment": None, "image": None, "custom": None}},
        {"event": "bot", "timestamp": None, "text": "Hi", "data": None, "metadata": None},
        {"event": "action", "timestamp": 1700000002, "name": "action_listen",
         "policy": "policy_1_RulePolicy", "confidence": 1, "action_text": None,
         "hide_rule_turn": False},
        {"event": "action", "timestamp": None, "name": None, "action_text": "Hi!",
         "policy": None, "confidence": None, "hide_rule_turn": None},
        {"event": "slot", "timestamp": None, "name": "city", "value": {"nested": [1, None]}},
        {"event": "active_loop", "timestamp": None, "name": None},
        {"event": "form", "timestamp": None, "name": "trip_form"},
        {"event": "loop_interrupted", "timestamp": None, "is_interrupted": True},
        {"event": "form_validation", "timestamp": None, "validate": False},
        {"event": "followup", "timestamp": None, "name": "action_x"},
        {"event": "reminder", "timestamp": None, "intent": "EXTERNAL_wake_up",
         "date_time": "2030-01-31T09:00:00.123456+01:00", "entities": None, "name": "r1",
         "kill_on_user_msg": True},
        {"event": "reminder", "intent": "EXTERNAL_wake_up", "date_time": "2030-01-31T09:00:00Z",
         "entities": {"city": "Rome"}, "name": None, "kill_on_user_msg": False},
        {"event": "reminder", "intent": "EXTERNAL_wake_up", "date_time": "2030-01-31T09:00:00",
         "entities": [{"entity": "city", "value": "Rome"}]},
        {"event": "cancel_reminder", "timestamp": None, "name": None, "intent": None,
         "entities": None},
        {"event": "action_execution_rejected", "timestamp": None, "name": "trip_form",
         "policy": None, "confidence": None},
        {"event": "entities", "timestamp": None, "entities": [{"entity": "city",
                                                                "value": "Rome"}]},
        {"event": "user_featurization", "timestamp": None, "use_text_for_featurization": None},
        *({"event": name, "timestamp": None} for name in (
            "restart", "session_started", "reset_slots", "undo", "rewind", "pause", "resume")),
    ]
    for data in accepted:
        assert event_from_dict(data, strict=True).type_name in (data["event"], "active_loop",
                                                                  "loop_interrupted")


def test_an_event_without_its_type_says_so_and_lists_the_types() -> None:
    for data in ({"name": "x"}, {"event": None}):
        with pytest.raises(DialogueError, match="it has no 'event' field") as error:
            event_from_dict(data)
        assert "use one of " in error.value.render() and "active_loop" in error.value.render()
    with pytest.raises(DialogueError, match="its 'event' must be a string, not an array"):
        event_from_dict({"event": ["slot"]})
