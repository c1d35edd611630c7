from __future__ import annotations

from typing import ClassVar

from policy_helpers import act, said, tracker, trained
from story_data import GREET_RULE, THANKS_STORY, rules_yaml, stories_yaml

from dialogflowlite.components.policies.base import Conversation, Policy, PolicyPrediction
from dialogflowlite.components.policies.ensemble import ActionPrediction, PolicyEnsemble
from dialogflowlite.components.policies.memoization import MemoizationPolicy
from dialogflowlite.components.policies.rule import RulePolicy
from dialogflowlite.shared.domain import Domain
from dialogflowlite.shared.events import (
    ActionExecutionRejected,
    ActiveLoop,
    BotUttered,
    LoopInterrupted,
    UserUtteranceFeaturization,
    UserUtteranceReverted,
)


class FixedPolicy(Policy):
    """Predicts the same probabilities whatever happens."""

    name: ClassVar[str] = "FixedPolicy"
    defaults: ClassVar[dict] = {"priority": None}

    def __init__(self, probabilities: dict[str, float], priority: int = 1, *,
                 no_user: bool = False, events: list | None = None) -> None:
        super().__init__({"priority": priority})
        self.probabilities = probabilities
        self.no_user = no_user
        self.events = events or []

    def predict_conversation(self, conversation: Conversation, domain: Domain) -> PolicyPrediction:
        return self.prediction(dict(self.probabilities), events=list(self.events),
                               is_no_user_prediction=self.no_user)


def policy_events(chosen: ActionPrediction) -> list:
    """The events of the policies' predictions, without the ensemble's note on how
    the user turn is featurised (``user_featurization``)."""
    return [e for e in chosen.events if not isinstance(e, UserUtteranceFeaturization)]


def decide(ensemble: PolicyEnsemble, *events) -> ActionPrediction:
    domain = Domain()
    return ensemble.predict_next_action(tracker(domain, *events), domain)


def test_the_most_confident_prediction_wins() -> None:
    ensemble = PolicyEnsemble([FixedPolicy({"utter_a": 0.6, "utter_b": 0.4}, priority=3),
                               FixedPolicy({"utter_c": 0.9}, priority=1)])
    chosen = decide(ensemble, *said("greet"))
    assert (chosen.action_name, chosen.confidence, chosen.policy_name) == \
        ("utter_c", 0.9, "FixedPolicy")
    assert chosen.probabilities == {"utter_c": 0.9}


def test_equal_confidence_goes_to_the_higher_priority() -> None:
    low = FixedPolicy({"utter_low": 1.0}, priority=3)
    high = FixedPolicy({"utter_high": 1.0}, priority=4)
    assert decide(PolicyEnsemble([low, high]), *said("greet")).action_name == "utter_high"
    assert decide(PolicyEnsemble([high, low]), *said("greet")).action_name == "utter_high"


def test_predictions_without_user_input_overrule_the_others() -> None:
    loop = FixedPolicy({"some_form": 0.5}, priority=1, no_user=True)
    other = FixedPolicy({"utter_x": 1.0}, priority=4)
    chosen = decide(PolicyEnsemble([other, loop]), *said("greet"))
    assert chosen.action_name == "some_form" and chosen.is_no_user_prediction


def test_a_rejected_action_is_not_predicted_again() -> None:
    ensemble = PolicyEnsemble([FixedPolicy({"some_form": 1.0}, priority=4),
                               FixedPolicy({"utter_x": 0.7}, priority=1)])
    events = [*said("ask"), act("some_form"), ActiveLoop(name="some_form"), *said("chitchat")]
    assert decide(ensemble, *events).action_name == "some_form"
    rejected = decide(ensemble, *events, ActionExecutionRejected(name="some_form"))
    assert rejected.action_name == "utter_x"
    # once another action ran, the rejection is history
    assert decide(ensemble, *events, ActionExecutionRejected(name="some_form"),
                  act("utter_x")).action_name == "some_form"


