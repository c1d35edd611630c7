from __future__ import annotations

import pytest
from policy_helpers import act, listen, predict, said, trained, user
from story_data import GREET_RULE, rules_yaml, stories_yaml
from weather_stories import (
    START_THE_FORM_RULE,
    STOP_THE_FORM_STEPS,
    STOP_THE_FORM_THEN_GO_ON_STORY,
)

from dialogflowlite.artifact import ComponentStorage
from dialogflowlite.components.policies.rule import RulePolicy
from dialogflowlite.errors import ComponentConfigError
from dialogflowlite.shared.events import (
    ActionExecutionRejected,
    ActiveLoop,
    LoopInterrupted,
    SlotSet,
)

RULES = rules_yaml(GREET_RULE, """\
- rule: premium users get the premium answer
  condition:
  - slot_was_set:
    - premium: true
  steps:
  - intent: ask_weather
  - action: utter_premium
- rule: others get the basic answer
  condition:
  - slot_was_set:
    - premium: false
  steps:
  - intent: ask_weather
  - action: utter_basic
- rule: welcome only at the start
  conversation_start: true
  steps:
  - intent: thanks
  - action: utter_welcome
- rule: thanks later
  steps:
  - intent: thanks
  - action: utter_noworries
- rule: bye and go on
  steps:
  - intent: bye
  - action: utter_bye
  wait_for_user_input: false
- rule: after bye
  steps:
  - action: utter_bye
  - action: utter_done
""")

FORM_RULES = rules_yaml(START_THE_FORM_RULE, """\
- rule: submit the form
  condition:
  - active_loop: weather_form
  steps:
  - action: weather_form
  - active_loop: null
  - action: utter_weather
- rule: chitchat
  steps:
  - intent: chitchat
  - action: utter_chitchat
- rule: greet inside the form only
  condition:
  - active_loop: weather_form
  steps:
  - intent: greet
  - action: utter_greet
  - action: weather_form
  - active_loop: weather_form
""")

FORM_STORIES = stories_yaml(STOP_THE_FORM_THEN_GO_ON_STORY, """\
- story: stop the form, then cancel
  steps:
""" + STOP_THE_FORM_STEPS + """\
  - intent: deny
  - action: action_deactivate_loop
  - active_loop: null
  - action: utter_cancelled
""")

IN_FORM = [*said("ask_weather"), act("weather_form"), ActiveLoop(name="weather_form")]


def rule_policy(dialogue_project, rules: str = RULES, stories: str | None = None,
                **config) -> tuple[RulePolicy, object]:
    project = dialogue_project(rules=rules, stories=stories)
    return trained(RulePolicy(config), project), project.domain


def test_a_rule_predicts_its_action_and_then_listening(dialogue_project) -> None:
    policy, domain = rule_policy(dialogue_project)
    prediction = predict(policy, domain, *said("greet"))
    # the fallback keeps its score next to the rule's action, as in Rasa
    assert prediction.probabilities == {"action_default_fallback": 0.3, "utter_greet": 1.0}
    assert prediction.action_name == "utter_greet"
    assert prediction.policy_name == "RulePolicy" and prediction.priority == 4
    assert predict(policy, domain, *said("greet"), act("utter_greet")).action_name == \
        "action_listen"
    # later in a conversation too
    later = [*said("bye"), act("utter_bye"), act("utter_done"), listen(), user("greet")]
    assert predict(policy, domain, *later).action_name == "utter_greet"


def test_no_rule_means_the_fallback_action_at_the_threshold(dialogue_project) -> None:
    policy, domain = rule_policy(dialogue_project, core_fallback_threshold=0.25)
    prediction = predict(policy, domain, *said("chitchat"))
    assert prediction.probabilities == {"action_default_fallback": 0.25}
    quiet, domain = rule_policy(dialogue_project, enable_fallback_prediction=False)
    assert predict(quiet, domain, *said("chitchat")).probabilities == {}


