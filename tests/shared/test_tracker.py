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
    initial = {"city": None, "count": 1.0}
    assert tracker.slots == initial
    tracker.update(SlotSet(name="city", value="Berlin"))
    tracker.update(SlotSet(name="count", value=3.0))
    assert tracker.get_slot("city") == "Berlin"
    assert tracker.get_slot("count") == 3.0
    tracker.update(AllSlotsReset())
    assert tracker.slots == initial


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


def test_a_slot_the_domain_does_not_declare_is_not_set_and_is_reported_once(caplog) -> None:
    from dialogflowlite.shared import tracker as tracker_module

    tracker_module._REPORTED_SLOTS.discard("colour")
    tracker = DialogueStateTracker("u1", SLOTS)
    with caplog.at_level("ERROR", logger="dialogflowlite.shared.tracker"):
        tracker.update(SlotSet(name="colour", value="red"))
        tracker.update(SlotSet(name="colour", value="blue"))
        DialogueStateTracker("u2", SLOTS, [SlotSet(name="colour", value="red")])
    # as in Rasa: the event stays in the conversation, the slot is not set
    assert "colour" not in tracker.slots and len(tracker.events) == 2
    assert "colour" not in tracker.current_state()["slots"]
    reports = [r for r in caplog.records if "'colour'" in r.getMessage()]
    assert len(reports) == 1 and "declares no such slot" in reports[0].getMessage()


def test_the_frameworks_own_slots_are_set_even_when_not_declared() -> None:
    tracker = DialogueStateTracker("u1", SLOTS)
    tracker.update(SlotSet(name="requested_slot", value="city"))
    tracker.update(SlotSet(name="session_started_metadata", value={"channel": "web"}))
    assert tracker.requested_slot == "city"
    assert tracker.current_state()["slots"]["session_started_metadata"] == {"channel": "web"}


def test_without_a_domain_every_slot_is_set_and_copies_keep_that() -> None:
    tracker = DialogueStateTracker("u1", events=[SlotSet(name="anything", value=1)])
    assert tracker.slots == {"anything": 1}
    assert tracker.copy().slots == {"anything": 1}
    declared = DialogueStateTracker("u1", [], [SlotSet(name="anything", value=1)])
    assert declared.slots == {} and declared.copy().slots == {}


def _form_conversation() -> list:
    """greet, then a form over two user answers."""
    return [
        ActionExecuted(name="action_listen"), user("greet"), ActionExecuted(name="utter_greet"),
        ActionExecuted(name="action_listen"), user("book"),
        ActionExecuted(name="form"), ActiveLoop(name="form"), SlotSet(name="requested_slot",
                                                                     value="city"),
        ActionExecuted(name="action_listen"), user("inform", "Rome"),
        SlotSet(name="city", value="Rome"), ActionExecuted(name="form"),
        SlotSet(name="requested_slot", value="count"),
        ActionExecuted(name="action_listen"), user("inform", "two"),
        SlotSet(name="count", value=2), ActionExecuted(name="form"),
        ActiveLoop(name=None),
    ]


def test_a_loops_happy_path_runs_collapse_into_its_first_run() -> None:
    tracker = DialogueStateTracker("u1", SLOTS, _form_conversation())
    applied = tracker.applied_events()
    assert [e.intent_name for e in applied if isinstance(e, UserUttered)] == ["greet", "book"]
    assert sum(isinstance(e, ActionExecuted) and e.name == "form" for e in applied) == 1
    # slots set during the collapsed runs stay, and so does the latest message
    assert tracker.slots["city"] == "Rome" and tracker.slots["count"] == 2.0
    assert tracker.latest_message.text == "two"
    # ... unless asked for: stories and NLU examples need the user's answers
    kept = tracker.applied_events(keep_loop_turns=True)
    assert kept == [e for e in tracker.events]


def test_a_rewind_after_a_loops_runs_undoes_the_message_that_started_it() -> None:
    events = _form_conversation()[:-1]  # the form still runs
    tracker = DialogueStateTracker("u1", SLOTS, [*events, UserUtteranceReverted()])
    assert tracker.active_loop_name is None
    assert tracker.latest_message.intent_name == "greet"
    for keep in (False, True):
        assert [e.intent_name for e in tracker.applied_events(keep_loop_turns=keep)
                if isinstance(e, UserUttered)] == ["greet"]


def test_a_rejected_loop_run_is_an_unhappy_path_and_is_not_collapsed() -> None:
    from dialogflowlite.shared.events import ActionExecutionRejected

    events = [
        ActionExecuted(name="action_listen"), user("book"),
        ActionExecuted(name="form"), ActiveLoop(name="form"),
        ActionExecuted(name="action_listen"), user("chitchat"),
        ActionExecutionRejected(name="form"), ActionExecuted(name="utter_chitchat"),
        ActionExecuted(name="form"),
    ]
    applied = DialogueStateTracker("u1", SLOTS, events).applied_events()
    assert [e.intent_name for e in applied if isinstance(e, UserUttered)] == ["book",
                                                                             "chitchat"]


