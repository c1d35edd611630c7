"""Filling slots from a user message: ``action_extract_slots``.

After every user message each slot's mappings are tried in order; the first
that applies gives the slot its value:

* ``from_entity``: the latest message's entity of that type (and role and group);
* ``from_text``: the whole message text;
* ``from_intent``: the mapping's ``value`` when the intent matches;
* ``from_trigger_intent``: like ``from_intent``, but only when the message
  starts a loop (one its ``conditions`` name, when it has any): a form fills
  it as it activates, and neither a message that starts no loop nor one sent
  while the loop runs does;
* ``custom``: filled by the mapping's ``action`` (run at most once per message,
  and only when no mapping before it filled the slot) or by a validation action.

A project's own action named ``action_extract_slots`` (declared under ``actions:``
or registered in-process) runs instead of all this, as Rasa runs a user action
in place of the default one of that name (:func:`run_action_extract_slots`).

A mapping (a ``custom`` one too) applies only when the intent passes its
``intent`` / ``not_intent`` filters (an active form's ``ignored_intents`` count
as ``not_intent``), when one of its ``conditions`` on ``active_loop`` /
``requested_slot`` holds (and the active form, when it asked for this slot, is
not rejected), and, while a form is active, when an entity that
several of the form's required slots map to (the same way) is meant for the
slot the form asked for. A domain action ``action_validate_slot_mappings``
then checks the candidates, as in Rasa 3.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from dialogflowlite.errors import ActionExecutionError
from dialogflowlite.shared.domain import (
    ACTION_EXTRACT_SLOTS,
    CUSTOM,
    FRAMEWORK_SLOTS,
    FROM_ENTITY,
    FROM_INTENT,
    FROM_TEXT,
    FROM_TRIGGER_INTENT,
    Domain,
    SlotDef,
    SlotMapping,
)
from dialogflowlite.shared.events import ActiveLoop, BotUttered, Event, SlotSet, UserUttered
from dialogflowlite.shared.message import has_content
from dialogflowlite.shared.tracker import DialogueStateTracker

if TYPE_CHECKING:
    from dialogflowlite.dialogue.actions import ActionContext

logger = logging.getLogger(__name__)

ACTION_VALIDATE_SLOT_MAPPINGS = "action_validate_slot_mappings"


def latest_entity_values(tracker: DialogueStateTracker, entity: str | None,
                         role: str | None = None, group: str | None = None) -> list[Any]:
    """Values of the latest message's entities of type ``entity`` with this role and group."""
    if tracker.latest_message is None:
        return []
    return [e.get("value") for e in tracker.latest_message.entities
            if e.get("entity") == entity and e.get("role") == role and e.get("group") == group]


def _mapping_identity(mapping: SlotMapping) -> tuple[Any, ...]:
    """What makes two ``from_entity`` mappings the same mapping (not where they are written)."""
    conditions = tuple((c.active_loop, c.requested_slot) for c in mapping.conditions)
    return (mapping.entity, mapping.role, mapping.group, tuple(mapping.intent),
            tuple(mapping.not_intent), conditions)


def entity_mapping_is_unique(mapping: SlotMapping, domain: Domain, form: str) -> bool:
    """Whether no other required slot of ``form`` has this same ``from_entity`` mapping
    (as in Rasa, slots outside the form do not count)."""
    identity = _mapping_identity(mapping)
    owners = [name for name in domain.required_slots(form)
              if name in domain.slots
              and any(m.type == FROM_ENTITY and _mapping_identity(m) == identity
                      for m in domain.slots[name].mappings)]
    return len(owners) <= 1


def _shared_entity_not_requested(slot: SlotDef, mapping: SlotMapping,
                                 tracker: DialogueStateTracker, domain: Domain) -> bool:
    """While a form runs, an entity that several of its required slots map to the same
    way only fills the requested slot."""
    if mapping.type != FROM_ENTITY:
        return False
    form = tracker.active_loop_name
    if form not in domain.forms or tracker.requested_slot == slot.name:
        return False
    if slot.name not in domain.required_slots(form):
        return False
    return not entity_mapping_is_unique(mapping, domain, form)


