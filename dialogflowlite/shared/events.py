"""Conversation events, with the JSON Rasa uses for them.

Every event knows its JSON ``type_name`` (``user``, ``bot``, ``action``,
``slot``, ...), serialises with :meth:`Event.as_dict` and is read back by
:func:`event_from_dict`. A tracker is nothing but a list of these.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar

from dialogflowlite.errors import DialogueError
from dialogflowlite.shared.domain import ACTION_SEND_TEXT
from dialogflowlite.shared.message import Message


def _now() -> float:
    return time.time()


@dataclass(kw_only=True)
class Event:
    """Base event: a timestamp and free-form metadata."""

    type_name: ClassVar[str] = ""
    timestamp: float = field(default_factory=_now)
    metadata: dict[str, Any] = field(default_factory=dict)

    def payload(self) -> dict[str, Any]:
        """The event-specific JSON fields."""
        return {}

    def as_dict(self) -> dict[str, Any]:
        """Rasa's JSON for this event."""
        return {"event": self.type_name, "timestamp": self.timestamp,
                "metadata": dict(self.metadata), **self.payload()}

    @classmethod
    def from_payload(cls, data: dict[str, Any]) -> Event:
        return cls(**cls._common(data))

    @staticmethod
    def _common(data: dict[str, Any]) -> dict[str, Any]:
        common: dict[str, Any] = {"metadata": dict(data.get("metadata") or {})}
        if data.get("timestamp") is not None:
            common["timestamp"] = float(data["timestamp"])
        return common

    def same_as(self, other: Event) -> bool:
        """Equal apart from timestamp and metadata (used by tests and story comparison)."""
        return type(self) is type(other) and self.payload() == other.payload()


@dataclass(kw_only=True)
class UserUttered(Event):
    """The user sent a message; ``parse_data`` is the NLU result in Rasa's parse shape."""

    type_name: ClassVar[str] = "user"
    text: str | None = None
    parse_data: dict[str, Any] = field(default_factory=dict)
    input_channel: str | None = None
    message_id: str | None = None

    def __post_init__(self) -> None:
        self.parse_data = readable_parse_data(self.parse_data)

    @property
    def intent_name(self) -> str | None:
        return (self.parse_data.get("intent") or {}).get("name")

    @property
    def entities(self) -> list[dict[str, Any]]:
        return list(self.parse_data.get("entities") or [])

    @property
    def message(self) -> Message:
        return Message.from_parse_result({"text": self.text, **self.parse_data})

    @classmethod
    def from_message(cls, message: Message, *, input_channel: str | None = None,
                     message_id: str | None = None, text: str | None = None,
                     metadata: dict[str, Any] | None = None) -> UserUttered:
        """A user event for a parsed message (``text`` overrides the stored text)."""
        parse = message.parse_result()
        return cls(text=message.text if text is None else text, parse_data=parse,
                   input_channel=input_channel, message_id=message_id,
                   metadata=dict(metadata or {}))

    def payload(self) -> dict[str, Any]:
        return {"text": self.text, "parse_data": self.parse_data,
                "input_channel": self.input_channel, "message_id": self.message_id}

    @classmethod
    def from_payload(cls, data: dict[str, Any]) -> UserUttered:
        parse = dict(data.get("parse_data") or {})
        return cls(text=data.get("text"), parse_data=parse,
                   input_channel=data.get("input_channel"), message_id=data.get("message_id"),
                   **cls._common(data))


@dataclass(kw_only=True)
class BotUttered(Event):
    """The bot sent a message; ``data`` holds buttons, images, custom payloads."""

    type_name: ClassVar[str] = "bot"
    text: str | None = None
    data: dict[str, Any] = field(default_factory=dict)

    def payload(self) -> dict[str, Any]:
        return {"text": self.text, "data": self.data}

    @classmethod
    def from_payload(cls, data: dict[str, Any]) -> BotUttered:
        return cls(text=data.get("text"), data=dict(data.get("data") or {}), **cls._common(data))