def test_slot_conditions_choose_the_rule(dialogue_project) -> None:
    policy, domain = rule_policy(dialogue_project)
    premium = predict(policy, domain, SlotSet(name="premium", value=True), *said("ask_weather"))
    assert premium.action_name == "utter_premium"
    basic = predict(policy, domain, SlotSet(name="premium", value=False), *said("ask_weather"))
    assert basic.action_name == "utter_basic"
    unknown = predict(policy, domain, *said("ask_weather"))
    assert unknown.action_name == "action_default_fallback"


def test_conversation_start_rules_apply_only_at_the_start(dialogue_project) -> None:
    policy, domain = rule_policy(dialogue_project)
    assert predict(policy, domain, *said("thanks")).action_name == "utter_welcome"
    later = [*said("greet"), act("utter_greet"), *said("thanks")]
    assert predict(policy, domain, *later).action_name == "utter_noworries"


def test_a_rule_without_waiting_for_the_user_hands_over_to_the_next(dialogue_project) -> None:
    policy, domain = rule_policy(dialogue_project)
    after_bye = [*said("bye"), act("utter_bye")]
    assert predict(policy, domain, *after_bye).action_name == "utter_done"
    assert predict(policy, domain, *after_bye, act("utter_done")).action_name == "action_listen"


def test_default_intents_run_their_actions(dialogue_project) -> None:
    policy, domain = rule_policy(dialogue_project)
    assert predict(policy, domain, *said("restart")).action_name == "action_restart"
    assert predict(policy, domain, *said("back")).action_name == "action_back"


def test_an_active_loop_runs_until_it_rejects(dialogue_project) -> None:
    policy, domain = rule_policy(dialogue_project, rules=FORM_RULES)
    assert predict(policy, domain, *said("ask_weather")).action_name == "weather_form"
    happy = predict(policy, domain, *IN_FORM)
    assert happy.action_name == "action_listen" and happy.is_no_user_prediction
    answer = predict(policy, domain, *IN_FORM, *said("inform"))
    assert answer.action_name == "weather_form" and answer.is_no_user_prediction
    # the loop answered the user, then deactivated: the submit rule decides what follows
    done = [*IN_FORM, *said("inform"), act("weather_form"), ActiveLoop(name=None)]
    assert predict(policy, domain, *done).action_name == "utter_weather"


def test_after_a_rejection_general_rules_answer_and_hand_back_to_the_loop(
        dialogue_project) -> None:
    policy, domain = rule_policy(dialogue_project, rules=FORM_RULES)
    rejected = [*IN_FORM, *said("chitchat"), ActionExecutionRejected(name="weather_form")]
    assert predict(policy, domain, *rejected).action_name == "utter_chitchat"
    # the chitchat rule ends by listening, but inside the loop the loop comes back
    back = predict(policy, domain, *rejected, act("utter_chitchat"))
    assert back.action_name == "weather_form"
    # a rule written for the loop: greet, then back to the form
    greeted = [*IN_FORM, *said("greet"), ActionExecutionRejected(name="weather_form")]
    assert predict(policy, domain, *greeted).action_name == "utter_greet"
    assert predict(policy, domain, *greeted, act("utter_greet")).action_name == "weather_form"
    # outside the loop the same greeting rule does not apply
    assert predict(policy, domain, *said("greet")).action_name == "action_default_fallback"


def test_stories_decide_the_unhappy_path_and_the_loop_is_told_it_was_interrupted(
        dialogue_project) -> None:
    stop_rule = FORM_RULES + """
- rule: asked to stop
  steps:
  - intent: stop
  - action: utter_ask_continue
"""
    stopped = [*IN_FORM, *said("stop"), ActionExecutionRejected(name="weather_form")]
    asked = [*stopped, act("utter_ask_continue")]
    # without stories, the general rule's listening hands back to the loop
    rules_only, domain = rule_policy(dialogue_project, rules=stop_rule)
    assert predict(rules_only, domain, *asked).action_name == "weather_form"
    policy, domain = rule_policy(dialogue_project, rules=stop_rule, stories=FORM_STORIES)
    assert predict(policy, domain, *stopped).action_name == "utter_ask_continue"
    # the stories listen there instead of running the loop: the rules leave it to them
    assert predict(policy, domain, *asked).action_name == "action_default_fallback"
    going_on = predict(policy, domain, *asked, *said("affirm"))
    assert [type(e) for e in going_on.events] == [LoopInterrupted]
    assert going_on.events[0].is_interrupted
    assert predict(policy, domain, *said("greet")).events == []


