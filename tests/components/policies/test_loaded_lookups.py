"""What a loaded memoization lookup or rule set does before its first prediction.

Only a model saved before states left out the entities the domain does not declare
(policy revision 3) has its saved states read again against the domain; a model
saved since predicts from what it saved, without reading it again. A lookup replaced
after a prediction is the one the next prediction uses.
"""

from __future__ import annotations

import pytest
from policy_helpers import act, predict, said, trained
from story_data import GREET_RULE, GREET_STORY, rules_yaml, stories_yaml

from dialogflowlite.artifact import ComponentStorage
from dialogflowlite.components.policies.base import REVISION_KEY
from dialogflowlite.components.policies.dialogues import unambiguous
from dialogflowlite.components.policies.memoization import (
    LOOKUP_FILE,
    AugmentedMemoizationPolicy,
    MemoizationPolicy,
)
from dialogflowlite.components.policies.rule import RULES_FILE, RulePolicy
from dialogflowlite.components.policies.states import StateFeaturizer

STORIES = stories_yaml(GREET_STORY, """\
- story: bye
  steps:
  - intent: bye
  - action: utter_bye
""")

RULES = rules_yaml(GREET_RULE)


@pytest.fixture
def entity_reads(monkeypatch) -> list[int]:
    """Counts the states read again against the domain's entities."""
    reads: list[int] = []
    read = StateFeaturizer.with_used_entities

    def counted(self, state):
        reads.append(1)
        return read(self, state)

    monkeypatch.setattr(StateFeaturizer, "with_used_entities", counted)
    return reads


def saved_as(storage: ComponentStorage, revision: int | None) -> None:
    """Record ``revision`` in what the policy saved (None: no revision, as before
    revisions were recorded)."""
    for name in (LOOKUP_FILE, RULES_FILE):
        if storage.exists(name):
            data = storage.read_json(name)
            del data[REVISION_KEY]
            if revision is not None:
                data[REVISION_KEY] = revision
            storage.write_json(name, data)


@pytest.mark.parametrize("policy_class", [MemoizationPolicy, AugmentedMemoizationPolicy,
                                          RulePolicy])
@pytest.mark.parametrize(("revision", "read_again"), [("current", False), (3, False),
                                                      (2, True), (None, True)])
def test_only_a_model_saved_before_revision_3_is_read_again(
        policy_class, revision, read_again, dialogue_project, entity_reads,
        tmp_path) -> None:
    project = dialogue_project(stories=STORIES, rules=RULES)
    domain = project.domain
    policy = trained(policy_class({}), project)
    storage = ComponentStorage(tmp_path / "saved")
    policy.persist(storage)
    if revision != "current":
        saved_as(storage, revision)
    loaded = policy_class.load(policy.config, storage)
    entity_reads.clear()
    got = predict(loaded, domain, *said("greet"))
    assert got.action_name == "utter_greet"
    assert bool(entity_reads) is read_again


def test_a_replaced_lookup_of_the_same_size_is_the_one_recalled(dialogue_project) -> None:
    project = dialogue_project(stories=STORIES)
    domain = project.domain
    policy = trained(AugmentedMemoizationPolicy({"max_history": None}), project)
    # the start of the conversation is forgotten to match: the keys are read as a tree
    events = [*said("bye"), act("utter_bye"), *said("greet")]
    assert predict(policy, domain, *events).action_name == "utter_greet"
    swapped = [(key, "utter_welcome" if action == "utter_greet" else action)
               for key, action in policy.lookup.items()]
    # a lookup freed and another made right after may take its place in memory (a
    # comprehension reuses a freed dict in CPython; dict() does not)
    policy.lookup = {}
    policy.lookup = {key: action for key, action in swapped}
    assert predict(policy, domain, *events).action_name == "utter_welcome"


def test_unambiguous_forgets_keys_paired_with_different_actions() -> None:
    pairs = [("a", "x"), ("b", "y"), ("a", "z"), ("c", "x"), ("a", "x"), ("b", "y")]
    assert unambiguous(pairs) == {"b": "y", "c": "x"}
    assert list(unambiguous([("b", "y"), ("c", "x"), ("b", "y")])) == ["b", "c"]
