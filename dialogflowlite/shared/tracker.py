"""The dialogue state tracker: a conversation's events and the state they add up to.

State (slots, the active loop, the latest message and action, a pending
follow-up, whether the bot is paused) is derived from the events, so a tracker
rebuilt from stored events is identical to the live one. Undo (``undo``,
``rewind``), restarts and new sessions are applied the way Rasa applies them.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from typing import Any

from dialogflowlite.shared.domain import ACTION_LISTEN, REQUESTED_SLOT, Domain, SlotDef
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


def _undo_till_previous(event_type: type[Event], events: list[Event]) -> None:
    """Remove events from the end up to and including the last ``event_type``."""
    while events:
        removed = events.pop()
        if isinstance(removed, event_type):
            break


def applied_events(events: Iterable[Event]) -> list[Event]:
    """The events that still count: after the last restart or session start, undo applied."""
    applied: list[Event] = []
    for event in events:
        if isinstance(event, (Restarted, SessionStarted)):
            applied = []
        elif isinstance(event, ActionReverted):
            _undo_till_previous(ActionExecuted, applied)
        elif isinstance(event, UserUtteranceReverted):
            # A user message always follows an action_listen: undo both.
            _undo_till_previous(UserUttered, applied)
            _undo_till_previous(ActionExecuted, applied)
        else:
            applied.append(event)
    return applied


class DialogueStateTracker:
    """One conversation: its events and the current state derived from them."""

    def __init__(self, sender_id: str, slots: Iterable[SlotDef] | None = None,
                 events: Iterable[Event] = ()) -> None:
        self.sender_id = sender_id
        self.slot_defs: dict[str, SlotDef] = {s.name: s for s in slots or ()}
        self.events: list[Event] = []
        self._reset()
        for event in events:
            self.update(event)

    @classmethod
    def for_domain(cls, sender_id: str, domain: Domain,
                   events: Iterable[Event] = ()) -> DialogueStateTracker:
        return cls(sender_id, domain.slots.values(), events)

    # ------------------------------------------------------------ state

    def _reset(self) -> None:
        self.slots: dict[str, Any] = {
            name: copy.deepcopy(slot.initial_value) for name, slot in self.slot_defs.items()
        }
        self.active_loop: dict[str, Any] = {}
        self.latest_message: UserUttered | None = None
        self.latest_action: dict[str, Any] = {}
        self.latest_bot_utterance: BotUttered | None = None
        self.followup_action: str | None = ACTION_LISTEN
        self.paused = False

    def _reset_slots(self) -> None:
        for name, slot in self.slot_defs.items():
            self.slots[name] = copy.deepcopy(slot.initial_value)

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
        for event in events:
            self.update(event)

    def _apply(self, event: Event) -> None:
        if isinstance(event, UserUttered):
            self.latest_message = event
            self.latest_action = {}
        elif isinstance(event, BotUttered):
            self.latest_bot_utterance = event
        elif isinstance(event, ActionExecuted):
            self.latest_action = {"action_name": event.name}
            if event.action_text:
                self.latest_action["action_text"] = event.action_text
            self.followup_action = None
        elif isinstance(event, SlotSet):
            definition = self.slot_defs.get(event.name)
            self.slots[event.name] = definition.coerce(event.value) if definition else event.value
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
        elif isinstance(event, (Restarted, SessionStarted)):
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

    def applied_events(self) -> list[Event]:
        return applied_events(self.events)

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
        return DialogueStateTracker(self.sender_id, self.slot_defs.values(), list(self.events))

    # ------------------------------------------------------------ JSON

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
            "slots": copy.deepcopy(self.slots),
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
