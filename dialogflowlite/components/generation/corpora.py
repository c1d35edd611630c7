"""Reading public dialogue corpora into generation pairs (for benchmarks and tests).

* Schema-Guided Dialogue (SGD): a split folder of ``dialogues_*.json`` files
  and a ``schema.json``. Every system turn gives an act2text pair (its
  dialogue acts with their values -> the utterance) and a context2response
  pair (the turns before it, the user's active intent and the dialogue
  state's slot values -> the utterance).
* Bitext customer support: a CSV file with ``instruction`` and ``response``
  columns (plus ``intent``): question -> answer pairs. A question's tagged
  entity (``entity_type`` with ``start_offset``/``end_offset`` into the
  question) becomes a slot whose value, as written in the question, is what
  an answer that repeats it must copy (order numbers, account names).
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass, field
from pathlib import Path

from dialogflowlite.components.generation.data import (
    ACT2TEXT,
    BOT,
    CONTEXT2RESPONSE,
    USER,
    ActItem,
    GenerationExample,
    Turn,
)
from dialogflowlite.errors import ProjectError


@dataclass
class CorpusExample:
    """A pair with what scoring needs: the values the reply must contain."""

    example: GenerationExample
    #: values of non-categorical slots in the act (SGD), which a reply must copy
    expected_values: list[str] = field(default_factory=list)
    #: the SGD services of the turn's frames (``Restaurants_2``), joined by ``+``
    service: str = ""


def _categorical_slots(folder: Path) -> dict[str, set[str]]:
    schema_file = folder / "schema.json"
    if not schema_file.exists():
        return {}
    found: dict[str, set[str]] = {}
    for service in json.loads(schema_file.read_text(encoding="utf-8")):
        found[service["service_name"]] = {
            s["name"] for s in service.get("slots", []) if s.get("is_categorical")}
    return found


def slot_descriptions(folder: str | Path) -> dict[str, dict[str, str]]:
    """Each service's slot descriptions in ``schema.json``, lowercased, without a full stop.

    ``{"Banks_2": {"account_balance": "the balance in the specified account"}}``;
    empty without a schema.
    """
    schema_file = Path(folder) / "schema.json"
    if not schema_file.exists():
        return {}
    found: dict[str, dict[str, str]] = {}
    for service in json.loads(schema_file.read_text(encoding="utf-8")):
        found[service["service_name"]] = {
            s["name"]: s["description"].strip().rstrip(".").lower()
            for s in service.get("slots", []) if s.get("description")}
    return found


def _dialogue_files(folder: Path) -> list[Path]:
    files = sorted(folder.glob("dialogues_*.json"))
    if not files:
        raise ProjectError(f"{folder} has no dialogues_*.json files",
                           hint="pass an SGD split folder such as sgd/train")
    return files


def service_domain(service: str) -> str:
    """``Restaurants`` for ``Restaurants_2``: the domain, without the API's number."""
    head, _, tail = service.rpartition("_")
    return head if head and tail.isdigit() else service


def _services(frames: list[dict]) -> str:
    return "+".join(dict.fromkeys(f["service"] for f in frames if f.get("service")))


def read_sgd(folder: str | Path, mode: str, *, history: int = 3,
             with_service: bool = True, describe_slots: bool = False) -> list[CorpusExample]:
    """Pairs of ``mode`` from every system turn of an SGD split folder.

    act2text inputs name the service's domain first (``Restaurants | OFFER
    restaurant_name=... | REQ_MORE``; without the API number, so a new API
    of a known domain reads like the known one) unless ``with_service`` is
    False. With ``describe_slots``, a slot is named in the input by its
    description in the split's schema (``the balance in the specified
    account=...`` for ``account_balance``), which is how a schema tells what
    a new service's slots mean.
    """
    folder = Path(folder)
    categorical = _categorical_slots(folder)
    descriptions = slot_descriptions(folder) if describe_slots else {}
    examples: list[CorpusExample] = []
    for path in _dialogue_files(folder):
        for dialogue in json.loads(path.read_text(encoding="utf-8")):
            turns: list[Turn] = []
            state_intent: str | None = None
            state_slots: dict[str, str] = {}
            for index, turn in enumerate(dialogue["turns"]):
                text = turn["utterance"]
                frames = turn.get("frames") or []
                if turn["speaker"] == "USER":
                    for frame in frames:
                        state = frame.get("state") or {}
                        if state.get("active_intent") and state["active_intent"] != "NONE":
                            state_intent = state["active_intent"]
                        for slot, values in (state.get("slot_values") or {}).items():
                            if values:
                                state_slots[slot] = values[0]
                    turns.append(Turn(USER, text))
                    continue
                origin = f"{path.name}:{dialogue['dialogue_id']}:{index}"
                if mode == ACT2TEXT:
                    acts: list[ActItem] = []
                    expected: list[str] = []
                    for frame in frames:
                        service = frame.get("service", "")
                        if with_service and service:
                            acts.append(ActItem(service_domain(service)))
                        for action in frame.get("actions") or []:
                            slot = action.get("slot") or None
                            values = action.get("values") or []
                            named = descriptions.get(service, {}).get(slot or "", slot)
                            if not values:
                                acts.append(ActItem(action["act"], named))
                            for value in values:
                                acts.append(ActItem(action["act"], named, value))
                                if slot and slot != "intent" and slot not in categorical.get(
                                        service, set()):
                                    expected.append(str(value))
                    examples.append(CorpusExample(GenerationExample(
                        ACT2TEXT, text, acts=acts, origin=origin), expected,
                        service=_services(frames)))
                elif mode == CONTEXT2RESPONSE:
                    if turns:
                        context = turns[-history:] if history > 0 else []
                        examples.append(CorpusExample(GenerationExample(
                            CONTEXT2RESPONSE, text, context=list(context), intent=state_intent,
                            slots=sorted(state_slots.items()), origin=origin),
                            service=_services(frames)))
                else:
                    raise ValueError(f"unknown mode {mode!r}")
                turns.append(Turn(BOT, text))
    return examples


def read_bitext(path: str | Path) -> list[CorpusExample]:
    """Question -> answer pairs of a Bitext customer-support CSV file."""
    path = Path(path)
    examples = []
    with path.open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        missing = {"instruction", "response"} - set(reader.fieldnames or [])
        if missing:
            raise ProjectError(f"{path} lacks the column(s) {', '.join(sorted(missing))}",
                               hint="pass a Bitext CSV with instruction and response columns")
        for number, row in enumerate(reader, start=2):
            question = row["instruction"]
            entity = _tagged_entity(row, question)
            examples.append(CorpusExample(GenerationExample(
                CONTEXT2RESPONSE, row["response"], context=[Turn(USER, question)],
                intent=row.get("intent") or None, slots=[entity] if entity else [],
                origin=f"{path.name}:{number}")))
    return examples


def _tagged_entity(row: dict[str, str], question: str) -> tuple[str, str] | None:
    """(entity type, the value as the question writes it), when the row tags one."""
    kind = (row.get("entity_type") or "").strip()
    try:
        start, end = int(row.get("start_offset") or ""), int(row.get("end_offset") or "")
    except ValueError:
        return None
    value = question[start:end].strip() if 0 <= start < end <= len(question) else ""
    return (kind, value) if kind and value else None
