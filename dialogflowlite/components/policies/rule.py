"""The rule policy: rules, loops (forms) and the core fallback.

What it predicts, in this order (as Rasa's RulePolicy):

1. ``restart``, ``back`` and ``session_start`` intents run their default
   actions, unless a rule written with the user's text matches;
2. an active loop that did not reject its execution runs again after the
   user spoke (and ``action_listen`` follows it): the loop's happy path;
3. the most specific rule matching the conversation with the user's latest
   turn read by its text (rules written with ``user:`` text): an end-to-end
   prediction;
4. the most specific rule whose states match the end of the conversation.
   Inside an active loop, a general rule that ends by listening hands back
   to the loop instead, unless the stories or rules say the loop must not
   come back there; when they say the loop comes back after an
   interruption, the prediction carries a ``LoopInterrupted`` event so the
   loop does not validate that input.

A bot text in the rule data is learnt as that text, as memoization learns a
story's ``bot:`` step (YAML rules have no ``bot:`` step, as in Rasa; rule paths
made otherwise may carry one): predicting it means sending that text.

Every prediction also scores ``core_fallback_action_name`` with
``core_fallback_threshold`` (if ``enable_fallback_prediction``), so when
nothing matched the fallback is predicted, and other policies win only when
they are more confident.

Incomplete rules, and contradictions between rules and between rules and
stories, are checked when training (see
:mod:`~dialogflowlite.components.policies.contradictions`). Along with that
check, the policy works out what only rules know about (slots, loops, and
the rules no story follows), which story-based policies do not see.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any, ClassVar

from dialogflowlite.components.policies.base import (
    BOT_TEXT_REVISION,
    REVISION_KEY,
    RULE_ONLY_REVISION,
    Conversation,
    Policy,
    PolicyContext,
    PolicyPrediction,
    SavedRevision,
    saved_before,
)
from dialogflowlite.components.policies.dialogues import (
    TrainingDialogue,
    dialogue_texts,
    training_dialogues,
    unambiguous,
)
from dialogflowlite.components.policies.rule_matching import (
    DO_NOT_PREDICT_LOOP_ACTION,
    LOOP_WAS_INTERRUPTED,
    Key,
    RuleIndex,
    RuleLookup,
    learn_loop_unhappy_paths,
    learn_rules,
    specificity,
    state_matches,
)
from dialogflowlite.components.policies.states import (
    RuleOnlyData,
    State,
    states_as_json,
    states_from_json,
)
from dialogflowlite.errors import ComponentConfigError, Position
from dialogflowlite.shared.domain import (
    ACTION_BACK,
    ACTION_DEFAULT_FALLBACK,
    ACTION_LISTEN,
    ACTION_RESTART,
    ACTION_SEND_TEXT,
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


def source_id(source: Key | str | None) -> str | None:
    """A rule decision's source as a string: the rule's states as JSON, or the
    description of a default action or loop prediction."""
    if source is None or isinstance(source, str):
        return source
    return json.dumps(states_as_json(source), sort_keys=True)


def default_sources() -> set[str]:
    """The sources of default-action predictions (see :meth:`RulePolicy.decide`)."""
    return {f"default action for intent {intent}" for intent in DEFAULT_ACTION_MAPPINGS}


def loop_sources(domain: Domain) -> set[str]:
    """The sources of the forms' happy-path predictions."""
    return {source for form in domain.forms
            for source in (f"loop {form}", f"loop {form} - {ACTION_LISTEN}")}


def rule_only_data(rules: Sequence[TrainingDialogue],
                   stories: Sequence[TrainingDialogue]) -> RuleOnlyData:
    """Slots and loops that rules mention and no story does."""
    def mentioned(dialogues: Sequence[TrainingDialogue]) -> tuple[set[str], set[str]]:
        slots: set[str] = set()
        loops: set[str] = set()
        for dialogue in dialogues:
            for state in dialogue.states:
                slots.update(name for name, _ in state.slots)
                if state.loop_name:
                    loops.add(state.loop_name)
        return slots, loops

    rule_slots, rule_loops = mentioned(rules)
    story_slots, story_loops = mentioned(stories)
    return RuleOnlyData(frozenset(rule_slots - story_slots), frozenset(rule_loops - story_loops))


