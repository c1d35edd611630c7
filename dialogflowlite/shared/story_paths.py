"""Stories and rules as the linear event sequences that dialogue policies learn from.

A story is written as steps (user turns, actions, slots, active loops,
checkpoints, ``or`` alternatives). Policies and checks need it as events, the
way a live conversation records them:

* a user step becomes ``ActionExecuted("action_listen")`` (unless the previous
  event already is one) followed by ``UserUttered`` whose ``parse_data`` holds
  the intent (confidence 1.0) and the entities as dicts with ``entity``,
  ``value``, ``role`` and ``group`` (plus ``start``/``end`` when the step has
  annotated text);
* an action step becomes ``ActionExecuted``; an end-to-end bot step
  (``bot: text``) becomes ``ActionExecuted("action_send_text",
  action_text=text)``;
* ``slot_was_set`` becomes one ``SlotSet`` per slot (a slot listed without a
  value gets :data:`~dialogflowlite.shared.stories.ANY_SLOT_VALUE`);
* ``active_loop`` becomes ``ActiveLoop``;
* checkpoints produce no events: they say where stories join.

A story (or rule) that waits for the user at its end gets a final
``action_listen``, so "listen now" is learnt too. In format 2.0 projects an
entity also sets the slot of the same name (Rasa 2's ``auto_fill``), so those
``SlotSet`` events follow the user turn; 3.x stories write ``slot_was_set``
themselves.

:func:`expand_story_paths` joins stories through checkpoints and expands
``or`` steps into separate paths. Rule conditions are not part of a rule's
events; they are on :attr:`StoryPath.condition`.
"""

from __future__ import annotations

import itertools
import logging
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from dialogflowlite.errors import Position, ProjectError
from dialogflowlite.shared.domain import ACTION_LISTEN, ACTION_SEND_TEXT, FROM_ENTITY, Domain
from dialogflowlite.shared.events import ActionExecuted, ActiveLoop, Event, SlotSet, UserUttered
from dialogflowlite.shared.message import RETRIEVAL_SEPARATOR
from dialogflowlite.shared.stories import (
    ANY_SLOT_VALUE,
    ActionStep,
    ActiveLoopStep,
    CheckpointStep,
    OrStep,
    SlotStep,
    Step,
    Story,
    StoryKind,
    UserStep,
)

logger = logging.getLogger(__name__)

#: how many paths :func:`expand_story_paths` produces at most by default
DEFAULT_MAX_PATHS = 5000

#: the (fixed) timestamp of events made from stories, so equal stories give equal events
STORY_TIMESTAMP = 0.0


@dataclass
class StoryPath:
    """One linear conversation made from one story or rule, or from several joined ones.

    ``events`` and ``event_positions`` run in parallel: the second says which
    step each event was written as (an inserted ``action_listen`` points at the
    user step it precedes, a final one at the last step).
    """

    #: names of the stories joined into this path, in order
    stories: list[str]
    events: list[Event]
    #: where the first story starts
    position: Position | None = None
    event_positions: list[Position | None] = field(default_factory=list)
    kind: StoryKind = "story"
    #: rules only: events that must hold before the rule applies (slots, active loop)
    condition: list[Event] = field(default_factory=list)
    #: rules only: the rule applies only at the start of a conversation
    conversation_start: bool = False
    #: rules only: whether the rule ends by listening to the user
    wait_for_user_input: bool = True

    @property
    def name(self) -> str:
        """The joined story names, for messages (``a > b`` when joined by checkpoints)."""
        return " > ".join(self.stories)


@dataclass
class StoryExpansion:
    """What :func:`expand_stories` found: the paths and what did not join up."""

    paths: list[StoryPath]
    #: True when ``max_paths`` stopped the expansion before every path was produced
    truncated: bool = False
    #: start checkpoints that no story ends with (their stories start a path on their own)
    unsatisfied_checkpoints: list[CheckpointStep] = field(default_factory=list)
    #: end checkpoints that no story starts with (their paths end there)
    unused_checkpoints: list[CheckpointStep] = field(default_factory=list)


# ---------------------------------------------------------------- steps -> events


def _entity_dict(entity: Any, with_offsets: bool) -> dict[str, Any]:
    data: dict[str, Any] = {
        "entity": entity.entity,
        "value": entity.value,
        "role": entity.role,
        "group": entity.group,
    }
    if with_offsets:
        data["start"] = entity.start
        data["end"] = entity.end
    return data


