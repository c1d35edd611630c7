"""Training pairs for response generation, from the project and from pair files.

Two kinds of pairs, one per conditioning mode:

* ``act2text``: a dialogue act (an action or act name with slot values,
  ``OFFER restaurant_name=Sakoon city=Fremont``) -> the sentence that says it;
* ``context2response``: the last turns of a conversation plus the intent and
  the slots -> the bot's reply.

From the project come: every ``utter_*`` response with text (act2text: the
response name with the slots its text uses), the stories and rules rendered
as conversations with their responses (user turns from end-to-end text or
from NLU examples of the intent; bot turns from ``bot:`` text or the
response's variations), and retrieval intents (each NLU example of
``faq/ask_price`` -> each text of ``utter_faq/ask_price``).

Extra pairs live in JSON Lines files anywhere under ``data/`` (``*.jsonl``;
the project loader reads only YAML, so they do not disturb it). One JSON
object per line::

    {"act": "OFFER", "slots": {"restaurant_name": "Sakoon"}, "response": "How about Sakoon?"}
    {"acts": [{"act": "OFFER", "slot": "city", "value": "Fremont"}, {"act": "REQ_MORE"}],
     "response": "..."}
    {"context": ["hi", "Hello! How can I help?", "what does it cost?"], "intent": "ask_price",
     "slots": {"product": "tea"}, "response": "The tea costs 3 euros."}
    {"question": "Do you deliver?", "answer": "Yes, every day."}

``response`` may also be written ``text`` or ``answer``. ``context`` is a
list of turns, oldest first, alternating user and bot and ending with the
user, or a single string. A near miss of a known key, or a field of the wrong
kind, is an error naming the file and line (other unknown keys are a warning).
See docs/responses.md.
"""

from __future__ import annotations

import json
import logging
import math
import random
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dialogflowlite.components.generation.templates import format_value, placeholders
from dialogflowlite.errors import Position, ProjectError
from dialogflowlite.io.formats import did_you_mean
from dialogflowlite.io.yaml import not_utf8
from dialogflowlite.shared.domain import REQUESTED_SLOT, SESSION_START_METADATA_SLOT, Domain
from dialogflowlite.shared.message import RETRIEVAL_SEPARATOR

if TYPE_CHECKING:
    from dialogflowlite.io.loader import Project
    from dialogflowlite.shared.tracker import DialogueStateTracker

ACT2TEXT = "act2text"
CONTEXT2RESPONSE = "context2response"
MODES = (ACT2TEXT, CONTEXT2RESPONSE)

USER = "user"
BOT = "bot"

#: file suffix of extra pair files under data/
PAIRS_SUFFIX = ".jsonl"

#: slots that are bookkeeping, not content, and never condition a reply
_INTERNAL_SLOTS = (REQUESTED_SLOT, SESSION_START_METADATA_SLOT)


@dataclass
class ActItem:
    """One part of a dialogue act: an act name, optionally with a slot and its value."""

    act: str
    slot: str | None = None
    value: Any = None


@dataclass
class Turn:
    """One turn of a conversation."""

    speaker: str
    text: str


@dataclass
class GenerationExample:
    """One input (act, or context) with its reply; ``target`` is None when generating."""

    mode: str
    target: str | None = None
    acts: list[ActItem] = field(default_factory=list)
    context: list[Turn] = field(default_factory=list)
    intent: str | None = None
    #: conversation slots (context2response) as (name, value) pairs
    slots: list[tuple[str, Any]] = field(default_factory=list)
    #: where the pair came from (file:line or a description)
    origin: str = ""

    @property
    def act_name(self) -> str | None:
        return self.acts[0].act if self.acts else None

    def slot_values(self) -> list[tuple[str, Any]]:
        """Every (slot, value) the input carries: act slots, then conversation slots."""
        found = [(a.slot, a.value) for a in self.acts if a.slot and a.value is not None]
        found += [(name, value) for name, value in self.slots if value is not None]
        return found


