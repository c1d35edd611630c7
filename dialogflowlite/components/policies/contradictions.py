"""Checking rules and stories before a model learns from them.

Rules must not disagree with each other or with the stories: a rule would
silently win at run time and the story's action would never happen. Every
rule and story is replayed against the learnt rules; wherever the rules
predict an action the data does not take, the error names each rule and
story involved with its file:line and both actions. Rules may also hold at
most one user turn (``restrict_rules``), so they stay rules and do not grow
into state machines.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

from dialogflowlite.components.policies.dialogues import TrainingDialogue
from dialogflowlite.components.policies.rule_matching import RuleSource
from dialogflowlite.components.policies.states import RULE_SNIPPET_ACTION
from dialogflowlite.errors import Position, TrainingError
from dialogflowlite.shared.events import UserUttered

if TYPE_CHECKING:
    from dialogflowlite.components.policies.rule import RulePolicy

#: rules may hold this many user turns when ``restrict_rules`` is on
ALLOWED_USER_TURNS = 1


def _where(position: Position | None) -> str:
    return str(position) if position is not None else "<unknown>"


def _describe(source: RuleSource) -> str:
    dialogue = source.dialogue
    kind = "rule" if dialogue.is_rule else "story"
    return f"{kind} '{dialogue.name}' ({_where(dialogue.where(source.index))})"


def check_rule_restriction(rules: Sequence[TrainingDialogue]) -> None:
    """Raise TrainingError for rules with more than one user turn."""
    long_rules = [d for d in rules
                  if sum(isinstance(e, UserUttered) for e in d.path.events) > ALLOWED_USER_TURNS]
    if not long_rules:
        return
    lines = "\n".join(f"- {_where(d.path.position)}: rule '{d.name}' has "
                      f"{sum(isinstance(e, UserUttered) for e in d.path.events)} user turns"
                      for d in long_rules)
    raise TrainingError(
        f"rules may hold at most {ALLOWED_USER_TURNS} user turn, these hold more:\n{lines}",
        hint="write these as stories, or set `restrict_rules: false` for RulePolicy",
        position=long_rules[0].path.position)


def _ambiguity_messages(policy: RulePolicy) -> list[tuple[Position | None, str]]:
    found = []
    for sources in policy.lookup.ambiguous.values():
        by_action: dict[str, list[RuleSource]] = {}
        for source in sources:
            by_action.setdefault(source.action, []).append(source)
        parts = "; ".join(f"{', '.join(_describe(s) for s in group)} "
                          f"{'runs' if len(group) == 1 else 'run'} '{action}'"
                          for action, group in by_action.items())
        found.append((sources[0].dialogue.where(sources[0].index),
                      f"rules disagree after the same conversation: {parts}"))
    return found


def _replay(policy: RulePolicy, dialogue: TrainingDialogue,
            reported: set[tuple[int, int]]) -> list[tuple[Position | None, str]]:
    found = []
    unpredictable = True  # the first action of a path, and the one after `...`
    for index, gold in enumerate(dialogue.actions):
        if gold == RULE_SNIPPET_ACTION:
            unpredictable = True
            continue
        if unpredictable or (id(dialogue), index) in reported:
            unpredictable = False
            continue
        states = dialogue.states[: index + 1]
        decision = policy.decide(states)
        current = states[-1]
        if (decision.action != gold and current.loop_name
                and decision.action == current.loop_name):
            # at run time the loop would reject its execution here; decide again
            states = [*states[:-1], replace(current, loop_rejected=True)]
            decision = policy.decide(states)
        if decision.action == gold or (decision.action is None and not dialogue.is_rule):
            continue
        found.append(_contradiction(policy, dialogue, index, decision.action, decision.source))
    return found


def _contradiction(policy: RulePolicy, dialogue: TrainingDialogue, index: int,
                   predicted: str | None, source: object) -> tuple[Position | None, str]:
    gold = dialogue.actions[index]
    kind = "rule" if dialogue.is_rule else "story"
    where = dialogue.where(index)
    head = f"{_where(where)}: {kind} '{dialogue.name}' runs '{gold}'"
    if predicted is None:
        return where, (f"{head}, but no rule predicts it there (another rule or the "
                       "active loop takes over)")
    others = [s for s in policy.lookup.sources.get(source, []) if s.action != gold]  # type: ignore[arg-type]
    if others:
        named = ", ".join(_describe(s) for s in others)
        return where, f"{head}, but {named} predicts '{predicted}' in the same situation"
    return where, f"{head}, but the rules predict '{predicted}' there ({source})"


def find_contradictions(policy: RulePolicy, rules: Sequence[TrainingDialogue],
                        stories: Sequence[TrainingDialogue]) -> list[tuple[Position | None, str]]:
    """Every contradiction as (position, message), rules disagreeing with each other first."""
    found = _ambiguity_messages(policy)
    # actions of rules that disagree with each other are reported once, above
    reported = {(id(s.dialogue), s.index) for sources in policy.lookup.ambiguous.values()
                for s in sources}
    for dialogue in [*rules, *stories]:
        found.extend(_replay(policy, dialogue, reported))
    return found


def raise_on_contradictions(policy: RulePolicy, rules: Sequence[TrainingDialogue],
                            stories: Sequence[TrainingDialogue]) -> None:
    """Raise one TrainingError listing every contradiction found."""
    found = find_contradictions(policy, rules, stories)
    if not found:
        return
    unique = list(dict.fromkeys(message for _, message in found))
    lines = "\n".join(f"- {message}" for message in unique)
    raise TrainingError(
        f"contradicting rules or stories found:\n{lines}",
        hint="change the rules or stories so that they agree, or add a condition "
             "(slot_was_set / active_loop) that tells them apart",
        position=found[0][0])