def loop_started_by_latest_message(tracker: DialogueStateTracker) -> bool:
    """Whether the active loop was activated after the latest user message (the
    message started it)."""
    for event in reversed(tracker.events):
        if isinstance(event, UserUttered):
            return False
        if isinstance(event, ActiveLoop):
            return event.name is not None and event.name == tracker.active_loop_name
    return False


def _trigger_intent_applies(mapping: SlotMapping, tracker: DialogueStateTracker) -> bool:
    """A ``from_trigger_intent`` mapping fills only as the message's loop starts."""
    loops = [condition.active_loop for condition in mapping.conditions]
    if loops and tracker.active_loop_name not in loops:
        return False
    return loop_started_by_latest_message(tracker)


def _conditions_hold(slot: SlotDef, mapping: SlotMapping,
                     tracker: DialogueStateTracker) -> bool:
    """Whether one of the mapping's ``conditions`` holds, as Rasa 3 reads them.

    A condition on a form holds while that form runs (and asks ``requested_slot``,
    when the condition names one); ``active_loop: null`` holds whenever no loop
    runs, whatever its ``requested_slot``. While the active form is rejected, its
    question stands unanswered: a conditioned mapping of the slot it asked does not
    fill it from the messages that follow, until the form runs again.
    """
    if mapping.type == FROM_TRIGGER_INTENT:
        return _trigger_intent_applies(mapping, tracker)
    if not mapping.conditions:
        return True
    loop = tracker.active_loop_name
    if loop and tracker.active_loop.get("rejected") and tracker.requested_slot == slot.name:
        return False
    return mapping.conditions_met(loop, tracker.requested_slot)


def mapping_values(mapping: SlotMapping, tracker: DialogueStateTracker) -> list[Any]:
    """The values one predefined mapping extracts from the latest message."""
    if mapping.type == FROM_ENTITY:
        return latest_entity_values(tracker, mapping.entity, mapping.role, mapping.group)
    if mapping.type in (FROM_INTENT, FROM_TRIGGER_INTENT):
        return [mapping.value]
    if mapping.type == FROM_TEXT:
        text = tracker.latest_message.text if tracker.latest_message else None
        # "?" or "..." in answer to a form's question is not an answer
        return [text] if text is None or has_content(text) else []
    return []


def mapping_applies(slot: SlotDef, mapping: SlotMapping, tracker: DialogueStateTracker,
                    domain: Domain) -> bool:
    """Whether ``mapping`` of ``slot`` may fill it from the latest message (its intent
    filters, its conditions, an entity meant for another slot of the active form)."""
    if not domain.mapping_takes_intent(mapping, tracker.latest_intent, tracker.active_loop_name):
        return False
    if not _conditions_hold(slot, mapping, tracker):
        return False
    return not _shared_entity_not_requested(slot, mapping, tracker, domain)


def _predefined_value(slot: SlotDef, mapping: SlotMapping,
                      tracker: DialogueStateTracker) -> tuple[bool, Any]:
    values = mapping_values(mapping, tracker)
    if not values:
        return False, None
    value: Any = values if slot.type == "list" else values[-1]
    # a mapping that finds nothing (null) only clears a slot that holds something
    return value is not None or tracker.get_slot(slot.name) is not None, value


def extract_slot_value(slot: SlotDef, tracker: DialogueStateTracker,
                       domain: Domain) -> tuple[bool, Any]:
    """``(True, value)`` from the first predefined mapping of ``slot`` that applies."""
    for mapping in slot.mappings:
        if mapping.type == CUSTOM or not mapping_applies(slot, mapping, tracker, domain):
            continue
        found, value = _predefined_value(slot, mapping, tracker)
        if found:
            return True, value
    return False, None