# ------------------------------------------------------------ pair files


logger = logging.getLogger(__name__)

#: the keys a pair-file record may have; any other is a mistake (a typo would otherwise
#: drop what it was meant to say without a word)
REPLY_KEYS = ("response", "text", "answer")
RECORD_KEYS = frozenset({"act", "acts", "slots", "context", "question", "intent", *REPLY_KEYS})
#: the keys of one entry of ``acts``
ACT_ENTRY_KEYS = frozenset({"act", "slot", "value"})

#: what a slot value may be, for error messages
_VALUE_KINDS = "text, a number, true/false, null or a list of those"


def _kind(value: Any) -> str:
    """How a JSON value is called in an error message."""
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "a list"
    return json.dumps(value)


def _check_keys(found: Iterable[str], known: frozenset[str], what: str,
                where: Position) -> None:
    """An error for a key that is a near miss of a known one (`slotz`: its slots would be
    dropped without a word); a warning for other unknown keys, which a pair file may
    carry for its own bookkeeping (`id`, `source`) and which are left out."""
    unknown = [key for key in found if key not in known]
    if not unknown:
        return
    near = {key: did_you_mean(key, sorted(known)) for key in unknown}
    misspelt = [f"'{key}' ({hint})" for key, hint in near.items() if hint]
    if misspelt:
        plural = "s" if len(misspelt) > 1 else ""
        raise ProjectError(f"unknown key{plural} in {what}: {', '.join(misspelt)}",
                           position=where, hint=f"the keys are: {', '.join(sorted(known))}")
    logger.warning("%s: %s has key(s) %s, which the pair format does not read; left out "
                   "(the keys are: %s)", where, what, ", ".join(map(repr, unknown)),
                   ", ".join(sorted(known)))


def _is_scalar(value: Any) -> bool:
    # json reads NaN and Infinity, which no slot can hold and no reply can say
    if isinstance(value, float):
        return math.isfinite(value)
    return value is None or isinstance(value, (str, int))


def _check_value(value: Any, what: str, where: Position) -> None:
    """Refuse a slot value that is not a JSON scalar or a list of scalars (a list slot)."""
    if _is_scalar(value):
        return
    if isinstance(value, list) and all(v is not None and _is_scalar(v) for v in value):
        return
    raise ProjectError(f"{what} is {_kind(value)}: a slot value must be {_VALUE_KINDS}",
                       position=where, hint='write the value as text, e.g. "Rome"')


def _slots_from(value: Any, where: Position) -> list[tuple[str, Any]]:
    if value is None:
        return []
    if not isinstance(value, dict):
        raise ProjectError("'slots' must be an object of slot names to values", position=where,
                           hint='write "slots": {"city": "Berlin"}')
    for name, slot_value in value.items():
        if not name.strip():
            raise ProjectError("'slots' has an empty slot name", position=where)
        _check_value(slot_value, f"the value of slot '{name}' in 'slots'", where)
    return list(value.items())


def _act_item(item: Any, index: int, where: Position) -> ActItem:
    """One entry of ``acts``: an act name, or an object with ``act``, ``slot`` and ``value``."""
    example = 'write {"act": "OFFER", "slot": "city", "value": "Rome"}'
    what = f"'acts' entry {index}"
    if isinstance(item, str) and item.strip():
        return ActItem(item)
    if not isinstance(item, dict):
        raise ProjectError(f"{what} must be an act name or an object with 'act', not "
                           f"{_kind(item)}", position=where, hint=example)
    _check_keys(item, ACT_ENTRY_KEYS, what, where)
    act, slot, value = item.get("act"), item.get("slot"), item.get("value")
    if not isinstance(act, str) or not act.strip():
        raise ProjectError(f"{what} needs 'act' as non-empty text, not {_kind(act)}",
                           position=where, hint=example)
    if slot is not None and (not isinstance(slot, str) or not slot.strip()):
        raise ProjectError(f"{what}: 'slot' must be a slot name as non-empty text, not "
                           f"{_kind(slot)}", position=where, hint=example)
    if slot is None and value is not None:
        # without a slot the value is never used: it was surely meant for one
        raise ProjectError(f"{what} has a 'value' but no 'slot'", position=where, hint=example)
    _check_value(value, f"the 'value' of {what}", where)
    return ActItem(act, slot, value)