def test_the_fallback_competes_as_the_rule_policy_scores_it() -> None:
    # the rule policy's fallback score (core_fallback_threshold) beats less confident
    # predictions, and wins a tie by the rule policy's priority, as in Rasa
    fallback = FixedPolicy({"action_default_fallback": 0.3}, priority=4)
    assert decide(PolicyEnsemble([FixedPolicy({"utter_x": 0.2}), fallback]),
                  *said("greet")).action_name == "action_default_fallback"
    tied = decide(PolicyEnsemble([FixedPolicy({"utter_x": 0.3}), fallback]), *said("greet"))
    assert (tied.action_name, tied.confidence) == ("action_default_fallback", 0.3)
    assert decide(PolicyEnsemble([FixedPolicy({"utter_x": 0.31}), fallback]),
                  *said("greet")).action_name == "utter_x"


def test_without_any_prediction_the_bot_listens() -> None:
    # Rasa's argmax over all-zero scores is its first action, action_listen
    empty = decide(PolicyEnsemble([FixedPolicy({}), FixedPolicy({}, priority=3)]),
                   *said("greet"))
    assert (empty.action_name, empty.confidence) == ("action_listen", 0.0)


def test_events_of_every_policy_are_passed_on() -> None:
    note = LoopInterrupted(is_interrupted=True)
    ensemble = PolicyEnsemble([FixedPolicy({"utter_x": 0.3}, events=[note]),
                               FixedPolicy({"utter_y": 1.0}, priority=2)])
    chosen = decide(ensemble, *said("greet"))
    assert chosen.action_name == "utter_y" and policy_events(chosen) == [note]


def test_rules_and_memoization_together(dialogue_project) -> None:
    project = dialogue_project(rules=rules_yaml(GREET_RULE),
                               stories=stories_yaml(THANKS_STORY))
    policies = [trained(MemoizationPolicy(), project),
                trained(RulePolicy({"core_fallback_threshold": 0.4}), project)]
    ensemble = PolicyEnsemble.from_policies(policies)
    domain = project.domain

    def next_action(*events) -> ActionPrediction:
        return ensemble.predict_next_action(tracker(domain, *events), domain)

    ruled = next_action(*said("greet"))
    assert (ruled.action_name, ruled.policy_name, ruled.confidence) == \
        ("utter_greet", "RulePolicy", 1.0)
    memorised = next_action(*said("thanks"))
    assert (memorised.action_name, memorised.policy_name) == ("utter_noworries",
                                                              "MemoizationPolicy")
    unknown = next_action(*said("bye"))
    assert (unknown.action_name, unknown.policy_name, unknown.confidence) == \
        ("action_default_fallback", "RulePolicy", 0.4)
    every = ensemble.predictions(tracker(domain, *said("thanks")), domain)
    assert [p.policy_name for p in every] == ["MemoizationPolicy", "RulePolicy"]


def test_after_an_undone_user_turn_the_bot_listens() -> None:
    ensemble = PolicyEnsemble([FixedPolicy({"action_default_fallback": 1.0})])
    fallback = [*said("greet"), act("action_default_fallback"), BotUttered(text="sorry?"),
                UserUtteranceReverted()]
    chosen = decide(ensemble, *fallback)
    assert (chosen.action_name, chosen.policy_name) == ("action_listen", "user_turn_undone")
    assert decide(ensemble, *fallback, act("action_listen"), *said("greet")).action_name == \
        "action_default_fallback"


class CountingPolicy(FixedPolicy):
    """A fixed policy that counts how often it was asked; skippable when outranked."""

    skippable_when_outranked: ClassVar[bool] = True

    def __init__(self, probabilities: dict[str, float], priority: int = 1) -> None:
        super().__init__(probabilities, priority)
        self.asked = 0

    def predict_conversation(self, conversation: Conversation, domain: Domain) -> PolicyPrediction:
        self.asked += 1
        return super().predict_conversation(conversation, domain)