@dataclass(kw_only=True)
class ActionExecuted(Event):
    """An action ran; ``policy`` and ``confidence`` say what chose it.

    A story's ``bot:`` text sent as itself (Rasa's end-to-end response) has
    ``action_text`` and an empty ``name``, written as ``"name": null`` as Rasa
    writes it.
    """

    type_name: ClassVar[str] = "action"
    name: str
    policy: str | None = None
    confidence: float | None = None
    action_text: str | None = None
    hide_rule_turn: bool = False

    def payload(self) -> dict[str, Any]:
        name = self.name if self.name or not self.action_text else None
        return {"name": name, "policy": self.policy, "confidence": self.confidence,
                "action_text": self.action_text, "hide_rule_turn": self.hide_rule_turn}

    def same_as(self, other: Event) -> bool:
        return (isinstance(other, ActionExecuted) and other.name == self.name
                and (bool(self.name) or other.action_text == self.action_text))

    @classmethod
    def from_payload(cls, data: dict[str, Any]) -> ActionExecuted:
        return cls(name=data.get("name") or "", policy=data.get("policy"),
                   confidence=data.get("confidence"), action_text=data.get("action_text"),
                   hide_rule_turn=bool(data.get("hide_rule_turn", False)), **cls._common(data))


def bot_text(event: ActionExecuted) -> str | None:
    """The text of an end-to-end bot turn (a ``bot:`` step, or a live ``action`` event
    logged with ``action_text`` and no other action's name), else None."""
    if event.action_text and event.name in (None, "", ACTION_SEND_TEXT):
        return event.action_text
    return None


@dataclass(kw_only=True)
class SlotSet(Event):
    """A slot got a value (``None`` clears it)."""

    type_name: ClassVar[str] = "slot"
    name: str
    value: Any = None

    def payload(self) -> dict[str, Any]:
        return {"name": self.name, "value": self.value}

    @classmethod
    def from_payload(cls, data: dict[str, Any]) -> SlotSet:
        return cls(name=data.get("name") or "", value=data.get("value"), **cls._common(data))


@dataclass(kw_only=True)
class ActiveLoop(Event):
    """A loop (form) became active; ``name=None`` deactivates it."""

    type_name: ClassVar[str] = "active_loop"
    name: str | None = None

    def payload(self) -> dict[str, Any]:
        return {"name": self.name}

    @classmethod
    def from_payload(cls, data: dict[str, Any]) -> ActiveLoop:
        return cls(name=data.get("name"), **cls._common(data))


@dataclass(kw_only=True)
class LoopInterrupted(Event):
    """The active loop was interrupted by another action (or resumed)."""

    type_name: ClassVar[str] = "loop_interrupted"
    is_interrupted: bool = True

    def payload(self) -> dict[str, Any]:
        return {"is_interrupted": self.is_interrupted}

    @classmethod
    def from_payload(cls, data: dict[str, Any]) -> LoopInterrupted:
        return cls(is_interrupted=bool(data.get("is_interrupted", True)), **cls._common(data))


@dataclass(kw_only=True)
class Restarted(Event):
    """The conversation starts over: everything before is forgotten."""

    type_name: ClassVar[str] = "restart"


@dataclass(kw_only=True)
class SessionStarted(Event):
    """A new session begins (slots may be carried over by ``action_session_start``)."""

    type_name: ClassVar[str] = "session_started"


@dataclass(kw_only=True)
class AllSlotsReset(Event):
    """Every slot goes back to its initial value."""

    type_name: ClassVar[str] = "reset_slots"


@dataclass(kw_only=True)
class FollowupAction(Event):
    """The named action runs next, whatever the policies predict."""

    type_name: ClassVar[str] = "followup"
    name: str

    def payload(self) -> dict[str, Any]:
        return {"name": self.name}

    @classmethod
    def from_payload(cls, data: dict[str, Any]) -> FollowupAction:
        return cls(name=data.get("name") or "", **cls._common(data))


@dataclass(kw_only=True)
class ReminderScheduled(Event):
    """Trigger ``intent`` at ``date_time`` (ISO 8601) unless cancelled."""

    type_name: ClassVar[str] = "reminder"
    intent: str
    date_time: str
    entities: list[dict[str, Any]] | None = None
    name: str | None = None
    kill_on_user_message: bool = True

    def payload(self) -> dict[str, Any]:
        return {"intent": self.intent, "date_time": self.date_time, "entities": self.entities,
                "name": self.name, "kill_on_user_msg": self.kill_on_user_message}

    @classmethod
    def from_payload(cls, data: dict[str, Any]) -> ReminderScheduled:
        return cls(intent=data.get("intent") or "", date_time=str(data.get("date_time") or ""),
                   entities=data.get("entities"), name=data.get("name"),
                   kill_on_user_message=bool(data.get("kill_on_user_msg", True)),
                   **cls._common(data))