def test_two_stage_fallback_is_a_loop_started_by_an_nlu_fallback_rule(dialogue_project) -> None:
    domain = """
        version: "3.1"
        intents: [greet]
        responses:
          utter_greet: [{text: hi}]
        """
    rules = """
        version: "3.1"
        rules:
        - rule: ask to rephrase
          steps:
          - intent: nlu_fallback
          - action: action_two_stage_fallback
          - active_loop: action_two_stage_fallback
        """
    project = dialogue_project(domain=domain, rules=rules)
    policy = trained(RulePolicy(), project)
    domain = project.domain
    assert predict(policy, domain, *said("nlu_fallback")).action_name == \
        "action_two_stage_fallback"
    started = [*said("nlu_fallback"), act("action_two_stage_fallback"),
               ActiveLoop(name="action_two_stage_fallback")]
    assert predict(policy, domain, *started).action_name == "action_listen"
    assert predict(policy, domain, *started, *said("greet")).action_name == \
        "action_two_stage_fallback"


def test_nlu_confidence_can_be_the_score(dialogue_project) -> None:
    policy, domain = rule_policy(dialogue_project, use_nlu_confidence_as_score=True)
    prediction = predict(policy, domain, listen(), user("greet", confidence=0.8))
    assert prediction.probabilities == {"action_default_fallback": 0.3, "utter_greet": 0.8}
    # under the fallback's score the rule loses to it, as in Rasa
    unsure = predict(policy, domain, listen(), user("greet", confidence=0.2))
    assert unsure.action_name == "action_default_fallback"
    # a tie goes to the action the domain lists first: the fallback (a default action)
    tied = predict(policy, domain, listen(), user("greet", confidence=0.3))
    assert tied.action_name == "action_default_fallback"


def test_nlu_confidence_scores_the_loop_happy_path_too(dialogue_project) -> None:
    # Rasa scores every rule prediction, the loop's included, with the NLU confidence
    policy, domain = rule_policy(dialogue_project, rules=FORM_RULES,
                                 use_nlu_confidence_as_score=True)
    events = [*said("ask_weather"), act("weather_form"), ActiveLoop(name="weather_form"),
              listen(), user("inform", confidence=0.7)]
    prediction = predict(policy, domain, *events)
    assert prediction.action_name == "weather_form" and prediction.is_no_user_prediction
    assert prediction.confidence == 0.7


def test_the_fallback_action_must_be_in_the_domain(dialogue_project) -> None:
    project = dialogue_project(rules=RULES)
    with pytest.raises(ComponentConfigError, match="action_nope"):
        trained(RulePolicy({"core_fallback_action_name": "action_nope"}), project)
    # Rasa checks the name whether or not the fallback is predicted
    with pytest.raises(ComponentConfigError, match="action_nope"):
        trained(RulePolicy({"core_fallback_action_name": "action_nope",
                            "enable_fallback_prediction": False}), project)


def test_rules_round_trip_through_storage(dialogue_project, tmp_path) -> None:
    policy, domain = rule_policy(dialogue_project, rules=FORM_RULES, stories=FORM_STORIES)
    storage = ComponentStorage(tmp_path / "rules")
    policy.persist(storage)
    loaded = RulePolicy.load(policy.config, storage)
    assert loaded.rules == policy.rules and loaded.loop_unhappy == policy.loop_unhappy
    rejected = [*IN_FORM, *said("chitchat"), ActionExecutionRejected(name="weather_form"),
                act("utter_chitchat")]
    assert predict(loaded, domain, *rejected).action_name == "weather_form"
