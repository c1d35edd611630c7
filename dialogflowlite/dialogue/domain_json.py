"""The domain as JSON: what action servers receive and ``GET /domain`` returns.

:func:`domain_to_dict` writes the 3.x domain layout (slots with their mappings,
forms with ``required_slots``), the shape rasa-sdk reads. Every mapping the
loader derived (2.0 form mappings, 2.0 auto-fill) is written out explicitly, so
:func:`domain_from_dict` reads the dict back into an equal domain; trained
models store their domain this way.

A domain written for Rasa 2.x goes to its action server, usually rasa-sdk 2.x,
in the shape Rasa 2.8 sent (:func:`domain_to_rasa2_dict`): rasa-sdk 2.x's
``FormValidationAction`` reads each form's slot mappings under
``required_slots`` and fails on 3.x's list of slot names (which server is taken
to be at the other end: :func:`~dialogflowlite.dialogue.remote_actions.sdk_major`).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from dialogflowlite.errors import ModelLoadError
from dialogflowlite.io.formats import major_version
from dialogflowlite.shared.domain import FROM_ENTITY, Domain, SlotMapping

#: the domain format version written
DOMAIN_JSON_VERSION = "3.1"
#: the key keeping the ``version`` of a domain written for another Rasa major (2.x):
#: the layout written is 3.x, yet action servers get the shape of that major
SOURCE_VERSION_KEY = "source_version"
#: Rasa 2's slot classes, which Rasa 2.8 named as slot types in the domain it sent
RASA2_SLOT_CLASSES = {
    "text": "rasa.shared.core.slots.TextSlot",
    "bool": "rasa.shared.core.slots.BooleanSlot",
    "categorical": "rasa.shared.core.slots.CategoricalSlot",
    "float": "rasa.shared.core.slots.FloatSlot",
    "list": "rasa.shared.core.slots.ListSlot",
    "any": "rasa.shared.core.slots.AnySlot",
}


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
    source = ({SOURCE_VERSION_KEY: domain.version}
              if major_version(domain.version) not in (None, major_version(DOMAIN_JSON_VERSION))
              else {})
    return {
        "version": DOMAIN_JSON_VERSION,
        **source,
        "config": {"store_entities_as_slots": domain.store_entities_as_slots},
        "session_config": {
            # 60, not 60.0, as Rasa answers the 60 a domain gives
            "session_expiration_time": _minutes(domain.session_config.session_expiration_time),
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


def is_rasa2_domain(domain: Domain) -> bool:
    """Whether ``domain`` was written for Rasa 2.x (its ``version`` is 2.x)."""
    return major_version(domain.version) == 2


def domain_to_rasa2_dict(domain: Domain) -> dict[str, Any]:
    """The domain in the shape Rasa 2.8 sent to action servers (``Domain.as_dict`` there).

    Each form maps its required slots to their mappings (``{"required_slots":
    {slot: [mapping, ...]}}``, the form's own mappings without their conditions);
    slots carry their Rasa 2 class as ``type`` and ``auto_fill`` instead of
    mappings; actions are plain names; there is no ``version``. Intents,
    entities, responses and the session settings are written as in 3.x, which
    has the same shape for them.
    """
    data = domain_to_dict(domain)
    slots: dict[str, Any] = {}
    for slot in domain.slots.values():
        if not slot.declared:
            continue
        # 2.x auto-fill is what the loader turned into a mapping of the slot's own
        # entity without conditions; a slot no entity is named after kept the default
        auto_fill = slot.name not in domain.entities or any(
            m.type == FROM_ENTITY and m.entity == slot.name and not (
                m.conditions or m.intent or m.not_intent or m.role or m.group)
            for m in slot.mappings)
        entry: dict[str, Any] = {
            "type": RASA2_SLOT_CLASSES.get(slot.type, slot.type),
            "initial_value": slot.initial_value,
            "auto_fill": auto_fill,
            "influence_conversation": slot.influence_conversation,
        }
        if slot.type == "categorical":
            entry["values"] = list(slot.values)
        if slot.type == "float":
            entry["max_value"] = slot.max_value
            entry["min_value"] = slot.min_value
        slots[slot.name] = entry
    forms: dict[str, Any] = {}
    for form in domain.forms.values():
        required: dict[str, list[dict[str, Any]]] = {}
        for name in form.required_slots:
            slot_def = domain.slots.get(name)
            mappings = slot_def.mappings if slot_def else []
            required[name] = [
                {key: value for key, value in _mapping_to_dict(m).items() if key != "conditions"}
                for m in mappings if any(c.active_loop == form.name for c in m.conditions)]
        forms[form.name] = {
            **({"ignored_intents": list(form.ignored_intents)} if form.ignored_intents else {}),
            "required_slots": required,
        }
    return {
        "config": data["config"],
        "session_config": data["session_config"],
        "intents": data["intents"],
        "entities": data["entities"],
        "slots": slots,
        "responses": data["responses"],
        "actions": list(domain.custom_actions),
        "forms": forms,
        "e2e_actions": [],
    }


def domain_digest(data: dict[str, Any]) -> str:
    """A fingerprint of a domain written by :func:`domain_to_dict` (or its 2.8 shape).

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
    reader = DomainReader(log, stored=True)
    plain = {key: value for key, value in data.items()
             if key not in ("e2e_actions", SOURCE_VERSION_KEY)}
    reader.read(Path(source), plain)
    domain = reader.finish()
    if data.get(SOURCE_VERSION_KEY):
        # the layout is 3.x whatever the domain was written for; this tells which
        domain.version = str(data[SOURCE_VERSION_KEY])
    if log.errors:
        problems = "; ".join(str(p) for p in log.errors[:5])
        raise ModelLoadError(f"the domain stored in {source} cannot be read: {problems}",
                             hint="retrain the model with `dialogflowlite train`")
    return domain


def _minutes(value: float) -> float | int:
    """A whole number of minutes as an int, another as it is."""
    return int(value) if float(value).is_integer() else value