@dataclass(kw_only=True)
class ReminderCancelled(Event):
    """Cancel reminders by name, or by intent and entities."""

    type_name: ClassVar[str] = "cancel_reminder"
    name: str | None = None
    intent: str | None = None
    entities: list[dict[str, Any]] | None = None

    def payload(self) -> dict[str, Any]:
        return {"name": self.name, "intent": self.intent, "entities": self.entities}

    @classmethod
    def from_payload(cls, data: dict[str, Any]) -> ReminderCancelled:
        return cls(name=data.get("name"), intent=data.get("intent"),
                   entities=data.get("entities"), **cls._common(data))


@dataclass(kw_only=True)
class ActionExecutionRejected(Event):
    """An action (usually a form) refused to run; the policies choose again."""

    type_name: ClassVar[str] = "action_execution_rejected"
    name: str
    policy: str | None = None
    confidence: float | None = None

    def payload(self) -> dict[str, Any]:
        return {"name": self.name, "policy": self.policy, "confidence": self.confidence}

    @classmethod
    def from_payload(cls, data: dict[str, Any]) -> ActionExecutionRejected:
        return cls(name=data.get("name") or "", policy=data.get("policy"),
                   confidence=data.get("confidence"), **cls._common(data))


@dataclass(kw_only=True)
class ActionReverted(Event):
    """Undo the last bot action (Rasa's ``undo``)."""

    type_name: ClassVar[str] = "undo"


@dataclass(kw_only=True)
class UserUtteranceReverted(Event):
    """Undo everything back to and including the last user message (Rasa's ``rewind``)."""

    type_name: ClassVar[str] = "rewind"


@dataclass(kw_only=True)
class ConversationPaused(Event):
    """The bot stops answering this conversation (handoff to a human)."""

    type_name: ClassVar[str] = "pause"


@dataclass(kw_only=True)
class ConversationResumed(Event):
    """The bot answers this conversation again."""

    type_name: ClassVar[str] = "resume"


@dataclass(kw_only=True)
class EntitiesAdded(Event):
    """Entities added to the latest user message (by an action)."""

    type_name: ClassVar[str] = "entities"
    entities: list[dict[str, Any]] = field(default_factory=list)

    def payload(self) -> dict[str, Any]:
        return {"entities": self.entities}

    @classmethod
    def from_payload(cls, data: dict[str, Any]) -> EntitiesAdded:
        return cls(entities=list(data.get("entities") or []), **cls._common(data))


@dataclass(kw_only=True)
class UserUtteranceFeaturization(Event):
    """Whether the last user turn is featurised by text or by intent."""

    type_name: ClassVar[str] = "user_featurization"
    use_text_for_featurization: bool = False

    def payload(self) -> dict[str, Any]:
        return {"use_text_for_featurization": self.use_text_for_featurization}

    @classmethod
    def from_payload(cls, data: dict[str, Any]) -> UserUtteranceFeaturization:
        return cls(use_text_for_featurization=bool(data.get("use_text_for_featurization")),
                   **cls._common(data))


EVENT_TYPES: dict[str, type[Event]] = {
    cls.type_name: cls
    for cls in (
        UserUttered, BotUttered, ActionExecuted, SlotSet, ActiveLoop, LoopInterrupted,
        Restarted, SessionStarted, AllSlotsReset, FollowupAction, ReminderScheduled,
        ReminderCancelled, ActionExecutionRejected, ActionReverted, UserUtteranceReverted,
        ConversationPaused, ConversationResumed, EntitiesAdded, UserUtteranceFeaturization,
    )
}
# Older names Rasa still accepts for the same events.
EVENT_ALIASES = {"form": "active_loop", "form_validation": "loop_interrupted"}


def parse_data_problem(parse: Any) -> str | None:
    """What is wrong with ``parse`` as Rasa's parse result (``intent`` an object with a
    text ``name``, ``entities`` and ``intent_ranking`` lists of objects, each entity
    with a text ``entity``), or None when nothing is."""
    if not isinstance(parse, dict):
        return "parse_data must be an object"
    intent = parse.get("intent")
    if intent is not None:
        if not isinstance(intent, dict):
            return "parse_data.intent must be an object like {\"name\": \"greet\"}"
        if intent.get("name") is not None and not isinstance(intent["name"], str):
            return "parse_data.intent.name must be text"
    for key in ("entities", "intent_ranking"):
        items = parse.get(key)
        if items is not None and not (isinstance(items, list)
                                      and all(isinstance(i, dict) for i in items)):
            return f"parse_data.{key} must be a list of objects"
    if any(not isinstance(e.get("entity"), str) for e in parse.get("entities") or []):
        return "every entity of parse_data.entities needs a text 'entity'"
    return None


