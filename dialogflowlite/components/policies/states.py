"""Dialogue states: what the policies see of a conversation at each decision point.

Before the bot chooses an action, the conversation is summed up in a
:class:`State`: the latest user turn (its intent and the entities that intent
uses, or the text of an end-to-end turn), the previous action, the slots that
influence the conversation (featurised by type), the active loop and whether
the loop rejected its last execution. A conversation with ``n`` actions gives
``n + 1`` states: one before each action and the current one.

States are frozen and hashable, so a sequence of them is a memoization key;
:meth:`State.as_dict` is their deterministic JSON form.

Loops are seen the way Rasa sees them: repeated executions of a loop on its
happy path are collapsed into the first one (stories write a form as one
``action: form`` followed by ``active_loop: null``), and undone, restarted or
new-session events are applied before anything is featurised.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from dialogflowlite.shared.domain import (
    ACTION_LISTEN,
    ACTION_SEND_TEXT,
    ACTION_UNLIKELY_INTENT,
    Domain,
    SlotDef,
    bool_slot_reading,
)
from dialogflowlite.shared.events import (
    ActionExecuted,
    ActionExecutionRejected,
    ActionReverted,
    ActiveLoop,
    AllSlotsReset,
    EntitiesAdded,
    Event,
    FollowupAction,
    Restarted,
    SessionStarted,
    SlotSet,
    UserUtteranceFeaturization,
    UserUtteranceReverted,
    UserUttered,
    bot_text,
)
from dialogflowlite.shared.message import RETRIEVAL_SEPARATOR
from dialogflowlite.shared.recent import RecentItems
from dialogflowlite.shared.stories import ANY_SLOT_VALUE
from dialogflowlite.shared.tracker import applied_indices

#: rule conditions: the slot or loop must not be set (``slot: null``, ``active_loop: null``)
SHOULD_NOT_BE_SET = "<not set>"
#: rules: the slot must be set, to any value (``slot_was_set: [name]``)
SLOT_IS_SET = "<set>"
#: the action a rule's unknown history stands for (the ``...`` before a rule's steps)
RULE_SNIPPET_ACTION = "..."
#: the extra value a categorical slot has for values not listed in the domain
OTHER_CATEGORY = "__other__"
#: separates an entity from its role or group in entity features (``city#destination``)
ENTITY_LABEL_SEPARATOR = "#"

SlotValue = tuple[float, ...] | str


@dataclass(frozen=True)
class State:
    """The conversation as the policies see it right before one action."""

    intent: str | None = None
    #: sorted entity labels the intent uses (``city``, ``city#destination``)
    entities: tuple[str, ...] = ()
    #: the user's text, only for turns without an intent (end-to-end stories)
    text: str | None = None
    prev_action: str | None = None
    #: the text of an end-to-end bot turn (``bot:`` steps)
    prev_action_text: str | None = None
    #: sorted (slot, features) for slots that influence the conversation and are set
    slots: tuple[tuple[str, SlotValue], ...] = ()
    active_loop: str | None = None
    loop_rejected: bool = False

    @property
    def is_start(self) -> bool:
        """Whether no action has run yet (the first state of a conversation)."""
        return self.prev_action is None and self.prev_action_text is None

    @property
    def after_listen(self) -> bool:
        """Whether the user just spoke (the previous action is ``action_listen``)."""
        return self.prev_action == ACTION_LISTEN

    @property
    def loop_name(self) -> str | None:
        """The active loop, or None (also when a rule requires that none is active)."""
        return None if self.active_loop in (None, SHOULD_NOT_BE_SET) else self.active_loop

    @property
    def has_user(self) -> bool:
        return bool(self.intent or self.text)

    def slot(self, name: str) -> SlotValue | None:
        return next((value for slot, value in self.slots if slot == name), None)

    def without_rejection(self) -> State:
        return replace(self, loop_rejected=False) if self.loop_rejected else self

    def size(self) -> int:
        """How many features the state holds (more features: a more specific rule)."""
        return (bool(self.intent) + len(self.entities) + bool(self.text)
                + bool(self.prev_action) + bool(self.prev_action_text) + len(self.slots)
                + bool(self.active_loop) + self.loop_rejected)

    def as_dict(self) -> dict[str, Any]:
        """Deterministic JSON form; empty parts are left out."""
        data: dict[str, Any] = {}
        user = {k: v for k, v in (("intent", self.intent), ("entities", list(self.entities)),
                                  ("text", self.text)) if v}
        if user:
            data["user"] = user
        action = {k: v for k, v in (("action_name", self.prev_action),
                                    ("action_text", self.prev_action_text)) if v}
        if action:
            data["prev_action"] = action
        if self.slots:
            data["slots"] = {name: value if isinstance(value, str) else list(value)
                             for name, value in self.slots}
        if self.active_loop:
            data["active_loop"] = self.active_loop
        if self.loop_rejected:
            data["loop_rejected"] = True
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> State:
        user = data.get("user") or {}
        action = data.get("prev_action") or {}
        slots = tuple(sorted(
            (name, value if isinstance(value, str) else tuple(float(v) for v in value))
            for name, value in (data.get("slots") or {}).items()))
        return cls(intent=user.get("intent"), entities=tuple(user.get("entities") or ()),
                   text=user.get("text"), prev_action=action.get("action_name"),
                   prev_action_text=action.get("action_text"), slots=slots,
                   active_loop=data.get("active_loop"),
                   loop_rejected=bool(data.get("loop_rejected", False)))


def states_as_json(states: Sequence[State]) -> list[dict[str, Any]]:
    return [state.as_dict() for state in states]


def states_from_json(items: Iterable[dict[str, Any]]) -> tuple[State, ...]:
    return tuple(State.from_dict(item) for item in items)


# ---------------------------------------------------------------- rule-only turns


@dataclass(frozen=True)
class RuleOnlyData:
    """What only the rules know about, which story-based policies do not see.

    Slots and loops that appear in rules but in no story are left out of the
    states of policies that learn from stories only, and so are the turns the
    rule policy predicted with a rule no story follows (their ``action``
    events carry ``hide_rule_turn``), as Rasa's ``rule_only_data`` does.
    """

    slots: frozenset[str] = frozenset()
    loops: frozenset[str] = frozenset()

    def as_dict(self) -> dict[str, Any]:
        return {"slots": sorted(self.slots), "loops": sorted(self.loops)}

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> RuleOnlyData:
        data = data or {}
        return cls(frozenset(data.get("slots") or ()), frozenset(data.get("loops") or ()))


class HiddenTurns:
    """Which states story-based policies leave out, read from events as they come.

    A state is left out when the action after it was logged with
    ``hide_rule_turn``. As Rasa reads a conversation for such policies, the
    state right after the active loop ran, and the state before a follow-up
    action, keep the previous state's verdict whatever their action says, so a
    hidden loop activation hides the listening that follows it too. (The
    current state is not hidden this way; Rasa may hide it right after the loop
    ran, where the loop's own prediction overrules every other anyway.)

    The states right after ``action_unlikely_intent`` are left out too (see
    :func:`story_policy_states`); :attr:`any_unlikely_intent` says whether one ran.
    """

    def __init__(self) -> None:
        #: for each ``ActionExecuted`` read: whether the state before it is left out
        self.verdicts: list[bool] = []
        #: how many events were read
        self.read = 0
        self.any_hidden = False
        #: whether an ``action_unlikely_intent`` was read
        self.any_unlikely_intent = False
        self._was_hidden = False
        self._loop: str | None = None
        self._latest: str | None = None
        self._followup = False

    def update(self, events: Sequence[Event]) -> list[bool]:
        """Read the events of ``events`` after those already read; the verdicts."""
        for index in range(self.read, len(events)):
            self.read_event(events[index])
        self.read = max(self.read, len(events))
        return self.verdicts

    def read_event(self, event: Event) -> bool | None:
        """Read one more event (``read`` is the caller's to keep); for an
        ``ActionExecuted``, whether the state before it is left out, else None."""
        if isinstance(event, ActionExecuted):
            if not self._followup and self._latest != self._loop:
                self._was_hidden = event.hide_rule_turn
            self.verdicts.append(self._was_hidden)
            self.any_hidden = self.any_hidden or self._was_hidden
            self.any_unlikely_intent = (self.any_unlikely_intent
                                        or event.name == ACTION_UNLIKELY_INTENT)
            self._latest, self._followup = event.name, False
            return self._was_hidden
        if isinstance(event, ActiveLoop):
            self._loop = None if event.name in (None, SHOULD_NOT_BE_SET) else event.name
        elif isinstance(event, FollowupAction):
            self._followup = True
        elif isinstance(event, UserUttered):
            self._followup = False
        elif isinstance(event, (Restarted, SessionStarted)):
            self._loop, self._latest, self._followup = None, None, False
        return None


def is_after_unlikely_intent(state: State) -> bool:
    """Whether the previous action of ``state`` is ``action_unlikely_intent``: policies
    that learn from stories only leave such states out (see :func:`story_policy_states`)."""
    return state.prev_action == ACTION_UNLIKELY_INTENT and state.prev_action_text is None


def hidden_turns(events: Sequence[Event]) -> list[bool]:
    """For each ``ActionExecuted`` in ``events``: whether story-based policies leave
    out the state before it (see :class:`HiddenTurns`)."""
    return HiddenTurns().update(events)


_Shown = tuple[str | None, str | None]


class StoryStates:
    """States as policies that learn from stories only see them, read as they come
    (see :func:`story_policy_states`); the states before actions are read once."""

    def __init__(self, rule_only: RuleOnlyData | None) -> None:
        self.rule_only = rule_only or RuleOnlyData()
        #: the story view of the states read so far
        self.kept: list[State] = []
        #: how many states were read (every state but a conversation's current one)
        self.read = 0
        self._last_shown: _Shown | None = None
        self._was_hidden = False

    def _step(self, state: State, hide: bool) -> tuple[State | None, _Shown | None]:
        """The story view of ``state`` (None when left out) and the previous action
        to show from then on."""
        last_shown = self._last_shown
        after_unlikely = False
        if not self._was_hidden:
            # a state right after action_unlikely_intent is left out and carries its
            # action forward to no state: hidden turns after it show the action before it
            after_unlikely = is_after_unlikely_intent(state)
            if not after_unlikely:
                last_shown = (state.prev_action, state.prev_action_text)
        if hide or after_unlikely:
            return None, last_shown
        rule_only = self.rule_only
        changes: dict[str, Any] = {}
        if rule_only.slots and any(name in rule_only.slots for name, _ in state.slots):
            changes["slots"] = tuple(item for item in state.slots
                                     if item[0] not in rule_only.slots)
        if state.active_loop in rule_only.loops:
            changes["active_loop"], changes["loop_rejected"] = None, False
        if self.kept and not state.after_listen:
            previous = self.kept[-1]
            if (previous.intent, previous.entities, previous.text) != \
                    (state.intent, state.entities, state.text):
                changes.update(intent=previous.intent, entities=previous.entities,
                               text=previous.text)
        if (last_shown is not None and last_shown != (None, None)
                and last_shown != (state.prev_action, state.prev_action_text)):
            changes["prev_action"], changes["prev_action_text"] = last_shown
        shown = replace(state, **changes) if changes else state
        if is_after_unlikely_intent(shown):
            return None, last_shown
        return shown, last_shown

    def view(self, states: Sequence[State], hidden: Sequence[bool]) -> list[State]:
        """The story view of ``states`` (one before each action, then the current one),
        given ``hidden`` (:func:`hidden_turns`); ``states`` must go on from those read."""
        for index in range(self.read, len(states) - 1):
            self.read_state(states[index], hidden[index] if index < len(hidden) else False)
        self.read = max(self.read, len(states) - 1)
        if not states:
            return []
        index = len(states) - 1
        current, _ = self._step(states[index], hidden[index] if index < len(hidden) else False)
        return [*self.kept, current] if current is not None else list(self.kept)

    def read_state(self, state: State, hide: bool) -> State | None:
        """Read the state before one more action (``hide``: its verdict, see
        :class:`HiddenTurns`); its story view, None when it is left out."""
        shown, self._last_shown = self._step(state, hide)
        self._was_hidden = hide
        if shown is not None:
            self.kept.append(shown)
        return shown

    def current(self, state: State) -> State | None:
        """The story view of the conversation's current state, after those read; None
        when it is left out (right after ``action_unlikely_intent``)."""
        shown, _ = self._step(state, False)
        return shown


def story_policy_states(states: Sequence[State], hidden: Sequence[bool],
                        rule_only: RuleOnlyData | None) -> list[State]:
    """``states`` (one before each action, then the current one) as policies that
    learn from stories only see them, as Rasa featurises them for such policies:

    * the states before hidden actions are left out (``hidden``, from
      :func:`hidden_turns`);
    * rule-only slots and loops are taken out of every state;
    * a state after a bot action shows the user turn of the state before it
      (so a hidden turn's user input does not leak into the next one);
    * the previous action is the last action, other than
      ``action_unlikely_intent``, of a turn that was not hidden;
    * the states whose previous action is ``action_unlikely_intent`` are left
      out, the current one too (the current state is then the one before that
      action), as Rasa's ``ignore_action_unlikely_intent`` leaves them out for
      such policies: after that action they predict what they would without it.
    """
    return StoryStates(rule_only).view(states, hidden)


def iter_story_policy_states(events: Iterable[Event], featurizer: StateFeaturizer,
                             rule_only: RuleOnlyData | None) -> Iterator[State]:
    """:func:`story_policy_states` of the featurizer's states of ``events``, one at a
    time: the events are read only as far as the states asked for need."""
    turns = HiddenTurns()

    def read(event_stream: Iterable[Event]) -> Iterator[Event]:
        for event in event_stream:
            turns.read_event(event)
            yield event

    view = StoryStates(rule_only)
    pending: State | None = None
    index = 0
    # a state is the current one only when no action follows it: hold each one back
    # until the next arrives
    for state in featurizer.iter_states(read(events)):
        if pending is not None:
            shown = view.read_state(pending, turns.verdicts[index])
            index += 1
            if shown is not None:
                yield shown
        pending = state
    if pending is not None:
        current = view.current(pending)
        if current is not None:
            yield current


@dataclass
class StoryView:
    """A live conversation's story view so far, kept to be extended with it."""

    rule_only: RuleOnlyData | None
    turns: HiddenTurns = field(default_factory=HiddenTurns)
    states: StoryStates | None = None

    def of(self, events: Sequence[Event], states: Sequence[State]) -> list[State] | None:
        """The story view of the conversation (None when it leaves nothing out)."""
        hidden = self.turns.update(events)
        rule_only = self.rule_only
        if (not self.turns.any_hidden and not self.turns.any_unlikely_intent
                and (rule_only is None or not (rule_only.slots or rule_only.loops))):
            return None
        if self.states is None:
            self.states = StoryStates(rule_only)
        return self.states.view(states, hidden)


# ---------------------------------------------------------------- slot features


#: what a bool slot holding a value means for the policies, as Rasa's bool slots read
#: it; None when it is neither true nor false (featurised as not set)
bool_reading = bool_slot_reading


def slot_features(slot: SlotDef, value: Any) -> tuple[float, ...] | None:
    """The features of ``slot`` holding ``value``; None when the slot is not featurised.

    text: set or not; bool: set, value (see :func:`bool_reading`; a value that is
    neither true nor false counts as not set); categorical: one-hot over the domain's
    values plus ``__other__``; float: set, value scaled to [min, max]; list:
    non-empty or not. Slots of type ``any`` and slots that do not influence
    the conversation have no features.
    """
    if not slot.influence_conversation or slot.type == "any":
        return None
    if slot.type == "bool":
        reading = None if value is None else bool_reading(value)
        return (0.0, 0.0) if reading is None else (1.0, float(reading))
    if slot.type == "categorical":
        values = categorical_values(slot)
        features = [0.0] * len(values)
        if value is not None:
            label = str(value).lower()
            index = values.index(label) if label in values else values.index(OTHER_CATEGORY)
            features[index] = 1.0
        return tuple(features)
    if slot.type == "float":
        if value is None:
            return (0.0, 0.0)
        try:
            number = float(value)
        except (TypeError, ValueError):
            return (0.0, 0.0)
        low, high = float(slot.min_value), float(slot.max_value)
        capped = max(low, min(high, number))
        scaled = (capped - low) / (high - low) if high > low else capped
        return (1.0, round(scaled, 6))
    if slot.type == "list":
        return (1.0,) if value else (0.0,)
    return (0.0,) if value is None else (1.0,)


def categorical_values(slot: SlotDef) -> list[str]:
    """A categorical slot's values in feature order (lowercased, ``__other__`` last)."""
    values = [str(v).lower() for v in slot.values]
    if OTHER_CATEGORY not in values:
        values.append(OTHER_CATEGORY)
    return values


# ---------------------------------------------------------------- which events count


#: events that can change how earlier events are featurised (forgotten, undone,
#: or a loop's runs collapsed), besides a loop's own ``ActionExecuted``: after
#: one of them, :meth:`StateFeaturizer.extend` reads a conversation anew. Keep
#: this in step with what :func:`featurised_indices` treats specially.
_RESHAPING = (Restarted, SessionStarted, ActionReverted, UserUtteranceReverted, ActiveLoop)


def featurised_indices(events: Sequence[Event]) -> list[int]:
    """Indices of the events that shape the states, in order: the applied events
    (:func:`~dialogflowlite.shared.tracker.applied_indices`), where a loop's
    repeated happy-path runs are collapsed as Rasa does."""
    return applied_indices(events)


def featurised_events(events: Sequence[Event]) -> list[Event]:
    """The events that shape the states (see :func:`featurised_indices`)."""
    return [events[i] for i in featurised_indices(events)]


# ---------------------------------------------------------------- events -> states


@dataclass
class _Walk:
    """The running summary of a conversation while its events are read."""

    slots: dict[str, Any]
    set_slots: set[str] = field(default_factory=set)
    intent: str | None = None
    entities: tuple[str, ...] = ()
    text: str | None = None
    #: the latest user turn's text, also when its intent is what counts
    user_text: str | None = None
    prev_action: str | None = None
    prev_action_text: str | None = None
    active_loop: str | None = None
    loop_rejected: bool = False

    def copy(self) -> _Walk:
        return replace(self, slots=dict(self.slots), set_slots=set(self.set_slots))


@dataclass
class LiveStates:
    """A live conversation featurised up to a point, ready to be extended.

    ``events`` are the featurised events, ``states`` their states (the last is
    the current one); the rest records what they were made from, so that
    :meth:`StateFeaturizer.extend` can tell whether appending is enough.
    """

    events: list[Event]
    states: list[State]
    source: Sequence[Event]
    count: int
    loops: frozenset[str]
    walk: _Walk
    #: the story view (:meth:`story_states`), extended along with the states
    story: StoryView | None = None

    def story_states(self, rule_only: RuleOnlyData | None) -> list[State] | None:
        """The states as policies that learn from stories only see them, None when
        that leaves nothing out; only what was added since the last call is read."""
        story = self.story
        if (story is None or story.rule_only != rule_only or story.turns.read > len(self.events)
                or (story.states is not None and story.states.read > len(self.states) - 1)):
            # first asked, or asked about an earlier point of the conversation
            story = self.story = StoryView(rule_only)
        return story.of(self.events, self.states)


class StateFeaturizer:
    """Turns event sequences into :class:`State` lists for one domain."""

    #: live conversations kept for :meth:`live_states_of`
    KEPT_CONVERSATIONS = 256

    def __init__(self, domain: Domain) -> None:
        self.domain = domain
        self._live: RecentItems[str, LiveStates] = RecentItems(self.KEPT_CONVERSATIONS)
        self.slot_defs = dict(domain.slots)
        self._used_entities: dict[str, set[str] | None] = {}
        self.featurised_slots = [name for name, slot in domain.slots.items()
                                 if slot_features(slot, None) is not None]

    # ------------------------------------------------------------ user turns

    def _role_labels(self, names: Iterable[str]) -> set[str]:
        """``entity#role`` and ``entity#group`` for the roles and groups the domain
        declares for ``names``."""
        labels: set[str] = set()
        for name in names:
            entity = self.domain.entities.get(name)
            if entity is not None:
                labels.update(f"{name}{ENTITY_LABEL_SEPARATOR}{extra}"
                              for extra in [*entity.roles, *entity.groups])
        return labels

    def used_entities(self, intent: str) -> set[str] | None:
        """The entity labels ``intent`` passes to the dialogue, as Rasa's domain
        computes them; None for an intent the domain does not know (all pass).

        ``use_entities: true`` means the domain's entities that influence the
        conversation, and the declared role and group labels of every domain
        entity; a list means those entities with their role and group labels.
        ``ignore_entities`` (with their labels) are taken out; without it, the
        entities with ``influence_conversation: false`` are. Entities the domain
        does not declare never pass for a known intent.
        """
        if intent in self._used_entities:
            return self._used_entities[intent]
        definition = self.domain.intents.get(intent)
        used: set[str] | None = None
        if definition is not None:
            quiet = {name for name, entity in self.domain.entities.items()
                     if not entity.influence_conversation}
            if definition.use_entities is True:
                used = set(self.domain.entities) - quiet
                used |= self._role_labels(self.domain.entities)
            else:
                listed = set(definition.use_entities or [])
                used = listed | self._role_labels(listed)
            ignored = set(definition.ignore_entities) or quiet
            used -= ignored | self._role_labels(ignored)
        self._used_entities[intent] = used
        return used

    def entity_labels(self, intent: str | None,
                      entities: Iterable[dict[str, Any]]) -> tuple[str, ...]:
        """The entity labels of a user turn that its intent passes to the dialogue
        (see :meth:`used_entities`): ``city``, ``city#destination``."""
        used = self.used_entities(intent or "")
        labels: set[str] = set()
        for entity in entities:
            name = entity.get("entity")
            if not name:
                continue
            labels.add(name)
            for extra in ("role", "group"):
                if entity.get(extra):
                    labels.add(f"{name}{ENTITY_LABEL_SEPARATOR}{entity[extra]}")
        return tuple(sorted(labels if used is None else labels & used))

    def with_used_entities(self, state: State) -> State:
        """``state`` with only the entity labels its intent passes to the dialogue (see
        :meth:`used_entities`), as states are made now: a state saved by a model of
        policy revision 2 may hold entities the domain does not declare."""
        if not state.entities or not state.intent:
            return state
        used = self.used_entities(state.intent)
        if used is None:
            return state
        kept = tuple(label for label in state.entities if label in used)
        return state if len(kept) == len(state.entities) else replace(state, entities=kept)

    def _user(self, walk: _Walk, event: UserUttered) -> None:
        intent = event.intent_name
        if intent:
            # a retrieval intent's full name (posted as an event) counts as its base
            # intent, as training data's `faq/ask_hours` steps do
            intent = intent.split(RETRIEVAL_SEPARATOR, 1)[0]
        walk.intent = intent
        walk.entities = self.entity_labels(intent, event.entities)
        text = event.text if event.text is not None else event.parse_data.get("text")
        walk.user_text = text or None
        walk.text = None if intent else (text or None)

    @staticmethod
    def _by_text(walk: _Walk) -> None:
        """The latest user turn counts by its text from now on (its intent and
        entities do not), as Rasa featurises a turn answered end-to-end."""
        if walk.user_text and (walk.intent or walk.text):
            walk.intent, walk.entities, walk.text = None, (), walk.user_text

    # ------------------------------------------------------------ slots

    def _initial_slots(self) -> dict[str, Any]:
        return {name: slot.initial_value for name, slot in self.slot_defs.items()}

    def _slot_value(self, walk: _Walk, name: str, omit_unset: bool) -> SlotValue | None:
        if omit_unset and name not in walk.set_slots:
            return None
        value = walk.slots.get(name)
        if value == SHOULD_NOT_BE_SET:
            return SHOULD_NOT_BE_SET
        if value == ANY_SLOT_VALUE and omit_unset:
            # a rule that lists a slot without value accepts any value; a story
            # featurises it like any other value
            return SLOT_IS_SET
        features = slot_features(self.slot_defs[name], value)
        return features if features and any(features) else None

    def _snapshot(self, walk: _Walk, omit_unset: bool) -> State:
        slots = []
        for name in self.featurised_slots:
            value = self._slot_value(walk, name, omit_unset)
            if value is not None:
                slots.append((name, value))
        return State(intent=walk.intent, entities=walk.entities, text=walk.text,
                     prev_action=walk.prev_action, prev_action_text=walk.prev_action_text,
                     slots=tuple(sorted(slots)), active_loop=walk.active_loop,
                     loop_rejected=walk.loop_rejected and bool(walk.active_loop))

    # ------------------------------------------------------------ the walk

    def states(self, events: Sequence[Event], *, omit_unset_slots: bool = False) -> list[State]:
        """One state before each ``ActionExecuted`` in ``events``, then the final state.

        ``events`` are taken as they are (call :func:`featurised_events` first
        for a live conversation). ``omit_unset_slots`` leaves out slots that no
        event set, as rules need (a rule says nothing about other slots).
        """
        return list(self.iter_states(events, omit_unset_slots=omit_unset_slots))

    def iter_states(self, events: Iterable[Event], *,
                    omit_unset_slots: bool = False) -> Iterator[State]:
        """:meth:`states` of ``events`` one at a time, reading the events only as far as
        the states asked for need: a caller that stops early reads no further."""
        walk = _Walk(slots=self._initial_slots())
        yield from self._walk_iter(walk, events, omit_unset_slots)
        yield self._snapshot(walk, omit_unset_slots)

    def _walk(self, walk: _Walk, events: Iterable[Event], omit_unset_slots: bool) -> list[State]:
        """Read ``events`` into ``walk``: the states before each ``ActionExecuted``."""
        return list(self._walk_iter(walk, events, omit_unset_slots))

    def _walk_iter(self, walk: _Walk, events: Iterable[Event],
                   omit_unset_slots: bool) -> Iterator[State]:
        """Read ``events`` into ``walk``, yielding the state before each ``ActionExecuted``."""
        for event in events:
            if isinstance(event, ActionExecuted):
                yield self._snapshot(walk, omit_unset_slots)
                # a bot text sent live is logged without an action name, as in Rasa;
                # its state reads as the story's ``bot:`` step reads (action_send_text)
                walk.prev_action = ACTION_SEND_TEXT if bot_text(event) else event.name
                walk.prev_action_text = event.action_text
                if event.name == walk.active_loop:
                    walk.loop_rejected = False
            elif isinstance(event, UserUttered):
                self._user(walk, event)
            elif isinstance(event, SlotSet):
                definition = self.slot_defs.get(event.name)
                value = event.value
                if definition is not None and value not in (SHOULD_NOT_BE_SET, ANY_SLOT_VALUE):
                    # what the slot holds, as the tracker keeps it; slot_features reads
                    # a float or bool slot's value for its meaning, as Rasa's slots do
                    value = definition.stored_value(value)
                walk.slots[event.name] = value
                walk.set_slots.add(event.name)
            elif isinstance(event, ActiveLoop):
                walk.active_loop = event.name
                walk.loop_rejected = False
            elif isinstance(event, ActionExecutionRejected):
                if event.name == walk.active_loop:
                    walk.loop_rejected = True
            elif isinstance(event, (Restarted, SessionStarted)):
                # in place: the caller reads the walk afterwards
                vars(walk).update(vars(_Walk(slots=self._initial_slots())))
            elif isinstance(event, AllSlotsReset):
                walk.slots = self._initial_slots()
            elif isinstance(event, UserUtteranceFeaturization):
                if event.use_text_for_featurization:
                    self._by_text(walk)
            elif isinstance(event, EntitiesAdded) and (walk.intent or walk.text):
                added = self.entity_labels(walk.intent, event.entities)
                walk.entities = tuple(sorted(set(walk.entities) | set(added)))

    def conversation_states(self, events: Sequence[Event]) -> list[State]:
        """The states of a live conversation (undo, restarts and loop runs applied)."""
        return self.live_states(events).states

    def live_states(self, events: Sequence[Event]) -> LiveStates:
        """A live conversation's featurised events and states, extendable later."""
        kept = featurised_events(events)
        walk = _Walk(slots=self._initial_slots())
        states = self._walk(walk, kept, False)
        states.append(self._snapshot(walk, False))
        loops = frozenset(e.name for e in events if isinstance(e, ActiveLoop) and e.name)
        return LiveStates(kept, states, events, len(events), loops, walk)

    def live_states_of(self, key: str, events: Sequence[Event]) -> LiveStates:
        """:meth:`live_states` of ``events``, extending the ones last made under ``key``
        (a sender id) when appending is enough."""
        previous = self._live.get(key)
        live = self.extend(previous, events) if previous is not None else None
        if live is None:
            live = self.live_states(events)
        self._live.put(key, live)
        return live

    def extend(self, previous: LiveStates, events: Sequence[Event]) -> LiveStates | None:
        """``previous`` brought up to ``events``, or None when that needs a full pass.

        Appending is enough when ``events`` is the same list ``previous`` was made
        from, with only events added since (trackers only ever append), and none
        of them changes how earlier events count (restart, undo, a loop event).
        A prediction loop featurises the same conversation two or three times
        per message; extending reads each event once.
        """
        count = previous.count
        if events is not previous.source or len(events) < count:
            return None
        added = events[count:]
        for event in added:
            if isinstance(event, _RESHAPING) or (
                    isinstance(event, ActionExecuted) and event.name in previous.loops):
                return None
        if not added:
            return previous
        walk = previous.walk.copy()
        states = previous.states[:-1] + self._walk(walk, added, False)
        states.append(self._snapshot(walk, False))
        return LiveStates(previous.events + list(added), states, events, len(events),
                          previous.loops, walk, previous.story)
