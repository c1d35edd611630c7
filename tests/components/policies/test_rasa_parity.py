"""Predictions and training checks compared with what Rasa's policies do."""

from __future__ import annotations

import pytest
from policy_helpers import act, listen, predict, said, tracker, trained, user
from story_data import GREET_RULE, GREET_STORY, rules_yaml, stories_yaml
from weather_stories import START_THE_FORM_RULE, WEATHER_STORY

from dialogflowlite.components.policies.ensemble import PolicyEnsemble
from dialogflowlite.components.policies.memoization import (
    AugmentedMemoizationPolicy,
    MemoizationPolicy,
)
from dialogflowlite.components.policies.rule import RulePolicy
from dialogflowlite.components.policies.states import (
    RuleOnlyData,
    State,
    StateFeaturizer,
    hidden_turns,
    story_policy_states,
)
from dialogflowlite.errors import TrainingError
from dialogflowlite.shared.domain import Domain, EntityDef, IntentDef
from dialogflowlite.shared.events import (
    ActionExecuted,
    ActiveLoop,
    FollowupAction,
    SlotSet,
    UserUtteranceFeaturization,
)

CUSTOM_DOMAIN = """
version: "3.1"
intents: [greet, bye, ask_weather]
slots:
  premium:
    type: bool
    influence_conversation: true
    mappings: [{type: custom}]
responses:
  utter_greet: [{text: hi}]
  utter_bye: [{text: bye}]
  utter_premium: [{text: premium}]
actions:
  - action_check_premium
"""

PREMIUM_RULE = """
version: "3.1"
rules:
- rule: check then premium
  steps:
  - intent: ask_weather
  - action: action_check_premium
  - slot_was_set:
    - premium: true
  - action: utter_premium
"""

#: action_check_premium sets premium in PREMIUM_RULE; this rule leaves the slot out
CHECK_THEN_BYE = """
- rule: check then bye
  steps:
  - intent: bye
  - action: action_check_premium
  - action: utter_bye
"""

GREET_STORIES = stories_yaml(GREET_STORY)


# ---------------------------------------------------------------- incomplete rules


def test_a_rule_leaving_out_a_slot_its_action_sets_elsewhere_is_incomplete(
        dialogue_project) -> None:
    project = dialogue_project(domain=CUSTOM_DOMAIN, rules=PREMIUM_RULE + CHECK_THEN_BYE)
    with pytest.raises(TrainingError) as caught:
        trained(RulePolicy(), project)
    message = str(caught.value)
    rules_file = project.root / "data/rules.yml"
    assert "incomplete rules found" in message
    assert f"{rules_file}:14:" in message  # the action step of the incomplete rule
    assert "rule 'check then bye' is incomplete" in message
    assert "'action_check_premium' does not set the slot(s) 'premium'" in message
    assert "check then premium' is" not in message
    assert caught.value.position is not None and caught.value.position.line == 14


def test_an_incomplete_rule_passes_when_it_hands_over_or_checks_are_off(
        dialogue_project) -> None:
    # ending right after the action with wait_for_user_input: false makes it complete
    project = dialogue_project(domain=CUSTOM_DOMAIN, rules=PREMIUM_RULE + """
- rule: check then hand over
  steps:
  - intent: bye
  - action: action_check_premium
  wait_for_user_input: false
""")
    trained(RulePolicy(), project)
    incomplete = dialogue_project(domain=CUSTOM_DOMAIN, rules=PREMIUM_RULE + CHECK_THEN_BYE)
    trained(RulePolicy({"check_for_contradictions": False}), incomplete)


def test_a_form_rule_leaving_out_the_active_loop_is_incomplete(dialogue_project) -> None:
    project = dialogue_project(rules=rules_yaml(START_THE_FORM_RULE, """\
- rule: greet runs the form without saying it is active
  steps:
  - intent: greet
  - action: weather_form
  - action: utter_greet
"""))
    with pytest.raises(TrainingError) as caught:
        trained(RulePolicy(), project)
    message = str(caught.value)
    assert "rule 'greet runs the form without saying it is active' is incomplete" in message
    assert "'weather_form' does not set the active loop" in message
    assert "weather_form" in message.split("in other rules to ")[1]


# ---------------------------------------------------------------- end-to-end rules


