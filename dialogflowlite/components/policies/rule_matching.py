"""How rules are learnt from rule paths and matched against a conversation.

A rule is a short sequence of states (its key) and the action that follows.
Unlike memoization keys, rule states are partial: a rule's state matches a
conversation's state when every feature the rule names is there (a slot the
rule requires unset, or the loop it requires inactive, must be absent). A
rule's states start after its snippet action ``...``, so only what the rule
spells out counts; a rule for the conversation start keeps its first state,
which only matches the start of a conversation.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from dialogflowlite.components.policies.dialogues import TrainingDialogue
from dialogflowlite.components.policies.states import (
    RULE_SNIPPET_ACTION,
    SHOULD_NOT_BE_SET,
    SLOT_IS_SET,
    State,
)

Key = tuple[State, ...]

#: unhappy-path notes: the loop comes back after an interruption (do not validate)
LOOP_WAS_INTERRUPTED = "loop_was_interrupted"
#: unhappy-path notes: after this action the loop must not be predicted
DO_NOT_PREDICT_LOOP_ACTION = "do_not_predict_loop_action"


def state_matches(rule: State, current: State) -> bool:
    """Whether every feature of the rule's state holds in the conversation's state."""
    if rule.intent and rule.intent != current.intent:
        return False
    if rule.entities and rule.entities != current.entities:
        return False
    if rule.text and rule.text != current.text:
        return False
    if rule.prev_action and rule.prev_action != current.prev_action:
        return False
    if rule.prev_action_text and rule.prev_action_text != current.prev_action_text:
        return False
    for name, wanted in rule.slots:
        value = current.slot(name)
        if wanted == SHOULD_NOT_BE_SET:
            if value is not None and value != SHOULD_NOT_BE_SET:
                return False
        elif wanted == SLOT_IS_SET:
            if value is None or value == SHOULD_NOT_BE_SET:
                return False
        elif value != wanted:
            return False
    if rule.active_loop == SHOULD_NOT_BE_SET:
        return current.loop_name is None
    return not rule.active_loop or rule.active_loop == current.active_loop


def key_matches(key: Key, states: Sequence[State]) -> bool:
    """Whether the rule key matches the end of the conversation ``states``."""
    if len(key) > len(states):
        return False
    for rule_state, current in zip(reversed(key), reversed(states), strict=False):
        if rule_state.is_start or current.is_start:
            if rule_state.is_start and current.is_start:
                continue
            return False
        if not state_matches(rule_state, current):
            return False
    return True


def rule_key(states: Sequence[State]) -> Key | None:
    """The states a rule spells out: those after its last snippet action, flags cleared."""
    found: list[State] = []
    for state in reversed(states):
        if state.prev_action == RULE_SNIPPET_ACTION:
            break
        found.append(state.without_rejection())
    return tuple(reversed(found)) or None


def specificity(key: Key) -> tuple[int, int, str]:
    """Order of preference among matching rules: more features, more states, then name."""
    return (sum(state.size() for state in key), len(key), repr(key))


@dataclass
class RuleSource:
    """Where a learnt rule entry comes from: a dialogue and the index of its action."""

    dialogue: TrainingDialogue
    index: int

    @property
    def action(self) -> str:
        return self.dialogue.actions[self.index]


@dataclass
class RuleLookup:
    """Rules learnt from rule paths, and the keys several rules disagree on."""

    rules: dict[Key, str] = field(default_factory=dict)
    sources: dict[Key, list[RuleSource]] = field(default_factory=lambda: defaultdict(list))
    ambiguous: dict[Key, list[RuleSource]] = field(default_factory=dict)


def learn_rules(dialogues: Iterable[TrainingDialogue]) -> RuleLookup:
    """Every (rule key -> action) of the rule dialogues; keys with two actions are dropped."""
    lookup = RuleLookup()
    for dialogue in dialogues:
        for index, action in enumerate(dialogue.actions):
            if action == RULE_SNIPPET_ACTION:
                continue
            key = rule_key(dialogue.states[: index + 1])
            if key is None:
                continue
            source = RuleSource(dialogue, index)
            lookup.sources[key].append(source)
            if key in lookup.ambiguous:
                lookup.ambiguous[key].append(source)
                continue
            known = lookup.rules.get(key)
            if known is None:
                lookup.rules[key] = action
            elif known != action:
                lookup.ambiguous[key] = list(lookup.sources[key])
                del lookup.rules[key]
    return lookup


def _unhappy_key(states: Sequence[State]) -> Key | None:
    last = states[-1].without_rejection()
    if len(states) > 1 and not states[-2].is_start:
        before = State(prev_action=states[-2].prev_action,
                       prev_action_text=states[-2].prev_action_text)
        return rule_key((before, last))
    return rule_key((last,))


def learn_loop_unhappy_paths(dialogues: Iterable[TrainingDialogue]) -> dict[Key, str]:
    """What rules and stories say about a loop's unhappy paths.

    After the user spoke and the data runs the loop itself, the loop was
    interrupted and comes back (it should not validate that input). After a
    bot action other than ``action_listen`` the data runs something other
    than the loop, so the loop must not be predicted there.
    """
    notes: dict[Key, str] = {}
    for dialogue in dialogues:
        for index, action in enumerate(dialogue.actions):
            states = dialogue.states[: index + 1]
            loop = states[-1].loop_name
            if not loop:
                continue
            key = _unhappy_key(states)
            if key is None:
                continue
            if states[-1].after_listen and action == loop:
                notes[key] = LOOP_WAS_INTERRUPTED
            elif not states[-1].after_listen and action != loop:
                notes[key] = DO_NOT_PREDICT_LOOP_ACTION
    return notes


class RuleIndex:
    """Matching rule keys quickly: keys grouped by their last state's previous action."""

    def __init__(self, keys: Iterable[Key]) -> None:
        self.by_action: dict[str | None, list[Key]] = defaultdict(list)
        for key in keys:
            self.by_action[key[-1].prev_action].append(key)

    def matching(self, states: Sequence[State]) -> list[Key]:
        current = states[-1]
        candidates = self.by_action.get(current.prev_action, [])
        if current.prev_action is not None:
            # a last state without previous action matches only a conversation start
            candidates = candidates + self.by_action.get(None, [])
        return [key for key in candidates if key_matches(key, states)]
