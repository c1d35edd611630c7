"""Checking rules and stories before a model learns from them.

Rules must not disagree with each other or with the stories: a rule would
silently win at run time and the story's action would never happen. Every
rule and story is replayed against the learnt rules; wherever the rules
predict an action the data does not take, the error names each rule and
story involved with its file:line and both actions (except where a story
goes on after the first action of a rule that starts with a bot action: as in
Rasa, that rule's "listen here" is forgotten instead). Rules may also hold at
most one user turn (``restrict_rules``), so they stay rules and do not grow
into state machines, and a rule must not leave out slots or a loop that its
action sets in other rules (it would be *incomplete*, as Rasa calls it).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from dialogflowlite.components.policies.dialogues import TrainingDialogue
from dialogflowlite.components.policies.rule_matching import RuleSource
from dialogflowlite.components.policies.states import (
    RULE_SNIPPET_ACTION,
    SHOULD_NOT_BE_SET,
    StateFeaturizer,
)
from dialogflowlite.errors import Position, RuleDataError
from dialogflowlite.shared.domain import ACTION_LISTEN
from dialogflowlite.shared.events import ActionExecuted, ActiveLoop, SlotSet, UserUttered

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
    # a rule with `or:` steps expands into several paths: each rule is named once
    lines = "\n".join(dict.fromkeys(
        f"- {_where(d.path.position)}: rule '{d.name}' has "
        f"{sum(isinstance(e, UserUttered) for e in d.path.events)} user turns"
        for d in long_rules))
    raise RuleDataError(
        f"rules may hold at most {ALLOWED_USER_TURNS} user turn, these hold more:\n{lines}",
        hint="write these as stories, or set `restrict_rules: false` for RulePolicy",
        position=long_rules[0].path.position)


def _action_fingerprints(rules: Sequence[TrainingDialogue], featurised: set[str]
                         ) -> dict[str, tuple[set[str], set[str | None]]]:
    """For each action of the rules: the featurised slots and the loops the rules set
    right after it (before the next action or user turn), as Rasa's fingerprints."""
    found: dict[str, tuple[set[str], set[str | None]]] = {}
    for dialogue in rules:
        action: str | None = None
        for event in dialogue.events:
            if isinstance(event, ActionExecuted):
                action = event.name or event.action_text
                continue
            if isinstance(event, UserUttered):
                # slots filled from the user's entities are not the action's doing
                action = None
                continue
            if action is None:
                continue
            slots, loops = found.setdefault(action, (set(), set()))
            if isinstance(event, SlotSet) and event.name in featurised:
                slots.add(event.name)
            elif isinstance(event, ActiveLoop):
                loops.add(event.name)
    return found


def _slots_written(dialogue: TrainingDialogue) -> list[set[str]]:
    """For each state of ``dialogue``: the slots its events set before it."""
    written: list[set[str]] = []
    names: set[str] = set()
    for event in dialogue.events:
        if isinstance(event, ActionExecuted):
            written.append(set(names))
        elif isinstance(event, SlotSet):
            names.add(event.name)
    written.append(names)
    return written


def _loop_label(name: str | None) -> str:
    return "null" if name in (None, SHOULD_NOT_BE_SET) else str(name)


