"""TransformerPolicy on a GPU: trained there (the held-out checks after each epoch run
there too), it ends on the CPU, predicts, saves, loads and fine-tunes.

Skipped where torch sees no CUDA device; the rest of the suite trains on the CPU.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from policy_helpers import act, predict, said, trained

from dialogflowlite.artifact import ComponentStorage
from dialogflowlite.components.policies.base import PolicyContext
from dialogflowlite.components.policies.training import training_paths
from dialogflowlite.components.policies.transformer_policy import TransformerPolicy
from dialogflowlite.training.finetune import FinetuneSource

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")

TINY = {"hidden_size": 16, "num_heads": 2, "intermediate_size": 32, "epochs": 80,
        "augmentation": 1}
STORIES = """
version: "3.1"
stories:
- story: greet then weather
  steps:
  - intent: greet
  - action: utter_greet
  - intent: ask_weather
  - action: utter_basic
- story: goodbye
  steps:
  - intent: bye
  - action: utter_bye
"""
CASES = [(said("greet"), "utter_greet"),
         ([*said("greet"), act("utter_greet"), *said("ask_weather")], "utter_basic"),
         (said("bye"), "utter_bye")]


def _best(policy, domain, events) -> str:
    probabilities = predict(policy, domain, *events).probabilities
    return max(probabilities, key=probabilities.__getitem__)


def test_trains_predicts_saves_and_fine_tunes_on_the_gpu(dialogue_project,
                                                         tmp_path: Path) -> None:
    project = dialogue_project(stories=STORIES)
    domain = project.domain
    policy = TransformerPolicy(TINY)
    policy.train(training_paths(project), domain,
                 PolicyContext(seed=42, progress=False, device="cuda"))
    assert next(policy.model.parameters()).device.type == "cpu"
    assert [_best(policy, domain, events) for events, _ in CASES] == [a for _, a in CASES]

    storage = ComponentStorage(tmp_path / "policy")
    policy.persist(storage)
    loaded = TransformerPolicy.load(policy.config, storage)
    assert next(loaded.model.parameters()).device.type == "cpu"
    assert [_best(loaded, domain, events) for events, _ in CASES] == [a for _, a in CASES]

    again = TransformerPolicy(TINY)
    again.train(training_paths(project), domain, PolicyContext(
        seed=42, progress=False, device="cuda", epoch_fraction=0.5,
        finetune_from=FinetuneSource(tmp_path / "model.tar", storage, policy.config, "core")))
    assert [_best(again, domain, events) for events, _ in CASES] == [a for _, a in CASES]


def test_a_policy_trained_on_the_gpu_ends_on_the_cpu(dialogue_project) -> None:
    # no device given: the GPU, which the policy leaves once trained
    project = dialogue_project(stories=STORIES)
    policy = trained(TransformerPolicy(TINY), project)
    assert next(policy.model.parameters()).device.type == "cpu"
