"""Training dialogues: story and rule paths as states and the actions that follow them.

A story path becomes the event sequence a live conversation would record;
where a story answers a user turn with something other than the active loop,
the loop must have rejected its execution at run time, so that rejection is
added to the events (states then match what the policies see live). A rule
path gets its conditions first, then the rule snippet action ``...`` standing
for whatever came before (unless the rule is for the conversation start), and
``...`` at its end when it does not wait for the user.

Each action in the result keeps the file position of the step it was written
as, so problems can name file:line. A step that gives the bot's text instead of
an action (``bot: "Hi there!"``) is learnt as that text (see
:func:`action_label`), as Rasa's policies learn end-to-end bot turns: two bot
texts are two different actions to the policies.
"""

from __future__ import annotations

import json
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass, replace
from typing import TypeVar

from dialogflowlite.components.policies.states import (
    RULE_SNIPPET_ACTION,
    SHOULD_NOT_BE_SET,
    State,
    StateFeaturizer,
    featurised_indices,
    is_after_unlikely_intent,
)
from dialogflowlite.errors import Position
from dialogflowlite.shared.domain import ACTION_LISTEN, ACTION_UNLIKELY_INTENT
from dialogflowlite.shared.events import (
    ActionExecuted,
    ActionExecutionRejected,
    ActiveLoop,
    Event,
    SlotSet,
    bot_text,
)
from dialogflowlite.shared.story_paths import STORY_TIMESTAMP, StoryPath

K = TypeVar("K", bound=Hashable)


@dataclass
class TrainingDialogue:
    """One path as policies learn from it.

    ``states[i]`` is the conversation before ``actions[i]``; ``states`` has
    one more entry at the end (the state after the last action).
    """

    path: StoryPath
    events: list[Event]
    states: list[State]
    actions: list[str]
    positions: list[Position | None]
    #: the labels among ``actions`` that are bot texts (``bot:`` steps), not action names
    action_texts: frozenset[str] = frozenset()

    @property
    def is_rule(self) -> bool:
        return self.path.kind == "rule"

    @property
    def name(self) -> str:
        return self.path.name

    def where(self, index: int) -> Position | None:
        """Where the action at ``index`` was written (else where the path starts)."""
        return self.positions[index] or self.path.position


def action_label(event: ActionExecuted) -> str:
    """What policies learn and predict for an action step: the action's name, or for
    an end-to-end bot turn its text (Rasa's policies predict such texts as actions)."""
    return bot_text(event) or event.name


def _with_loop_rejections(events: Sequence[Event],
                          positions: Sequence[Position | None]
                          ) -> tuple[list[Event], list[Position | None]]:
    """Add the rejection a loop must have made where a story answers the user without it."""
    out_events: list[Event] = []
    out_positions: list[Position | None] = []
    loop: str | None = None
    rejected = False
    previous_action: str | None = None
    for event, where in zip(events, positions, strict=True):
        if isinstance(event, ActiveLoop):
            loop = event.name if event.name != SHOULD_NOT_BE_SET else None
            rejected = False
        elif isinstance(event, ActionExecuted):
            if (loop and not rejected and previous_action == ACTION_LISTEN
                    and event.name not in (loop, RULE_SNIPPET_ACTION)):
                out_events.append(ActionExecutionRejected(name=loop, timestamp=STORY_TIMESTAMP))
                out_positions.append(where)
                rejected = True
            if event.name == loop:
                rejected = False
            previous_action = event.name
        out_events.append(event)
        out_positions.append(where)
    return out_events, out_positions


def _condition_event(event: Event) -> Event:
    """A condition's ``null`` means "must not be set", unlike ``null`` inside the steps."""
    if isinstance(event, SlotSet) and event.value is None:
        return SlotSet(name=event.name, value=SHOULD_NOT_BE_SET, timestamp=STORY_TIMESTAMP)
    if isinstance(event, ActiveLoop) and event.name is None:
        return ActiveLoop(name=SHOULD_NOT_BE_SET, timestamp=STORY_TIMESTAMP)
    return event


def _snippet() -> ActionExecuted:
    return ActionExecuted(name=RULE_SNIPPET_ACTION, timestamp=STORY_TIMESTAMP)


def path_events(path: StoryPath) -> tuple[list[Event], list[Position | None]]:
    """The events policies learn from for one path, with the position of each."""
    events: list[Event] = list(path.events)
    positions = list(path.event_positions) or [None] * len(events)
    if path.kind == "rule":
        head = [_condition_event(e) for e in path.condition]
        if not path.conversation_start:
            head.append(_snippet())
        events = head + events
        positions = [path.position] * len(head) + positions
        if not path.wait_for_user_input:
            events.append(_snippet())
            positions.append(positions[-1] if positions else path.position)
    return _with_loop_rejections(events, positions)


