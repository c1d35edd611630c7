"""``test core`` replays a rule's turn as Rasa's ``rasa test core`` does: not hidden.

Live, an action chosen by a rule that no story follows is logged with
``hide_rule_turn``, and story-based policies do not see its turn. Rasa's story
test logs every correctly predicted action without that flag, so there the
policies do see it, and a test story with such an FAQ turn in the middle of a
story can fail where the live bot goes on with the story. The test here
scores test stories as Rasa does.
"""

from __future__ import annotations

import asyncio

from story_data import ASK_CITY_STEPS, CITY_WEATHER_STORY, INFORM_CITY_STEPS, stories_yaml

from dialogflowlite.agent import Agent
from dialogflowlite.components.policies.base import PolicyContext
from dialogflowlite.components.policies.ensemble import PolicyEnsemble
from dialogflowlite.components.policies.memoization import MemoizationPolicy
from dialogflowlite.components.policies.rule import RulePolicy
from dialogflowlite.components.policies.training import training_paths
from dialogflowlite.evaluation.stories import evaluate_stories
from dialogflowlite.io.loader import load_project
from dialogflowlite.shared.events import ActionExecuted

DOMAIN = """
version: "3.1"
intents: [greet, ask_weather, inform, chitchat, thanks]
entities: [city]
slots:
  city:
    type: text
    mappings: [{type: from_entity, entity: city}]
responses:
  utter_greet: [{text: hi}]
  utter_ask_city: [{text: where?}]
  utter_weather: [{text: sunny}]
  utter_chitchat: [{text: chat}]
  utter_noworries: [{text: np}]
"""

STORIES = stories_yaml(CITY_WEATHER_STORY)

RULES = """
version: "3.1"
rules:
- rule: chitchat is an FAQ
  steps:
  - intent: chitchat
  - action: utter_chitchat
"""

TESTS = stories_yaml(
    "- story: weather with chitchat in between\n  steps:\n" + ASK_CITY_STEPS
    + "  - intent: chitchat\n  - action: utter_chitchat\n" + INFORM_CITY_STEPS)

def test_a_rule_turn_in_a_test_story_is_not_hidden(write_project) -> None:
    project = load_project(write_project(domain=DOMAIN, stories=STORIES, rules=RULES,
                                         tests=TESTS))
    policies = [RulePolicy(), MemoizationPolicy({"max_history": 5})]
    for policy in policies:
        policy.train(training_paths(project), project.domain, PolicyContext(progress=False))
    agent = Agent(project.domain, policies=PolicyEnsemble(policies))
    # live, the rule's turn is to be hidden from memoization
    assert "utter_chitchat" in {name for name in policies[0].rules.values()}
    assert policies[0].rules_not_in_stories

    evaluation = asyncio.run(evaluate_stories(agent, project.test_stories, parse_text=False))
    (outcome,) = evaluation.outcomes
    chitchat = next(c for c in outcome.actions if c.expected == "utter_chitchat")
    assert chitchat.predicted == "utter_chitchat" and chitchat.policy == "RulePolicy"
    logged = [e for e in outcome.events if isinstance(e, ActionExecuted)]
    assert not any(e.hide_rule_turn for e in logged)
    # memoization sees the chitchat turn, so the story's next action is not
    # remembered there: the story fails, as under `rasa test core`
    weather = next(c for c in outcome.actions if c.expected == "utter_weather")
    assert weather.predicted != "utter_weather"
    assert not outcome.passed
