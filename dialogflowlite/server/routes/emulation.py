"""``POST /model/parse?emulation_mode=...``: the parse result in another NLU service's shape.

As Rasa's emulators do, for clients written against those services:

* ``wit``: wit.ai's ``/message`` answer (``text``, ``intents``, ``entities``
  keyed ``"<entity>:<role>"``);
* ``luis``: the LUIS v3 prediction endpoint's answer (``query``,
  ``prediction`` with ``topIntent``, ``intents`` and ``entities`` with their
  ``$instance`` details);
* ``dialogflow``: Dialogflow ES's ``detectIntent`` answer (``responseId``,
  ``queryResult``).

The mode is matched without regard to case; without one the answer is the
plain parse result.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any


def _intent(data: dict[str, Any]) -> dict[str, Any]:
    return data.get("intent") or {}


def to_wit(data: dict[str, Any]) -> dict[str, Any]:
    """wit.ai's answer: entities grouped under ``"<entity>:<role>"`` (the role is the
    entity's name when it has none), each with the text it was found in as ``body``."""
    text = data.get("text") or ""
    entities: dict[str, list[dict[str, Any]]] = {}
    for entity in data.get("entities") or []:
        name = entity.get("entity")
        role = entity.get("role") or name
        start, end = entity.get("start"), entity.get("end")
        entities.setdefault(f"{name}:{role}", []).append({
            "confidence": entity.get("confidence_entity") or 1,
            "name": name,
            "value": entity.get("value"),
            # the text as the user wrote it, before a synonym replaced the value
            "body": text[start or 0 : end or 0],
            "start": start,
            "end": end,
            "role": role,
            "entities": [],
        })
    intent = _intent(data)
    return {"text": text, "intents": [intent] if intent else [], "entities": entities}


def to_luis(data: dict[str, Any]) -> dict[str, Any]:
    """The LUIS v3 prediction answer; an entity is keyed by its role when it has one (LUIS
    v3 names entities by role)."""
    top = _intent(data)
    ranking = data.get("intent_ranking") or ([top] if top.get("name") else [])
    intents = {intent["name"]: {"score": intent.get("confidence")}
               for intent in ranking if intent.get("name") is not None}
    entities: dict[str, Any] = {"$instance": {}}
    for entity in data.get("entities") or []:
        key = entity.get("role") or entity.get("entity")
        start, end = entity.get("start"), entity.get("end")
        entities[key] = [entity.get("value")]
        entities["$instance"][key] = [{
            "role": entity.get("role"),
            "type": entity.get("entity"),
            "text": entity.get("value"),
            "startIndex": start,
            "length": end - start if start is not None and end is not None else None,
            "score": entity.get("confidence_entity", entity.get("confidence")),
            "modelType": entity.get("extractor"),
        }]
    return {
        "query": data.get("text"),
        "prediction": {
            "normalizedQuery": data.get("text"),
            "topIntent": top.get("name"),
            "intents": intents,
            "entities": entities,
        },
    }


def to_dialogflow(data: dict[str, Any]) -> dict[str, Any]:
    """Dialogflow ES's ``detectIntent`` answer: entity values listed per entity type."""
    parameters: dict[str, list[Any]] = {}
    for entity in data.get("entities") or []:
        parameters.setdefault(entity.get("entity"), []).append(entity.get("value"))
    intent = _intent(data)
    return {
        "responseId": str(uuid.uuid1()),
        "queryResult": {
            "queryText": data.get("text"),
            "action": intent.get("name"),
            "parameters": parameters,
            "fulfillmentText": "",
            "fulfillmentMessages": [],
            "outputContexts": [],
            "intent": {"name": intent.get("name"), "displayName": intent.get("name")},
            "intentDetectionConfidence": intent.get("confidence"),
        },
    }


#: emulation mode (lower case) -> what turns a parse result into that service's answer
EMULATORS: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
    "wit": to_wit,
    "luis": to_luis,
    "dialogflow": to_dialogflow,
}


def emulator(mode: str | None) -> Callable[[dict[str, Any]], dict[str, Any]] | None:
    """The converter for ``mode`` (None: no mode, the plain parse result); a 400 naming
    the query parameter for a mode there is none of."""
    if mode is None or mode == "":
        return None
    found = EMULATORS.get(mode.lower())
    if found is None:
        from dialogflowlite.server.validation import bad_request

        raise bad_request(f"emulation_mode {mode!r} is not one of "
                          + ", ".join(name.upper() for name in EMULATORS),
                          parameter="emulation_mode", location="query")
    return found
