"""`action_unlikely_intent` (predicted by a plugin policy) as the built-in policies see it.

As in Rasa, the policies that learn from stories only (memoization, the transformer
policy) leave out the states right after it when they predict, so their next
prediction is the one they make without it; the transformer policy also learns
stories without their `action_unlikely_intent` steps. The rule policy sees it, as
Rasa's does.
"""

from __future__ import annotations

from dataclasses import replace

import pytest
from policy_helpers import act, predict, said, tracker, trained, user
from story_data import GREET_RULE, rules_yaml, stories_yaml
from weather_stories import GOODBYE_AFTER_THANKS_STORY, WEATHER_STORY

from dialogflowlite.components.policies.base import Conversation
from dialogflowlite.components.policies.dialogues import (
    training_dialogue,
    without_unlikely_intents,
)
from dialogflowlite.components.policies.ensemble import PolicyEnsemble
from dialogflowlite.components.policies.memoization import (
    AugmentedMemoizationPolicy,
    MemoizationPolicy,
)
from dialogflowlite.components.policies.rule import RulePolicy
from dialogflowlite.components.policies.states import StateFeaturizer
from dialogflowlite.components.policies.training import training_paths
from dialogflowlite.components.policies.transformer_policy import TransformerPolicy
from dialogflowlite.shared.domain import ACTION_LISTEN, ACTION_UNLIKELY_INTENT
from dialogflowlite.shared.events import ActionExecuted, SlotSet

STORIES = stories_yaml(WEATHER_STORY, GOODBYE_AFTER_THANKS_STORY)
TINY = {"hidden_size": 16, "num_heads": 2, "intermediate_size": 32, "epochs": 80,
        "augmentation": 0}


def unlikely() -> object:
    return act(ACTION_UNLIKELY_INTENT)


#: (the conversation with action_unlikely_intent after a user turn, the same without it,
#: the action the weather story takes next)
TURNS = [
    ([*said("greet"), unlikely()], said("greet"), "utter_greet"),
    ([*said("greet"), unlikely(), act("utter_greet")], [*said("greet"), act("utter_greet")],
     ACTION_LISTEN),
    ([*said("greet"), unlikely(), act("utter_greet"), *said("ask_weather"), unlikely()],
     [*said("greet"), act("utter_greet"), *said("ask_weather")], "utter_weather"),
]


@pytest.mark.parametrize("policy_class", [MemoizationPolicy, AugmentedMemoizationPolicy])
@pytest.mark.parametrize(("with_it", "without_it", "expected"), TURNS)
def test_memoization_predicts_as_without_the_action(dialogue_project, policy_class,
                                                    with_it, without_it, expected) -> None:
    project = dialogue_project(stories=STORIES)
    domain = project.domain
    # max_history 5 reaches back to the first action_unlikely_intent in the last case
    policy = trained(policy_class({"max_history": 5}), project)
    assert predict(policy, domain, *without_it).probabilities == {expected: 1.0}
    assert predict(policy, domain, *with_it).probabilities == {expected: 1.0}
    # and so through the ensemble, which hands it the story policies' view
    decision = PolicyEnsemble([policy]).predict_next_action(tracker(domain, *with_it), domain)
    assert (decision.action_name, decision.confidence) == (expected, 1.0)


def test_the_story_view_leaves_out_the_states_after_the_action(dialogue_project) -> None:
    domain = dialogue_project(stories=STORIES).domain
    featurizer = StateFeaturizer(domain)
    with_it = [*said("greet"), unlikely(), SlotSet(name="premium", value=True),
               act("utter_greet"), *said("ask_weather"), unlikely()]
    without_it = [*said("greet"), SlotSet(name="premium", value=True), act("utter_greet"),
                  *said("ask_weather")]
    expected = Conversation.from_events(without_it, featurizer).states
    fresh = Conversation.from_events(with_it, featurizer).for_story_policies(None)
    # the state after action_unlikely_intent (the slot set there) is left out, so the
    # user's turn is seen as it was before the slot was set, as in Rasa; the states
    # after the next action are those without action_unlikely_intent
    assert fresh.states == [expected[0], replace(expected[1], slots=()), *expected[2:]]
    # a live conversation read as it grows sees the same
    live_tracker = tracker(domain)
    for event in with_it:
        live_tracker.update(event)
        live = Conversation.from_tracker(live_tracker, featurizer).for_story_policies(None)
        again = Conversation.from_events(live_tracker.events, featurizer)
        assert live.states == again.for_story_policies(None).states
    # the rule policy's view keeps them
    assert Conversation.from_events(with_it, featurizer).states[-1].prev_action == (
        ACTION_UNLIKELY_INTENT)