def user_event(step: UserStep) -> UserUttered:
    """The ``UserUttered`` event of a user step (intent confidence 1.0)."""
    with_offsets = step.text is not None
    intent: dict[str, Any] = {}
    if step.intent:
        # A retrieval intent (`faq/ask_hours`) is the intent `faq` to the dialogue, as
        # in Rasa; the full name stays next to it for the response selection.
        base, _, key = step.intent.partition(RETRIEVAL_SEPARATOR)
        intent = {"name": base, "confidence": 1.0}
        if key:
            intent["full_retrieval_intent_name"] = step.intent
    parse: dict[str, Any] = {
        "intent": intent,
        "entities": [_entity_dict(e, with_offsets) for e in step.entities],
    }
    if step.text is not None:
        parse["text"] = step.text
    return UserUttered(text=step.text, parse_data=parse, timestamp=STORY_TIMESTAMP)


def _auto_filled_slots(step: UserStep, domain: Domain | None) -> list[SlotSet]:
    """Format 2.0: entities fill the slots of the same name as the user turn happens."""
    if domain is None or not domain.store_entities_as_slots:
        return []
    major = str(domain.version).strip().split(".", 1)[0]
    if not major.isdigit() or int(major) >= 3:
        return []
    found = []
    for entity in step.entities:
        if entity.value is None:
            continue
        for slot in domain.slots_for_entity(entity.entity):
            if any(
                m.type == FROM_ENTITY and m.entity == entity.entity and not m.conditions
                for m in slot.mappings
            ):
                found.append(SlotSet(name=slot.name, value=entity.value, timestamp=STORY_TIMESTAMP))
    return found


def step_events(step: Step, domain: Domain | None = None) -> list[Event]:
    """The events of one step, without the ``action_listen`` before a user turn.

    Checkpoints give no events; an ``or`` step raises :class:`ValueError`
    (choose an alternative first, as :func:`expand_story_paths` does).
    """
    if isinstance(step, UserStep):
        return [user_event(step), *_auto_filled_slots(step, domain)]
    if isinstance(step, ActionStep):
        return [
            ActionExecuted(
                name=step.name or ACTION_SEND_TEXT,
                action_text=step.bot_text,
                timestamp=STORY_TIMESTAMP,
            )
        ]
    if isinstance(step, SlotStep):
        return [
            SlotSet(name=name, value=value, timestamp=STORY_TIMESTAMP)
            for name, value in step.slots.items()
        ]
    if isinstance(step, ActiveLoopStep):
        return [ActiveLoop(name=step.name, timestamp=STORY_TIMESTAMP)]
    if isinstance(step, CheckpointStep):
        return []
    if isinstance(step, OrStep):
        raise ValueError(
            "an `or` step has several alternatives; expand it with "
            "expand_story_paths() or pick one alternative"
        )
    raise TypeError(f"not a story step: {step!r}")


def _is_listen(event: Event) -> bool:
    return isinstance(event, ActionExecuted) and event.name == ACTION_LISTEN


class _EventBuilder:
    """Appends steps' events, inserting ``action_listen`` before user turns."""

    def __init__(self, domain: Domain | None) -> None:
        self.domain = domain
        self.events: list[Event] = []
        self.positions: list[Position | None] = []

    def add(self, step: Step) -> None:
        if isinstance(step, UserStep):
            self.listen(step.position)
        for event in step_events(step, self.domain):
            self.events.append(event)
            self.positions.append(step.position)

    def listen(self, where: Position | None) -> None:
        if not self.events or not _is_listen(self.events[-1]):
            self.events.append(ActionExecuted(name=ACTION_LISTEN, timestamp=STORY_TIMESTAMP))
            self.positions.append(where)

    def finish(self, wait_for_user: bool) -> None:
        if wait_for_user:
            self.listen(self.positions[-1] if self.positions else None)

    def copy(self) -> _EventBuilder:
        other = _EventBuilder(self.domain)
        other.events = list(self.events)
        other.positions = list(self.positions)
        return other


def steps_to_events(
    steps: Iterable[Step], domain: Domain | None = None, *, final_listen: bool = False
) -> list[Event]:
    """The events of linear steps (no ``or`` steps), with ``action_listen`` before user turns."""
    builder = _EventBuilder(domain)
    for step in steps:
        builder.add(step)
    builder.finish(final_listen)
    return builder.events


