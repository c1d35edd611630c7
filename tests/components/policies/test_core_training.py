from __future__ import annotations

import logging
from itertools import count
from pathlib import Path

import pytest
from policy_helpers import said, tracker
from story_data import GREET_RULE, THANKS_STORY, rules_yaml, stories_yaml
from weather_stories import GREET_WITH_A_WELCOME_STORY

from dialogflowlite.artifact import ModelWriter, open_model
from dialogflowlite.components.policies.ensemble import PolicyEnsemble
from dialogflowlite.components.policies.rasa_compat import translate_policies
from dialogflowlite.components.policies.training import CoreSection
from dialogflowlite.components.policies.transformer_policy import TransformerPolicy
from dialogflowlite.errors import ConfigError, Position, TrainingError
from dialogflowlite.io.config_reader import ComponentConfig
from dialogflowlite.training.trainer import TrainingContext, TrainOptions

CONFIG = """
language: en
policies:
  - name: MemoizationPolicy
    max_history: 3
  - name: RulePolicy
    core_fallback_threshold: 0.35
  - name: TransformerPolicy
    hidden_size: 16
    num_heads: 2
    epochs: 30
"""

RULES = rules_yaml(GREET_RULE)

STORIES = stories_yaml(THANKS_STORY)

_models = count()


def run_core(project, tmp_path: Path, previous: Path | None = None,
             **options) -> tuple[TrainingContext, Path]:
    writer = ModelWriter()
    archive = open_model(previous) if previous is not None else None
    try:
        context = TrainingContext(writer, archive, TrainOptions(progress=False, **options))
        writer.manifest.sections["core"] = CoreSection().train(project, context)
        return context, writer.save(tmp_path / f"model{next(_models)}.tar")
    finally:
        writer.close()
        if archive is not None:
            archive.close()


def test_trains_every_policy_and_the_ensemble_loads_them(dialogue_project, tmp_path) -> None:
    project = dialogue_project(rules=RULES, stories=STORIES, config=CONFIG)
    context, path = run_core(project, tmp_path)
    assert sorted(context.trained) == ["policy_0_MemoizationPolicy", "policy_1_RulePolicy",
                                       "policy_2_TransformerPolicy"]
    archive = open_model(path)
    entry = archive.manifest.sections["core"]
    assert [p["name"] for p in entry["policies"]] == ["MemoizationPolicy", "RulePolicy",
                                                      "TransformerPolicy"]
    assert entry["policies"][0]["config"]["max_history"] == 3
    assert (entry["stories"], entry["rules"]) == (1, 1)
    ensemble = PolicyEnsemble.load(archive, project.domain)
    rule_policy = ensemble.policies[1]
    assert rule_policy.config["core_fallback_threshold"] == 0.35
    domain = project.domain
    greet = ensemble.predict_next_action(tracker(domain, *said("greet")), domain)
    assert (greet.action_name, greet.policy_name) == ("utter_greet", "RulePolicy")
    thanks = ensemble.predict_next_action(tracker(domain, *said("thanks")), domain)
    assert (thanks.action_name, thanks.policy_name) == ("utter_noworries", "MemoizationPolicy")


def test_unchanged_policies_are_reused_and_changed_ones_retrained(dialogue_project,
                                                                   tmp_path) -> None:
    project = dialogue_project(rules=RULES, stories=STORIES, config=CONFIG)
    _, first = run_core(project, tmp_path)
    again, second = run_core(project, tmp_path, previous=first)
    assert again.trained == [] and len(again.reused) == 3
    assert PolicyEnsemble.load(open_model(second), project.domain).policies

    # a new rule: only the rule policy reads rules
    changed_rules = dialogue_project(rules=RULES + """
- rule: bye
  steps:
  - intent: bye
  - action: utter_bye
""", stories=STORIES, config=CONFIG)
    context, _ = run_core(changed_rules, tmp_path, previous=second)
    assert context.trained == ["policy_1_RulePolicy"]
    # a new story: every policy learns from stories
    changed_stories = dialogue_project(rules=RULES, stories=STORIES + """
- story: bye
  steps:
  - intent: bye
  - action: utter_bye
""", config=CONFIG)
    context, _ = run_core(changed_stories, tmp_path, previous=second)
    assert len(context.trained) == 3
    # another seed trains again too
    context, _ = run_core(project, tmp_path, previous=second, seed=5)
    assert len(context.trained) == 3


