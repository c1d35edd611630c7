"""States as vectors for the transformer policy.

Every feature of a state gets a column: ``intent:<name>``, ``entity:<label>``,
``text:<word>`` (end-to-end user turns), ``action:<name>`` and
``action_text:<word>`` (the previous action), ``slot:<name>:<i>`` (a slot's
features, real-valued), ``loop:<name>`` and ``loop_rejected``. The user's
part only counts right after the user spoke (after ``action_listen``), as
the same intent would otherwise echo through every following state.

The vocabulary is built from the domain and the training states; features
first seen at prediction time are ignored. It is deterministic: the same
domain and data give the same columns.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from dialogflowlite.components.policies.states import (
    ENTITY_LABEL_SEPARATOR,
    SHOULD_NOT_BE_SET,
    State,
    categorical_values,
    slot_features,
)
from dialogflowlite.shared.domain import Domain


def _words(text: str) -> list[str]:
    return [w for w in "".join(c.lower() if c.isalnum() else " " for c in text).split() if w]


def state_features(state: State) -> dict[str, float]:
    """The named features of one state (absent features are 0)."""
    found: dict[str, float] = {}
    if state.after_listen:
        if state.intent:
            found[f"intent:{state.intent}"] = 1.0
        elif state.text:
            for word in _words(state.text):
                found[f"text:{word}"] = 1.0
        for label in state.entities:
            found[f"entity:{label}"] = 1.0
    if state.prev_action:
        found[f"action:{state.prev_action}"] = 1.0
    if state.prev_action_text:
        for word in _words(state.prev_action_text):
            found[f"action_text:{word}"] = 1.0
    for name, value in state.slots:
        if isinstance(value, str):
            if value != SHOULD_NOT_BE_SET:
                found[f"slot:{name}:0"] = 1.0
            continue
        for index, number in enumerate(value):
            if number:
                found[f"slot:{name}:{index}"] = float(number)
    if state.loop_name:
        found[f"loop:{state.loop_name}"] = 1.0
        if state.loop_rejected:
            found["loop_rejected"] = 1.0
    return found


def domain_feature_names(domain: Domain) -> list[str]:
    """The columns every model of this domain has, in a fixed order."""
    names = [f"intent:{i}" for i in domain.intent_names]
    for name, entity in domain.entities.items():
        names.append(f"entity:{name}")
        names.extend(f"entity:{name}{ENTITY_LABEL_SEPARATOR}{extra}"
                     for extra in [*entity.roles, *entity.groups])
    names.extend(f"action:{a}" for a in domain.action_names)
    for name, slot in domain.slots.items():
        features = slot_features(slot, None)
        if features is None:
            continue
        size = len(categorical_values(slot)) if slot.type == "categorical" else len(features)
        names.extend(f"slot:{name}:{i}" for i in range(size))
    names.extend(f"loop:{form}" for form in domain.forms)
    names.append("loop_rejected")
    return names


class StateVocabulary:
    """Feature name -> column, and states -> padded feature windows."""

    def __init__(self, names: Iterable[str]) -> None:
        self.names = list(dict.fromkeys(names))
        self.index = {name: i for i, name in enumerate(self.names)}

    @classmethod
    def build(cls, domain: Domain, states: Iterable[State]) -> StateVocabulary:
        """Columns for the domain, then features only seen in the data (sorted)."""
        names = domain_feature_names(domain)
        known = set(names)
        extra = {f for state in states for f in state_features(state) if f not in known}
        return cls([*names, *sorted(extra)])

    def __len__(self) -> int:
        return len(self.names)

    def encode(self, states: Sequence[State], max_history: int
               ) -> tuple[list[tuple[int, int, float]], list[bool]]:
        """The last ``max_history`` states, left-padded, as sparse ``(row, column, value)``
        entries, and which of the ``max_history`` rows are real states."""
        window = list(states[-max_history:])
        padding = max_history - len(window)
        entries = []
        for offset, state in enumerate(window):
            for name, value in state_features(state).items():
                column = self.index.get(name)
                if column is not None:
                    entries.append((padding + offset, column, value))
        return entries, [False] * padding + [True] * len(window)

    def to_json(self) -> dict[str, Any]:
        return {"features": self.names}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> StateVocabulary:
        return cls(data["features"])