def story_to_events(
    story: Story, domain: Domain | None = None, *, final_listen: bool | None = None
) -> list[Event]:
    """The events of one story or rule, read as a linear conversation.

    Checkpoints are skipped. ``final_listen`` defaults to what the story says:
    stories and test stories end by listening, rules unless
    ``wait_for_user_input: false``. A story with ``or`` steps has several
    conversations: use :func:`expand_story_paths`.
    """
    if final_listen is None:
        final_listen = story.wait_for_user_input if story.kind == "rule" else True
    if any(isinstance(s, OrStep) for s in story.steps):
        raise ValueError(
            f"story {story.name!r} has `or` steps and so more than one "
            "conversation; use expand_story_paths()"
        )
    return steps_to_events(story.steps, domain, final_listen=final_listen)


def condition_to_events(rule: Story, domain: Domain | None = None) -> list[Event]:
    """The events a rule's ``condition`` requires (slots and active loop), in order.

    An ``or`` step raises :class:`~dialogflowlite.errors.ProjectError`: one
    rule cannot hold several conditions. The story reader refuses such a rule,
    so only rules built in code get here.
    """
    events: list[Event] = []
    for step in rule.condition:
        if isinstance(step, OrStep):
            raise ProjectError(
                f"the condition of rule {rule.name!r} has an `or` step",
                hint="a condition holds only `active_loop` and `slot_was_set` steps: "
                "write one rule per alternative",
                position=step.position or rule.position,
                code="DFL103",
            )
        events.extend(step_events(step, domain))
    return events


# ---------------------------------------------------------------- joining and expanding


@dataclass
class _Segment:
    """A run of steps between checkpoints (a story without checkpoints is one segment)."""

    story: Story
    index: int
    starts: list[CheckpointStep]
    steps: list[Step]
    ends: list[CheckpointStep]


def _segments(story: Story) -> list[_Segment]:
    segments: list[_Segment] = []
    starts: list[CheckpointStep] = []
    steps: list[Step] = []
    pending: list[CheckpointStep] = []
    for step in story.steps:
        if isinstance(step, CheckpointStep):
            pending.append(step)
            continue
        if pending:
            if steps:
                segments.append(_Segment(story, len(segments), starts, steps, pending))
                steps = []
            starts, pending = pending, []
        steps.append(step)
    if steps or pending or starts:
        segments.append(_Segment(story, len(segments), starts, steps, pending))
    return segments


def _variants(steps: Sequence[Step], limit: int) -> tuple[list[list[Step]], bool]:
    """Every choice of one alternative per ``or`` step, at most ``limit`` of them."""
    choices = [step.alternatives if isinstance(step, OrStep) else [step] for step in steps]
    # An `or` step without alternatives (already reported by the reader) is skipped.
    choices = [c for c in choices if c]
    found: list[list[Step]] = []
    for combination in itertools.product(*choices):
        if len(found) >= limit:
            return found, True
        found.append(list(combination))
    return found, False


