from __future__ import annotations

import torch
from policy_helpers import act, said, tracker, trained

from dialogflowlite.artifact import ComponentStorage
from dialogflowlite.components.policies.base import Conversation
from dialogflowlite.components.policies.transformer_policy import TransformerPolicy
from dialogflowlite.shared.events import SlotSet

TINY = {"hidden_size": 16, "num_heads": 2, "intermediate_size": 32, "epochs": 80,
        "augmentation": 1}

STORIES = """
version: "3.1"
stories:
- story: weather for premium users
  steps:
  - intent: greet
  - action: utter_greet
  - slot_was_set:
    - premium: true
  - intent: ask_weather
  - action: utter_premium
  - intent: thanks
  - action: utter_noworries
- story: weather for everyone else
  steps:
  - intent: greet
  - action: utter_greet
  - slot_was_set:
    - premium: false
  - intent: ask_weather
  - action: utter_basic
- story: goodbye
  steps:
  - intent: bye
  - action: utter_bye
"""


def greeted(premium: bool) -> list:
    """The start of the weather stories: greeting, then the slot set."""
    return [*said("greet"), act("utter_greet"), SlotSet(name="premium", value=premium)]


def test_learns_the_stories(dialogue_project) -> None:
    project = dialogue_project(stories=STORIES)
    policy = trained(TransformerPolicy(TINY), project)
    domain = project.domain
    assert policy.training_summary["samples"] > 0
    assert policy.training_summary["reached_target"]
    cases = [
        (said("greet"), "utter_greet"),
        (greeted(True), "action_listen"),
        ([*greeted(True), *said("ask_weather")], "utter_premium"),
        ([*greeted(False), *said("ask_weather")], "utter_basic"),
        ([*greeted(True), *said("ask_weather"), act("utter_premium"), *said("thanks")],
         "utter_noworries"),
        (said("bye"), "utter_bye"),
    ]
    for events, expected in cases:
        prediction = policy.predict(tracker(domain, *events), domain)
        assert prediction.action_name == expected, events
        assert prediction.policy_name == "TransformerPolicy" and prediction.priority == 1
        assert 0.3 < prediction.confidence < 1.0
        assert abs(sum(prediction.probabilities.values()) - 1.0) < 1e-4


def test_a_story_after_another_one_is_recognised(dialogue_project) -> None:
    project = dialogue_project(stories=STORIES)
    policy = trained(TransformerPolicy(TINY), project)
    domain = project.domain
    events = [*said("bye"), act("utter_bye"), *said("greet")]
    assert policy.predict(tracker(domain, *events), domain).action_name == "utter_greet"


def test_same_seed_same_model_other_seed_other_model(dialogue_project) -> None:
    project = dialogue_project(stories=STORIES)
    first = trained(TransformerPolicy(TINY), project, seed=7)
    second = trained(TransformerPolicy(TINY), project, seed=7)
    third = trained(TransformerPolicy(TINY), project, seed=8)
    for name, tensor in first.model.state_dict().items():
        assert torch.equal(tensor, second.model.state_dict()[name]), name
    assert any(not torch.equal(t, third.model.state_dict()[n])
               for n, t in first.model.state_dict().items())


def test_round_trip_through_storage(dialogue_project, tmp_path) -> None:
    project = dialogue_project(stories=STORIES)
    policy = trained(TransformerPolicy(TINY), project)
    storage = ComponentStorage(tmp_path / "transformer")
    policy.persist(storage)
    assert sorted(p.name for p in storage.root.iterdir()) == ["model.safetensors",
                                                              "transformer_policy.json"]
    loaded = TransformerPolicy.load(policy.config, storage)
    featurizer = policy.featurizer(project.domain)
    state = Conversation.from_events([*greeted(True), *said("ask_weather")], featurizer)
    assert loaded.probabilities(state) == policy.probabilities(state)


def test_without_stories_it_predicts_nothing(dialogue_project, tmp_path) -> None:
    project = dialogue_project(rules="""
        version: "3.1"
        rules:
        - rule: greet
          steps:
          - intent: greet
          - action: utter_greet
        """)
    policy = trained(TransformerPolicy(TINY), project)
    assert policy.predict(tracker(project.domain, *said("greet")), project.domain).confidence == 0
    storage = ComponentStorage(tmp_path / "empty")
    policy.persist(storage)
    loaded = TransformerPolicy.load(policy.config, storage)
    assert loaded.model is None


def test_a_window_seen_before_is_answered_without_the_model(dialogue_project) -> None:
    project = dialogue_project(stories=STORIES)
    policy = trained(TransformerPolicy(TINY), project)
    featurizer = policy.featurizer(project.domain)
    premium = Conversation.from_events([*greeted(True), *said("ask_weather")], featurizer)
    basic = Conversation.from_events([*greeted(False), *said("ask_weather")], featurizer)
    forward_passes = []
    policy.model.register_forward_hook(lambda *_: forward_passes.append(1))
    first = policy.probabilities(premium)
    first["utter_premium"] = -1.0  # the caller's copy: changing it changes nothing stored
    again = policy.probabilities(premium)
    assert len(forward_passes) == 1 and again["utter_premium"] > 0.3
    assert max(policy.probabilities(basic), key=policy.probabilities(basic).get) == "utter_basic"
    assert len(forward_passes) == 2
    # training again forgets what the old weights said
    trained(policy, project, seed=8)
    policy.model.register_forward_hook(lambda *_: forward_passes.append(1))
    policy.probabilities(premium)
    assert len(forward_passes) == 3
