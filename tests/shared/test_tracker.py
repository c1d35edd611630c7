from __future__ import annotations

from dialogflowlite.shared.domain import SlotDef
from dialogflowlite.shared.events import (
    ActionExecuted,
    ActionReverted,
    ActiveLoop,
    AllSlotsReset,
    ConversationPaused,
    ConversationResumed,
    FollowupAction,
    Restarted,
    SessionStarted,
    SlotSet,
    UserUtteranceReverted,
    UserUttered,
)
from dialogflowlite.shared.tracker import DialogueStateTracker

SLOTS = [SlotDef("city", "text"), SlotDef("count", "float", initial_value=1.0)]


def user(intent: str, text: str = "x") -> UserUttered:
    return UserUttered(text=text, parse_data={"intent": {"name": intent, "confidence": 1.0},
                                              "entities": []})


def test_slots_start_at_initial_values_and_follow_events() -> None:
    tracker = DialogueStateTracker("u1", SLOTS)
    assert tracker.slots == {"city": None, "count": 1.0}
    tracker.update(SlotSet(name="city", value="Berlin"))
    tracker.update(SlotSet(name="count", value="3"))
    assert tracker.get_slot("city") == "Berlin"
    assert tracker.get_slot("count") == 3.0  # coerced by the float slot
    tracker.update(AllSlotsReset())
    assert tracker.slots == {"city": None, "count": 1.0}


def test_latest_message_action_and_loop() -> None:
    tracker = DialogueStateTracker("u1", SLOTS)
    tracker.update(ActionExecuted(name="action_listen"))
    tracker.update(user("request"))
    assert tracker.latest_intent == "request"
    tracker.update(ActionExecuted(name="some_form"))
    tracker.update(ActiveLoop(name="some_form"))
    assert tracker.active_loop_name == "some_form"
    assert tracker.active_loop["trigger_message"]["intent"]["name"] == "request"
    assert tracker.latest_action_name == "some_form"
    tracker.update(ActiveLoop(name=None))
    assert tracker.active_loop_name is None


def test_restart_forgets_everything() -> None:
    tracker = DialogueStateTracker("u1", SLOTS)
    tracker.update(SlotSet(name="city", value="Berlin"))
    tracker.update(user("greet"))
    tracker.update(Restarted())
    assert tracker.get_slot("city") is None
    assert tracker.latest_message is None
    assert tracker.applied_events() == []
    assert len(tracker.events) == 3


def test_rewind_undoes_the_last_user_message_and_its_listen() -> None:
    tracker = DialogueStateTracker("u1", SLOTS)
    tracker.update(ActionExecuted(name="action_listen"))
    tracker.update(user("greet"))
    tracker.update(ActionExecuted(name="utter_greet"))
    tracker.update(ActionExecuted(name="action_listen"))
    tracker.update(user("affirm"))
    tracker.update(UserUtteranceReverted())
    assert tracker.latest_intent == "greet"
    names = [e.name for e in tracker.applied_events() if isinstance(e, ActionExecuted)]
    assert names == ["action_listen", "utter_greet"]


def test_undo_reverts_the_last_action_and_its_slot_events() -> None:
    tracker = DialogueStateTracker("u1", SLOTS)
    tracker.update(user("greet"))
    tracker.update(ActionExecuted(name="action_set_city"))
    tracker.update(SlotSet(name="city", value="Paris"))
    tracker.update(ActionReverted())
    assert tracker.get_slot("city") is None


def test_session_start_resets_state_but_keeps_history() -> None:
    tracker = DialogueStateTracker("u1", SLOTS)
    tracker.update(SlotSet(name="city", value="Rome"))
    tracker.update(SessionStarted())
    assert tracker.get_slot("city") is None
    assert tracker.has_session_started()


def test_pause_followup_and_json_shape() -> None:
    tracker = DialogueStateTracker("u1", SLOTS)
    tracker.update(ActionExecuted(name="action_listen"))
    tracker.update(user("greet", "hello"))
    tracker.update(FollowupAction(name="utter_greet"))
    tracker.update(ConversationPaused())
    state = tracker.current_state()
    assert state["paused"] is True
    assert state["followup_action"] == "utter_greet"
    assert state["latest_message"]["text"] == "hello"
    assert state["latest_message"]["intent"]["name"] == "greet"
    assert [e["event"] for e in state["events"]] == ["action", "user", "followup", "pause"]
    assert set(state) >= {"sender_id", "slots", "latest_event_time", "active_loop",
                          "latest_action_name", "latest_input_channel"}
    tracker.update(ConversationResumed())
    assert tracker.paused is False
    assert tracker.current_state(include_events=None)["events"] is None


def test_tracker_rebuilt_from_json_equals_original() -> None:
    tracker = DialogueStateTracker("u1", SLOTS)
    for event in (ActionExecuted(name="action_listen"), user("inform", "Berlin please"),
                  SlotSet(name="city", value="Berlin"), ActionExecuted(name="utter_ok")):
        tracker.update(event)
    rebuilt = DialogueStateTracker.from_dict("u1", tracker.current_state()["events"], SLOTS)
    assert rebuilt.current_state() == tracker.current_state()