E2E_RULES = """
version: "3.1"
rules:
- rule: greet by intent
  steps:
  - intent: greet
  - action: utter_greet
- rule: a greeting written as text
  steps:
  - user: hello robot
  - action: utter_welcome
"""


def test_a_rule_for_the_users_text_wins_over_one_for_the_intent(dialogue_project) -> None:
    project = dialogue_project(rules=E2E_RULES)
    policy = trained(RulePolicy(), project)
    domain = project.domain
    by_text = predict(policy, domain, listen(), user("greet", text="hello robot"))
    assert by_text.action_name == "utter_welcome" and by_text.is_end_to_end_prediction
    by_intent = predict(policy, domain, listen(), user("greet", text="hi there"))
    assert by_intent.action_name == "utter_greet"
    assert not by_intent.is_end_to_end_prediction


#: a rule written with the user's text, which NLU reads as the restart intent
TEXT_RULE_OVER_RESTART = """
    version: "3.1"
    rules:
    - rule: a restart that is not one
      steps:
      - user: start over please
      - action: utter_greet
    """


def test_a_text_rule_overrules_a_default_action(dialogue_project) -> None:
    project = dialogue_project(rules=TEXT_RULE_OVER_RESTART)
    policy = trained(RulePolicy(), project)
    domain = project.domain
    text = predict(policy, domain, listen(), user("restart", text="start over please"))
    assert text.action_name == "utter_greet"
    assert predict(policy, domain, listen(), user("restart", text="restart")).action_name \
        == "action_restart"


def test_the_bot_runs_the_text_rule_instead_of_the_default_action(dialogue_project) -> None:
    from dialogflowlite.dialogue.processor import MessageProcessor

    project = dialogue_project(rules=TEXT_RULE_OVER_RESTART)
    domain = project.domain
    processor = MessageProcessor(domain, policies=PolicyEnsemble([trained(RulePolicy(),
                                                                          project)]))
    # the processor answered the default intents itself, before asking the policies:
    # the text rule never ran, though Rasa and the docs say it wins
    by_text = processor.predict_next_action(
        tracker(domain, listen(), user("restart", text="start over please")))
    assert (by_text.action_name, by_text.policy_name) == ("utter_greet", "RulePolicy")
    plain = processor.predict_next_action(
        tracker(domain, listen(), user("restart", text="/restart")))
    assert plain.action_name == "action_restart"


def test_the_turn_answered_by_text_is_read_by_text_afterwards(dialogue_project) -> None:
    project = dialogue_project(rules=E2E_RULES, stories=GREET_STORIES)
    domain = project.domain
    # memoization outranks the rules here, yet the text rule wins: it read the text
    memo = trained(MemoizationPolicy({"priority": 5}), project)
    ensemble = PolicyEnsemble([memo, trained(RulePolicy(), project)])
    events = [listen(), user("greet", text="hello robot")]
    first = ensemble.predict_next_action(tracker(domain, *events), domain)
    assert (first.action_name, first.policy_name) == ("utter_welcome", "RulePolicy")
    assert [e.use_text_for_featurization for e in first.events
            if isinstance(e, UserUtteranceFeaturization)] == [True]
    # with the turn read by its text, the text rule goes on to listen
    after = [*events, *first.events, act("utter_welcome")]
    second = ensemble.predict_next_action(tracker(domain, *after), domain)
    assert (second.action_name, second.policy_name) == ("action_listen", "RulePolicy")


# ---------------------------------------------------------------- ensemble


def test_without_any_prediction_the_ensemble_listens(dialogue_project) -> None:
    project = dialogue_project(stories=GREET_STORIES)
    domain = project.domain
    memo_only = PolicyEnsemble([trained(MemoizationPolicy(), project)])
    chosen = memo_only.predict_next_action(tracker(domain, *said("bye")), domain)
    assert (chosen.action_name, chosen.confidence) == ("action_listen", 0.0)
    quiet = PolicyEnsemble([trained(RulePolicy({"enable_fallback_prediction": False}),
                                    project)])
    assert quiet.predict_next_action(tracker(domain, *said("bye")), domain).action_name == \
        "action_listen"


# ---------------------------------------------------------------- augmented memoization


