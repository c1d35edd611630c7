"""The domain as JSON: what action servers receive and ``GET /domain`` returns.

:func:`domain_to_dict` writes the 3.x domain layout (slots with their mappings,
forms with ``required_slots``), the shape rasa-sdk reads. Every mapping the
loader derived (2.0 form mappings, 2.0 auto-fill) is written out explicitly, so
:func:`domain_from_dict` reads the dict back into an equal domain; trained
models store their domain this way.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from dialogflowlite.errors import ModelLoadError
from dialogflowlite.shared.domain import Domain, SlotMapping

#: the domain format version written
DOMAIN_JSON_VERSION = "3.1"


def _mapping_to_dict(mapping: SlotMapping) -> dict[str, Any]:
    data: dict[str, Any] = {"type": mapping.type}
    for key in ("entity", "role", "group", "action"):
        value = getattr(mapping, key)
        if value is not None:
            data[key] = value
    if mapping.intent:
        data["intent"] = list(mapping.intent)
    if mapping.not_intent:
        data["not_intent"] = list(mapping.not_intent)
    if mapping.value is not None or mapping.type in ("from_intent", "from_trigger_intent"):
        data["value"] = mapping.value
    if mapping.conditions:
        data["conditions"] = [
            {"active_loop": c.active_loop,
             **({"requested_slot": c.requested_slot} if c.requested_slot else {})}
            for c in mapping.conditions
        ]
    return data


def domain_to_dict(domain: Domain) -> dict[str, Any]:
    """The domain in Rasa 3's JSON layout (``Domain.as_dict`` there)."""
    intents: list[Any] = []
    for intent in domain.intents.values():
        properties: dict[str, Any] = {}
        if intent.use_entities is not True:
            properties["use_entities"] = (intent.use_entities if isinstance(intent.use_entities,
                                                                             bool)
                                          else list(intent.use_entities))
        if intent.ignore_entities:
            properties["ignore_entities"] = list(intent.ignore_entities)
        intents.append({intent.name: properties} if properties else intent.name)
    entities: list[Any] = []
    for entity in domain.entities.values():
        properties = {}
        if entity.roles:
            properties["roles"] = list(entity.roles)
        if entity.groups:
            properties["groups"] = list(entity.groups)
        if not entity.influence_conversation:
            properties["influence_conversation"] = False
        entities.append({entity.name: properties} if properties else entity.name)
    slots: dict[str, Any] = {}
    for slot in domain.slots.values():
        if not slot.declared:
            continue
        data: dict[str, Any] = {
            "type": slot.type,
            "initial_value": slot.initial_value,
            "influence_conversation": slot.influence_conversation,
            "mappings": [_mapping_to_dict(m) for m in slot.mappings],
        }
        if slot.type == "categorical":
            data["values"] = list(slot.values)
        if slot.type == "float":
            data["min_value"] = slot.min_value
            data["max_value"] = slot.max_value
        slots[slot.name] = data
    forms = {
        form.name: {"required_slots": list(form.required_slots),
                    **({"ignored_intents": list(form.ignored_intents)}
                       if form.ignored_intents else {})}
        for form in domain.forms.values()
    }
    return {
        "version": DOMAIN_JSON_VERSION,
        "config": {"store_entities_as_slots": domain.store_entities_as_slots},
        "session_config": {
            "session_expiration_time": domain.session_config.session_expiration_time,
            "carry_over_slots_to_new_session":
                domain.session_config.carry_over_slots_to_new_session,
        },
        "intents": intents,
        "entities": entities,
        "slots": slots,
        "responses": {name: [dict(v) for v in response.variations]
                      for name, response in domain.responses.items()},
        "actions": [{name: {"send_domain": True}} if name in domain.send_domain_actions
                    else name for name in domain.custom_actions],
        "forms": forms,
        "e2e_actions": [],
    }


def domain_digest(data: dict[str, Any]) -> str:
    """A fingerprint of a domain written by :func:`domain_to_dict`.

    Sent to action servers as ``domain_digest``: newer rasa-sdk servers keep the
    domain of the last call that carried one, and use it for a call without a
    domain when the digests match (otherwise they answer HTTP 449).
    """
    text = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def domain_from_dict(data: dict[str, Any], source: str = "domain.json") -> Domain:
    """Read a dict written by :func:`domain_to_dict` (or any 3.x domain as plain data)."""
    from dialogflowlite.io.domain_reader import DomainReader
    from dialogflowlite.io.problems import ProblemLog

    log = ProblemLog()
    reader = DomainReader(log)
    plain = {key: value for key, value in data.items() if key != "e2e_actions"}
    reader.read(Path(source), plain)
    domain = reader.finish()
    if log.errors:
        problems = "; ".join(str(p) for p in log.errors[:5])
        raise ModelLoadError(f"the domain stored in {source} cannot be read: {problems}",
                             hint="retrain the model with `dialogflowlite train`")
    return domain
