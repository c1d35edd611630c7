"""What a custom action sees: a dispatcher to send messages and a read-only tracker.

Both follow rasa-sdk's ``CollectingDispatcher`` and ``Tracker``, so an action
written for an action server runs in-process unchanged.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

from dialogflowlite.shared.domain import ACTION_LISTEN, REQUESTED_SLOT
from dialogflowlite.shared.message import NLU_FALLBACK_INTENT
from dialogflowlite.shared.tracker import DialogueStateTracker, applied_indices


class CollectingDispatcher:
    """Collects the messages an action wants to send (rasa-sdk's dispatcher)."""

    def __init__(self) -> None:
        self.messages: list[dict[str, Any]] = []

    def utter_message(
        self,
        text: str | None = None,
        image: str | None = None,
        json_message: dict[str, Any] | None = None,
        response: str | None = None,
        attachment: Any = None,
        buttons: list[dict[str, Any]] | None = None,
        elements: list[dict[str, Any]] | None = None,
        **kwargs: Any,
    ) -> None:
        """Send a message: text, a domain ``response`` by name, buttons, an image, custom JSON.

        Extra keyword arguments travel with the message (and fill ``{placeholders}``
        of a named response where the responder supports it).
        """
        message = {
            "text": text,
            "buttons": buttons or [],
            "elements": elements or [],
            "custom": json_message or {},
            "template": response,
            "response": response,
            "image": image,
            "attachment": attachment,
        }
        message.update(kwargs)
        self.messages.append(message)

    def utter_custom_json(self, json_message: dict[str, Any], **kwargs: Any) -> None:
        """Send a custom JSON payload."""
        self.utter_message(json_message=json_message, **kwargs)

    def utter_image_url(self, image: str, **kwargs: Any) -> None:
        """Send an image by URL."""
        self.utter_message(image=image, **kwargs)

    # rasa-sdk's older ways of saying the same, which actions written for it still use

    def utter_attachment(self, attachment: Any, **kwargs: Any) -> None:
        """Send an attachment."""
        self.utter_message(attachment=attachment, **kwargs)

    def utter_elements(self, *elements: dict[str, Any], **kwargs: Any) -> None:
        """Send a message of elements (cards)."""
        self.utter_message(elements=list(elements), **kwargs)

    def utter_custom_message(self, *elements: dict[str, Any], **kwargs: Any) -> None:
        """Send a message of elements (rasa-sdk's older name of :meth:`utter_elements`)."""
        self.utter_message(elements=list(elements), **kwargs)

    def utter_button_message(self, text: str, buttons: list[dict[str, Any]],
                             **kwargs: Any) -> None:
        """Send a text with buttons."""
        self.utter_message(text=text, buttons=buttons, **kwargs)

    def utter_template(self, template: str, tracker: Any, silent_fail: bool = False,
                       **kwargs: Any) -> None:
        """Send the domain response ``template`` (``tracker`` and ``silent_fail`` are
        taken as rasa-sdk takes them, and not needed)."""
        self.utter_message(response=template, **kwargs)

    def utter_button_template(self, template: str, buttons: list[dict[str, Any]],
                              tracker: Any, silent_fail: bool = False, **kwargs: Any) -> None:
        """Send the domain response ``template`` with ``buttons`` added."""
        self.utter_message(response=template, buttons=buttons, **kwargs)


class ActionTracker:
    """A read-only view of a conversation for custom actions (rasa-sdk's ``Tracker``).

    Built from the tracker's JSON, so an action can neither change the live
    conversation nor see anything an action server would not see.
    """

    def __init__(self, state: dict[str, Any]) -> None:
        self.sender_id: str = state.get("sender_id") or ""
        self.slots: dict[str, Any] = dict(state.get("slots") or {})
        self.latest_message: dict[str, Any] = dict(state.get("latest_message") or {})
        self.events: list[dict[str, Any]] = list(state.get("events") or [])
        self.paused: bool = bool(state.get("paused"))
        self.followup_action: str | None = state.get("followup_action")
        self.active_loop: dict[str, Any] = dict(state.get("active_loop") or {})
        self.latest_action: dict[str, Any] = dict(state.get("latest_action") or {})
        self.latest_action_name: str | None = state.get("latest_action_name")
        self.latest_event_time: float | None = state.get("latest_event_time")
        self._state = state

    @classmethod
    def from_tracker(cls, tracker: DialogueStateTracker) -> ActionTracker:
        return cls(copy.deepcopy(tracker.current_state("all")))

    @classmethod
    def from_dict(cls, state: dict[str, Any]) -> ActionTracker:
        """A view of the tracker JSON ``state`` (rasa-sdk's ``Tracker.from_dict``)."""
        return cls(state)

    def current_slot_values(self) -> dict[str, Any]:
        """Every slot's value."""
        return dict(self.slots)

    def applied_events(self) -> list[dict[str, Any]]:
        """The events that still count: those since the latest restart or session start,
        without what ``undo`` and ``rewind`` took back, a loop's repeated runs collapsed
        into its first (as the bot itself counts them)."""
        from dialogflowlite.errors import DialogflowLiteError
        from dialogflowlite.shared.events import event_from_dict

        try:
            parsed = [event_from_dict(event) for event in self.events]
        except (DialogflowLiteError, TypeError, ValueError, KeyError):
            return list(self.events)  # (events from the bot itself always read)
        return [self.events[i] for i in applied_indices(parsed)]

    def last_executed_action_has(self, name: str, skip: int = 0) -> bool:
        """Whether the latest action other than ``action_listen`` (``skip`` of them
        passed over) is ``name``."""
        last = self.get_last_event_for("action", exclude=[ACTION_LISTEN], skip=skip)
        return last is not None and last.get("name") == name

    def current_state(self) -> dict[str, Any]:
        """The tracker JSON this view was built from."""
        return copy.deepcopy(self._state)

    @property
    def active_loop_name(self) -> str | None:
        name = self.active_loop.get("name")
        return None if name in (None, "should_not_be_set") else name

    @property
    def active_form(self) -> dict[str, Any]:
        """The older name of :attr:`active_loop`."""
        return self.active_loop

    def get_slot(self, key: str) -> Any:
        """The value of slot ``key`` (None when unset or unknown)."""
        return self.slots.get(key)

    def add_slots(self, slots: list[dict[str, Any]]) -> None:
        """Apply ``slot`` events to this view (rasa-sdk's validation actions use this)."""
        for event in slots:
            if event.get("event") == "slot":
                self.slots[event["name"]] = event.get("value")
                self.events.append(event)

    def get_latest_entity_values(self, entity_type: str, entity_role: str | None = None,
                                 entity_group: str | None = None) -> Iterator[Any]:
        """Values of the latest message's entities of this type (and role and group)."""
        for entity in self.latest_message.get("entities") or []:
            if (entity.get("entity") == entity_type and entity.get("role") == entity_role
                    and entity.get("group") == entity_group):
                yield entity.get("value")

    def get_latest_input_channel(self) -> str | None:
        for event in reversed(self.events):
            if event.get("event") == "user":
                return event.get("input_channel")
        return None

    def get_intent_of_latest_message(self, skip_fallback_intent: bool = True) -> str | None:
        """The latest intent; for ``nlu_fallback`` the runner-up unless told otherwise."""
        intent = (self.latest_message.get("intent") or {}).get("name")
        if intent == NLU_FALLBACK_INTENT and skip_fallback_intent:
            ranking = self.latest_message.get("intent_ranking") or []
            if len(ranking) > 1:
                return ranking[1].get("name")
            return None
        return intent

    def is_paused(self) -> bool:
        return self.paused

    def idx_after_latest_restart(self) -> int:
        for index in range(len(self.events) - 1, -1, -1):
            if self.events[index].get("event") == "restart":
                return index + 1
        return 0

    def events_after_latest_restart(self) -> list[dict[str, Any]]:
        return self.events[self.idx_after_latest_restart():]

    def get_last_event_for(self, event_type: str, exclude: list[str] | None = None,
                           skip: int = 0) -> dict[str, Any] | None:
        """The latest event of ``event_type`` (``user``, ``action``, ...), skipping ``skip``."""
        exclude = exclude or []
        for event in reversed(self.events):
            if event.get("event") != event_type or event.get("name") in exclude:
                continue
            if skip == 0:
                return event
            skip -= 1
        return None

    def slots_to_validate(self) -> dict[str, Any]:
        """Slots set since the last non-slot event: the candidates a validation action checks."""
        candidates: dict[str, Any] = {}
        for event in reversed(self.events):
            if event.get("event") != "slot":
                break
            candidates.setdefault(event["name"], event.get("value"))
        return dict(reversed(list(candidates.items())))

    @property
    def requested_slot(self) -> str | None:
        return self.slots.get(REQUESTED_SLOT)

    def copy(self) -> ActionTracker:
        return ActionTracker(copy.deepcopy(self._state))

    def __repr__(self) -> str:
        return f"ActionTracker({self.sender_id!r})"