def _acts_from(record: dict[str, Any], where: Position) -> list[ActItem]:
    if "acts" in record:
        items = record["acts"]
        if not isinstance(items, list) or not items:
            # an empty list would train a reply to an empty input
            raise ProjectError("'acts' must be a non-empty list of {act, slot, value} objects",
                               position=where, hint='write "acts": [{"act": "OFFER", "slot": '
                               '"city", "value": "Rome"}]')
        return [_act_item(item, index, where) for index, item in enumerate(items, start=1)]
    name = record.get("act")
    if not isinstance(name, str) or not name.strip():
        raise ProjectError(f"'act' must be a non-empty string, not {_kind(name)}",
                           position=where)
    slots = _slots_from(record.get("slots"), where)
    return [ActItem(name, slot, value) for slot, value in slots] or [ActItem(name)]


def _context_from(value: Any, where: Position) -> list[Turn]:
    if isinstance(value, str):
        return [Turn(USER, value)]
    if not isinstance(value, list) or not value or not all(isinstance(t, str) for t in value):
        raise ProjectError("'context' must be a string or a non-empty list of strings",
                           position=where, hint="list the turns oldest first, ending with the "
                           "user's")
    # alternate speakers backwards from the last turn, which is the user's
    count = len(value)
    return [Turn(USER if (count - 1 - i) % 2 == 0 else BOT, text) for i, text in enumerate(value)]


def _target_from(record: dict[str, Any], where: Position) -> str:
    key = next((k for k in REPLY_KEYS if k in record), None)
    if key is None:
        raise ProjectError("the pair has no 'response' text", position=where,
                           hint='add "response": "what the bot says"')
    target = record[key]
    if not isinstance(target, str):
        raise ProjectError(f"'{key}' must be text, not {_kind(target)}", position=where,
                           hint=f'write "{key}": "what the bot says"')
    if not target.strip():
        raise ProjectError(f"'{key}' is empty", position=where,
                           hint=f'write "{key}": "what the bot says"')
    return target


def example_from_record(record: Any, where: Position) -> GenerationExample:
    """One pair-file record as a :class:`GenerationExample` (errors name ``where``).

    A record with a near miss of a known key, or a field of the wrong kind, raises
    :class:`ProjectError` rather than being read loosely.
    """
    if not isinstance(record, dict):
        raise ProjectError("each line must be a JSON object", position=where)
    _check_keys(record, RECORD_KEYS, "the pair", where)
    target = _target_from(record, where)
    origin = str(where)
    if "act" in record or "acts" in record:
        return GenerationExample(ACT2TEXT, target, acts=_acts_from(record, where), origin=origin)
    context_value = record.get("context", record.get("question"))
    if context_value is None:
        raise ProjectError("the pair has neither 'act'/'acts' nor 'context'/'question'",
                           position=where, hint="see docs/responses.md for the pair format")
    intent = record.get("intent")
    if intent is not None and (not isinstance(intent, str) or not intent.strip()):
        raise ProjectError(f"'intent' must be an intent name as text, not {_kind(intent)}",
                           position=where, hint='write "intent": "ask_price"')
    return GenerationExample(
        CONTEXT2RESPONSE, target, context=_context_from(context_value, where),
        intent=intent, slots=_slots_from(record.get("slots"), where), origin=origin)


