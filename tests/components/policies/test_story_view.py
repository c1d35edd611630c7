"""The story view of a live conversation: built once, extended as the conversation grows."""

from __future__ import annotations

from policy_helpers import listen, user

from dialogflowlite.components.policies.base import Conversation
from dialogflowlite.components.policies.states import RuleOnlyData, StateFeaturizer, StoryStates
from dialogflowlite.shared.domain import Domain, IntentDef, SlotDef
from dialogflowlite.shared.events import ActionExecuted, SlotSet
from dialogflowlite.shared.tracker import DialogueStateTracker

RULE_ONLY = RuleOnlyData(frozenset({"premium"}), frozenset())


def _domain() -> Domain:
    return Domain(intents={"greet": IntentDef("greet"), "chitchat": IntentDef("chitchat")},
                  slots={"premium": SlotDef("premium", "bool")})


def _turn(index: int) -> list:
    hidden = index % 3 == 1
    return [listen(), user("chitchat" if hidden else "greet"),
            ActionExecuted(name="utter_chitchat" if hidden else "utter_greet",
                           hide_rule_turn=hidden)]


def test_the_live_story_view_equals_the_one_built_from_scratch() -> None:
    domain = _domain()
    featurizer = StateFeaturizer(domain)
    tracker = DialogueStateTracker.for_domain("view", domain, [SlotSet(name="premium",
                                                                       value=True)])
    for index in range(12):
        for event in _turn(index):
            tracker.update(event)
            live = Conversation.from_tracker(tracker, featurizer).for_story_policies(RULE_ONLY)
            fresh = Conversation.from_events(tracker.events, StateFeaturizer(domain))
            assert live.states == fresh.for_story_policies(RULE_ONLY).states
    # the view did leave something out: hidden turns and the rule-only slot
    assert len(live.states) < len(fresh.states)
    assert all(state.slot("premium") is None for state in live.states)
    assert fresh.current.slot("premium") is not None


def test_a_prediction_reads_only_the_states_added_since_the_last(monkeypatch) -> None:
    domain = _domain()
    featurizer = StateFeaturizer(domain)
    tracker = DialogueStateTracker.for_domain("long", domain, [])
    for index in range(200):
        for event in _turn(index):
            tracker.update(event)
    Conversation.from_tracker(tracker, featurizer).for_story_policies(RULE_ONLY)
    steps = []
    original = StoryStates._step

    def counted(self, state, hide):
        steps.append(state)
        return original(self, state, hide)

    monkeypatch.setattr(StoryStates, "_step", counted)
    for event in _turn(200):
        tracker.update(event)
    Conversation.from_tracker(tracker, featurizer).for_story_policies(RULE_ONLY)
    # the three states of the new turn and the current one, not the 600 before
    assert 0 < len(steps) <= 4