def test_augmented_memoization_goes_back_to_the_user_turn_before_the_window(
        dialogue_project) -> None:
    project = dialogue_project(stories="""
        version: "3.1"
        stories:
        - story: premium after three answers
          steps:
          - intent: inform
          - slot_was_set:
            - premium: true
          - action: utter_ask_continue
          - action: utter_done
          - action: utter_welcome
          - action: utter_premium
        """)
    domain = project.domain
    policy = trained(AugmentedMemoizationPolicy({"max_history": 2}), project)
    events = [listen(), user("greet"), SlotSet(name="city", value="Berlin"),
              act("utter_greet"),
              listen(), user("inform"), SlotSet(name="premium", value=True),
              act("utter_ask_continue"), act("utter_done"), act("utter_welcome")]
    # the city set before the window spoils the full history; forgetting from the
    # last user turn before the window keeps the premium slot and the intent
    plain = trained(MemoizationPolicy({"max_history": 2}), project)
    assert predict(plain, domain, *events).action_name is None
    assert predict(policy, domain, *events).action_name == "utter_premium"


# ---------------------------------------------------------------- entities in states


def test_only_entities_the_domain_declares_reach_the_states() -> None:

    domain = Domain(intents={"inform": IntentDef("inform")},
                    entities={"city": EntityDef("city", roles=["to"]),
                              "mood": EntityDef("mood", influence_conversation=False)})
    featurizer = StateFeaturizer(domain)
    found = [{"entity": "city", "value": "Rome", "role": "to"},
             {"entity": "city", "value": "Oslo", "role": "from"},  # role not declared
             {"entity": "PERSON", "value": "Ada"},  # from an extractor, not in the domain
             {"entity": "mood", "value": "happy"}]
    # a known intent passes the declared entities and roles only, as in Rasa
    assert featurizer.entity_labels("inform", found) == ("city", "city#to")
    # an intent the domain does not know passes every entity
    assert featurizer.entity_labels("unknown", found) == (
        "PERSON", "city", "city#from", "city#to", "mood")


# ---------------------------------------------------------------- rule-only data


FAQ_RULES = rules_yaml(GREET_RULE, """\
- rule: chitchat, whenever
  steps:
  - intent: chitchat
  - action: utter_chitchat
- rule: premium users get the premium answer
  condition:
  - slot_was_set:
    - premium: true
  steps:
  - intent: thanks
  - action: utter_premium
""")

WEATHER_STORIES = stories_yaml(WEATHER_STORY)


def faq_ensemble(dialogue_project):
    project = dialogue_project(rules=FAQ_RULES, stories=WEATHER_STORIES)
    policies = [trained(MemoizationPolicy(), project), trained(RulePolicy(), project)]
    return PolicyEnsemble(policies), project.domain


def test_turns_of_rules_no_story_follows_are_hidden_from_memoization(
        dialogue_project) -> None:
    ensemble, domain = faq_ensemble(dialogue_project)

    def decide(*events):
        return ensemble.predict_next_action(tracker(domain, *events), domain)

    greeted = [*said("greet"), act("utter_greet")]
    # greet -> utter_greet is in a story too: its turn stays visible
    assert decide(*said("greet")).hide_rule_turn is False
    chitchat = decide(*greeted, *said("chitchat"))
    assert chitchat.action_name == "utter_chitchat" and chitchat.hide_rule_turn
    answered = [*greeted, *said("chitchat"), ActionExecuted(name="utter_chitchat",
                                                            hide_rule_turn=True)]
    listening = decide(*answered)
    assert listening.action_name == "action_listen" and listening.hide_rule_turn
    # the story goes on as if the chitchat had not happened, as in Rasa
    resumed = decide(*answered, ActionExecuted(name="action_listen", hide_rule_turn=True),
                     user("ask_weather"))
    assert (resumed.action_name, resumed.policy_name) == ("utter_weather",
                                                          "MemoizationPolicy")


def test_slots_only_rules_mention_are_hidden_from_memoization(dialogue_project) -> None:
    ensemble, domain = faq_ensemble(dialogue_project)
    assert ensemble.policies[1].rule_only.slots == {"premium"}
    # premium is set, but no story knows the slot: memoization does not see it
    events = [SlotSet(name="premium", value=True), *said("greet"), act("utter_greet"),
              listen(), user("ask_weather")]
    memo = ensemble.predictions(tracker(domain, *events), domain)[0]
    assert (memo.policy_name, memo.action_name) == ("MemoizationPolicy", "utter_weather")
    chosen = ensemble.predict_next_action(tracker(domain, *events), domain)
    assert chosen.action_name == "utter_weather"


