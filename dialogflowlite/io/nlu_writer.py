"""NLU training data written back as YAML (or Rasa's JSON), in the formats the loader reads.

Used by ``dialogflowlite data split nlu`` and ``data convert nlu``. Reading
what this writes gives the same examples, entities (with values, roles and
groups), metadata, synonyms, regexes, lookup tables and (YAML only) responses;
:func:`nlg_yaml` writes responses alone, as Rasa's split does beside each part.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from dialogflowlite.io.json_nlu_reader import ROOT_KEY
from dialogflowlite.io.yaml import dump_yaml, yaml_scalar
from dialogflowlite.shared.message import Entity, Message
from dialogflowlite.shared.training_data import TrainingData, annotate

NLU_FORMAT_VERSION = "3.1"


def _block(lines: list[str], indent: str = "    ") -> list[str]:
    """An ``examples: |`` literal block of ``- line`` entries."""
    return ["  examples: |", *(f"{indent}- {line}" for line in lines)]


def _fits_block(text: str) -> bool:
    # a literal block holds one example per line, kept as written
    return "\n" not in text and "\r" not in text and text == text.strip()


def _intent_lines(intent: str, examples: list[Message]) -> list[str]:
    levels = _known_levels(examples)
    if levels is not None:
        intent_metadata, example_metadata = levels
    else:
        intent_metadata, example_metadata = _shared_metadata(examples)
    lines = [f"- intent: {yaml_scalar(intent)}"]
    if intent_metadata:
        lines.append(f"  metadata: {json.dumps(intent_metadata, ensure_ascii=False)}")
    texts = [annotate(m.text, m.entities) for m in examples]
    if not any(example_metadata) and all(_fits_block(t) for t in texts):
        return lines + _block(texts)
    lines.append("  examples:")
    for metadata, text in zip(example_metadata, texts, strict=True):
        lines.append(f"  - text: {json.dumps(text, ensure_ascii=False)}")
        if metadata:
            lines.append(f"    metadata: {json.dumps(metadata, ensure_ascii=False)}")
    return lines


def _known_levels(examples: list[Message]) -> tuple[dict, list[dict]] | None:
    """The intent's metadata and each example's own, where every example says which
    is which (``metadata_levels``) and all give the intent the same; else None.

    Rasa's YAML writer puts the intent's metadata on the intent once and the
    example's on the example, so data read from YAML goes back the way it was.
    """
    levels = []
    for message in examples:
        if message.metadata_levels is not None:
            levels.append(message.metadata_levels)
        elif not message.metadata:
            levels.append({})
        else:
            return None
    intent_metadata = levels[0].get("intent", {})
    if any(level.get("intent", {}) != intent_metadata for level in levels):
        return None
    return intent_metadata, [level.get("example", {}) for level in levels]


def _shared_metadata(examples: list[Message]) -> tuple[dict, list[dict]]:
    """Metadata whose levels are unknown: on the intent when all its examples have
    the same, else on each example."""
    shared = examples[0].metadata
    if all(m.metadata == shared for m in examples):
        return shared, [{} for _ in examples]
    return {}, [m.metadata for m in examples]


def _listed(kind: str, name: str, entries: list[str]) -> list[str]:
    lines = [f"- {kind}: {yaml_scalar(name)}"]
    if all(_fits_block(e) for e in entries):
        return lines + _block(entries)
    return [*lines, "  examples:", *(f"  - {json.dumps(e, ensure_ascii=False)}" for e in entries)]


def nlu_yaml(data: TrainingData, responses: Mapping[str, Any] | None = None) -> str:
    """``data`` as the text of one NLU YAML file (intents in the order they first appear).

    ``responses`` (plain data, response name to its variations) are written
    after the NLU data as a ``responses:`` section, where Rasa keeps the
    answers of retrieval intents next to their examples.
    """
    by_intent: dict[str, list[Message]] = {}
    for message in data.examples:
        if message.intent:
            by_intent.setdefault(message.intent, []).append(message)
    lines = [f'version: "{NLU_FORMAT_VERSION}"', "", "nlu:"]
    for intent, examples in by_intent.items():
        lines += _intent_lines(intent, examples)
    for synonym in data.synonyms:
        lines += _listed("synonym", synonym.value, synonym.variants)
    regexes: dict[str, list[str]] = {}
    for regex in data.regexes:
        regexes.setdefault(regex.name, []).append(regex.pattern)
    for name, patterns in regexes.items():
        lines += _listed("regex", name, patterns)
    for lookup in data.lookups:
        lines += _listed("lookup", lookup.name, lookup.elements)
    if lines[-1] == "nlu:":
        lines[-1] = "nlu: []"
    text = "\n".join(lines) + "\n"
    if responses:
        text += "\n" + dump_yaml({"responses": dict(responses)})
    return text


def nlg_yaml(responses: Mapping[str, Any]) -> str:
    """``responses`` alone as the text of one YAML data file (``version`` and
    ``responses:``), as Rasa's ``data split nlu`` writes ``nlg_training_data.yml``.

    Empty when there are no responses: Rasa's split writes an empty file then.
    """
    if not responses:
        return ""
    return f'version: "{NLU_FORMAT_VERSION}"\n\n' + dump_yaml({"responses": dict(responses)})


def write_nlu(
    data: TrainingData, path: str | Path, responses: Mapping[str, Any] | None = None
) -> Path:
    """Write ``data`` (and ``responses``) to ``path`` (UTF-8), creating its folder;
    returns the path."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(nlu_yaml(data, responses), encoding="utf-8")
    return target


