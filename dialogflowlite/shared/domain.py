"""The domain: the universe a bot lives in.

Intents, entities (with roles and groups), slots and their mappings, responses,
forms, custom actions and session settings. Reading a ``domain.yml`` into these
classes is :mod:`dialogflowlite.io.domain_reader`'s job; this module only holds
the data and the questions other parts ask of it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from dialogflowlite.errors import Position

ACTION_LISTEN = "action_listen"
ACTION_RESTART = "action_restart"
ACTION_SESSION_START = "action_session_start"
ACTION_DEFAULT_FALLBACK = "action_default_fallback"
ACTION_DEACTIVATE_LOOP = "action_deactivate_loop"
ACTION_REVERT_FALLBACK_EVENTS = "action_revert_fallback_events"
ACTION_DEFAULT_ASK_AFFIRMATION = "action_default_ask_affirmation"
ACTION_DEFAULT_ASK_REPHRASE = "action_default_ask_rephrase"
ACTION_TWO_STAGE_FALLBACK = "action_two_stage_fallback"
ACTION_UNLIKELY_INTENT = "action_unlikely_intent"
ACTION_BACK = "action_back"
ACTION_SEND_TEXT = "action_send_text"
ACTION_EXTRACT_SLOTS = "action_extract_slots"
ACTION_GENERATE = "action_generate"

#: actions every bot has, in Rasa's order, plus the generative fallback
DEFAULT_ACTIONS: tuple[str, ...] = (
    ACTION_LISTEN,
    ACTION_RESTART,
    ACTION_SESSION_START,
    ACTION_DEFAULT_FALLBACK,
    ACTION_DEACTIVATE_LOOP,
    ACTION_REVERT_FALLBACK_EVENTS,
    ACTION_DEFAULT_ASK_AFFIRMATION,
    ACTION_DEFAULT_ASK_REPHRASE,
    ACTION_TWO_STAGE_FALLBACK,
    ACTION_UNLIKELY_INTENT,
    ACTION_BACK,
    ACTION_SEND_TEXT,
    ACTION_EXTRACT_SLOTS,
    ACTION_GENERATE,
)

#: the fields of the domain's declarations that say where something is written, not
#: what it means: comparisons and fingerprints leave them out
POSITION_FIELDS = ("position", "entry_positions")

#: intents every bot understands without declaring them
DEFAULT_INTENTS: tuple[str, ...] = (
    "restart", "back", "out_of_scope", "session_start", "nlu_fallback",
)

REQUESTED_SLOT = "requested_slot"
SESSION_START_METADATA_SLOT = "session_started_metadata"
#: the action a knowledge-base bot declares (Rasa SDK's ``ActionQueryKnowledgeBase``)
ACTION_QUERY_KNOWLEDGE_BASE = "action_query_knowledge_base"
#: the slots Rasa's domain adds when :data:`ACTION_QUERY_KNOWLEDGE_BASE` is among its
#: actions: the objects last listed, the object last talked about and its type
KNOWLEDGE_BASE_SLOTS: tuple[str, ...] = (
    "knowledge_base_listed_objects",
    "knowledge_base_last_object",
    "knowledge_base_last_object_type",
)
#: slots the framework manages itself: trackers keep them even when the domain does
#: not declare them, and slot mappings never fill them
FRAMEWORK_SLOTS = frozenset({REQUESTED_SLOT, SESSION_START_METADATA_SLOT})

SLOT_TYPES = ("text", "bool", "categorical", "float", "list", "any")

#: slot mapping types
FROM_ENTITY = "from_entity"
FROM_TEXT = "from_text"
FROM_INTENT = "from_intent"
FROM_TRIGGER_INTENT = "from_trigger_intent"
CUSTOM = "custom"
MAPPING_TYPES = (FROM_ENTITY, FROM_TEXT, FROM_INTENT, FROM_TRIGGER_INTENT, CUSTOM)


@dataclass
class IntentDef:
    """An intent and which entities it passes on to the dialogue manager."""

    name: str
    use_entities: bool | list[str] = True
    ignore_entities: list[str] = field(default_factory=list)
    position: Position | None = None

    def uses_entity(self, entity: str) -> bool:
        if entity in self.ignore_entities:
            return False
        if self.use_entities is True:
            return True
        if self.use_entities is False:
            return False
        return entity in self.use_entities


@dataclass
class EntityDef:
    """An entity type with its allowed roles and groups."""

    name: str
    roles: list[str] = field(default_factory=list)
    groups: list[str] = field(default_factory=list)
    influence_conversation: bool = True
    position: Position | None = None


@dataclass
class MappingCondition:
    """A slot mapping applies only while this loop is active (and this slot is requested)."""

    active_loop: str | None
    requested_slot: str | None = None


@dataclass
class SlotMapping:
    """How a slot gets its value from a user message (Rasa's slot mappings)."""

    type: str
    entity: str | None = None
    role: str | None = None
    group: str | None = None
    intent: list[str] = field(default_factory=list)
    not_intent: list[str] = field(default_factory=list)
    value: Any = None
    action: str | None = None
    conditions: list[MappingCondition] = field(default_factory=list)
    position: Position | None = None

    def conditions_met(self, active_loop: str | None, requested_slot: str | None) -> bool:
        """Whether one of the mapping's conditions holds (no conditions: always), as Rasa
        3 reads them: a condition on a form holds while that form runs (and asks
        ``requested_slot``, when the condition names one); ``active_loop: null`` holds
        whenever no loop runs, whatever its ``requested_slot``."""
        if not self.conditions:
            return True
        for condition in self.conditions:
            if condition.active_loop is None:
                if active_loop is None:
                    return True
            elif condition.active_loop == active_loop and condition.requested_slot in (
                    None, requested_slot):
                return True
        return False


@dataclass
class SlotDef:
    """A slot: a named piece of memory with a type and the mappings that fill it."""

    name: str
    type: str = "text"
    initial_value: Any = None
    influence_conversation: bool = True
    values: list[Any] = field(default_factory=list)
    min_value: float = 0.0
    max_value: float = 1.0
    mappings: list[SlotMapping] = field(default_factory=list)
    position: Position | None = None
    #: False for slots the framework adds itself (``requested_slot`` when forms exist)
    declared: bool = True

    def stored_value(self, value: Any) -> Any:
        """What the slot holds once set to ``value``: the value as given, as in Rasa.

        Only a list slot changes it, as Rasa's ``ListSlot`` does: a single value
        that is not empty is wrapped in a list (``0``, ``""`` and ``False`` are
        kept as they are). Custom actions, the HTTP API and response conditions
        see what was set; reading a value for its meaning (the features of a
        float or bool slot, validation) converts it there, see :meth:`coerce`.
        """
        if self.type == "list" and value and not isinstance(value, list):
            return [value]
        return value

    def coerce(self, value: Any) -> Any:
        """``value`` converted to this slot's type where it reads as one (``"2"`` as
        ``2.0`` for a float slot, ``"true"`` or ``1`` as ``True`` for a bool slot, see
        :func:`bool_slot_reading`); else as given, which the policies read as no value.

        Slots do not hold the converted value (see :meth:`stored_value`); this tells
        what a value means to the slot, as validation asks.
        """
        if value is None:
            return None
        if self.type == "float":
            try:
                return float(value)
            except (TypeError, ValueError):
                return value
        if self.type == "bool":
            reading = bool_slot_reading(value)
            return value if reading is None else reading
        return self.stored_value(value)


def bool_slot_reading(value: Any) -> bool | None:
    """What a bool slot holding ``value`` means, as Rasa's bool slots read it; None when
    the value is neither true nor false (Rasa's ``bool_from_any`` raises there and the
    slot is featurised as not set).

    ``True`` and ``False`` as they are; a number is true only when it is 1 (``2`` is
    false); text is ``true`` or ``false`` in any case and around spaces, or digits read
    as their number (``"1"``, ``"0"``, ``"2"``). Anything else is no truth value:
    ``"yes"``, ``"no"``, ``"1.0"``, ``" 1"``, a list.
    """
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)):
        return value == 1
    if isinstance(value, str):
        if value.isnumeric():
            try:
                return float(value) == 1
            except ValueError:  # numeric characters float() does not read, such as "½"
                return None
        lowered = value.strip().lower()
        if lowered in ("true", "false"):
            return lowered == "true"
    return None