@dataclass
class RuleDecision:
    """What the rules decide for one state sequence, and why."""

    action: str | None
    #: the matching rule key, or a description ("default action for restart", "loop ...")
    source: Key | str | None = None
    returning_from_unhappy_path: bool = False
    is_no_user_prediction: bool = False
    #: decided from the text of the user's latest turn (a rule with ``user:`` text)
    is_end_to_end_prediction: bool = False


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
        #: the rules' actions that are bot texts (``bot:`` steps), not action names
        self.action_texts: frozenset[str] = frozenset()
        self.loop_unhappy: dict[Key, str] = {}
        #: slots and loops only the rules know about (hidden from story-based policies)
        self.rule_only = RuleOnlyData()
        #: rules (by :func:`source_id`) that no story follows: their turns are hidden
        #: from story-based policies
        self.rules_not_in_stories: frozenset[str] = frozenset()
        self._rule_index: RuleIndex | None = None
        self._unhappy_index: RuleIndex | None = None
        #: the domain last predicted for, with each action's place in its action list
        self._action_order: tuple[Domain, dict[str, int]] | None = None
        #: training only: where each rule comes from (for contradiction messages)
        self.lookup = RuleLookup()
        #: False for rules loaded from a model saved before revision 3, until they were
        #: read against the domain at the first prediction (see :meth:`use_domain`)
        self._states_checked = True

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
        """The fallback action must be one the bot has (as in Rasa, also when
        ``enable_fallback_prediction`` is off)."""
        if self.fallback_action not in domain.action_names:
            raise ComponentConfigError(
                f"RulePolicy: core_fallback_action_name '{self.fallback_action}' is not an "
                "action of the domain", position=self.position,
                hint="add it under `actions:` in the domain, or use action_default_fallback")

    def train(self, paths: Sequence[StoryPath], domain: Domain, context: PolicyContext) -> None:
        """Learn the rules; raise TrainingError on contradictions or over-long rules."""
        from dialogflowlite.components.policies.contradictions import (
            check_incomplete_rules,
            check_rule_restriction,
            raise_on_contradictions,
        )

        self.check_domain(domain)
        featurizer = self.featurizer(domain)
        rule_dialogues = training_dialogues(paths, featurizer, kind="rule")
        story_dialogues = training_dialogues(paths, featurizer, kind="story")
        if self.config["restrict_rules"]:
            check_rule_restriction(rule_dialogues)
        if self.config["check_for_contradictions"]:
            check_incomplete_rules(rule_dialogues, featurizer)
        self.learn(rule_dialogues, story_dialogues)
        self.rule_only = RuleOnlyData()
        self.rules_not_in_stories = frozenset()
        if self.config["check_for_contradictions"]:
            # as in Rasa, what only rules know is worked out along with the check
            sources = raise_on_contradictions(self, rule_dialogues, story_dialogues)
            self.rule_only = rule_only_data(rule_dialogues, story_dialogues)
            every = sources.in_rules | default_sources() | loop_sources(domain)
            self.rules_not_in_stories = frozenset(every - sources.in_stories)

    def learn(self, rule_dialogues: Sequence[TrainingDialogue],
              story_dialogues: Sequence[TrainingDialogue]) -> None:
        """Build the rule lookup and the loops' unhappy-path notes."""
        self.lookup = learn_rules(rule_dialogues)
        self.rules = dict(self.lookup.rules)
        self.action_texts = dialogue_texts(rule_dialogues)
        self.loop_unhappy = learn_loop_unhappy_paths([*rule_dialogues, *story_dialogues])
        self._rule_index = self._unhappy_index = None

    def forget_listening_rule(self, key: Key | str | None) -> bool:
        """Forget a one-state rule that predicts ``action_listen`` right after an
        action, when another rule goes on from the same state; True if forgotten.

        Such a rule only says that the rule starting with that action waits for
        the user; a story that goes on with another action does not contradict
        it, so Rasa drops the rule instead of reporting a contradiction.
        """
        if not isinstance(key, tuple) or len(key) != 1 or self.rules.get(key) != ACTION_LISTEN:
            return False
        if not any(other != key and state_matches(key[0], other[0]) for other in self.rules):
            return False
        del self.rules[key]
        self._rule_index = None
        return True

    def use_domain(self, domain: Domain) -> None:
        """Read loaded rules as states are made for ``domain`` (once).

        Models saved at policy revision 2 kept, in their states, entities the domain
        does not declare for the intent; states made now leave them out, so such
        rules would never match again. Rules that become equal and predict
        different actions (training would report them as contradicting) are left
        out. Rules saved since are left as they are.
        """
        if self._states_checked:
            return
        self._states_checked = True
        featurizer = self.featurizer(domain)

        def read(key: Key) -> Key:
            return tuple(featurizer.with_used_entities(state) for state in key)

        if not any(read(key) != key for key in [*self.rules, *self.loop_unhappy]):
            return
        read_rules = [(read(key), action) for key, action in self.rules.items()]
        renamed = {source_id(key): source_id(new_key)
                   for key, (new_key, _) in zip(self.rules, read_rules, strict=True)}
        self.rules = unambiguous(read_rules)
        # later notes overwrite earlier ones, as when they are learnt
        self.loop_unhappy = {read(key): note for key, note in self.loop_unhappy.items()}
        self.rules_not_in_stories = frozenset(renamed.get(source, source)
                                              for source in self.rules_not_in_stories)
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

    def decide(self, states: Sequence[State],
               text_states: Sequence[State] | None = None) -> RuleDecision:
        """What the rules predict after ``states`` (the last one is the current state).

        ``text_states`` are the same states with the user's latest turn read by
        its text instead of its intent: rules written with ``user:`` text match
        them, and win over default actions and rules for the intent, as in Rasa.
        """
        current = states[-1]
        from_text = (self._from_rules(text_states) if text_states is not None
                     else RuleDecision(None))
        default = DEFAULT_ACTION_MAPPINGS.get(current.intent or "")
        if default and current.after_listen and from_text.action is None:
            return RuleDecision(default, f"default action for intent {current.intent}")
        loop = current.loop_name
        if loop and not current.loop_rejected and current.prev_action is not None:
            if current.prev_action != loop:
                return RuleDecision(loop, f"loop {loop}", is_no_user_prediction=True)
            return RuleDecision(ACTION_LISTEN, f"loop {loop} - {ACTION_LISTEN}",
                                is_no_user_prediction=True)
        if from_text.action is not None:
            from_text.is_end_to_end_prediction = True
            return from_text
        decision = self._from_rules(states)
        # "returning from an unhappy path" is a negative condition: either reading counts
        decision.returning_from_unhappy_path |= from_text.returning_from_unhappy_path
        return decision

    def _from_rules(self, states: Sequence[State]) -> RuleDecision:
        """The most specific matching rule's action, handing back to an active loop."""
        current = states[-1]
        key = self._matching_rule(states)
        action = self.rules[key] if key is not None else None
        returning = False
        loop = current.loop_name
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

    def _probabilities(self, action: str | None, score: float,
                       domain: Domain) -> dict[str, float]:
        """The predicted action's score next to the fallback's, as Rasa scores them.

        The fallback keeps its ``core_fallback_threshold`` score even when a rule
        matched, so a rule scored by a low NLU confidence loses to it. Ties go to
        the action listed first in the domain (default actions first), as Rasa's
        argmax over its action list does.
        """
        scores: dict[str, float] = {}
        if self.predicts_fallback:
            scores[self.fallback_action] = self.fallback_threshold
        if action is not None:
            scores[action] = score
        if len(scores) < 2:
            return scores
        if self._action_order is None or self._action_order[0] is not domain:
            # the domain builds its action list on every call: read it once
            names = domain.action_names
            self._action_order = (domain, {name: i for i, name in enumerate(names)})
        order = self._action_order[1]
        return dict(sorted(scores.items(), key=lambda item: order.get(item[0], len(order))))

    @staticmethod
    def _text_states(conversation: Conversation) -> list[State] | None:
        """The conversation's states with the latest user turn read by its text, right
        after the user spoke (None when there is no text to read)."""
        current = conversation.current
        if not current.after_listen:
            return None
        for event in reversed(conversation.events):
            if isinstance(event, UserUttered):
                text = event.text if event.text is not None else event.parse_data.get("text")
                if not text:
                    return None
                by_text = replace(current, intent=None, entities=(), text=text)
                return [*conversation.states[:-1], by_text]
        return None

    def predict_conversation(self, conversation: Conversation, domain: Domain) -> PolicyPrediction:
        self.use_domain(domain)
        decision = self.decide(conversation.states, self._text_states(conversation))
        returning = decision.returning_from_unhappy_path
        events = [LoopInterrupted(is_interrupted=True)] if returning else []
        score = self._score(conversation) if decision.action is not None else 0.0
        hide = (decision.action is not None and bool(self.rules_not_in_stories)
                and source_id(decision.source) in self.rules_not_in_stories)
        return self.prediction(self._probabilities(decision.action, score, domain),
                               events=events,
                               is_no_user_prediction=decision.is_no_user_prediction,
                               is_end_to_end_prediction=decision.is_end_to_end_prediction,
                               hide_rule_turn=hide, action_texts=self.action_texts)

    # ------------------------------------------------------------ persistence

    def persist(self, storage) -> None:
        storage.write_json(RULES_FILE, {
            REVISION_KEY: self.revision,
            # a bot text is stored as ``action_text``, so it never reads as an action's name
            "rules": [{"states": states_as_json(k),
                       "action_text" if a in self.action_texts else "action": a}
                      for k, a in self.rules.items()],
            "loop_unhappy_paths": [{"states": states_as_json(k), "note": n}
                                   for k, n in self.loop_unhappy.items()],
            "rule_only": self.rule_only.as_dict(),
            "rules_not_in_stories": sorted(self.rules_not_in_stories),
        })

    @classmethod
    def load(cls, config: dict[str, Any], storage) -> RulePolicy:
        policy = cls(config)
        data = storage.read_json(RULES_FILE)
        items = data.get("rules", [])
        policy.rules = {states_from_json(item["states"]): item.get("action")
                        or item["action_text"] for item in items}
        policy.action_texts = frozenset(item["action_text"] for item in items
                                        if item.get("action_text"))
        policy.loop_unhappy = {states_from_json(item["states"]): item["note"]
                               for item in data.get("loop_unhappy_paths", [])}
        policy.rule_only = RuleOnlyData.from_dict(data.get("rule_only"))
        policy.rules_not_in_stories = frozenset(data.get("rules_not_in_stories") or ())
        # states keep only the entities the domain declares since RULE_ONLY_REVISION
        policy._states_checked = not saved_before(data, RULE_ONLY_REVISION)
        # rules saved before RULE_ONLY_REVISION have no rule-only data; bot texts learnt
        # as an action name only happened before BOT_TEXT_REVISION
        without_text = ACTION_SEND_TEXT in set(policy.rules.values()) - policy.action_texts
        at_most = (RULE_ONLY_REVISION - 1 if "rule_only" not in data
                   else BOT_TEXT_REVISION - 1 if without_text else None)
        policy.saved_revision = SavedRevision.of(
            data, cls, at_most=at_most,
            at_least=RULE_ONLY_REVISION if "rule_only" in data else 1)
        policy.learnt_bot_steps_without_text = without_text
        return policy

    def outdated_notes(self, model_policies: Sequence[Policy]) -> list[str]:
        """Besides bot texts: saved before :data:`RULE_ONLY_REVISION`, the policy does
        not know what only the rules know about, which then stays in the view of the
        model's policies that learn from stories only."""
        notes = super().outdated_notes(model_policies)
        story_policies = [p.name for p in model_policies if p.learns_from_stories_only]
        if (self.saved_revision is not None
                and self.saved_revision.number < RULE_ONLY_REVISION and story_policies):
            notes.append(
                "it does not know which rules no story follows, nor the slots and loops "
                "only rules use, so those turns, slots and loops are not hidden from "
                f"{', '.join(story_policies)} (which learn from stories only): after "
                "them, a story may not be recognised")
        return notes
