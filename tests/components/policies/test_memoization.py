from __future__ import annotations

from policy_helpers import act, predict, said, trained
from story_data import GREET_RULE, rules_yaml, stories_yaml
from weather_stories import GOODBYE_AFTER_THANKS_STORY, WEATHER_STORY

from dialogflowlite.artifact import ComponentStorage
from dialogflowlite.components.policies.memoization import (
    AugmentedMemoizationPolicy,
    MemoizationPolicy,
)

STORIES = stories_yaml(WEATHER_STORY, GOODBYE_AFTER_THANKS_STORY)

# Two stories that differ only in their first turn, three turns before the difference.
LONG_STORIES = """
version: "3.1"
stories:
- story: greeted
  steps:
  - intent: greet
  - action: utter_greet
  - intent: chitchat
  - action: utter_chitchat
  - intent: affirm
  - action: utter_welcome
- story: thanked
  steps:
  - intent: thanks
  - action: utter_noworries
  - intent: chitchat
  - action: utter_chitchat
  - intent: affirm
  - action: utter_done
"""


def test_predicts_the_story_action_with_full_confidence(dialogue_project) -> None:
    project = dialogue_project(stories=STORIES)
    policy = trained(MemoizationPolicy(), project)
    domain = project.domain
    prediction = predict(policy, domain, *said("greet"))
    assert prediction.probabilities == {"utter_greet": 1.0}
    assert prediction.policy_name == "MemoizationPolicy" and prediction.priority == 3
    after = predict(policy, domain, *said("greet"), act("utter_greet"))
    assert after.action_name == "action_listen"
    assert predict(policy, domain, *said("greet"), act("utter_greet"),
                   *said("ask_weather")).action_name == "utter_weather"
    # never seen: nothing to say
    assert predict(policy, domain, *said("ask_weather")).probabilities == {}
    assert predict(policy, domain, *said("bye")).confidence == 0.0


def test_max_history_decides_how_far_back_it_looks(dialogue_project) -> None:
    project = dialogue_project(stories=LONG_STORIES)
    domain = project.domain
    conversation = [*said("greet"), act("utter_greet"), *said("chitchat"), act("utter_chitchat"),
                    *said("affirm")]
    short = trained(MemoizationPolicy({"max_history": 2}), project)
    # the last two states are the same in both stories, followed by different actions
    assert predict(short, domain, *conversation).action_name is None
    long = trained(MemoizationPolicy({"max_history": 5}), project)
    assert predict(long, domain, *conversation).action_name == "utter_welcome"
    other = [*said("thanks"), act("utter_noworries"), *conversation[3:]]
    assert predict(long, domain, *other).action_name == "utter_done"


def test_augmented_memoization_recognises_a_story_later_in_a_conversation(
        dialogue_project) -> None:
    project = dialogue_project(stories=STORIES)
    domain = project.domain
    # the weather story, after an unrelated start
    conversation = [*said("thanks"), act("utter_noworries"), *said("bye"), act("utter_bye"),
                    *said("greet"), act("utter_greet"), *said("ask_weather")]
    plain = trained(MemoizationPolicy({"max_history": 5}), project)
    assert predict(plain, domain, *conversation).action_name is None
    augmented = trained(AugmentedMemoizationPolicy({"max_history": 5}), project)
    prediction = predict(augmented, domain, *conversation)
    assert prediction.probabilities == {"utter_weather": 1.0}
    assert prediction.policy_name == "AugmentedMemoizationPolicy"


def test_lookup_round_trips_through_storage(dialogue_project, tmp_path) -> None:
    project = dialogue_project(stories=STORIES)
    policy = trained(AugmentedMemoizationPolicy({"max_history": 3}), project)
    storage = ComponentStorage(tmp_path / "memo")
    policy.persist(storage)
    loaded = AugmentedMemoizationPolicy.load(policy.config, storage)
    assert loaded.lookup == policy.lookup and loaded.max_history == 3
    assert predict(loaded, project.domain, *said("thanks")).action_name == "utter_noworries"


def test_rules_are_not_memorised(dialogue_project) -> None:
    project = dialogue_project(rules=rules_yaml(GREET_RULE))
    policy = trained(MemoizationPolicy(), project)
    assert policy.lookup == {}
