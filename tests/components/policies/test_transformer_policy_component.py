from __future__ import annotations

import torch
from policy_helpers import act, said, tracker, trained
from story_data import GREET_RULE, rules_yaml

from dialogflowlite.artifact import ComponentStorage
from dialogflowlite.components.policies.base import Conversation, PolicyContext
from dialogflowlite.components.policies.dialogues import training_dialogues
from dialogflowlite.components.policies.rasa_compat import translate_policies
from dialogflowlite.components.policies.training import training_paths
from dialogflowlite.components.policies.transformer_policy import TransformerPolicy
from dialogflowlite.io.config_reader import ComponentConfig
from dialogflowlite.shared.events import SlotSet
from dialogflowlite.training.finetune import FinetuneSource

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
    project = dialogue_project(rules=rules_yaml(GREET_RULE))
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


WHOLE = {**TINY, "max_history": None}


def longest_story(project) -> int:
    """The most actions a story of the project takes (its longest possible window)."""
    policy = TransformerPolicy(WHOLE)
    dialogues = training_dialogues(training_paths(project), policy.featurizer(project.domain),
                                   kind="story")
    return max(len(d.actions) for d in dialogues)


def test_max_history_null_reads_the_whole_longest_training_dialogue(dialogue_project) -> None:
    project = dialogue_project(stories=STORIES)
    policy = trained(TransformerPolicy({**WHOLE, "augmentation": 0}), project)
    assert policy.history_size == policy.model.config.max_history == longest_story(project)
    assert policy.history_size > 5  # longer than the default window
    # augmented stories (two glued together) are longer, and the size comes from them
    augmented = trained(TransformerPolicy({**WHOLE, "augmentation": 3}), project)
    assert augmented.history_size > longest_story(project)
    domain = project.domain
    premium = [*greeted(True), *said("ask_weather"), act("utter_premium"), *said("thanks")]
    assert policy.predict(tracker(domain, *premium), domain).action_name == "utter_noworries"


def test_a_set_max_history_still_bounds_the_model(dialogue_project) -> None:
    policy = trained(TransformerPolicy({**TINY, "max_history": 2}),
                     dialogue_project(stories=STORIES))
    assert policy.history_size == policy.model.config.max_history == 2


def test_the_sized_history_is_saved_and_longer_conversations_keep_their_last_states(
        dialogue_project, tmp_path) -> None:
    project = dialogue_project(stories=STORIES)
    policy = trained(TransformerPolicy(WHOLE), project)
    storage = ComponentStorage(tmp_path / "whole")
    policy.persist(storage)
    loaded = TransformerPolicy.load(policy.config, storage)
    assert loaded.config["max_history"] is None
    assert loaded.history_size == policy.history_size
    featurizer = policy.featurizer(project.domain)
    chatter = [event for _ in range(policy.history_size) for event in
               [*said("bye"), act("utter_bye")]]
    events = [*chatter, *greeted(True), *said("ask_weather")]
    long = Conversation.from_events(events, featurizer)
    assert len(long.states) > loaded.history_size
    last = Conversation(long.events, long.states[-loaded.history_size:])
    assert loaded.probabilities(long) == loaded.probabilities(last)
    assert max(loaded.probabilities(long), key=loaded.probabilities(long).get) == \
        "utter_premium"


def test_ted_policy_max_history_null_carries_over_and_no_key_keeps_5() -> None:
    whole, default = translate_policies([
        ComponentConfig("TEDPolicy", {"max_history": None, "epochs": 10}),
        ComponentConfig("TEDPolicy", {"epochs": 10})], quiet=True)
    assert TransformerPolicy(whole.params).history_size is None
    assert TransformerPolicy(default.params).history_size == 5


def test_fine_tuning_with_max_history_null_keeps_the_stored_size(dialogue_project,
                                                                  tmp_path) -> None:
    project = dialogue_project(stories=STORIES)
    base = trained(TransformerPolicy({**WHOLE, "augmentation": 0}), project)
    storage = ComponentStorage(tmp_path / "base")
    base.persist(storage)
    source = FinetuneSource(model=tmp_path / "base.tar", storage=storage, config=base.config,
                            fingerprint="base")
    # glued stories are longer than the stored size: their windows keep their last states
    tuned = TransformerPolicy({**WHOLE, "augmentation": 3})
    tuned.train(training_paths(project), project.domain,
                PolicyContext(progress=False, finetune_from=source, epoch_fraction=0.5))
    assert tuned.history_size == tuned.model.config.max_history == base.history_size