@dataclass
class FormDef:
    """A form: a loop that asks for its required slots one by one."""

    name: str
    required_slots: list[str] = field(default_factory=list)
    ignored_intents: list[str] = field(default_factory=list)
    position: Position | None = None
    #: where each required slot and ignored intent is written, when read from a file
    #: (what the checks point at); not part of what the form means
    entry_positions: dict[str, Position] = field(default_factory=dict, compare=False)


@dataclass
class ResponseDef:
    """A response (``utter_*``) with its variations as plain dicts (text, buttons, ...)."""

    name: str
    variations: list[dict[str, Any]] = field(default_factory=list)
    position: Position | None = None


def variation_conditions(variation: dict[str, Any]) -> list[Any]:
    """The slot conditions of a response variation (``condition:``, one mapping or a list)."""
    conditions = variation.get("condition") or []
    # one mapping, or anything else that is no list (`condition: vip`), is one condition
    return list(conditions) if isinstance(conditions, list) else [conditions]


@dataclass
class SessionConfig:
    """Session expiry (minutes; 0 means sessions never expire) and slot carry-over."""

    session_expiration_time: float = 60.0
    carry_over_slots_to_new_session: bool = True

    @property
    def expires(self) -> bool:
        return self.session_expiration_time > 0


@dataclass
class Domain:
    """Everything the bot knows about: intents, entities, slots, responses, forms, actions."""

    intents: dict[str, IntentDef] = field(default_factory=dict)
    entities: dict[str, EntityDef] = field(default_factory=dict)
    slots: dict[str, SlotDef] = field(default_factory=dict)
    responses: dict[str, ResponseDef] = field(default_factory=dict)
    forms: dict[str, FormDef] = field(default_factory=dict)
    #: custom actions declared under ``actions:``
    custom_actions: list[str] = field(default_factory=list)
    #: custom actions declared with ``send_domain: true``: with the action endpoint's
    #: ``enable_selective_domain``, only these are sent the domain
    send_domain_actions: set[str] = field(default_factory=set)
    session_config: SessionConfig = field(default_factory=SessionConfig)
    store_entities_as_slots: bool = True
    version: str = "3.1"
    position: Position | None = None

    # ------------------------------------------------------------ derived names

    @property
    def intent_names(self) -> list[str]:
        """Declared intents followed by the default ones not declared."""
        names = list(self.intents)
        return names + [i for i in DEFAULT_INTENTS if i not in self.intents]

    @property
    def entity_names(self) -> list[str]:
        return list(self.entities)

    @property
    def retrieval_intents(self) -> list[str]:
        """Intents that have ``utter_<intent>/<key>`` responses (Rasa's retrieval intents)."""
        found = []
        for intent in self.intents:
            prefix = f"utter_{intent}/"
            if any(name.startswith(prefix) for name in self.responses):
                found.append(intent)
        return found

    @property
    def utter_actions(self) -> list[str]:
        """Response names that act as actions (``utter_faq`` for retrieval responses)."""
        names: list[str] = []
        for name in self.responses:
            base = name.split("/", 1)[0]
            if base not in names:
                names.append(base)
        return names

    @property
    def action_names(self) -> list[str]:
        """Every action the bot can run, default actions first (the policies' label set)."""
        names = list(DEFAULT_ACTIONS)
        for name in (*self.utter_actions, *self.custom_actions, *self.forms):
            if name not in names:
                names.append(name)
        return names

    def is_known_action(self, name: str) -> bool:
        return name in self.action_names or name.startswith("validate_")

    def slots_for_entity(self, entity: str) -> list[SlotDef]:
        """Slots that a ``from_entity`` mapping fills from ``entity``."""
        return [
            slot for slot in self.slots.values()
            if any(m.type == FROM_ENTITY and m.entity == entity for m in slot.mappings)
        ]

    def required_slots(self, form: str) -> list[str]:
        definition = self.forms.get(form)
        return list(definition.required_slots) if definition else []

    def mapping_takes_intent(self, mapping: SlotMapping, intent: str | None,
                             active_loop: str | None) -> bool:
        """Whether ``mapping`` takes a message of ``intent`` while ``active_loop`` runs:
        one its ``intent`` list names, or, without that list, one that neither its
        ``not_intent`` nor the active form's ``ignored_intents`` names (as in Rasa)."""
        if mapping.intent:
            return intent in mapping.intent
        return (intent not in mapping.not_intent
                and intent not in self.form_ignored_intents(mapping, active_loop))

    def form_ignored_intents(self, mapping: SlotMapping, active_loop: str | None) -> list[str]:
        """The ``ignored_intents`` of the active form ``active_loop``, when they concern
        ``mapping`` (it has no conditions, or one on that form)."""
        form = self.forms.get(active_loop or "")
        if form is None:
            return []
        if mapping.conditions and not any(c.active_loop == active_loop
                                          for c in mapping.conditions):
            return []
        return list(form.ignored_intents)

    def counts(self) -> dict[str, int]:
        """Sizes of the domain, as reported by the loader."""
        return {
            "intents": len(self.intents),
            "entities": len(self.entities),
            "slots": sum(1 for slot in self.slots.values() if slot.declared),
            "forms": len(self.forms),
            "responses": len(self.responses),
            "actions": len(self.custom_actions),
        }
