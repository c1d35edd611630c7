from __future__ import annotations

from policy_helpers import act, listen, said, user
from story_data import stories_yaml
from weather_stories import STOP_THE_FORM_THEN_GO_ON_STORY

from dialogflowlite.components.policies.dialogues import training_dialogues
from dialogflowlite.components.policies.states import (
    RULE_SNIPPET_ACTION,
    SHOULD_NOT_BE_SET,
    SLOT_IS_SET,
    State,
    StateFeaturizer,
    featurised_events,
    slot_features,
    states_as_json,
    states_from_json,
)
from dialogflowlite.components.policies.training import training_paths
from dialogflowlite.shared.domain import (
    Domain,
    EntityDef,
    IntentDef,
    SlotDef,
)
from dialogflowlite.shared.events import (
    ActionExecutionRejected,
    ActionReverted,
    ActiveLoop,
    Restarted,
    SlotSet,
    UserUtteranceReverted,
)
from dialogflowlite.shared.stories import ANY_SLOT_VALUE


def small_domain() -> Domain:
    return Domain(
        intents={"greet": IntentDef("greet"), "inform": IntentDef("inform"),
                 "request": IntentDef("request", use_entities=[])},
        entities={"city": EntityDef("city", roles=["from", "to"]),
                  "mood": EntityDef("mood", influence_conversation=False)},
        slots={"city": SlotDef("city", "text"),
               "quiet": SlotDef("quiet", "text", influence_conversation=False),
               "flag": SlotDef("flag", "bool"),
               "size": SlotDef("size", "categorical", values=["small", "large"]),
               "count": SlotDef("count", "float", min_value=0, max_value=10),
               "items": SlotDef("items", "list"),
               "blob": SlotDef("blob", "any", influence_conversation=False)},
    )


def test_one_state_before_each_action_and_the_current_one() -> None:
    featurizer = StateFeaturizer(small_domain())
    states = featurizer.states([listen(), user("greet"), act("utter_greet"), listen()])
    assert len(states) == 4
    assert states[0] == State()
    assert states[0].is_start
    assert states[1] == State(intent="greet", prev_action="action_listen")
    assert states[1].after_listen
    # the user's turn stays part of the state after the bot acted (as in Rasa)
    assert states[2] == State(intent="greet", prev_action="utter_greet")
    assert states[3] == State(intent="greet", prev_action="action_listen")


def test_entities_follow_the_intents_use_entities_and_roles() -> None:
    featurizer = StateFeaturizer(small_domain())
    city = {"entity": "city", "value": "Paris", "role": "to"}
    mood = {"entity": "mood", "value": "happy"}
    states = featurizer.states([listen(), user("inform", city, mood), act("x")])
    assert states[-1].entities == ("city", "city#to")  # mood does not influence
    states = featurizer.states([listen(), user("request", city), act("x")])
    assert states[-1].entities == ()


def test_text_only_turns_are_featurised_by_their_text() -> None:
    featurizer = StateFeaturizer(small_domain())
    state = featurizer.states([listen(), user(None, text="hello there")])[-1]
    assert state.intent is None and state.text == "hello there"


def test_slots_are_featurised_by_type() -> None:
    domain = small_domain()
    slot = domain.slots
    assert slot_features(slot["city"], None) == (0.0,)
    assert slot_features(slot["city"], "Rome") == (1.0,)
    assert slot_features(slot["flag"], False) == (1.0, 0.0)
    assert slot_features(slot["flag"], "true") == (1.0, 1.0)
    assert slot_features(slot["size"], "LARGE") == (0.0, 1.0, 0.0)
    assert slot_features(slot["size"], "huge") == (0.0, 0.0, 1.0)  # __other__
    assert slot_features(slot["count"], 5) == (1.0, 0.5)
    assert slot_features(slot["count"], 50) == (1.0, 1.0)
    assert slot_features(slot["items"], []) == (0.0,)
    assert slot_features(slot["items"], ["a"]) == (1.0,)
    assert slot_features(slot["blob"], {"a": 1}) is None
    assert slot_features(slot["quiet"], "x") is None

    featurizer = StateFeaturizer(domain)
    events = [SlotSet(name="city", value="Rome"), SlotSet(name="quiet", value="x"),
              SlotSet(name="flag", value=False), SlotSet(name="items", value=[]),
              SlotSet(name="count", value="2")]
    state = featurizer.states(events)[-1]
    # unset and non-influencing slots are left out; an empty list counts as unset
    assert dict(state.slots) == {"city": (1.0,), "flag": (1.0, 0.0), "count": (1.0, 0.2)}


