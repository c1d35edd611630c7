"""The rule policy: rules, loops (forms) and the core fallback.

What it predicts, in this order:

1. ``restart``, ``back`` and ``session_start`` intents run their default
   actions;
2. an active loop that did not reject its execution runs again after the
   user spoke (and ``action_listen`` follows it): the loop's happy path;
3. the most specific rule whose states match the end of the conversation.
   Inside an active loop, a general rule that ends by listening hands back
   to the loop instead, unless the stories or rules say the loop must not
   come back there; when they say the loop comes back after an
   interruption, the prediction carries a ``LoopInterrupted`` event so the
   loop does not validate that input;
4. nothing matched: ``core_fallback_action_name`` with confidence
   ``core_fallback_threshold`` (so other policies win only when they are
   more confident), if ``enable_fallback_prediction``.

Contradictions between rules, and between rules and stories, are checked
when training (see :mod:`~dialogflowlite.components.policies.contradictions`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from dialogflowlite.components.policies.base import (
    Conversation,
    Policy,
    PolicyContext,
    PolicyPrediction,
)
from dialogflowlite.components.policies.dialogues import TrainingDialogue, training_dialogues
from dialogflowlite.components.policies.rule_matching import (
    DO_NOT_PREDICT_LOOP_ACTION,
    LOOP_WAS_INTERRUPTED,
    Key,
    RuleIndex,
    RuleLookup,
    learn_loop_unhappy_paths,
    learn_rules,
    specificity,
)
from dialogflowlite.components.policies.states import State, states_as_json, states_from_json
from dialogflowlite.errors import ComponentConfigError, Position
from dialogflowlite.shared.domain import (
    ACTION_BACK,
    ACTION_DEFAULT_FALLBACK,
    ACTION_LISTEN,
    ACTION_RESTART,
    ACTION_SESSION_START,
    Domain,
)
from dialogflowlite.shared.events import LoopInterrupted, UserUttered
from dialogflowlite.shared.story_paths import StoryPath

RULE_PRIORITY = 4
RULES_FILE = "rules.json"

#: intents that always run a default action (unless a loop or rule says otherwise)
DEFAULT_ACTION_MAPPINGS = {
    "restart": ACTION_RESTART,
    "back": ACTION_BACK,
    "session_start": ACTION_SESSION_START,
}


@dataclass
class RuleDecision:
    """What the rules decide for one state sequence, and why."""

    action: str | None
    #: the matching rule key, or a description ("default action for restart", "loop ...")
    source: Key | str | None = None
    returning_from_unhappy_path: bool = False
    is_no_user_prediction: bool = False


class RulePolicy(Policy):
    """Rules, loops and the core fallback (Rasa's RulePolicy).

    Learns rules from rule paths, and from stories only what they say about
    loops' unhappy paths. Confidence 1.0 for rule, loop and default-action
    predictions.
    """

    name: ClassVar[str] = "RulePolicy"
    default_priority: ClassVar[int] = RULE_PRIORITY
    trains_on: ClassVar[tuple[str, ...]] = ("rule", "story")
    defaults: ClassVar[dict[str, Any]] = {
        "core_fallback_threshold": 0.3,
        "core_fallback_action_name": ACTION_DEFAULT_FALLBACK,
        "enable_fallback_prediction": True,
        "restrict_rules": True,
        "check_for_contradictions": True,
        "use_nlu_confidence_as_score": False,
        "priority": None,
    }
    compatible_keys: ClassVar[tuple[str, ...]] = ("max_history", "featurizer")

    def __init__(self, config: dict | None = None, **kwargs) -> None:
        super().__init__(config, **kwargs)
        self.rules: dict[Key, str] = {}
        self.loop_unhappy: dict[Key, str] = {}
        self._rule_index: RuleIndex | None = None
        self._unhappy_index: RuleIndex | None = None
        #: training only: where each rule comes from (for contradiction messages)
        self.lookup = RuleLookup()

    @classmethod
    def check_config(cls, config: dict[str, Any], *,
                     position: Position | None = None) -> None:
        """``core_fallback_threshold`` is a confidence, between 0 and 1."""
        super().check_config(config, position=position)
        cls.check_number(config, "core_fallback_threshold", at_least=0, at_most=1,
                         position=position)

    @property
    def fallback_action(self) -> str:
        return str(self.config["core_fallback_action_name"])

    @property
    def fallback_threshold(self) -> float:
        return float(self.config["core_fallback_threshold"])

    @property
    def predicts_fallback(self) -> bool:
        return bool(self.config["enable_fallback_prediction"])

    # ------------------------------------------------------------ training

    def check_domain(self, domain: Domain) -> None:
        """The fallback action must be one the bot has."""
        if self.predicts_fallback and self.fallback_action not in domain.action_names:
            raise ComponentConfigError(
                f"RulePolicy: core_fallback_action_name '{self.fallback_action}' is not an "
                "action of the domain", position=self.position,
                hint="add it under `actions:` in the domain, or use action_default_fallback")

    def train(self, paths: Sequence[StoryPath], domain: Domain, context: PolicyContext) -> None:
        """Learn the rules; raise TrainingError on contradictions or over-long rules."""
        from dialogflowlite.components.policies.contradictions import (
            check_rule_restriction,
            raise_on_contradictions,
        )

        self.check_domain(domain)
        featurizer = self.featurizer(domain)
        rule_dialogues = training_dialogues(paths, featurizer, kind="rule")
        story_dialogues = training_dialogues(paths, featurizer, kind="story")
        if self.config["restrict_rules"]:
            check_rule_restriction(rule_dialogues)
        self.learn(rule_dialogues, story_dialogues)
        if self.config["check_for_contradictions"]:
            raise_on_contradictions(self, rule_dialogues, story_dialogues)

    def learn(self, rule_dialogues: Sequence[TrainingDialogue],
              story_dialogues: Sequence[TrainingDialogue]) -> None:
        """Build the rule lookup and the loops' unhappy-path notes."""
        self.lookup = learn_rules(rule_dialogues)
        self.rules = dict(self.lookup.rules)
        self.loop_unhappy = learn_loop_unhappy_paths([*rule_dialogues, *story_dialogues])
        self._rule_index = self._unhappy_index = None

    # ------------------------------------------------------------ deciding

    def _matching_rule(self, states: Sequence[State]) -> Key | None:
        if self._rule_index is None:
            self._rule_index = RuleIndex(self.rules)
        keys = self._rule_index.matching(states)
        return max(keys, key=specificity) if keys else None

    def _unhappy_notes(self, states: Sequence[State]) -> set[str]:
        if self._unhappy_index is None:
            self._unhappy_index = RuleIndex(self.loop_unhappy)
        return {self.loop_unhappy[key] for key in self._unhappy_index.matching(states)}

    def decide(self, states: Sequence[State]) -> RuleDecision:
        """What the rules predict after ``states`` (the last one is the current state)."""
        current = states[-1]
        default = DEFAULT_ACTION_MAPPINGS.get(current.intent or "")
        if default and current.after_listen:
            return RuleDecision(default, f"default action for intent {current.intent}")
        loop = current.loop_name
        if loop and not current.loop_rejected and current.prev_action is not None:
            if current.prev_action != loop:
                return RuleDecision(loop, f"loop {loop}", is_no_user_prediction=True)
            return RuleDecision(ACTION_LISTEN, f"loop {loop} - {ACTION_LISTEN}",
                                is_no_user_prediction=True)
        key = self._matching_rule(states)
        action = self.rules[key] if key is not None else None
        returning = False
        if loop:
            notes = self._unhappy_notes(states)
            if action == ACTION_LISTEN and key is not None and key[-1].loop_name is None:
                # a general rule ended inside the loop: go back to the loop
                if DO_NOT_PREDICT_LOOP_ACTION not in notes:
                    return RuleDecision(loop, key)
                action = None
            returning = LOOP_WAS_INTERRUPTED in notes
        return RuleDecision(action, key, returning)

    # ------------------------------------------------------------ prediction

    def _score(self, conversation: Conversation) -> float:
        if not self.config["use_nlu_confidence_as_score"]:
            return 1.0
        for event in reversed(conversation.events):
            if isinstance(event, UserUttered):
                return float((event.parse_data.get("intent") or {}).get("confidence", 1.0))
        return 1.0

    def predict_conversation(self, conversation: Conversation, domain: Domain) -> PolicyPrediction:
        decision = self.decide(conversation.states)
        returning = decision.returning_from_unhappy_path
        events = [LoopInterrupted(is_interrupted=True)] if returning else []
        if decision.action is not None:
            score = 1.0 if decision.is_no_user_prediction else self._score(conversation)
            return self.prediction({decision.action: score}, events=events,
                                   is_no_user_prediction=decision.is_no_user_prediction)
        if self.predicts_fallback:
            return self.prediction({self.fallback_action: self.fallback_threshold}, events=events)
        return self.prediction({}, events=events)

    # ------------------------------------------------------------ persistence

    def persist(self, storage) -> None:
        storage.write_json(RULES_FILE, {
            "rules": [{"states": states_as_json(k), "action": a} for k, a in self.rules.items()],
            "loop_unhappy_paths": [{"states": states_as_json(k), "note": n}
                                   for k, n in self.loop_unhappy.items()],
        })

    @classmethod
    def load(cls, config: dict[str, Any], storage) -> RulePolicy:
        policy = cls(config)
        data = storage.read_json(RULES_FILE)
        policy.rules = {states_from_json(item["states"]): item["action"]
                        for item in data.get("rules", [])}
        policy.loop_unhappy = {states_from_json(item["states"]): item["note"]
                               for item in data.get("loop_unhappy_paths", [])}
        return policy
