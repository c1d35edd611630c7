"""Forms: a loop that asks for its required slots one by one.

A turn of a form:

1. On activation it records ``active_loop``, fills the required slots whose
   mappings hold only while the form runs from the message that started it,
   and lets ``validate_<form>`` check the required slots that are filled.
2. Right after a user message (and unless another action interrupted the form
   since it last ran) it validates the slots set since that message. When it
   asked for a slot and nothing was extracted, it rejects itself
   (``action_execution_rejected``) so rules and stories can handle the
   interruption; ``validate_<form>`` may also reject explicitly.
3. It asks for the next empty required slot with ``action_ask_<form>_<slot>``,
   ``utter_ask_<form>_<slot>``, ``action_ask_<slot>`` or ``utter_ask_<slot>``
   (the first that exists), setting ``requested_slot``.
4. When no slot is left (or validation set ``requested_slot`` to null, or
   deactivated the loop) it deactivates itself.

``validate_<form>`` is a custom action (in-process or on the action server,
rasa-sdk protocol): it gets the tracker with the candidate ``slot`` events at
its end and answers events; a ``slot`` event with ``null`` rejects a value.
"""

from __future__ import annotations

import logging
from typing import Any

from dialogflowlite.dialogue.actions import (
    ActionContext,
    ActionRejected,
    CustomAction,
    LoopAction,
    is_known_action,
    temporary_tracker,
    user_defined,
)
from dialogflowlite.dialogue.slot_filling import run_action_extract_slots
from dialogflowlite.errors import ActionExecutionError
from dialogflowlite.shared.domain import ACTION_LISTEN, ACTION_SESSION_START, REQUESTED_SLOT
from dialogflowlite.shared.events import (
    ActionExecuted,
    ActionExecutionRejected,
    ActiveLoop,
    Event,
    SlotSet,
    UserUttered,
)
from dialogflowlite.shared.tracker import DialogueStateTracker

logger = logging.getLogger(__name__)


def slot_events_since_user_message(tracker: DialogueStateTracker) -> list[SlotSet]:
    """``slot`` events after the latest user message (or restart)."""
    found: list[SlotSet] = []
    for event in reversed(tracker.events):
        if isinstance(event, UserUttered):
            break
        if isinstance(event, SlotSet):
            found.append(event)
    return list(reversed(found))


def interrupted_since_last_run(tracker: DialogueStateTracker, loop: str) -> bool:
    """Whether another action ran since ``loop`` last ran (the user was answered elsewhere)."""
    for event in reversed(tracker.applied_events()):
        if isinstance(event, ActionExecuted):
            if event.name == loop:
                return False
            if event.name not in (ACTION_LISTEN, ACTION_SESSION_START):
                return True
        elif isinstance(event, ActiveLoop) and event.name == loop:
            return False
    return False


def _latest(events: list[Event], kind: type, key: str | None = None) -> Any:
    for event in reversed(events):
        if isinstance(event, kind) and (key is None or getattr(event, "name", None) == key):
            return event
    return None