def test_active_loop_and_its_rejection() -> None:
    featurizer = StateFeaturizer(small_domain())
    events = [*said("request"), act("form"), ActiveLoop(name="form"), *said("greet"),
              ActionExecutionRejected(name="form")]
    state = featurizer.states(events)[-1]
    assert state.active_loop == "form" and state.loop_rejected
    state = featurizer.states([*events, act("utter_greet"), act("form")])[-1]
    assert state.active_loop == "form" and not state.loop_rejected
    state = featurizer.states([*events, act("form"), ActiveLoop(name=None)])[-1]
    assert state.active_loop is None and not state.loop_rejected


def test_repeated_happy_path_loop_runs_collapse_into_the_first() -> None:
    events = [*said("request"), act("form"), ActiveLoop(name="form"),
              *said("inform", {"entity": "city", "value": "Rome"}),
              SlotSet(name="city", value="Rome"), act("form"), ActiveLoop(name=None)]
    kept = featurised_events(events)
    names = [type(e).__name__ for e in kept]
    assert names == ["ActionExecuted", "UserUttered", "ActionExecuted", "ActiveLoop",
                     "SlotSet", "ActiveLoop"]
    state = StateFeaturizer(small_domain()).states(kept)[-1]
    # the state after the form finished looks like the story writes it
    assert state.prev_action == "form" and state.intent == "request"
    assert state.slot("city") == (1.0,) and state.active_loop is None


def test_loop_runs_after_an_unhappy_path_are_kept() -> None:
    base = [*said("request"), act("form"), ActiveLoop(name="form"), *said("greet")]
    rejected = [*base, ActionExecutionRejected(name="form"), act("utter_greet"), act("form")]
    assert sum(getattr(e, "name", None) == "form" for e in featurised_events(rejected)) == 4
    # in stories there is no rejection: another action answering the user says the same
    other = [*base, act("utter_greet"), act("form")]
    assert [getattr(e, "name", None) for e in featurised_events(other)][-2:] == \
        ["utter_greet", "form"]


def test_undo_rewind_and_restart_are_applied() -> None:
    featurizer = StateFeaturizer(small_domain())
    states = featurizer.conversation_states(
        [*said("greet"), act("utter_greet"), ActionReverted()])
    assert states[-1].prev_action == "action_listen"
    states = featurizer.conversation_states(
        [*said("greet"), act("utter_greet"), *said("inform"), UserUtteranceReverted()])
    assert states[-1] == State(intent="greet", prev_action="utter_greet")
    states = featurizer.conversation_states([*said("greet"), act("utter_greet"), Restarted()])
    assert states == [State()]


def test_states_round_trip_through_json_and_hash() -> None:
    state = State(intent="inform", entities=("city",), prev_action="action_listen",
                  slots=(("city", (1.0,)), ("flag", SHOULD_NOT_BE_SET)), active_loop="form",
                  loop_rejected=True)
    again = states_from_json(states_as_json([state, State()]))
    assert again == (state, State())
    assert len({state, again[0]}) == 1


def test_rules_keep_only_the_slots_they_set_and_their_conditions(dialogue_project) -> None:
    project = dialogue_project(rules="""
        version: "3.1"
        rules:
        - rule: premium users
          condition:
          - slot_was_set:
            - premium: true
          - active_loop: null
          steps:
          - intent: greet
          - action: utter_premium
        - rule: any city
          condition:
          - slot_was_set:
            - city
          steps:
          - intent: greet
          - action: utter_greet
          wait_for_user_input: false
        """)
    dialogues = training_dialogues(training_paths(project), StateFeaturizer(project.domain),
                                   kind="rule")
    premium, city = dialogues
    assert premium.actions == [RULE_SNIPPET_ACTION, "action_listen", "utter_premium",
                               "action_listen"]
    before_answer = premium.states[2]
    assert before_answer.slots == (("premium", (1.0, 1.0)),)
    assert before_answer.active_loop == SHOULD_NOT_BE_SET
    assert city.actions[-1] == RULE_SNIPPET_ACTION  # does not wait for the user
    assert city.states[2].slots == (("city", SLOT_IS_SET),)


def test_stories_mark_the_rejection_a_loop_must_have_made(dialogue_project) -> None:
    project = dialogue_project(stories=stories_yaml(STOP_THE_FORM_THEN_GO_ON_STORY))
    dialogue, = training_dialogues(training_paths(project), StateFeaturizer(project.domain))
    index = dialogue.actions.index("utter_ask_continue")
    assert dialogue.states[index].loop_rejected
    assert dialogue.states[index].intent == "stop"
    assert dialogue.where(index).line == 9
    assert any(isinstance(e, ActionExecutionRejected) for e in dialogue.events)