def _parse_line(line: str, where: Position) -> Any:
    """The JSON value of one line; a syntax error names its column within the line."""
    try:
        return json.loads(line)
    except json.JSONDecodeError as e:
        end = len(line.rstrip())
        if e.pos >= end:
            # json points just past the end of the line: point at its last character
            message, col = f"the line ends before the JSON does ({e.msg})", max(end, 1)
        else:
            message, col = e.msg, e.pos + 1
        raise ProjectError(f"not valid JSON: {message}",
                           position=Position(where.file, where.line, col),
                           hint="write one JSON object per line") from e


def read_pairs_file(path: str | Path) -> list[GenerationExample]:
    """Read one ``.jsonl`` pair file; a bad line raises :class:`ProjectError` naming it.

    The file must be UTF-8 (a byte order mark at its start is allowed).
    """
    path = Path(path)
    try:
        # utf-8-sig: editors on Windows often start files with a byte order mark
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as e:
        where, message = not_utf8(path, e)
        raise ProjectError(message, position=where,
                           hint="pair files must be UTF-8: save the file as UTF-8") from e
    examples = []
    # read_text turns every line break into "\n", as iterating the open file did
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        where = Position(str(path), number)
        examples.append(example_from_record(_parse_line(line, where), where))
    return examples


def pair_files(root: str | Path, under: str = "data") -> list[Path]:
    """The pair files of a project: every ``*.jsonl`` under ``data/`` (``under``; hidden
    ones skipped)."""
    folder = Path(root) / under
    if not folder.is_dir():
        return []
    # any case of the suffix: `pairs.JSONL` was left out without a word
    return sorted(p for p in folder.rglob("*") if p.suffix.lower() == PAIRS_SUFFIX
                  and p.is_file()
                  and not any(part.startswith(".") for part in p.relative_to(folder).parts))


# ------------------------------------------------------------ the project


def template_texts(domain: Domain, name: str) -> list[str]:
    """The texts of a response's variations (without channel-specific ones)."""
    definition = domain.responses.get(name)
    if definition is None:
        return []
    return [str(v["text"]) for v in definition.variations
            if v.get("text") and not v.get("channel")]


def response_examples(domain: Domain) -> list[GenerationExample]:
    """act2text pairs from the domain: each text variation, with the slots it names.

    A placeholder's value is the placeholder itself (``{city}``), which the
    delexicaliser turns into the slot's token, exactly like a real value found
    in a reply. Slot conditions of a variation join the act with their values.
    """
    examples = []
    for name, definition in domain.responses.items():
        if RETRIEVAL_SEPARATOR in name:
            continue
        for variation in definition.variations:
            text = variation.get("text")
            if not text or variation.get("channel"):
                continue
            acts = [ActItem(name, slot, "{" + slot + "}") for slot in placeholders(str(text))]
            for condition in variation.get("condition") or []:
                if isinstance(condition, dict) and condition.get("name"):
                    acts.append(ActItem(name, str(condition["name"]), condition.get("value")))
            examples.append(GenerationExample(
                ACT2TEXT, str(text), acts=acts or [ActItem(name)],
                origin=str(definition.position or name)))
    return examples


def _examples_by_intent(project: Project) -> dict[str, list[Any]]:
    found: dict[str, list[Any]] = {}
    for message in project.nlu.examples:
        if message.intent:
            found.setdefault(message.intent, []).append(message)
    return found


def _user_text(event: Any, by_intent: dict[str, list[Any]], rng: random.Random) -> str | None:
    if event.text:
        return str(event.text)
    intent = event.intent_name
    candidates = by_intent.get(intent or "")
    if not candidates:
        return None
    message = rng.choice(candidates)
    text = message.text
    # give the example the values the story uses, so they can be copied into replies
    wanted = {e.get("entity"): e.get("value") for e in event.entities if e.get("value")}
    for entity in sorted(message.entities, key=lambda e: e.start, reverse=True):
        value = wanted.get(entity.entity)
        if value is not None and entity.end > entity.start:
            text = text[:entity.start] + str(value) + text[entity.end:]
    return text


