"""Stories, rules and test stories as sequences of typed steps."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from dialogflowlite.errors import Position
from dialogflowlite.shared.message import Entity


@dataclass
class UserStep:
    """The user said something: an intent (with entities), and for end-to-end steps the text.

    ``entities`` holds :class:`Entity` objects; in intent-level stories they have
    no offsets (``start == end == 0``), only a type and maybe a value.
    """

    intent: str | None = None
    entities: list[Entity] = field(default_factory=list)
    text: str | None = None
    position: Position | None = None


@dataclass
class ActionStep:
    """The bot ran an action, or (end-to-end) said ``bot_text``."""

    name: str | None = None
    bot_text: str | None = None
    position: Position | None = None


#: the value of a slot listed without one (``slot_was_set: [name]``): set to anything
ANY_SLOT_VALUE = "<any value>"


@dataclass
class SlotStep:
    """Slots were set to values (``slot_was_set``)."""

    slots: dict[str, Any] = field(default_factory=dict)
    position: Position | None = None


@dataclass
class ActiveLoopStep:
    """A loop (form) became active, or none is active (``name is None``)."""

    name: str | None
    position: Position | None = None


@dataclass
class CheckpointStep:
    """A named point where stories join (``checkpoint``)."""

    name: str
    slot_conditions: dict[str, Any] = field(default_factory=dict)
    position: Position | None = None


@dataclass
class OrStep:
    """Any one of several user steps (or slot events) leads to the same continuation."""

    alternatives: list[UserStep | SlotStep] = field(default_factory=list)
    position: Position | None = None


Step = UserStep | ActionStep | SlotStep | ActiveLoopStep | CheckpointStep | OrStep
StoryKind = Literal["story", "rule", "test"]


@dataclass
class Story:
    """A story, rule or test story.

    Rules may have a ``condition`` (steps that must hold before the rule
    applies), may apply only at ``conversation_start``, and may end without
    waiting for the user (``wait_for_user_input: false``).
    """

    name: str
    kind: StoryKind = "story"
    steps: list[Step] = field(default_factory=list)
    condition: list[Step] = field(default_factory=list)
    conversation_start: bool = False
    wait_for_user_input: bool = True
    metadata: dict[str, Any] = field(default_factory=dict)
    position: Position | None = None

    @property
    def user_steps(self) -> list[UserStep]:
        found: list[UserStep] = []
        for step in self.steps:
            if isinstance(step, UserStep):
                found.append(step)
            elif isinstance(step, OrStep):
                found.extend(a for a in step.alternatives if isinstance(a, UserStep))
        return found

    @property
    def action_steps(self) -> list[ActionStep]:
        return [s for s in self.steps if isinstance(s, ActionStep)]

    @property
    def is_end_to_end(self) -> bool:
        """Whether any step carries user text or bot text rather than labels only."""
        return any(s.text for s in self.user_steps) or any(s.bot_text for s in self.action_steps)