def test_a_skippable_policy_is_not_asked_when_a_higher_priority_one_is_certain() -> None:
    # listed first, asked last: the certain higher-priority policy is asked before it
    neural = CountingPolicy({"utter_neural": 1.0}, priority=1)
    rules = FixedPolicy({"utter_rule": 1.0}, priority=4)
    chosen = decide(PolicyEnsemble([neural, rules]), *said("greet"))
    assert chosen.action_name == "utter_rule" and neural.asked == 0


def test_a_skippable_policy_is_asked_when_it_could_still_win() -> None:
    unsure = FixedPolicy({"utter_rule": 0.8}, priority=4)
    neural = CountingPolicy({"utter_neural": 0.9}, priority=1)
    assert decide(PolicyEnsemble([unsure, neural]), *said("greet")).action_name == "utter_neural"
    # equal priority: the tie goes by config order, so it is asked as well
    certain = FixedPolicy({"utter_rule": 1.0}, priority=1)
    peer = CountingPolicy({"utter_peer": 1.0}, priority=1)
    assert decide(PolicyEnsemble([peer, certain]), *said("greet")).action_name == "utter_peer"
    assert (neural.asked, peer.asked) == (1, 1)


def test_a_rejected_certain_prediction_does_not_skip_the_others() -> None:
    rules = FixedPolicy({"some_form": 1.0}, priority=4)
    neural = CountingPolicy({"utter_x": 0.7}, priority=1)
    events = [*said("ask"), act("some_form"), ActiveLoop(name="some_form"), *said("chitchat"),
              ActionExecutionRejected(name="some_form")]
    assert decide(PolicyEnsemble([rules, neural]), *events).action_name == "utter_x"
    assert neural.asked == 1


def test_policies_that_are_not_skippable_are_always_asked() -> None:
    rules = FixedPolicy({"utter_rule": 1.0}, priority=4)
    note = LoopInterrupted(is_interrupted=True)
    custom = FixedPolicy({"utter_custom": 0.5}, priority=1, events=[note])
    chosen = decide(PolicyEnsemble([rules, custom]), *said("greet"))
    assert chosen.action_name == "utter_rule"
    assert policy_events(chosen) == [note]


def test_a_plugin_prediction_without_the_newer_attributes_still_counts() -> None:
    from dataclasses import dataclass, field

    @dataclass
    class OlderPrediction:
        """A plugin's own prediction object, with only the attributes it always had."""

        probabilities: dict[str, float]
        policy_name: str = "OlderPolicy"
        priority: int = 2
        events: list = field(default_factory=list)
        is_no_user_prediction: bool = False

        @property
        def confidence(self) -> float:
            return max(self.probabilities.values(), default=0.0)

        @property
        def action_name(self) -> str | None:
            return max(self.probabilities, key=self.probabilities.get, default=None)

    class OlderPolicy(FixedPolicy):
        name: ClassVar[str] = "OlderPolicy"

        def predict_conversation(self, conversation, domain):
            return OlderPrediction(dict(self.probabilities))

    ensemble = PolicyEnsemble([OlderPolicy({"utter_old": 0.9}),
                               FixedPolicy({"utter_x": 0.5}, priority=4)])
    chosen = decide(ensemble, *said("greet"))
    assert (chosen.action_name, chosen.policy_name) == ("utter_old", "OlderPolicy")
    assert chosen.hide_rule_turn is False


def test_a_policy_written_to_the_documented_predict_is_asked_with_the_tracker() -> None:
    seen: list = []

    class TrackerPolicy(Policy):
        """A plugin policy implementing ``predict(tracker, domain)`` only."""

        name: ClassVar[str] = "TrackerPolicy"
        defaults: ClassVar[dict] = {"priority": None}

        def predict(self, tracker, domain):
            seen.append(tracker.latest_intent)
            return self.prediction({"utter_tracked": 0.8})

    ensemble = PolicyEnsemble([TrackerPolicy({"priority": 2}),
                               FixedPolicy({"utter_x": 0.5}, priority=4)])
    chosen = decide(ensemble, *said("greet"))
    assert (chosen.action_name, chosen.policy_name) == ("utter_tracked", "TrackerPolicy")
    assert seen == ["greet"]