def readable_parse_data(parse: Any) -> dict[str, Any]:
    """``parse`` with what Rasa's parse shape cannot hold left out (an intent given as
    text becomes ``{"name": ..., "confidence": 1.0}``), so that one malformed stored
    message never stops a conversation from being read. Unchanged when well formed."""
    if not isinstance(parse, dict):
        return {}
    if parse_data_problem(parse) is None:
        return parse
    fixed = dict(parse)
    intent = fixed.get("intent")
    if isinstance(intent, str):
        fixed["intent"] = {"name": intent, "confidence": 1.0}
    elif intent is not None and not isinstance(intent, dict):
        fixed.pop("intent")
    elif isinstance(intent, dict) and intent.get("name") is not None \
            and not isinstance(intent["name"], str):
        fixed["intent"] = {**intent, "name": str(intent["name"])}
    for key in ("entities", "intent_ranking"):
        items = fixed.get(key)
        if items is not None:
            fixed[key] = [i for i in items if isinstance(i, dict)] \
                if isinstance(items, list) else []
    fixed["entities"] = [e for e in fixed.get("entities") or []
                         if isinstance(e.get("entity"), str)]
    return fixed


def event_from_dict(data: dict[str, Any], *, strict: bool = False) -> Event:
    """Read one event from Rasa's JSON; an unknown ``event`` type is a clear error.

    With ``strict`` (events sent over the HTTP API or by an action server) an
    event that would mean nothing is refused too: a slot, followup or
    action_execution_rejected event without a ``name``, an action event with
    neither ``name`` nor ``action_text``, and any field the event reads that
    holds the wrong type (a number for a name, text for a confidence, a list
    for ``metadata``, a reminder ``date_time`` that is no ISO 8601 date); the
    DialogueError names the event type and the field. Stored events are read
    without it, so a conversation is never lost over one such event.
    """
    if not isinstance(data, dict):
        raise DialogueError(f"an event must be a JSON object, not {type(data).__name__}")
    original = data.get("event")
    kind = EVENT_ALIASES.get(original, original) if isinstance(original, str) else None
    cls = EVENT_TYPES.get(kind) if kind else None
    if cls is None:
        raise _unknown_type(original)
    if strict:
        _check_strictly(original, kind, data)
    if original == "form_validation":
        data = {**data, "is_interrupted": not data.get("validate", True)}
    try:
        return cls.from_payload(data)
    except (TypeError, ValueError) as e:
        raise DialogueError(f"event {kind!r} is malformed: {e}") from e


def _unknown_type(original: Any) -> DialogueError:
    hint = f"use one of {', '.join(sorted(EVENT_TYPES))}"
    if original is None:
        return DialogueError("it has no 'event' field saying which kind of event it is",
                             hint=hint)
    if not isinstance(original, str):
        return DialogueError(f"its 'event' must be a string, not {_json_type(original)}",
                             hint=hint)
    return DialogueError(f"unknown event type {original!r}", hint=hint)


def _check_strictly(original: str, kind: str, data: dict[str, Any]) -> None:
    _check_name(kind, data)
    _check_fields(original, data)
    if kind == "user" and data.get("parse_data") is not None:
        problem = parse_data_problem(data["parse_data"])
        if problem:
            raise DialogueError(f"event 'user' is malformed: {problem}")


#: event types that mean nothing without a ``name``
_NAMED_EVENTS = ("slot", "followup", "action", "action_execution_rejected")


def _check_name(kind: str, data: dict[str, Any]) -> None:
    if kind not in _NAMED_EVENTS:
        return
    name = data.get("name")
    # (a name of the wrong type is reported by _check_fields)
    if name in (None, "") and not (kind == "action" and data.get("action_text")):
        needs = "'name' (or 'action_text')" if kind == "action" else "'name'"
        raise DialogueError(f"event {kind!r} is malformed: it has no {needs}",
                            hint=f"say which {'slot' if kind == 'slot' else 'action'} "
                                 "it is about")