def test_rasa_policy_names_are_translated_with_a_notice(caplog) -> None:
    configs = [ComponentConfig("TEDPolicy", {"epochs": 200, "max_history": 4,
                                             "constrain_similarities": True}),
               ComponentConfig("AugmentedMemoizationPolicy"),
               ComponentConfig("UnexpecTEDIntentPolicy", {"epochs": 100}),
               ComponentConfig("RulePolicy")]
    with caplog.at_level(logging.WARNING):
        translated = translate_policies(configs)
    assert [(c.name, c.params) for c in translated] == [
        ("TransformerPolicy", {"max_history": 4}), ("AugmentedMemoizationPolicy", {}),
        ("RulePolicy", {})]
    notices = [r.getMessage() for r in caplog.records]
    assert any("TEDPolicy is provided here by TransformerPolicy" in n
               and "settings not used: constrain_similarities, epochs" in n for n in notices)
    assert any("UnexpecTEDIntentPolicy is not used" in n for n in notices)
    # the position comes last, as in the pipeline's notices
    placed = ComponentConfig("TEDPolicy", {"epochs": 5}, Position("config.yml", 13, 5))
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        translate_policies([placed])
    assert caplog.records[0].getMessage() == (
        "notice: TEDPolicy is provided here by TransformerPolicy, which sizes and stops its "
        "own training; settings not used: epochs (config.yml:13:5)")
    assert [c.name for c in translate_policies([])] == ["MemoizationPolicy", "RulePolicy",
                                                        "TransformerPolicy"]
    caplog.clear()
    assert translate_policies(configs, quiet=True) == translated
    assert not caplog.records


def test_a_project_without_policies_gets_the_defaults(dialogue_project, tmp_path,
                                                      monkeypatch) -> None:
    monkeypatch.setattr(TransformerPolicy, "defaults",
                        {**TransformerPolicy.defaults, "hidden_size": 16, "num_heads": 2,
                         "epochs": 20})
    project = dialogue_project(rules=RULES, stories=STORIES)
    context, _ = run_core(project, tmp_path)
    assert sorted(context.trained) == ["policy_0_MemoizationPolicy", "policy_1_RulePolicy",
                                       "policy_2_TransformerPolicy"]


def test_a_component_that_is_not_a_policy_is_refused(dialogue_project, tmp_path) -> None:
    project = dialogue_project(rules=RULES, config="""
        language: en
        policies:
          - name: WhitespaceTokenizer
        """)
    with pytest.raises(ConfigError, match="not a policy") as caught:
        run_core(project, tmp_path)
    assert caught.value.position is not None and caught.value.position.line == 3


def test_contradictions_stop_training_before_the_slow_policies(dialogue_project, tmp_path,
                                                               monkeypatch) -> None:
    def never(*args, **kwargs):
        raise AssertionError("the transformer policy must not train")

    monkeypatch.setattr(TransformerPolicy, "train", never)
    project = dialogue_project(rules=RULES, config=CONFIG,
                               stories=stories_yaml(GREET_WITH_A_WELCOME_STORY))
    with pytest.raises(TrainingError, match="contradicting rules or stories"):
        run_core(project, tmp_path)
    with pytest.raises(TrainingError, match="contradicting rules or stories"):
        CoreSection().check(project)
    CoreSection().check(dialogue_project(rules=RULES, stories=STORIES, config=CONFIG))