def story_examples(project: Project, *, history: int = 3, samples: int = 2,
                   seed: int = 42) -> list[GenerationExample]:
    """context2response pairs from stories and rules rendered as conversations.

    Each story path is rendered ``samples`` times with different NLU examples
    for its user turns; every bot turn with text (a ``bot:`` step or a
    response with text variations) becomes a pair whose context is the
    ``history`` turns before it.
    """
    from dialogflowlite.shared.events import ActionExecuted, SlotSet, UserUttered
    from dialogflowlite.shared.stories import ANY_SLOT_VALUE
    from dialogflowlite.shared.story_paths import expand_story_paths

    rng = random.Random(seed)
    by_intent = _examples_by_intent(project)
    domain = project.domain
    examples: list[GenerationExample] = []
    seen: set[tuple] = set()
    paths = expand_story_paths([*project.stories, *project.rules], domain=domain)
    for path in paths:
        for _ in range(max(1, samples)):
            turns: list[Turn] = []
            slots: dict[str, Any] = {}
            intent: str | None = None
            for event in path.events:
                if isinstance(event, UserUttered):
                    text = _user_text(event, by_intent, rng)
                    intent = event.intent_name
                    if text is not None:
                        turns.append(Turn(USER, text))
                elif isinstance(event, SlotSet):
                    if event.value != ANY_SLOT_VALUE and event.name not in _INTERNAL_SLOTS:
                        slots[event.name] = event.value
                elif isinstance(event, ActionExecuted):
                    if event.action_text:
                        replies = [event.action_text]
                    else:
                        replies = template_texts(domain, event.name)
                    if not replies or not turns:
                        continue
                    template = rng.choice(replies)
                    # the reply as the bot says it, with the story's slot values filled in:
                    # learnt with `{party_size}` left in, the model wrote it out literally
                    reply = _filled(template, slots)
                    context = turns[-history:] if history > 0 else []
                    key = (tuple((t.speaker, t.text) for t in context), intent, reply)
                    if key not in seen:
                        seen.add(key)
                        examples.append(GenerationExample(
                            CONTEXT2RESPONSE, reply, context=list(context), intent=intent,
                            slots=_with_template_slots(slots, template),
                            origin=f"{path.position or path.name}"))
                    # later turns see the reply as it was said
                    turns.append(Turn(BOT, reply))
    return examples


def _filled(text: str, slots: dict[str, Any]) -> str:
    for name in placeholders(text):
        if slots.get(name) is not None:
            text = text.replace("{" + name + "}", format_value(slots[name]))
    return text


def _with_template_slots(slots: dict[str, Any], reply: str) -> list[tuple[str, Any]]:
    """The conversation slots, plus ``{slot}`` of the reply's placeholders not set by then."""
    found = [(k, v) for k, v in slots.items() if v is not None]
    for name in placeholders(reply):
        if name not in slots or slots[name] is None:
            found.append((name, "{" + name + "}"))
    return found


def retrieval_examples(project: Project) -> list[GenerationExample]:
    """Question -> answer pairs from retrieval intents (``faq/ask_price`` examples)."""
    examples = []
    for message in project.nlu.examples:
        if not message.intent or RETRIEVAL_SEPARATOR not in message.intent:
            continue
        for answer in template_texts(project.domain, f"utter_{message.intent}"):
            examples.append(GenerationExample(
                CONTEXT2RESPONSE, answer, context=[Turn(USER, message.text)],
                intent=message.intent, slots=_with_template_slots({}, answer),
                origin=str(message.position or message.intent)))
    return examples


def project_examples(project: Project, *, modes: Iterable[str] = MODES, history: int = 3,
                     samples: int = 2, seed: int = 42,
                     pair_files_too: bool = True) -> list[GenerationExample]:
    """Every training pair the project offers for ``modes``."""
    modes = tuple(modes)
    examples: list[GenerationExample] = []
    if ACT2TEXT in modes:
        examples += response_examples(project.domain)
    if CONTEXT2RESPONSE in modes:
        examples += story_examples(project, history=history, samples=samples, seed=seed)
        examples += retrieval_examples(project)
    if pair_files_too:
        for path in pair_files(project.root):
            examples += [e for e in read_pairs_file(path) if e.mode in modes]
    return examples


