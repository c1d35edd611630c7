"""The marker tree: conditions on single events, operators that combine markers.

A marker answers one question at every event of a session: does it apply
here? :meth:`Marker.applies` gives the answers for a whole session at once,
one per event, each operator computing its answers from its sub-markers'.
The meanings are Rasa's:

- ``action: X`` applies at an ``action`` event running ``X``; ``intent: X`` at
  a ``user`` event whose intent (or full retrieval intent ``faq/ask_x``) is
  ``X``; ``slot_was_set: X`` from an event that sets ``X`` to a value up to
  the next event that sets it to ``null``.
- ``and`` / ``or`` apply where all / any sub-markers apply at the same event;
  ``not`` where its one sub-marker does not.
- ``seq`` applies where its last sub-marker completes the sub-markers in
  order, any events in between; after a completion it starts again from the
  first sub-marker, and it advances at most one step per event.
- ``at_least_once`` applies from the first event where its sub-marker applies
  onwards, and only that first event is reported. ``never`` is reported once,
  at the session's last event, when its sub-marker applied nowhere in the
  session (Rasa's reports the first event where it has not applied yet).

Each negated tag is its positive marker with every answer flipped:
``not_action``, ``not_intent``, ``slot_was_not_set``, ``at_least_one_not``
(of ``and``) and ``never`` (of ``at_least_once``, so reported at the first
event where the sub-marker has not applied yet).
"""

from __future__ import annotations

import abc
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import ClassVar

from dialogflowlite.errors import Position
from dialogflowlite.shared.events import ActionExecuted, Event, SlotSet, UserUttered
from dialogflowlite.shared.message import full_intent_name


@dataclass(frozen=True, kw_only=True)
class Marker(abc.ABC):
    """A node of a marker definition: a condition or an operator.

    ``tag`` is the key it was written with (``intent``, ``never``, ...);
    ``negated`` flips every answer of the positive marker.
    """

    tag: str
    negated: bool = False
    position: Position | None = field(default=None, compare=False)

    def applies(self, events: Sequence[Event]) -> list[bool]:
        """For each event of the session, whether this marker applies there."""
        answers = self._positive(events)
        return [not answer for answer in answers] if self.negated else answers

    def marked(self, events: Sequence[Event]) -> list[int]:
        """The indices of the events at which this marker is reported.

        Every event where it applies; :class:`AtLeastOnceOperator` reports only
        the first.
        """
        return [index for index, answer in enumerate(self.applies(events)) if answer]

    def walk(self) -> Iterator[Marker]:
        """This marker and every marker below it, depth first."""
        yield self

    @abc.abstractmethod
    def _positive(self, events: Sequence[Event]) -> list[bool]:
        """The answers of the marker without its negation."""


# ---------------------------------------------------------------- conditions


@dataclass(frozen=True, kw_only=True)
class Condition(Marker):
    """A condition on events; ``value`` names an action, an intent or a slot."""

    #: what ``value`` names, for messages and the domain check
    kind: ClassVar[str] = ""
    value: str


@dataclass(frozen=True, kw_only=True)
class ActionCondition(Condition):
    """``action`` / ``not_action``: the event runs the action ``value``."""

    kind: ClassVar[str] = "action"

    def _positive(self, events: Sequence[Event]) -> list[bool]:
        return [isinstance(e, ActionExecuted) and e.name == self.value for e in events]


@dataclass(frozen=True, kw_only=True)
class IntentCondition(Condition):
    """``intent`` / ``not_intent``: the event is a user message with the intent ``value``."""

    kind: ClassVar[str] = "intent"

    def _positive(self, events: Sequence[Event]) -> list[bool]:
        return [isinstance(e, UserUttered) and self.value in intent_names(e) for e in events]


@dataclass(frozen=True, kw_only=True)
class SlotWasSetCondition(Condition):
    """``slot_was_set`` / ``slot_was_not_set``: the slot ``value`` holds a value.

    As in Rasa only ``slot`` events of this slot change the answer: a restart
    or a slot reset does not.
    """

    kind: ClassVar[str] = "slot"

    def _positive(self, events: Sequence[Event]) -> list[bool]:
        answers, is_set = [], False
        for event in events:
            if isinstance(event, SlotSet) and event.name == self.value:
                is_set = event.value is not None
            answers.append(is_set)
        return answers


