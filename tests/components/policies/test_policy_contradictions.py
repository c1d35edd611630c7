from __future__ import annotations

import pytest
from policy_helpers import trained
from story_data import stories_yaml
from weather_stories import GREET_WITH_A_WELCOME_STORY, WEATHER_STORY

from dialogflowlite.components.policies.rule import RulePolicy
from dialogflowlite.errors import TrainingError

GREET_RULE = """
version: "3.1"
rules:
- rule: greet back
  steps:
  - intent: greet
  - action: utter_greet
"""


def test_a_story_contradicting_a_rule_names_both_with_file_and_line(dialogue_project) -> None:
    project = dialogue_project(rules=GREET_RULE, stories=stories_yaml(GREET_WITH_A_WELCOME_STORY))
    with pytest.raises(TrainingError) as caught:
        trained(RulePolicy(), project)
    message = str(caught.value)
    root = project.root
    assert f"{root / 'data/stories.yml'}:6:" in message  # the story's action step
    assert "story 'greet with a welcome' runs 'utter_welcome'" in message
    assert f"rule 'greet back' ({root / 'data/rules.yml'}:6:" in message
    assert "predicts 'utter_greet'" in message
    assert caught.value.position is not None and caught.value.position.line == 6


def test_rules_contradicting_each_other_are_named_with_their_actions(dialogue_project) -> None:
    project = dialogue_project(rules=GREET_RULE + """
- rule: greet with a welcome
  steps:
  - intent: greet
  - action: utter_welcome
""")
    with pytest.raises(TrainingError) as caught:
        trained(RulePolicy(), project)
    message = str(caught.value)
    rules_file = project.root / "data/rules.yml"
    assert f"rule 'greet back' ({rules_file}:6:" in message
    assert f"rule 'greet with a welcome' ({rules_file}:11:" in message
    assert "runs 'utter_greet'" in message and "runs 'utter_welcome'" in message
    assert message.count("\n- ") == 1  # reported once, not once per rule


def test_a_rule_contradicting_a_later_step_of_a_story(dialogue_project) -> None:
    project = dialogue_project(rules="""
        version: "3.1"
        rules:
        - rule: weather, then done
          steps:
          - action: utter_weather
          - action: utter_done
        """, stories="""
        version: "3.1"
        stories:
        - story: weather, then listen
          steps:
          - intent: greet
          - action: utter_greet
          - intent: ask_weather
          - action: utter_weather
          - intent: thanks
          - action: utter_noworries
        """)
    with pytest.raises(TrainingError) as caught:
        trained(RulePolicy(), project)
    message = str(caught.value)
    assert "story 'weather, then listen' runs 'action_listen'" in message
    assert "rule 'weather, then done'" in message and "predicts 'utter_done'" in message


def test_agreeing_rules_and_stories_train(dialogue_project) -> None:
    project = dialogue_project(rules=GREET_RULE, stories=stories_yaml(WEATHER_STORY))
    policy = trained(RulePolicy(), project)
    assert len(policy.rules) == 2  # greet -> utter_greet, then listen


def test_the_check_can_be_switched_off(dialogue_project) -> None:
    project = dialogue_project(rules=GREET_RULE, stories=stories_yaml(GREET_WITH_A_WELCOME_STORY))
    policy = trained(RulePolicy({"check_for_contradictions": False}), project)
    assert policy.rules


def test_rules_hold_at_most_one_user_turn(dialogue_project) -> None:
    long_rule = """
        version: "3.1"
        rules:
        - rule: a state machine
          steps:
          - intent: greet
          - action: utter_greet
          - intent: ask_weather
          - action: utter_weather
        """
    project = dialogue_project(rules=long_rule)
    with pytest.raises(TrainingError) as caught:
        trained(RulePolicy(), project)
    assert f"{project.root / 'data/rules.yml'}:3:" in str(caught.value)
    assert "'a state machine' has 2 user turns" in str(caught.value)
    assert "restrict_rules" in str(caught.value)
    policy = trained(RulePolicy({"restrict_rules": False}), dialogue_project(rules=long_rule))
    assert policy.rules
