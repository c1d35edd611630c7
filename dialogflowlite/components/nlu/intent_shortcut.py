"""Messages written as an intent: ``/greet``, ``/inform{"city": "Berlin"}``.

As in Rasa, such a message skips the NLU models: its intent is taken as
written (confidence 1.0, or the ``@0.8`` given after the name) and its
entities from the JSON after it. The JSON is either an object of entity ->
value (a list value gives one entity per element) or a list of entity
objects with ``entity``, ``value`` and optional ``role`` / ``group``. Every
entity spans the JSON text. JSON that does not parse is ignored with a
warning, like Rasa does.
"""

from __future__ import annotations

import json
import logging
import re
from typing import Any

from dialogflowlite.shared.message import Entity, IntentPrediction, Message

logger = logging.getLogger(__name__)

SHORTCUT_PREFIX = "/"
_SHORTCUT = re.compile(
    r"^/(?P<intent>[^\s{@\[/][^\s{@\[]*)"
    r"(?:@(?P<confidence>[0-9]*\.?[0-9]+))?"
    r"(?P<entities>[{\[].*)?$",
    re.DOTALL,
)


def is_intent_shortcut(text: str) -> bool:
    """Whether ``text`` is written as ``/intent...``."""
    return _SHORTCUT.match(text.strip()) is not None


def _entities(raw: str, start: int, text: str) -> list[Entity]:
    try:
        parsed: Any = json.loads(raw)
    except json.JSONDecodeError as e:
        logger.warning(
            "the entities of %r are not valid JSON (%s); continuing without them", text, e.msg
        )
        return []
    end = start + len(raw)
    entities: list[Entity] = []
    if isinstance(parsed, dict):
        for name, values in parsed.items():
            for value in values if isinstance(values, list) else [values]:
                entities.append(Entity(str(name), start, end, value))
    elif isinstance(parsed, list) and all(isinstance(e, dict) and "entity" in e for e in parsed):
        for item in parsed:
            group = item.get("group")
            entities.append(
                Entity(
                    str(item["entity"]),
                    start,
                    end,
                    item.get("value"),
                    role=item.get("role"),
                    group=None if group is None else str(group),
                )
            )
    else:
        logger.warning(
            'the entities of %r must be a JSON object like {"city": "Berlin"}; '
            "continuing without them",
            text,
        )
    return entities


def parse_intent_shortcut(text: str) -> Message | None:
    """The message for ``/intent{...}`` text, or None when ``text`` is ordinary text."""
    stripped = text.strip()
    match = _SHORTCUT.match(stripped)
    if match is None:
        return None
    intent = match.group("intent")
    confidence = float(match.group("confidence")) if match.group("confidence") else 1.0
    offset = text.index(stripped)
    raw = match.group("entities")
    entities = _entities(raw, offset + match.start("entities"), text) if raw else []
    return Message(
        text=text,
        intent=intent,
        confidence=confidence,
        intent_ranking=[IntentPrediction(intent, confidence)],
        entities=entities,
    )