def predefined_slot_events(tracker: DialogueStateTracker, domain: Domain) -> list[SlotSet]:
    """``slot`` events for every slot a predefined mapping fills from the latest message."""
    events: list[SlotSet] = []
    for slot in domain.slots.values():
        if slot.name in FRAMEWORK_SLOTS:
            continue
        found, value = extract_slot_value(slot, tracker, domain)
        if found:
            events.append(SlotSet(name=slot.name, value=value))
    return events


async def _run_slot_action(name: str, tracker: DialogueStateTracker,
                           context: ActionContext) -> list[Event]:
    """Run a custom action for slot filling; keep only its slot and bot events."""
    from dialogflowlite.dialogue.actions import ActionRejected, CustomAction

    try:
        events = await CustomAction(name).run(tracker, context)
    except (ActionExecutionError, ActionRejected) as e:
        logger.warning("slot filling: custom action %r failed, so its slots stay as they are: %s",
                       name, e)
        return []
    kept = [e for e in events if isinstance(e, (SlotSet, BotUttered))]
    dropped = {e.type_name for e in events if not isinstance(e, (SlotSet, BotUttered))}
    if dropped:
        logger.info("slot filling: events of type %s from %r are ignored",
                    ", ".join(sorted(dropped)), name)
    return kept


async def _slot_events(slot: SlotDef, tracker: DialogueStateTracker, context: ActionContext,
                       executed: set[str]) -> list[Event]:
    """The events of one slot's mappings, tried in order as Rasa does: the first
    predefined mapping that fills the slot ends its turn, so a ``custom`` mapping after
    it runs its action only when the ones before it found nothing. A custom action runs
    at most once per message (``executed``), and only when its mapping applies."""
    events: list[Event] = []
    for mapping in slot.mappings:
        if not mapping_applies(slot, mapping, tracker, context.domain):
            continue
        if mapping.type != CUSTOM:
            found, value = _predefined_value(slot, mapping, tracker)
            if found:
                events.append(SlotSet(name=slot.name, value=value))
                break
        elif mapping.action and mapping.action not in executed:
            executed.add(mapping.action)
            events += await _run_slot_action(mapping.action, tracker, context)
    return events


async def extract_slots(tracker: DialogueStateTracker, context: ActionContext) -> list[Event]:
    """The events of ``action_extract_slots`` for the latest user message."""
    from dialogflowlite.dialogue.actions import temporary_tracker, user_defined

    events: list[Event] = []
    executed: set[str] = set()
    for slot in context.domain.slots.values():
        if slot.name not in FRAMEWORK_SLOTS:
            events += await _slot_events(slot, tracker, context, executed)
    if not user_defined(ACTION_VALIDATE_SLOT_MAPPINGS, context):
        return events
    candidates = [e for e in events if isinstance(e, SlotSet)]
    validated = await _run_slot_action(ACTION_VALIDATE_SLOT_MAPPINGS,
                                       temporary_tracker(tracker, candidates), context)
    checked = {e.name for e in validated if isinstance(e, SlotSet)}
    # A candidate the validation action did not answer for counts as valid.
    return validated + [e for e in events if not (isinstance(e, SlotSet) and e.name in checked)]


async def run_action_extract_slots(tracker: DialogueStateTracker,
                                   context: ActionContext) -> list[Event]:
    """The events of ``action_extract_slots`` for the latest user message: those of the
    project's own action of that name when it has one (all of them, as Rasa applies
    them), else those of the slot mappings (:func:`extract_slots`)."""
    from dialogflowlite.dialogue.actions import ActionRejected, CustomAction, user_defined

    if not user_defined(ACTION_EXTRACT_SLOTS, context):
        return await extract_slots(tracker, context)
    try:
        return await CustomAction(ACTION_EXTRACT_SLOTS).run(tracker, context)
    except (ActionExecutionError, ActionRejected) as e:
        logger.warning("slot filling: the project's own %s failed, so no slot is filled "
                       "from this message: %s", ACTION_EXTRACT_SLOTS, e)
        return []