def intent_names(event: UserUttered) -> set[str]:
    """The names a user event's intent goes by: ``faq`` and, if known, ``faq/ask_x``."""
    intent = event.parse_data.get("intent") or {}
    names = {intent.get("name"), intent.get("full_retrieval_intent_name")}
    # the runtime keeps the full retrieval intent in the response selector's answer
    # (a `default` selector's answer to a greeting is no retrieval intent of it)
    names.add(full_intent_name(event.parse_data))
    return {name for name in names if isinstance(name, str) and name}


# ---------------------------------------------------------------- operators


@dataclass(frozen=True, kw_only=True)
class Operator(Marker):
    """An operator over sub-markers (``children``, in the order written)."""

    #: how many sub-markers it takes (None: one or more)
    arity: ClassVar[int | None] = None
    children: tuple[Marker, ...]

    def walk(self) -> Iterator[Marker]:
        yield self
        for child in self.children:
            yield from child.walk()

    def _children_answers(self, events: Sequence[Event]) -> list[list[bool]]:
        return [child.applies(events) for child in self.children]


@dataclass(frozen=True, kw_only=True)
class AndOperator(Operator):
    """``and`` / ``at_least_one_not``: every sub-marker applies at the event."""

    def _positive(self, events: Sequence[Event]) -> list[bool]:
        return [all(step) for step in zip(*self._children_answers(events), strict=True)]


@dataclass(frozen=True, kw_only=True)
class OrOperator(Operator):
    """``or``: some sub-marker applies at the event."""

    def _positive(self, events: Sequence[Event]) -> list[bool]:
        return [any(step) for step in zip(*self._children_answers(events), strict=True)]


@dataclass(frozen=True, kw_only=True)
class NotOperator(Operator):
    """``not``: its one sub-marker does not apply at the event."""

    arity: ClassVar[int | None] = 1

    def _positive(self, events: Sequence[Event]) -> list[bool]:
        return [not answer for answer in self.children[0].applies(events)]


@dataclass(frozen=True, kw_only=True)
class SeqOperator(Operator):
    """``seq``: the sub-markers applied in order, ending at this event."""

    def _positive(self, events: Sequence[Event]) -> list[bool]:
        children = self._children_answers(events)
        answers, progress = [], 0
        for index in range(len(events)):
            if children[progress][index]:
                progress += 1
            completed = progress == len(children)
            if completed:
                progress = 0
            answers.append(completed)
        return answers


@dataclass(frozen=True, kw_only=True)
class AtLeastOnceOperator(Operator):
    """``at_least_once`` / ``never``: its sub-marker has applied at this event or before."""

    arity: ClassVar[int | None] = 1

    def _positive(self, events: Sequence[Event]) -> list[bool]:
        answers, seen = [], False
        for answer in self.children[0].applies(events):
            seen = seen or answer
            answers.append(seen)
        return answers

    def marked(self, events: Sequence[Event]) -> list[int]:
        answers = self.applies(events)
        if self.negated:
            # ``never`` holds for a session only if its sub-marker applied nowhere in
            # it, which is known at its last event. (Rasa reports the first event where
            # the sub-marker has not applied *yet*: nearly every session, even those
            # where it applied later, which says nothing.)
            return [len(answers) - 1] if answers and all(answers) else []
        return [answers.index(True)] if True in answers else []


#: condition tags: tag -> (class, negated)
CONDITION_TAGS: dict[str, tuple[type[Condition], bool]] = {
    "action": (ActionCondition, False),
    "not_action": (ActionCondition, True),
    "intent": (IntentCondition, False),
    "not_intent": (IntentCondition, True),
    "slot_was_set": (SlotWasSetCondition, False),
    "slot_was_not_set": (SlotWasSetCondition, True),
}

#: operator tags: tag -> (class, negated)
OPERATOR_TAGS: dict[str, tuple[type[Operator], bool]] = {
    "and": (AndOperator, False),
    "at_least_one_not": (AndOperator, True),
    "or": (OrOperator, False),
    "not": (NotOperator, False),
    "seq": (SeqOperator, False),
    "at_least_once": (AtLeastOnceOperator, False),
    "never": (AtLeastOnceOperator, True),
}

ALL_TAGS: tuple[str, ...] = (*CONDITION_TAGS, *OPERATOR_TAGS)


@dataclass(frozen=True)
class MarkerDefinition:
    """One named marker of a markers file, with where it was defined."""

    name: str
    marker: Marker
    position: Position
    description: str | None = None

    def marked(self, events: Sequence[Event]) -> list[int]:
        """The indices of the session's events at which the marker is reported."""
        return self.marker.marked(events)