def _json_entity(entity: Entity) -> dict[str, Any]:
    written: dict[str, Any] = {"start": entity.start, "end": entity.end,
                               "value": entity.value, "entity": entity.entity}
    # Rasa keeps role and group only on the entities that have them
    if entity.role is not None:
        written["role"] = entity.role
    if entity.group is not None:
        written["group"] = entity.group
    return written


def _json_example(message: Message) -> dict[str, Any]:
    written: dict[str, Any] = {"text": message.text, "intent": message.intent}
    if message.entities:
        written["entities"] = [_json_entity(e) for e in message.entities]
    if message.metadata_levels is not None:
        # as Rasa writes a YAML example's: the intent's and the example's own apart
        # (an empty level as given, so that JSON data is written back as it was)
        written["metadata"] = message.metadata_levels
    elif message.metadata:
        written["metadata"] = message.metadata
    return written


def json_synonyms(data: TrainingData) -> list[dict[str, Any]]:
    """``entity_synonyms`` as Rasa writes them: one entry per value, in the order
    ``data.synonyms`` first gives them, each variant once and none under itself.

    A variant is listed under the value training gives it
    (:meth:`TrainingData.synonyms_in_training_order`), so that the JSON means what
    the data meant; one that training reads only under itself (``NYC`` under
    ``NYC``) is not listed. A variant that training reads as another spelling's
    (``NWK`` under one value, ``nwk`` later under another) is left out: training
    ignores case, and listed under two values the JSON could be read with the other
    winning.
    """
    trained, own_value = _trained_values(data)
    variants_of: dict[str, list[str]] = {}
    listed: set[str] = set()
    for synonym in data.synonyms:
        for variant in synonym.variants:
            value = own_value.get(variant)
            if value is None or variant in listed or trained[variant.lower()] != value:
                continue
            listed.add(variant)
            variants_of.setdefault(value, []).append(variant)
    return [{"value": value, "synonyms": variants} for value, variants in variants_of.items()]


def _trained_values(data: TrainingData) -> tuple[dict[str, str], dict[str, str]]:
    """The value training gives each variant, by lower-cased variant (the variants
    of :meth:`TrainingData.synonym_map`) and by the variant as written: the last
    value in :meth:`TrainingData.synonyms_in_training_order`.

    One walk over that list, which reads every example's annotation.
    """
    trained: dict[str, str] = {}
    own_value: dict[str, str] = {}
    for synonym in data.synonyms_in_training_order():
        for variant in synonym.variants:
            trained[variant.lower()] = synonym.value
            own_value[variant] = synonym.value
    return trained, own_value


def nlu_json(data: TrainingData) -> str:
    """``data`` as the text of one file in Rasa's JSON NLU format (``rasa_nlu_data``).

    The shape is the one ``rasa data convert nlu -f json`` writes:
    ``common_examples`` (``text``, the full ``intent``, ``entities`` as
    ``start``/``end``/``value``/``entity`` with ``role`` and ``group`` where
    set, ``metadata``: an example read from YAML has the intent's under
    ``intent`` and its own under ``example``), ``regex_features``,
    ``lookup_tables`` and ``entity_synonyms`` (see :func:`json_synonyms`).
    :func:`dialogflowlite.io.json_nlu_reader.read_json_nlu` reads it back to the
    same data. JSON NLU data holds no responses.
    """
    document = {ROOT_KEY: {
        "common_examples": [_json_example(m) for m in data.examples],
        "regex_features": [{"name": r.name, "pattern": r.pattern} for r in data.regexes],
        "lookup_tables": [{"name": t.name, "elements": list(t.elements)} for t in data.lookups],
        "entity_synonyms": json_synonyms(data),
    }}
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"