# ------------------------------------------------------------ a live conversation


def conversation_slots(tracker: DialogueStateTracker) -> list[tuple[str, Any]]:
    """The tracker's set slots that may condition a reply."""
    return [(name, value) for name, value in tracker.slots.items()
            if value is not None and name not in _INTERNAL_SLOTS
            and (name not in tracker.slot_defs or tracker.slot_defs[name].declared)]


def conversation_turns(tracker: DialogueStateTracker, history: int) -> list[Turn]:
    """The last ``history`` user and bot turns with text, oldest first."""
    from dialogflowlite.shared.events import BotUttered, UserUttered

    turns: list[Turn] = []
    # a form's answers are turns too, though its collapsed runs hide them from policies
    for event in tracker.applied_events(keep_loop_turns=True):
        if isinstance(event, UserUttered) and event.text:
            turns.append(Turn(USER, event.text))
        elif isinstance(event, BotUttered) and event.text:
            turns.append(Turn(BOT, event.text))
    return turns[-history:] if history > 0 else []


def conversation_intent(tracker: DialogueStateTracker) -> str | None:
    """The latest intent, with its retrieval key when the response selector chose one."""
    message = tracker.latest_message
    if message is None:
        return None
    intent = message.intent_name
    selector = message.parse_data.get("response_selector") or {}
    chosen = selector.get(intent or "") or selector.get("default") or {}
    key = (chosen.get("response") or {}).get("intent_response_key")
    return key or intent


def context_example(tracker: DialogueStateTracker, history: int) -> GenerationExample:
    """The context2response input for the conversation so far."""
    return GenerationExample(CONTEXT2RESPONSE, None, context=conversation_turns(tracker, history),
                             intent=conversation_intent(tracker),
                             slots=conversation_slots(tracker))


def has_value(value: Any) -> bool:
    """Whether a slot value says something: not unset (``None``), nor empty (``""``, ``[]``).

    An empty value would enter an act as ``city=`` and leave a hole in the reply.
    """
    return value is not None and bool(format_value(value).strip())


def act_example(action_name: str, tracker: DialogueStateTracker,
                act_slots: list[str]) -> GenerationExample:
    """The act2text input for ``action_name`` with the tracker's values of ``act_slots``.

    Slots without a value (see :func:`has_value`) are left out of the act.
    """
    acts = [ActItem(action_name, slot, tracker.slots.get(slot)) for slot in act_slots
            if has_value(tracker.slots.get(slot))]
    return GenerationExample(ACT2TEXT, None, acts=acts or [ActItem(action_name)])


def act_needs(examples: Iterable[GenerationExample]) -> dict[str, list[str]]:
    """Act name -> the slots that every act2text pair of that act carries a value of.

    A reply to an act without one of them was never learnt: the model writes
    the sentence it knows and leaves a hole where the value goes ("a table in
    ?"), so such an act is not realised. A slot that some pairs of the act lack
    is optional and is simply left out of the act when unset.
    """
    needs: dict[str, list[str]] = {}
    for example in examples:
        if example.mode != ACT2TEXT or not example.act_name:
            continue
        carried = [a.slot for a in example.acts if a.slot and has_value(a.value)]
        known = needs.get(example.act_name)
        needs[example.act_name] = (list(dict.fromkeys(carried)) if known is None
                                   else [slot for slot in known if slot in carried])
    return needs


def iter_text(examples: Iterable[GenerationExample]) -> Iterator[str]:
    """Every text of the examples (for building a vocabulary)."""
    for example in examples:
        if example.target:
            yield example.target
        for turn in example.context:
            yield turn.text