class FormAction(LoopAction):
    """The action of a form declared in the domain."""

    def __init__(self, name: str) -> None:
        self._name = name

    def name(self) -> str:
        return self._name

    def required_slots(self, context: ActionContext) -> list[str]:
        return context.domain.required_slots(self._name)

    @property
    def validation_action(self) -> str:
        return f"validate_{self._name}"

    def slot_to_fill(self, tracker: DialogueStateTracker) -> str | None:
        """The slot this form asked for last (None when another form asked)."""
        return tracker.requested_slot if tracker.active_loop_name == self._name else None

    # ------------------------------------------------------------ validation

    def _validation_tracker(self, tracker: DialogueStateTracker,
                            candidates: list[Event]) -> DialogueStateTracker:
        # The candidates come last, after the form's own action event, so an action
        # server's `tracker.slots_to_validate()` finds exactly them.
        return temporary_tracker(tracker, [
            SlotSet(name=REQUESTED_SLOT, value=self.slot_to_fill(tracker)),
            ActionExecuted(name=self._name),
            *candidates,
        ])

    async def validate_slots(self, candidates: dict[str, Any], tracker: DialogueStateTracker,
                             context: ActionContext) -> list[Event]:
        """Events of ``validate_<form>`` for these candidates ([] without a validation action)."""
        if not user_defined(self.validation_action, context):
            return []
        events = [SlotSet(name=name, value=value) for name, value in candidates.items()]
        action = CustomAction(self.validation_action)
        try:
            return await action.run(self._validation_tracker(tracker, events), context)
        except ActionExecutionError as e:
            logger.error("form %s: %s; the values stay unvalidated", self._name, e.render())
            return []

    def slot_candidates(self, tracker: DialogueStateTracker,
                        context: ActionContext) -> dict[str, Any]:
        """Values set since the user's message for the form's slots (and the requested one)."""
        wanted = set(self.required_slots(context))
        requested = self.slot_to_fill(tracker)
        if requested:
            wanted.add(requested)
        return {e.name: e.value for e in slot_events_since_user_message(tracker)
                if e.name in wanted}

    async def validate(self, tracker: DialogueStateTracker,
                       context: ActionContext) -> list[Event]:
        """Validate what the user's message filled; reject when the asked slot got nothing."""
        candidates = self.slot_candidates(tracker, context)
        events = await self.validate_slots(candidates, tracker, context)
        validated = any(isinstance(e, SlotSet) and e.name != REQUESTED_SLOT for e in events)
        rejected_manually = any(isinstance(e, ActionExecutionRejected) for e in events)
        slot = self.slot_to_fill(tracker)
        if slot and not candidates and not validated and not rejected_manually:
            raise ActionRejected(self._name,
                                 f"form {self._name!r} could not fill slot {slot!r} from the "
                                 "message")
        return events

    # ------------------------------------------------------------ the loop

    async def activate(self, tracker: DialogueStateTracker,
                       context: ActionContext) -> list[Event]:
        """Fill what the message that starts the form holds, then validate the filled slots.

        ``tracker`` has the form active already, so mappings that hold only while
        it runs (``conditions: [{active_loop: <form>}]``, and a 2.0 form's own
        mappings) fill from the message that started it, as in Rasa 3.2 and later.
        The validation action runs even when no slot is filled yet, as in Rasa: a
        rasa-sdk form with its own ``required_slots`` picks its first slot then.
        """
        extracted = await self.slots_from_activating_message(tracker, context)
        current = temporary_tracker(tracker, extracted)
        prefilled = {name: current.get_slot(name) for name in self.required_slots(context)
                     if current.get_slot(name) is not None}
        logger.debug("form %s starts with filled slots %s", self._name, sorted(prefilled))
        validated = await self.validate_slots(prefilled, current, context)
        answered = {e.name for e in validated if isinstance(e, SlotSet)}
        # A value the validation action did not answer for counts as valid; Rasa puts
        # the validation's events first.
        return validated + [e for e in extracted if e.name not in answered]

    async def slots_from_activating_message(self, tracker: DialogueStateTracker,
                                            context: ActionContext) -> list[SlotSet]:
        """The ``slot`` events of ``action_extract_slots`` run again now that the form is
        active: besides what the message filled before, the slots whose mappings wait
        for the form (``conditions`` on it, ``from_trigger_intent``). As in Rasa, every
        ``slot`` event of that run is kept, a value the message had already set too;
        its other events (a custom mapping's messages) are dropped."""
        return [e for e in await run_action_extract_slots(tracker, context)
                if isinstance(e, SlotSet)]

    async def do(self, tracker: DialogueStateTracker, context: ActionContext,
                 events_so_far: list[Event]) -> list[Event]:
        events: list[Event] = []
        activated_now = any(isinstance(e, ActiveLoop) for e in events_so_far)
        if not activated_now:
            # a ``loop_interrupted`` since the last action (the rule policy coming back
            # from an unhappy path, or "do not validate" in interactive learning)
            # turns validation off for this run, as in Rasa
            needs_validation = (_last_action_was_listen(tracker)
                                and tracker.active_loop.get("validate", True)
                                and not interrupted_since_last_run(tracker, self._name))
            if needs_validation:
                events = await self.validate(tracker, context)
            else:
                # Coming back after an interruption: nothing to validate, but the
                # validation action may still decide which slot comes next.
                events = await self.validate_slots({}, tracker, context)
        if any(isinstance(e, ActionExecutionRejected) for e in events):
            return events
        return events + await self.request_next_slot(tracker, context, events_so_far + events)

    async def request_next_slot(self, tracker: DialogueStateTracker, context: ActionContext,
                                events_so_far: list[Event]) -> list[Event]:
        """``requested_slot`` and the question for the next empty slot; null when none is left."""
        if await self.is_done(tracker, context, events_so_far):
            return [SlotSet(name=REQUESTED_SLOT, value=None)]
        current = temporary_tracker(tracker, events_so_far)
        chosen = _latest(events_so_far, SlotSet, REQUESTED_SLOT)
        events: list[Event] = []
        slot = chosen.value if chosen is not None else None
        if not slot:
            slot = next((name for name in self.required_slots(context)
                         if current.get_slot(name) is None), None)
            events.append(SlotSet(name=REQUESTED_SLOT, value=slot))
        if not slot:
            return events
        return events + await self.ask_for_slot(slot, temporary_tracker(current, events), context)

    def question_action(self, slot: str, context: ActionContext) -> str | None:
        """The first of ``action_ask_<form>_<slot>``, ``utter_ask_<form>_<slot>``,
        ``action_ask_<slot>``, ``utter_ask_<slot>`` that exists."""
        candidates = (f"action_ask_{self._name}_{slot}", f"utter_ask_{self._name}_{slot}",
                      f"action_ask_{slot}", f"utter_ask_{slot}")
        for name in candidates:
            if name.startswith("utter_"):
                if name in context.domain.responses:
                    return name
            elif is_known_action(name, context):
                return name
        return None

    async def ask_for_slot(self, slot: str, tracker: DialogueStateTracker,
                           context: ActionContext) -> list[Event]:
        name = self.question_action(slot, context)
        if name is None:
            logger.debug("form %s has no question for slot %s", self._name, slot)
            return []
        try:
            return await context.action(name).run(tracker, context)
        except ActionExecutionError as e:
            logger.error("form %s: asking for slot %s failed: %s", self._name, slot, e.render())
            return []

    async def is_done(self, tracker: DialogueStateTracker, context: ActionContext,
                      events_so_far: list[Event]) -> bool:
        if any(isinstance(e, ActionExecutionRejected) for e in events_so_far):
            return False
        requested = _latest(events_so_far, SlotSet, REQUESTED_SLOT)
        if requested is not None and requested.value is None:
            return True
        loop = _latest(events_so_far, ActiveLoop)
        return loop is not None and loop.name is None


def _last_action_was_listen(tracker: DialogueStateTracker) -> bool:
    for event in reversed(tracker.events):
        if isinstance(event, ActionExecuted):
            return event.name == ACTION_LISTEN
    return False