def _slot_values(events: Iterable[Event]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for event in events:
        if isinstance(event, SlotSet):
            values[event.name] = event.value
    return values


def _conditions_hold(checkpoint: CheckpointStep, events: list[Event]) -> bool:
    if not checkpoint.slot_conditions:
        return True
    values = _slot_values(events)
    for slot, expected in checkpoint.slot_conditions.items():
        actual = values.get(slot)
        if expected == ANY_SLOT_VALUE:
            if actual is None:
                return False
        elif actual != expected:
            return False
    return True


def _unjoined(segments: list[_Segment]) -> tuple[list[CheckpointStep], list[CheckpointStep]]:
    started = {c.name for s in segments for c in s.starts}
    ended = {c.name for s in segments for c in s.ends}
    return (
        [c for s in segments for c in s.starts if c.name not in ended],
        [c for s in segments for c in s.ends if c.name not in started],
    )


def unjoined_checkpoints(
    stories: Iterable[Story],
) -> tuple[list[CheckpointStep], list[CheckpointStep]]:
    """Start checkpoints no story ends with, and end checkpoints no story starts with."""
    return _unjoined([segment for story in stories for segment in _segments(story)])


class _Expander:
    def __init__(self, stories: Sequence[Story], domain: Domain | None, max_paths: int) -> None:
        self.domain = domain
        self.max_paths = max_paths
        self.paths: list[StoryPath] = []
        self.truncated = False
        #: set once a path beyond ``max_paths`` was asked for: nothing more is produced
        self.stopped = False
        self.segments = [segment for story in stories for segment in _segments(story)]
        self.by_start: dict[str, list[_Segment]] = defaultdict(list)
        for segment in self.segments:
            for checkpoint in segment.starts:
                self.by_start[checkpoint.name].append(segment)
        self.unsatisfied, self.unused = _unjoined(self.segments)

    def roots(self) -> Iterator[_Segment]:
        """Segments a conversation can begin with.

        Besides stories without a start checkpoint, a story whose start
        checkpoints nobody reaches begins a path of its own, so its data is
        not silently lost (the validator warns about it).
        """
        unsatisfied = {c.name for c in self.unsatisfied}
        for segment in self.segments:
            if not segment.starts or all(c.name in unsatisfied for c in segment.starts):
                yield segment

    def run(self) -> None:
        for root in self.roots():
            if self.stopped:
                return
            self._walk(root, _EventBuilder(self.domain), [], [id(root)], root.story)

    def _emit(self, builder: _EventBuilder, names: list[str], first: Story) -> None:
        if len(self.paths) >= self.max_paths:
            self.stopped = self.truncated = True
            return
        wait = first.wait_for_user_input if first.kind == "rule" else True
        builder.finish(wait)
        self.paths.append(
            StoryPath(
                stories=names,
                events=builder.events,
                position=first.position,
                event_positions=builder.positions,
                kind=first.kind,
                condition=condition_to_events(first, self.domain) if first.kind == "rule" else [],
                conversation_start=first.conversation_start,
                wait_for_user_input=wait,
            )
        )

    def _walk(
        self,
        segment: _Segment,
        builder: _EventBuilder,
        names: list[str],
        visited: list[int],
        first: Story,
    ) -> None:
        if segment.story.name not in names[-1:]:
            names = [*names, segment.story.name]
        variants, cut = _variants(segment.steps, self.max_paths)
        self.truncated = self.truncated or cut
        for variant in variants:
            extended = builder.copy()
            for step in variant:
                extended.add(step)
            following = [
                nxt
                for checkpoint in segment.ends
                for nxt in self.by_start.get(checkpoint.name, [])
                if id(nxt) not in visited
                and all(
                    _conditions_hold(c, extended.events)
                    for c in nxt.starts
                    if c.name == checkpoint.name
                )
            ]
            # Several end checkpoints may lead to the same segment: follow it once.
            unique = list({id(s): s for s in following}.values())
            if not unique:
                self._emit(extended, names, first)
            for nxt in unique:
                if self.stopped:
                    return
                self._walk(nxt, extended.copy(), names, [*visited, id(nxt)], first)
            if self.stopped:
                return


def expand_stories(
    stories: Iterable[Story], *, domain: Domain | None = None, max_paths: int = DEFAULT_MAX_PATHS
) -> StoryExpansion:
    """Join ``stories`` through checkpoints and expand ``or`` steps; see :class:`StoryExpansion`.

    A path starts at a story without a start checkpoint, follows every story
    that starts where it ends (each part of a story is used at most once per
    path, so loops end), and stops at a story without an end checkpoint (or an end checkpoint
    nobody continues). Checkpoint slot conditions (``slot_was_set`` under a
    start checkpoint) must hold for the path to continue there. At most
    ``max_paths`` paths are produced; ``truncated`` says when that cut any off.
    """
    expander = _Expander(list(stories), domain, max_paths)
    expander.run()
    if expander.truncated:
        logger.warning(
            "stories expand into more than %d paths; only the first %d are used",
            max_paths,
            max_paths,
        )
    return StoryExpansion(expander.paths, expander.truncated, expander.unsatisfied, expander.unused)


def expand_story_paths(
    stories: Iterable[Story], *, domain: Domain | None = None, max_paths: int = DEFAULT_MAX_PATHS
) -> list[StoryPath]:
    """Every linear conversation the stories (or rules) describe, at most ``max_paths``.

    Each ``or`` step gives one path per alternative; checkpoints join stories
    into longer paths. Rules are handled the same way: their conditions are on
    :attr:`StoryPath.condition`, not in the events.
    """
    return expand_stories(stories, domain=domain, max_paths=max_paths).paths