def test_any_value_in_stories_is_featurised_like_a_value() -> None:
    featurizer = StateFeaturizer(small_domain())
    story_state = featurizer.states([SlotSet(name="city", value=ANY_SLOT_VALUE)])[-1]
    rule_state = featurizer.states([SlotSet(name="city", value=ANY_SLOT_VALUE)],
                                   omit_unset_slots=True)[-1]
    assert story_state.slot("city") == (1.0,)
    assert rule_state.slot("city") == SLOT_IS_SET


def test_a_growing_conversation_is_extended_to_the_same_states_as_a_full_pass() -> None:
    from dialogflowlite.components.policies.base import Conversation
    from dialogflowlite.shared.events import AllSlotsReset, EntitiesAdded
    from dialogflowlite.shared.tracker import DialogueStateTracker

    domain = small_domain()
    featurizer = StateFeaturizer(domain)
    steps = [
        listen(), user("greet"), act("utter_greet"), listen(),
        user("inform", {"entity": "city", "value": "Rome", "role": "to"}),
        SlotSet(name="city", value="Rome"), SlotSet(name="count", value=3), act("utter_ok"),
        EntitiesAdded(entities=[{"entity": "city", "value": "Oslo"}]), listen(),
        user("request"), ActiveLoop(name="form"), act("form"),
        SlotSet(name="size", value="large"), listen(),
        user("inform"), act("form"), listen(),  # a happy-path loop run: collapsed
        user("inform"), ActionExecutionRejected(name="form"), act("utter_ask"), listen(),
        user("greet"), UserUtteranceReverted(), user("inform"), act("form"),
        ActiveLoop(name=None), AllSlotsReset(), act("utter_done"), listen(),
        user("greet"), act("utter_greet"), ActionReverted(), act("utter_other"), listen(),
        Restarted(), listen(), user("greet", text="hi"), act("utter_greet"), listen(),
    ]
    tracker = DialogueStateTracker.for_domain("alice", domain)
    extended = 0
    for event in steps:
        tracker.update(event)
        before = featurizer._live.get("alice")
        got = Conversation.from_tracker(tracker, featurizer)
        fresh = Conversation.from_events(tracker.events, StateFeaturizer(domain))
        assert got.states == fresh.states and got.events == fresh.events
        extended += before is not None and featurizer._live.get("alice") is not before \
            and len(got.events) > len(before.events)
        assert Conversation.from_tracker(tracker, featurizer).states == fresh.states
    # most steps only appended plain events and were extended, not recomputed
    assert extended >= len(steps) // 2


def test_another_tracker_of_the_same_sender_is_read_anew() -> None:
    from dialogflowlite.components.policies.base import Conversation
    from dialogflowlite.shared.tracker import DialogueStateTracker

    domain = small_domain()
    featurizer = StateFeaturizer(domain)
    first = DialogueStateTracker.for_domain("bob", domain, [listen(), user("greet")])
    Conversation.from_tracker(first, featurizer)
    # the same sender's conversation, replaced (for instance through the HTTP API)
    second = DialogueStateTracker.for_domain(
        "bob", domain, [listen(), user("inform"), act("utter_ok"), listen(), user("greet")])
    got = Conversation.from_tracker(second, featurizer)
    assert got.states == featurizer.conversation_states(second.events)
    assert got.states[1].intent == "inform"


def test_every_event_that_rewrites_the_past_is_one_live_states_recompute_for() -> None:
    """Extending live states is only right for events that append: the others are listed."""
    from dialogflowlite.components.policies.states import _RESHAPING, featurised_indices
    from dialogflowlite.shared import events as event_module

    def samples() -> list:
        made = []
        for klass in vars(event_module).values():
            if not (isinstance(klass, type) and issubclass(klass, event_module.Event)
                    and klass is not event_module.Event):
                continue
            for fields in ({}, {"name": "form"}, {"name": "utter_ok"}, {"name": None}):
                try:
                    made.append(klass(**fields))
                except TypeError:
                    continue
        return made

    bases = [
        [listen(), user("greet"), act("utter_greet"), listen()],
        [*said("request"), ActiveLoop(name="form"), act("form"), listen(), user("inform"),
         act("form"), listen()],
        [*said("greet"), act("utter_greet"), act("utter_ok"), listen(), user("inform")],
    ]
    checked = set()
    for base in bases:
        before = featurised_indices(base)
        loops = {e.name for e in base if isinstance(e, ActiveLoop) and e.name}
        for event in samples():
            after = featurised_indices([*base, event])
            appends = after[: len(before)] == before and len(after) - len(before) <= 1
            recomputed = isinstance(event, _RESHAPING) or (
                type(event).__name__ == "ActionExecuted" and event.name in loops)
            assert appends or recomputed, (type(event).__name__, base)
            checked.add(type(event).__name__)
    assert {"UserUttered", "ActionExecuted", "SlotSet", "Restarted", "ActionReverted"} <= checked