def test_rule_only_data_round_trips_through_storage(dialogue_project, tmp_path) -> None:
    from dialogflowlite.artifact import ComponentStorage

    project = dialogue_project(rules=FAQ_RULES, stories=WEATHER_STORIES)
    policy = trained(RulePolicy(), project)
    storage = ComponentStorage(tmp_path / "rules")
    policy.persist(storage)
    loaded = RulePolicy.load(policy.config, storage)
    assert loaded.rule_only == policy.rule_only
    assert loaded.rules_not_in_stories == policy.rules_not_in_stories
    assert any("chitchat" in source for source in loaded.rules_not_in_stories)


# ---------------------------------------------------------------- hidden rule turns


def story_view(domain: Domain, events: list) -> list[State]:
    """The states a story policy (memoization, TED) sees of ``events``."""
    states = StateFeaturizer(domain).states(events)
    return story_policy_states(states, hidden_turns(events), RuleOnlyData())


def test_hidden_rule_turns_leave_the_states_of_story_policies() -> None:

    domain = Domain(intents={"greet": IntentDef("greet"), "chitchat": IntentDef("chitchat")})
    events = [listen(), user("greet"), ActionExecuted(name="utter_greet", hide_rule_turn=True),
              ActionExecuted(name="action_listen", hide_rule_turn=True), user("chitchat")]
    seen = story_view(domain, events)
    # what Rasa's past_states(ignore_rule_only_turns=True) gives for this conversation
    assert seen == [State(), State(intent="chitchat", prev_action="action_listen")]


def test_the_listening_after_a_hidden_loop_activation_stays_hidden() -> None:

    domain = Domain(intents={"request": IntentDef("request"), "inform": IntentDef("inform")})
    # a rule no story follows activated the form; the form's own "listen after it
    # ran" is in the stories, so its action is not marked
    events = [listen(), user("request"),
              ActionExecuted(name="a_form", hide_rule_turn=True), ActiveLoop(name="a_form"),
              listen(), user("inform")]
    seen = story_view(domain, events)
    # Rasa keeps the activation's verdict for the state right after the loop ran
    assert seen == [State(), State(intent="inform", prev_action="action_listen",
                                   active_loop="a_form")]


def test_a_followup_action_keeps_the_turn_visible_as_before() -> None:

    events = [listen(), user("greet"), ActionExecuted(name="utter_greet"),
              FollowupAction(name="utter_more"),
              ActionExecuted(name="utter_more", hide_rule_turn=True), listen()]
    assert hidden_turns(events) == [False, False, False, False]


def test_a_rule_setting_the_slot_to_null_after_the_action_is_complete(
        dialogue_project) -> None:
    # the rule says what the action left of the slot: nothing
    nulled = CHECK_THEN_BYE.replace("  - action: utter_bye",
                                    "  - slot_was_set:\n    - premium: null\n  - action: utter_bye")
    project = dialogue_project(domain=CUSTOM_DOMAIN, rules=PREMIUM_RULE + nulled)
    trained(RulePolicy(), project)


def test_a_story_going_on_after_a_rules_first_action_drops_its_listening(
        dialogue_project) -> None:
    # Rasa drops the rule's "listen after utter_ask_continue" instead of reporting
    # the story as a contradiction; the rule's answer to the user still holds
    project = dialogue_project(rules="""
        version: "3.1"
        rules:
        - rule: done after asking to continue
          steps:
          - action: utter_ask_continue
          - intent: affirm
          - action: utter_done
        """, stories="""
        version: "3.1"
        stories:
        - story: ask, then greet
          steps:
          - intent: greet
          - action: utter_ask_continue
          - action: utter_greet
        """)
    policy = trained(RulePolicy(), project)
    domain = project.domain
    asked = [*said("greet"), act("utter_ask_continue")]
    assert predict(policy, domain, *asked).action_name == "action_default_fallback"
    assert predict(policy, domain, *asked, *said("affirm")).action_name == "utter_done"