def training_dialogue(path: StoryPath, featurizer: StateFeaturizer) -> TrainingDialogue:
    """Featurise one path (rules leave out slots they do not mention)."""
    events, positions = path_events(path)
    kept = featurised_indices(events)
    events = [events[i] for i in kept]
    positions = [positions[i] for i in kept]
    states = featurizer.states(events, omit_unset_slots=path.kind == "rule")
    actions: list[str] = []
    action_positions: list[Position | None] = []
    texts: set[str] = set()
    for event, where in zip(events, positions, strict=True):
        if isinstance(event, ActionExecuted):
            actions.append(action_label(event))
            action_positions.append(where)
            if bot_text(event):
                texts.add(actions[-1])
    return TrainingDialogue(path, events, states, actions, action_positions, frozenset(texts))


def without_unlikely_intents(dialogue: TrainingDialogue) -> TrainingDialogue:
    """``dialogue`` without its ``action_unlikely_intent`` steps and the states right
    after them, as Rasa's TEDPolicy learns from stories (``ignore_action_unlikely_intent``):
    the action that follows such a step is learnt from the states before it."""
    def unlikely(event: Event) -> bool:
        return isinstance(event, ActionExecuted) and event.name == ACTION_UNLIKELY_INTENT

    if not any(unlikely(event) for event in dialogue.events):
        return dialogue
    kept = [i for i, action in enumerate(dialogue.actions) if action != ACTION_UNLIKELY_INTENT]
    return replace(dialogue, events=[e for e in dialogue.events if not unlikely(e)],
                   states=[s for s in dialogue.states if not is_after_unlikely_intent(s)],
                   actions=[dialogue.actions[i] for i in kept],
                   positions=[dialogue.positions[i] for i in kept])


def unambiguous(pairs: Iterable[tuple[K, str]]) -> dict[K, str]:
    """The ``(key, action)`` pairs as a lookup, in their order, without the keys paired
    with different actions (a key seen again with its action keeps its first place)."""
    lookup: dict[K, str] = {}
    ambiguous: set[K] = set()
    for key, action in pairs:
        if key in ambiguous:
            continue
        known = lookup.setdefault(key, action)
        if known != action:
            ambiguous.add(key)
            del lookup[key]
    return lookup


def dialogue_texts(dialogues: Iterable[TrainingDialogue]) -> frozenset[str]:
    """The bot texts the dialogues answer with (their labels that are not action names)."""
    return frozenset(text for dialogue in dialogues for text in dialogue.action_texts)


def path_signature(path: StoryPath) -> list:
    """A path's content as JSON-able data, without file positions or timestamps."""
    def plain(events: Iterable[Event]) -> list[dict]:
        return [{k: v for k, v in e.as_dict().items() if k not in ("timestamp", "metadata")}
                for e in events]

    return [path.kind, path.conversation_start, path.wait_for_user_input,
            plain(path.condition), plain(path.events)]


def training_dialogues(paths: Iterable[StoryPath], featurizer: StateFeaturizer, *,
                       kind: str | None = None) -> list[TrainingDialogue]:
    """Featurise paths (only those of ``kind`` when given), dropping exact duplicates."""
    seen: set[str] = set()
    dialogues = []
    for path in paths:
        if kind is not None and path.kind != kind:
            continue
        signature = json.dumps(path_signature(path), sort_keys=True, default=repr)
        if signature in seen:
            continue
        seen.add(signature)
        dialogues.append(training_dialogue(path, featurizer))
    return dialogues


def _starts_with_user(path: StoryPath) -> bool:
    return (len(path.events) > 1 and isinstance(path.events[0], ActionExecuted)
            and path.events[0].name == ACTION_LISTEN)


def _ends_at_rest(path: StoryPath) -> bool:
    """Whether the path ends listening, with no loop active."""
    if not path.events or not isinstance(path.events[-1], ActionExecuted) \
            or path.events[-1].name != ACTION_LISTEN:
        return False
    loops = [e.name for e in path.events if isinstance(e, ActiveLoop)]
    return not loops or loops[-1] is None


def glued_paths(paths: Sequence[StoryPath], count: int, seed: int) -> list[StoryPath]:
    """``count`` story paths made of two random stories, one after the other.

    Only stories that end by listening with no loop active are continued,
    and only with stories that start with a user turn, so every glued path
    is a conversation that could happen. Policies learn from them that what came before a story does
    not change it (Rasa's data augmentation).
    """
    import random

    firsts = [p for p in paths if p.kind == "story" and _ends_at_rest(p)]
    seconds = [p for p in paths if p.kind == "story" and _starts_with_user(p)]
    if count <= 0 or not firsts or not seconds:
        return []
    rng = random.Random(seed)
    glued = []
    for _ in range(count):
        first, second = rng.choice(firsts), rng.choice(seconds)
        first_positions = list(first.event_positions) or [None] * len(first.events)
        second_positions = list(second.event_positions) or [None] * len(second.events)
        glued.append(StoryPath(
            stories=[*first.stories, *second.stories],
            events=[*first.events, *second.events[1:]],
            position=first.position,
            event_positions=[*first_positions, *second_positions[1:]],
        ))
    return glued
