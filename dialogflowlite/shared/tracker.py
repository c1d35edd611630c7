"""The dialogue state tracker: a conversation's events and the state they add up to.

State (slots, the active loop, the latest message and action, a pending
follow-up, whether the bot is paused) is derived from the events, so a tracker
rebuilt from stored events is identical to the live one. Undo (``undo``,
``rewind``), restarts and new sessions are applied the way Rasa applies them.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Iterable, Sequence
from typing import Any

from dialogflowlite.shared.domain import (
    ACTION_LISTEN,
    ACTION_SESSION_START,
    FRAMEWORK_SLOTS,
    REQUESTED_SLOT,
    SESSION_START_METADATA_SLOT,
    Domain,
    SlotDef,
)
from dialogflowlite.shared.events import (
    ActionExecuted,
    ActionExecutionRejected,
    ActionReverted,
    ActiveLoop,
    AllSlotsReset,
    BotUttered,
    ConversationPaused,
    ConversationResumed,
    EntitiesAdded,
    Event,
    FollowupAction,
    LoopInterrupted,
    Restarted,
    SessionStarted,
    SlotSet,
    UserUtteranceReverted,
    UserUttered,
    event_from_dict,
)
from dialogflowlite.shared.message import Message

logger = logging.getLogger(__name__)

#: undeclared slot names already reported by this process; bounded, as clients choose
#: the names (past the bound it starts over, so a name may be reported again)
_REPORTED_SLOTS: set[str] = set()
_MAX_REPORTED_SLOTS = 1000


def applied_indices(events: Sequence[Event], keep_loop_turns: bool = False) -> list[int]:
    """Indices of the events that still count, in order (Rasa's applied events).

    Applies restarts and new sessions (everything before is forgotten), undo
    (``undo``) and rewind (``rewind``), and collapses a loop's repeated runs on
    its happy path into its first run: the actions and user turns between two
    such runs no longer count (slots and other events stay). So one ``rewind``
    after a loop's runs undoes the message that started the loop, as in Rasa.

    ``keep_loop_turns`` keeps the collapsed runs and turns of every loop run
    that was not undone (what a written story or an NLU example needs: the
    user's answers to a form's questions); undo and rewind act as without it.

    Runs in time linear in the number of events.
    """
    loops = {e.name for e in events if isinstance(e, ActiveLoop) and e.name}
    kept = _KeptEvents(events)
    #: a kept loop run's index -> the indices collapsed into it
    folded: dict[int, list[int]] = {}
    for index, event in enumerate(events):
        if isinstance(event, (Restarted, SessionStarted)):
            kept.clear()
        elif isinstance(event, ActionReverted):
            kept.undo_until(ActionExecuted)
        elif isinstance(event, UserUtteranceReverted):
            # A user message always follows an action_listen: undo both.
            kept.undo_until(UserUttered)
            kept.undo_until(ActionExecuted)
        elif (isinstance(event, ActionExecuted) and event.name in loops
              and kept.loop_runs_again(event.name)):
            first_run, removed = kept.undo_to_previous_loop_run(event.name)
            folded.setdefault(first_run, []).extend([*removed, index])
        else:
            kept.append(index)
    if not keep_loop_turns:
        return kept.indices()
    return sorted(_with_folded(kept.indices(), folded))


def _with_folded(indices: Iterable[int], folded: dict[int, list[int]]) -> list[int]:
    """``indices`` and, for each, what was collapsed into it (and into those, in turn)."""
    # A stack rather than recursion: loops collapsing into each other can nest deeply.
    found: list[int] = []
    pending = list(indices)
    while pending:
        index = pending.pop()
        found.append(index)
        pending += folded.get(index, ())
    return found


def applied_events(events: Iterable[Event], keep_loop_turns: bool = False) -> list[Event]:
    """The events that still count (see :func:`applied_indices`)."""
    listed = list(events)
    return [listed[i] for i in applied_indices(listed, keep_loop_turns)]


class _KeptEvents:
    """The events that count so far during a replay, and what the replay asks of them.

    Undo and rewind remove the newest kept events; a loop's repeated run removes
    the actions and user turns since its previous run and leaves the events
    between them. Either way the actions and user turns removed are the newest
    ones, so every "latest event of this kind" below can fall back to the one
    it replaced, and each question is answered without rescanning what is
    kept (rescanning made a long conversation quadratic).
    """

    def __init__(self, events: Sequence[Event]) -> None:
        self.events = events
        #: kept indices in order; those in ``dropped`` were collapsed away and are skipped
        self._order: list[int] = []
        self._dropped: set[int] = set()
        #: the kept actions and user turns, each with the latest user turn up to it and
        #: the latest user turn that an action followed up to it (-1: none)
        self._turns: list[tuple[int, int, int]] = []
        #: ("run", action) / ("rejected", action) / ("loop_ended",) -> latest kept index
        self._latest: dict[tuple[str, ...], int] = {}
        #: kept index -> the latest index of its kind before it was kept
        self._replaced: dict[int, int] = {}

    def clear(self) -> None:
        """Forget everything kept (a restart or a new session)."""
        self._order = []
        self._turns = []
        self._latest = {}
        self._replaced = {}

    def append(self, index: int) -> None:
        """Keep ``events[index]``."""
        event = self.events[index]
        self._order.append(index)
        if isinstance(event, (ActionExecuted, UserUttered)):
            _, latest_user, answered_user = self._turns[-1] if self._turns else (-1, -1, -1)
            if isinstance(event, UserUttered):
                self._turns.append((index, index, answered_user))
            else:
                self._turns.append((index, latest_user, latest_user))
        kind = _kind(event)
        if kind is not None:
            self._replaced[index] = self._latest.get(kind, -1)
            self._latest[kind] = index

    def indices(self) -> list[int]:
        """The kept indices, in order."""
        return [i for i in self._order if i not in self._dropped]

    def loop_runs_again(self, loop: str) -> bool:
        """Whether running ``loop`` now only continues its happy path (Rasa collapses those).

        It does not when this is the loop's first run since it was activated, or
        when the loop was rejected or another action answered the user since its
        previous run (an unhappy path, which stories spell out).
        """
        previous_run = self._latest.get(("run", loop), -1)
        # Any action after the previous run is another action (it was the latest run),
        # so a user turn there that an action followed was answered by another action.
        answered_user = self._turns[-1][2] if self._turns else -1
        return previous_run > max(self._latest.get(("loop_ended",), -1),
                                  self._latest.get(("rejected", loop), -1), answered_user)

    def undo_to_previous_loop_run(self, loop: str) -> tuple[int, list[int]]:
        """Drop the actions and user turns since ``loop`` last ran; slots and the like stay.

        Returns the index of that previous run and the dropped indices, in order.
        """
        previous_run = self._latest[("run", loop)]
        removed: list[int] = []
        while self._turns[-1][0] != previous_run:
            index = self._turns.pop()[0]
            self._forget(index)
            self._dropped.add(index)
            removed.append(index)
        return previous_run, removed[::-1]

    def undo_until(self, kind: type[Event]) -> None:
        """Remove kept events from the newest up to and including the latest of ``kind``."""
        while self._order:
            index = self._order.pop()
            if index in self._dropped:
                continue
            event = self.events[index]
            if isinstance(event, (ActionExecuted, UserUttered)):
                self._turns.pop()
            self._forget(index)
            if isinstance(event, kind):
                return

    def _forget(self, index: int) -> None:
        """Make the event of ``index``'s kind that it replaced the latest again."""
        kind = _kind(self.events[index])
        if kind is not None:
            self._latest[kind] = self._replaced.pop(index)


def _kind(event: Event) -> tuple[str, ...] | None:
    """What :meth:`_KeptEvents.loop_runs_again` needs the latest of, for this event."""
    if isinstance(event, ActionExecuted):
        return ("run", event.name)
    if isinstance(event, ActionExecutionRejected):
        return ("rejected", event.name)
    if isinstance(event, ActiveLoop) and event.name is None:
        return ("loop_ended",)
    return None


class DialogueStateTracker:
    """One conversation: its events and the current state derived from them.

    ``slots`` are the domain's slots; a slot holds a value as it was set (see
    :meth:`~dialogflowlite.shared.domain.SlotDef.stored_value`). As in Rasa, a slot
    event for a slot the domain does not declare stays among the events but sets
    nothing (it is logged once per name), except for the framework's own slots
    (``requested_slot``, ``session_started_metadata``). Without ``slots`` (no domain
    known) every slot event sets its slot.
    """

    def __init__(self, sender_id: str, slots: Iterable[SlotDef] | None = None,
                 events: Iterable[Event] = ()) -> None:
        self.sender_id = sender_id
        self.slot_defs: dict[str, SlotDef] = {s.name: s for s in slots or ()}
        self.takes_any_slot = slots is None
        self.events: list[Event] = []
        self._reset()
        self.update_with_events(events)

    @classmethod
    def for_domain(cls, sender_id: str, domain: Domain,
                   events: Iterable[Event] = ()) -> DialogueStateTracker:
        return cls(sender_id, domain.slots.values(), events)

    # ------------------------------------------------------------ state

    def _reset(self) -> None:
        self.slots: dict[str, Any] = {}
        self._reset_slots()
        self.active_loop: dict[str, Any] = {}
        self.latest_message: UserUttered | None = None
        self.latest_action: dict[str, Any] = {}
        self.latest_bot_utterance: BotUttered | None = None
        self.followup_action: str | None = ACTION_LISTEN
        self.paused = False

    def _reset_slots(self) -> None:
        # Every slot, as a restart resets them: also ``session_started_metadata`` and
        # the other slots the domain does not declare (Rasa's domain declares them all).
        self.slots = {name: copy.deepcopy(slot.initial_value)
                      for name, slot in self.slot_defs.items()}

    def _replay(self) -> None:
        self._reset()
        for event in applied_events(self.events):
            self._apply(event)

    def update(self, event: Event) -> None:
        """Append ``event`` and bring the state up to date."""
        self.events.append(event)
        if isinstance(event, (ActionReverted, UserUtteranceReverted)):
            self._replay()
        else:
            self._apply(event)

    def update_with_events(self, events: Iterable[Event]) -> None:
        """Append ``events`` in order, as :meth:`update` one by one would.

        Every undo or rewind replays the whole conversation, and each replay
        makes the state of the ones before it irrelevant, so only the last of
        the batch is replayed: a stored conversation with k undos loads in one
        replay, not k.
        """
        listed = list(events)
        last_revert = max((i for i, e in enumerate(listed)
                           if isinstance(e, (ActionReverted, UserUtteranceReverted))),
                          default=-1)
        if last_revert >= 0:
            self.events += listed[:last_revert + 1]
            self._replay()
        for event in listed[last_revert + 1:]:
            self.update(event)

    def _apply(self, event: Event) -> None:
        if isinstance(event, UserUttered):
            # As in Rasa, the latest action stays (``action_listen``, which custom actions
            # see) and a user message ends any pending follow-up action.
            self.latest_message = event
            self.followup_action = None
        elif isinstance(event, BotUttered):
            self.latest_bot_utterance = event
        elif isinstance(event, ActionExecuted):
            # as Rasa's sub-state: a text sent as itself has no action name
            self.latest_action = {"action_name": event.name} if event.name else {}
            if event.action_text:
                self.latest_action["action_text"] = event.action_text
            self.followup_action = None
            self._reset_loop_flags(event.name)
        elif isinstance(event, SlotSet):
            self._set_slot(event.name, event.value)
        elif isinstance(event, ActiveLoop):
            if event.name:
                trigger = self.latest_message.parse_data if self.latest_message else {}
                self.active_loop = {"name": event.name, "validate": True, "rejected": False,
                                    "trigger_message": trigger}
            else:
                self.active_loop = {}
        elif isinstance(event, LoopInterrupted):
            if self.active_loop:
                self.active_loop["validate"] = not event.is_interrupted
        elif isinstance(event, ActionExecutionRejected):
            if self.active_loop and self.active_loop.get("name") == event.name:
                self.active_loop["rejected"] = True
        elif isinstance(event, Restarted):
            self._reset()
            # as Rasa: a restarted conversation starts a new session (a custom
            # action_session_start sets its slots again), then listens
            self.followup_action = ACTION_SESSION_START
        elif isinstance(event, SessionStarted):
            self._reset()
        elif isinstance(event, AllSlotsReset):
            self._reset_slots()
        elif isinstance(event, FollowupAction):
            self.followup_action = event.name
        elif isinstance(event, ConversationPaused):
            self.paused = True
        elif isinstance(event, ConversationResumed):
            self.paused = False
        elif isinstance(event, EntitiesAdded) and self.latest_message is not None:
            parse = dict(self.latest_message.parse_data)
            parse["entities"] = list(parse.get("entities") or []) + list(event.entities)
            self.latest_message = UserUttered(
                text=self.latest_message.text, parse_data=parse,
                input_channel=self.latest_message.input_channel,
                message_id=self.latest_message.message_id,
                timestamp=self.latest_message.timestamp, metadata=self.latest_message.metadata)

    def _reset_loop_flags(self, action_name: str) -> None:
        """As in Rasa, an interruption lasts until the next action, and a rejection
        until the loop runs again."""
        if not self.active_loop:
            return
        self.active_loop["validate"] = True
        if action_name == self.active_loop.get("name"):
            self.active_loop["rejected"] = False

    def _set_slot(self, name: str, value: Any) -> None:
        definition = self.slot_defs.get(name)
        if definition is not None:
            # kept as given (a list slot wraps a single value), as Rasa's slots keep it
            self.slots[name] = definition.stored_value(value)
        elif self.takes_any_slot or name in FRAMEWORK_SLOTS:
            self.slots[name] = value
        else:
            _report_undeclared_slot(name)

    # ------------------------------------------------------------ questions

    def get_slot(self, name: str) -> Any:
        return self.slots.get(name)

    @property
    def active_loop_name(self) -> str | None:
        return self.active_loop.get("name") if self.active_loop else None

    @property
    def requested_slot(self) -> str | None:
        return self.slots.get(REQUESTED_SLOT)

    @property
    def latest_action_name(self) -> str | None:
        return self.latest_action.get("action_name")

    @property
    def latest_intent(self) -> str | None:
        return self.latest_message.intent_name if self.latest_message else None

    @property
    def latest_message_object(self) -> Message | None:
        return self.latest_message.message if self.latest_message else None

    @property
    def latest_event_time(self) -> float | None:
        return self.events[-1].timestamp if self.events else None

    @property
    def latest_input_channel(self) -> str | None:
        for event in reversed(self.events):
            if isinstance(event, UserUttered):
                return event.input_channel
        return None

    def applied_events(self, keep_loop_turns: bool = False) -> list[Event]:
        """The events that still count (see :func:`applied_indices`)."""
        return applied_events(self.events, keep_loop_turns)

    def events_after_latest_restart(self) -> list[Event]:
        for index in range(len(self.events) - 1, -1, -1):
            if isinstance(self.events[index], Restarted):
                return self.events[index + 1 :]
        return list(self.events)

    def has_session_started(self) -> bool:
        return any(isinstance(e, SessionStarted) for e in self.events)

    def copy(self) -> DialogueStateTracker:
        """An independent tracker with the same events.

        Events are values: nothing changes one once it is in a tracker (code that
        needs a changed event makes a new one), so the copy shares them; adding or
        undoing events in either tracker leaves the other as it was.
        """
        slots = None if self.takes_any_slot else self.slot_defs.values()
        return DialogueStateTracker(self.sender_id, slots, list(self.events))

    # ------------------------------------------------------------ JSON

    def slot_values(self) -> dict[str, Any]:
        """Every slot's value as Rasa's tracker lists them (a copy).

        Rasa's domain always has ``session_started_metadata``, so its trackers
        list it, null until a session starts with metadata, even where the domain
        file does not declare it. Without a domain only the slots set are listed.
        """
        values = copy.deepcopy(self.slots)
        if not self.takes_any_slot:
            values.setdefault(SESSION_START_METADATA_SLOT, None)
        return values

    def latest_message_data(self) -> dict[str, Any]:
        """Rasa's ``latest_message``: the parse data with text, message id and metadata."""
        if self.latest_message is None:
            return {"intent": {}, "entities": [], "text": None, "message_id": None,
                    "metadata": {}}
        data = dict(self.latest_message.parse_data)
        data.setdefault("intent", {})
        data.setdefault("entities", [])
        data["text"] = self.latest_message.text
        data["message_id"] = self.latest_message.message_id
        data["metadata"] = dict(self.latest_message.metadata)
        return data

    def current_state(self, include_events: str | None = "all") -> dict[str, Any]:
        """The tracker as Rasa's ``GET /conversations/{id}/tracker`` returns it.

        ``include_events``: ``all``, ``after_restart``, ``applied`` or ``None``.
        """
        if include_events == "all":
            events: list[dict[str, Any]] | None = [e.as_dict() for e in self.events]
        elif include_events == "after_restart":
            events = [e.as_dict() for e in self.events_after_latest_restart()]
        elif include_events == "applied":
            events = [e.as_dict() for e in self.applied_events()]
        else:
            events = None
        return {
            "sender_id": self.sender_id,
            "slots": self.slot_values(),
            "latest_message": self.latest_message_data(),
            "latest_event_time": self.latest_event_time,
            "followup_action": self.followup_action,
            "paused": self.paused,
            "events": events,
            "latest_input_channel": self.latest_input_channel,
            "active_loop": copy.deepcopy(self.active_loop),
            "latest_action": dict(self.latest_action),
            "latest_action_name": self.latest_action_name,
        }

    @classmethod
    def from_dict(cls, sender_id: str, events: list[dict[str, Any]],
                  slots: Iterable[SlotDef] | None = None) -> DialogueStateTracker:
        """Rebuild a tracker from stored event JSON."""
        return cls(sender_id, slots, [event_from_dict(e) for e in events])

    def __len__(self) -> int:
        return len(self.events)

    def __repr__(self) -> str:
        return f"DialogueStateTracker({self.sender_id!r}, {len(self.events)} events)"


def _report_undeclared_slot(name: str) -> None:
    # once per name: trackers are rebuilt from their events on every request
    if name in _REPORTED_SLOTS:
        return
    if len(_REPORTED_SLOTS) >= _MAX_REPORTED_SLOTS:
        _REPORTED_SLOTS.clear()
    _REPORTED_SLOTS.add(name)
    logger.error("a slot event for %r was ignored: the domain declares no such slot "
                 "(declare it under `slots:` in domain.yml, or fix what sent the event)",
                 name)