def test_a_loop_rejection_lasts_until_the_loop_runs_again() -> None:
    from dialogflowlite.shared.events import ActionExecutionRejected

    tracker = DialogueStateTracker("u1", SLOTS, [
        ActionExecuted(name="form"), ActiveLoop(name="form"),
        ActionExecuted(name="action_listen"), user("chitchat"),
        ActionExecutionRejected(name="form"),
    ])
    assert tracker.active_loop["rejected"] is True
    tracker.update(ActionExecuted(name="utter_chitchat"))
    assert tracker.active_loop["rejected"] is True  # another action leaves it rejected
    tracker.update(ActionExecuted(name="form"))
    assert tracker.current_state()["active_loop"]["rejected"] is False


def test_a_loop_interruption_lasts_until_the_next_action() -> None:
    from dialogflowlite.shared.events import LoopInterrupted

    tracker = DialogueStateTracker("u1", SLOTS, [ActiveLoop(name="form"),
                                                 LoopInterrupted(is_interrupted=True)])
    assert tracker.active_loop["validate"] is False
    tracker.update(ActionExecuted(name="utter_chitchat"))
    assert tracker.current_state()["active_loop"]["validate"] is True


def test_resetting_all_slots_also_resets_the_framework_and_undeclared_ones() -> None:
    tracker = DialogueStateTracker("u1", SLOTS, [
        SlotSet(name="city", value="Rome"),
        SlotSet(name="session_started_metadata", value={"locale": "de"}),
        AllSlotsReset(),
    ])
    assert tracker.slots == {"city": None, "count": 1.0}
    without_domain = DialogueStateTracker("u2", events=[SlotSet(name="city", value="Rome"),
                                                        AllSlotsReset()])
    assert without_domain.get_slot("city") is None


def test_a_user_message_keeps_the_latest_action_and_ends_a_pending_followup() -> None:
    tracker = DialogueStateTracker("u1", SLOTS, [
        FollowupAction(name="action_check"), ActionExecuted(name="action_listen"),
    ])
    tracker.update(FollowupAction(name="action_check"))
    tracker.update(user("greet"))
    state = tracker.current_state()
    assert (state["latest_action_name"], state["latest_action"]) == (
        "action_listen", {"action_name": "action_listen"})
    assert state["followup_action"] is None
    # the same when the tracker is rebuilt from its stored events
    rebuilt = DialogueStateTracker("u1", SLOTS, list(tracker.events))
    assert rebuilt.followup_action is None
    assert rebuilt.latest_action_name == "action_listen"


# ------------------------------------------------------------ slot values as set


def test_a_slot_keeps_the_value_it_was_set_to_as_rasas_slots_do() -> None:
    slots = [SlotDef("count", "float"), SlotDef("vip", "bool"), SlotDef("city", "categorical",
                                                                      values=["Rome"])]
    tracker = DialogueStateTracker("u1", slots, [
        SlotSet(name="count", value="2"),
        SlotSet(name="vip", value="yes"),
        SlotSet(name="city", value="ROME"),
    ])
    assert tracker.get_slot("count") == "2"
    assert tracker.get_slot("vip") == "yes"
    assert tracker.get_slot("city") == "ROME"
    # custom actions and the HTTP API see the same
    assert tracker.current_state()["slots"]["count"] == "2"
    assert tracker.current_state()["slots"]["vip"] == "yes"


def test_a_list_slot_wraps_a_single_value_that_is_not_empty_as_rasas_list_slot() -> None:
    tracker = DialogueStateTracker("u1", [SlotDef("tags", "list")])
    tracker.update(SlotSet(name="tags", value="red"))
    assert tracker.get_slot("tags") == ["red"]
    tracker.update(SlotSet(name="tags", value=["red", "blue"]))
    assert tracker.get_slot("tags") == ["red", "blue"]
    for empty in ("", 0, False, []):
        tracker.update(SlotSet(name="tags", value=empty))
        assert tracker.get_slot("tags") == empty


def test_every_tracker_of_a_domain_lists_session_started_metadata_as_rasas_do() -> None:
    tracker = DialogueStateTracker("u1", SLOTS)
    assert tracker.current_state()["slots"] == {"city": None, "count": 1.0,
                                                "session_started_metadata": None}
    tracker.update(SlotSet(name="session_started_metadata", value={"locale": "de"}))
    assert tracker.current_state()["slots"]["session_started_metadata"] == {"locale": "de"}
    tracker.update(Restarted())
    assert tracker.current_state()["slots"]["session_started_metadata"] is None
    # a domain that declares it keeps its own definition
    declared = DialogueStateTracker("u1", [SlotDef("session_started_metadata", "any",
                                                   initial_value={"locale": "en"})])
    assert declared.current_state()["slots"] == {"session_started_metadata": {"locale": "en"}}
    # without a domain, only the slots set are known
    assert DialogueStateTracker("u1").current_state()["slots"] == {}
