"""Models saved at policy revision 2 predict as a model trained now.

Revision 2 kept, in the dialogue states, entities the domain does not declare
(for example one the NLU finds but the domain never lists); states made now
leave them out. A loaded revision-2 lookup or rule set is read the same way,
so such a model predicts as its retrained self would, before it is retrained.
"""

from __future__ import annotations

from dataclasses import replace

import pytest
from policy_helpers import act, listen, said, tracker, trained, user

from dialogflowlite.artifact import ComponentStorage
from dialogflowlite.components.policies.base import REVISION_KEY
from dialogflowlite.components.policies.memoization import (
    LOOKUP_FILE,
    AugmentedMemoizationPolicy,
    MemoizationPolicy,
)
from dialogflowlite.components.policies.rule import RULES_FILE, RulePolicy
from dialogflowlite.components.policies.states import StateFeaturizer

# `colour` is no entity of the domain (tests/components/policies/conftest.py)
STORIES = """
version: "3.1"
stories:
- story: colour then weather
  steps:
  - intent: inform
    entities: [{colour: red}]
  - action: utter_done
  - intent: ask_weather
  - action: utter_weather
- story: city
  steps:
  - intent: inform
    entities: [{city: Paris}]
  - action: utter_weather
"""

RULES = """
version: "3.1"
rules:
- rule: colour is chitchat
  steps:
  - intent: chitchat
    entities: [{colour: red}]
  - action: utter_chitchat
"""


def colour(value: str = "red") -> dict:
    return {"entity": "colour", "value": value}


def city() -> dict:
    return {"entity": "city", "value": "Paris"}


CONVERSATIONS = [
    [listen(), user("inform", colour())],
    [listen(), user("inform", colour()), act("utter_done"), listen(), user("ask_weather")],
    [listen(), user("inform", city())],
    [*said("greet"), act("utter_greet"), listen(), user("inform", colour())],
    [listen(), user("chitchat", colour())],
    [listen(), user("chitchat")],
]


@pytest.fixture
def revision_2_states(monkeypatch):
    """While active, states keep entities the domain does not declare, as revision 2 did."""
    now = StateFeaturizer.entity_labels

    def with_undeclared(self, intent, entities):
        entities = list(entities)
        undeclared = {e["entity"] for e in entities
                      if e.get("entity") and e["entity"] not in self.domain.entities}
        return tuple(sorted(set(now(self, intent, entities)) | undeclared))

    def start() -> None:
        monkeypatch.setattr(StateFeaturizer, "entity_labels", with_undeclared)

    def stop() -> None:
        monkeypatch.setattr(StateFeaturizer, "entity_labels", now)

    return start, stop


@pytest.mark.parametrize("policy_class", [MemoizationPolicy, AugmentedMemoizationPolicy,
                                          RulePolicy])
def test_a_revision_2_model_predicts_as_a_retrained_one(policy_class, dialogue_project,
                                                       revision_2_states, tmp_path) -> None:
    project = dialogue_project(stories=STORIES, rules=RULES)
    domain = project.domain
    start, stop = revision_2_states
    start()
    old = trained(policy_class({}), project)
    stop()
    saved = old.lookup if isinstance(old, MemoizationPolicy) else old.rules
    assert any("colour" in state.entities for key in saved for state in key)
    storage = ComponentStorage(tmp_path / "old")
    old.persist(storage)
    as_saved_by_revision_2(storage)

    loaded = policy_class.load(old.config, storage)
    retrained = trained(policy_class({}), project)
    for events in CONVERSATIONS:
        expected = retrained.predict(_tracker(domain, events), domain)
        got = loaded.predict(_tracker(domain, events), domain)
        assert (got.action_name, got.confidence) == (expected.action_name,
                                                     expected.confidence), events
    # the conversations reach what the undeclared entity was saved with
    assert any(retrained.predict(_tracker(domain, events), domain).confidence == 1.0
               for events in CONVERSATIONS)


def test_keys_that_become_equal_with_different_actions_are_forgotten(
        dialogue_project, tmp_path) -> None:
    project = dialogue_project(stories=STORIES)
    domain = project.domain
    policy = MemoizationPolicy({"max_history": 2})
    featurizer = StateFeaturizer(domain)
    plain = featurizer.states([listen(), user("inform")])
    with_colour = [plain[0], replace(plain[1], entities=("colour",))]
    policy.lookup = {tuple(plain): "utter_done", tuple(with_colour): "utter_weather"}
    storage = ComponentStorage(tmp_path / "old")
    policy.persist(storage)
    as_saved_by_revision_2(storage)
    loaded = MemoizationPolicy.load(policy.config, storage)
    assert loaded.predict(_tracker(domain, [listen(), user("inform", colour())]),
                          domain).action_name is None
    assert loaded.lookup == {}


def as_saved_by_revision_2(storage: ComponentStorage) -> None:
    """Remove the revision a policy records, as revision 2 (which recorded none) saved."""
    for name in (LOOKUP_FILE, RULES_FILE):
        if storage.exists(name):
            data = storage.read_json(name)
            del data[REVISION_KEY]
            storage.write_json(name, data)


def _tracker(domain, events):
    return tracker(domain, *events)