def test_the_transformer_policy_predicts_as_without_the_action(dialogue_project) -> None:
    project = dialogue_project(stories=STORIES)
    domain = project.domain
    policy = trained(TransformerPolicy(TINY), project)
    for with_it, without_it, expected in TURNS:
        before = predict(policy, domain, *without_it)
        after = predict(policy, domain, *with_it)
        assert before.action_name == expected
        assert after.probabilities == before.probabilities


UNLIKELY_STEP_STORY = """\
- story: greet, flagged
  steps:
  - intent: greet
  - action: action_unlikely_intent
  - action: utter_greet
"""


@pytest.mark.parametrize("policy_class", [MemoizationPolicy, AugmentedMemoizationPolicy])
def test_memoization_learns_stories_without_the_action(dialogue_project, policy_class) -> None:
    project = dialogue_project(stories=stories_yaml(UNLIKELY_STEP_STORY,
                                                    GOODBYE_AFTER_THANKS_STORY))
    domain = project.domain
    policy = trained(policy_class(), project)
    # it learnt utter_greet after greet; remembered, the action_unlikely_intent step
    # would be predicted again right after it ran (its state left out), over and over
    assert predict(policy, domain, *said("greet")).probabilities == {"utter_greet": 1.0}
    assert predict(policy, domain, *said("greet"), unlikely()).probabilities == {
        "utter_greet": 1.0}
    assert ACTION_UNLIKELY_INTENT not in policy.lookup.values()


def test_a_hidden_rule_turn_after_the_action_hides_nothing_more(dialogue_project) -> None:
    domain = dialogue_project(stories=STORIES).domain
    featurizer = StateFeaturizer(domain)
    hidden = [ActionExecuted(name="utter_greet", hide_rule_turn=True),
              ActionExecuted(name=ACTION_LISTEN, hide_rule_turn=True)]
    events = [*said("greet"), unlikely(), *hidden, user("ask_weather")]
    fresh = Conversation.from_events(events, featurizer).for_story_policies(None)
    # the rule turn is left out, and so is the state after action_unlikely_intent; the
    # user's new message is still seen, after the action before action_unlikely_intent
    assert [(s.prev_action, s.intent) for s in fresh.states] == [
        (None, None), (ACTION_LISTEN, "greet"), (ACTION_LISTEN, "ask_weather")]
    live_tracker = tracker(domain)
    for event in events:
        live_tracker.update(event)
    live = Conversation.from_tracker(live_tracker, featurizer).for_story_policies(None)
    assert live.states == fresh.states


def test_the_transformer_policy_learns_stories_without_the_action(dialogue_project) -> None:
    project = dialogue_project(stories=stories_yaml(UNLIKELY_STEP_STORY,
                                                    GOODBYE_AFTER_THANKS_STORY))
    domain = project.domain
    [path] = [p for p in training_paths(project) if p.name == "greet, flagged"]
    dialogue = without_unlikely_intents(training_dialogue(path, StateFeaturizer(domain)))
    assert dialogue.actions == [ACTION_LISTEN, "utter_greet", ACTION_LISTEN]
    assert [s.prev_action for s in dialogue.states] == [None, ACTION_LISTEN, "utter_greet",
                                                         ACTION_LISTEN]
    assert len(dialogue.positions) == len(dialogue.actions)
    policy = trained(TransformerPolicy(TINY), project)
    # it learnt utter_greet after greet, not action_unlikely_intent (which, left out
    # of the states it predicts from, would be predicted again and again)
    assert predict(policy, domain, *said("greet")).action_name == "utter_greet"
    assert predict(policy, domain, *said("greet"), unlikely()).action_name == "utter_greet"


def test_the_rule_policy_sees_the_action_as_rasas_does(dialogue_project) -> None:
    project = dialogue_project(rules=rules_yaml(GREET_RULE))
    domain = project.domain
    policy = trained(RulePolicy(), project)
    assert predict(policy, domain, *said("greet")).action_name == "utter_greet"
    # the rule answers the user's message right after it; after action_unlikely_intent
    # it no longer applies (Rasa's RulePolicy keeps the action in its states too)
    after = predict(policy, domain, *said("greet"), unlikely())
    assert after.action_name != "utter_greet"