def check_incomplete_rules(rules: Sequence[TrainingDialogue], featurizer: StateFeaturizer
                           ) -> None:
    """Raise TrainingError for rules where an action leaves out what it does elsewhere.

    When an action sets slots or a loop in one rule, every rule with that action
    must show the same (or end with ``wait_for_user_input: false`` right after
    it), otherwise the rule would not match the conversations where the action
    did set them; Rasa refuses such rules as incomplete.
    """
    fingerprints = _action_fingerprints(rules, set(featurizer.featurised_slots))
    if not fingerprints:
        return
    problems: list[tuple[Position | None, str]] = []
    for dialogue in rules:
        # the rule's states with slots that hold their initial value too
        full_states = featurizer.states(dialogue.events)
        written = _slots_written(dialogue)
        following = [*dialogue.actions, ACTION_LISTEN]
        for index, (state, action) in enumerate(zip(dialogue.states, following, strict=False)):
            previous = state.prev_action
            fingerprint = fingerprints.get(previous or "")
            if (previous is None or fingerprint is None or RULE_SNIPPET_ACTION
                    in (previous, action)):
                continue
            slots, loops = fingerprint
            # a slot the rule sets to null says it must not be set: that counts too
            present = {name for name, _ in state.slots} | written[index] | \
                {name for name, _ in full_states[index].slots}
            missing = sorted(slots - present)
            where = dialogue.where(index - 1)
            head = f"{_where(where)}: rule '{dialogue.name}' is incomplete: the action " \
                   f"'{previous}'"
            if missing:
                problems.append((where, f"{head} does not set the slot(s) "
                                        f"{', '.join(repr(n) for n in missing)} that it sets "
                                        "in other rules"))
            if loops and state.active_loop not in loops:
                expected = sorted({_loop_label(n) for n in loops})
                problems.append((where, f"{head} does not set the active loop, which it sets "
                                        f"in other rules to {', '.join(expected)}"))
    if not problems:
        return
    lines = "\n".join(f"- {message}" for message in dict.fromkeys(m for _, m in problems))
    raise RuleDataError(
        f"incomplete rules found:\n{lines}",
        hint="add the missing `slot_was_set` / `active_loop` steps after the action "
             "(null for one that must not be set), or end the rule with "
             "`wait_for_user_input: false` right after the action; "
             "`check_for_contradictions: false` skips this check",
        position=problems[0][0])


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


@dataclass
class RuleSources:
    """Which rules (by :func:`~dialogflowlite.components.policies.rule.source_id`)
    the rules themselves use, and which the stories follow too."""

    in_rules: set[str] = field(default_factory=set)
    in_stories: set[str] = field(default_factory=set)


def _replay(policy: RulePolicy, dialogue: TrainingDialogue, reported: set[tuple[int, int]],
            sources: RuleSources | None = None) -> list[tuple[Position | None, str]]:
    from dialogflowlite.components.policies.rule import source_id

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
        source = source_id(decision.source)
        if sources is not None and source is not None:
            if dialogue.is_rule:
                sources.in_rules.add(source)
            elif decision.action == gold:
                sources.in_stories.add(source)
        if decision.action == gold or (decision.action is None and not dialogue.is_rule):
            continue
        if (not dialogue.is_rule and decision.action == ACTION_LISTEN
                and policy.forget_listening_rule(decision.source)):
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
                        stories: Sequence[TrainingDialogue],
                        sources: RuleSources | None = None
                        ) -> list[tuple[Position | None, str]]:
    """Every contradiction as (position, message), rules disagreeing with each other
    first; ``sources`` collects which rules the rules and the stories use."""
    found = _ambiguity_messages(policy)
    # actions of rules that disagree with each other are reported once, above
    reported = {(id(s.dialogue), s.index) for ambiguous in policy.lookup.ambiguous.values()
                for s in ambiguous}
    for dialogue in [*rules, *stories]:
        found.extend(_replay(policy, dialogue, reported, sources))
    return found


def raise_on_contradictions(policy: RulePolicy, rules: Sequence[TrainingDialogue],
                            stories: Sequence[TrainingDialogue]) -> RuleSources:
    """Raise one TrainingError listing every contradiction found; without any,
    return which rules the rules and the stories use."""
    sources = RuleSources()
    found = find_contradictions(policy, rules, stories, sources)
    if not found:
        return sources
    unique = list(dict.fromkeys(message for _, message in found))
    lines = "\n".join(f"- {message}" for message in unique)
    raise RuleDataError(
        f"contradicting rules or stories found:\n{lines}",
        hint="change the rules or stories so that they agree, or add a condition "
             "(slot_was_set / active_loop) that tells them apart",
        position=found[0][0])