def reminder_time(date_time: str) -> datetime:
    """The moment an ISO 8601 ``date_time`` names (a final ``Z`` is UTC); ValueError
    when it names none."""
    return datetime.fromisoformat(date_time.replace("Z", "+00:00"))


def _is_number(value: Any) -> bool:
    # JSON booleans are not numbers, though Python thinks they are ints
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        return False
    try:
        return math.isfinite(value)
    except OverflowError:  # an integer too large for a float
        return False


def _is_date_time(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    try:
        reminder_time(value)
    except ValueError:
        return False
    return True


def _is_entity_list(value: Any) -> bool:
    return isinstance(value, list) and all(
        isinstance(e, dict) and isinstance(e.get("entity"), str) for e in value)


#: what a field may hold: a test, and how a message says it
_KINDS: dict[str, tuple[Callable[[Any], bool], str]] = {
    "string": (lambda v: isinstance(v, str), "a string"),
    "number": (_is_number, "a finite number"),
    "boolean": (lambda v: isinstance(v, bool), "a boolean"),
    "object": (lambda v: isinstance(v, dict), "an object"),
    "entities": (_is_entity_list, "a list of objects each with a text 'entity'"),
    # reminders take entities as Rasa's trigger_intent does: a list, or {name: value}
    "reminder entities": (lambda v: isinstance(v, dict) or (
        isinstance(v, list) and all(isinstance(e, dict) for e in v)),
        "a list of objects or an object"),
    "date time": (_is_date_time, "an ISO 8601 date and time like '2030-01-31T09:00:00+00:00'"),
}

#: the fields every event may have
_COMMON_FIELDS = {"timestamp": "number?", "metadata": "object?"}

#: the fields each event type reads, by kind; ``?`` allows null (or leaving it out).
#: Names are checked for presence by :func:`_check_name`; this checks their type.
_EVENT_FIELDS: dict[str, dict[str, str]] = {
    "user": {"text": "string?", "parse_data": "object?", "input_channel": "string?",
             "message_id": "string?"},
    "bot": {"text": "string?", "data": "object?"},
    "action": {"name": "string?", "policy": "string?", "confidence": "number?",
               "action_text": "string?", "hide_rule_turn": "boolean?"},
    "slot": {"name": "string"},
    "active_loop": {"name": "string?"},
    "form": {"name": "string?"},
    "loop_interrupted": {"is_interrupted": "boolean?"},
    "form_validation": {"validate": "boolean?"},
    "followup": {"name": "string"},
    "reminder": {"intent": "string", "date_time": "date time",
                 "entities": "reminder entities?", "name": "string?",
                 "kill_on_user_msg": "boolean?"},
    "cancel_reminder": {"name": "string?", "intent": "string?",
                        "entities": "reminder entities?"},
    "action_execution_rejected": {"name": "string", "policy": "string?",
                                  "confidence": "number?"},
    "entities": {"entities": "entities?"},
    "user_featurization": {"use_text_for_featurization": "boolean?"},
}


def _check_fields(original: str, data: dict[str, Any]) -> None:
    """Every field the event type reads holds what it must (``original``: the type as
    sent, so that an alias's own fields are checked); DialogueError naming the first
    that does not."""
    for key, spec in {**_COMMON_FIELDS, **_EVENT_FIELDS.get(original, {})}.items():
        kind = spec.rstrip("?")
        value = data.get(key)
        if value is None:
            if kind == spec:
                raise DialogueError(f"event {original!r} is malformed: it has no {key!r}")
            continue
        test, wanted = _KINDS[kind]
        if not test(value):
            also = " or null" if kind != spec else ""
            raise DialogueError(f"event {original!r} is malformed: its {key!r} must be "
                                f"{wanted}{also}, not {_describe(value)}")


def _describe(value: Any) -> str:
    """``value`` as a message shows it: its JSON type, and the value when it is short."""
    kind = _json_type(value)
    if isinstance(value, (str, int, float)) and not isinstance(value, bool):
        shown = repr(value)
        return f"{kind} {shown}" if len(shown) <= 40 else kind
    return kind


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    return {str: "a string", dict: "an object", list: "an array"}.get(type(value),
                                                                     type(value).__name__)


def events_from_list(items: list[dict[str, Any]]) -> list[Event]:
    return [event_from_dict(item) for item in items]
