"""Delexicalisation: slot values become placeholder tokens, and come back after decoding.

The model never has to spell ``Sakoon`` or ``7:30 pm``: in the input and in
the reply it learns from, a slot's value is replaced by ``[restaurant_name]``;
after decoding, each placeholder is replaced by the exact value again. This is
what makes copied values exact, and what lets the guardrails tell a dropped
value (its placeholder is missing) from a kept one.

Which slots keep their values as text is learnt from the training pairs: a
slot whose values appear verbatim in fewer than ``min_ratio`` of the replies
that carry it (``has_live_music=True`` -> "they have live music") stays
lexical; every other slot, including ones training never saw, is
delexicalised (names, times, places, amounts).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from dialogflowlite.components.generation.data import (
    ACT2TEXT,
    BOT,
    GenerationExample,
)
from dialogflowlite.components.generation.templates import format_value

#: structural tokens of the model input
INTENT_TOKEN = "<intent>"
SLOTS_TOKEN = "<slots>"
USER_TOKEN = "<user>"
BOT_TOKEN = "<bot>"
ACT_SEPARATOR = " | "

PLACEHOLDER_PATTERN = re.compile(r"\[[A-Za-z_][A-Za-z0-9_\-.]*(?:#\d+)?\]")
#: splits a text into its placeholders (odd parts) and the text around them
PLACEHOLDER_SPLIT = re.compile(f"({PLACEHOLDER_PATTERN.pattern})")


def placeholder_for(slot: str, index: int = 1) -> str:
    """The token standing for the ``index``-th distinct value of ``slot``."""
    return f"[{slot}]" if index == 1 else f"[{slot}#{index}]"


def is_flag(value: Any) -> bool:
    """A yes/no value (``True``, or the text ``"False"``): said in words, never copied."""
    return isinstance(value, bool) or (isinstance(value, str)
                                       and value.strip().lower() in ("true", "false"))


def value_text(value: Any) -> str:
    return format_value(value).strip()


def _pattern(value: str, ignore_case: bool) -> re.Pattern[str]:
    return re.compile(r"(?<!\w)" + re.escape(value) + r"(?!\w)", re.IGNORECASE if ignore_case
                      else 0)


def find_value(text: str, value: str) -> re.Pattern[str] | None:
    """A pattern matching ``value`` in ``text`` as a whole word sequence, or None."""
    if not value:
        return None
    for ignore_case in (False, True):
        pattern = _pattern(value, ignore_case)
        if pattern.search(text):
            return pattern
    return None


@dataclass
class Prepared:
    """A model-ready example: input text, delexicalised reply and the placeholder values."""

    source: str
    target: str | None
    #: placeholder -> the exact value it stands for
    values: dict[str, str] = field(default_factory=dict)
    #: placeholders the reply must contain (every act value that was delexicalised)
    required: list[str] = field(default_factory=list)
    #: act values the reply must contain word for word: values to copy that got no
    #: placeholder, as the model has tokens for only so many
    verbatim: list[str] = field(default_factory=list)


class Delexicaliser:
    """Builds model inputs and targets with placeholders, and puts values back.

    ``style`` names the placeholders: ``index`` numbers the values of an
    input in order (``[v1]``, ``[v2]``, ...), so a slot the training data
    never had is still copied; ``slot`` names them after their slot
    (``[city]``); ``type`` names them after the last word of their slot
    (``therapist_name`` -> ``[name]``, ``appointment_time`` -> ``[time]``),
    numbering values of one type in order (``[name]``, ``[name#2]``), so
    the token itself says what a value is, also for a slot training never
    had; a slot whose last word no known slot ends with gets ``[value]``.
    Slots in ``lexical_slots`` keep their values as text.
    With ``slot_words``, slot names enter the input as words
    (``account_balance`` -> ``account balance``): a slot the training data
    never had then shares its words with the slots it did have
    (``balance``), where a name written as one piece does not.
    """

    STYLES = ("index", "slot", "type")
    #: the type of a slot whose last word no known slot ends with (style ``type``)
    GENERIC_TYPE = "value"
    #: values of one slot (style ``slot``) or type (``type``) that get a placeholder
    MAX_PER_NAME = 3

    def __init__(self, lexical_slots: Iterable[str] = (), *, style: str = "index",
                 min_ratio: float = 0.5, max_values: int = 12,
                 known_slots: Iterable[str] = (), slot_words: bool = False) -> None:
        if style not in self.STYLES:
            raise ValueError(f"placeholder style {style!r} is not one of {self.STYLES}")
        self.lexical_slots = set(lexical_slots)
        self.known_slots = set(known_slots)
        self.style = style
        self.min_ratio = min_ratio
        self.max_values = max_values
        self.slot_words = slot_words

    def fit(self, examples: Iterable[GenerationExample]) -> Delexicaliser:
        """Learn which slots keep their values as text, from how values appear in replies.

        The share of replies that repeat a slot's value is counted in each mode apart,
        and a slot that one mode's replies repeat often enough is delexicalised: a
        context -> response pair carries every slot the conversation has set, which
        most of its replies do not mention, so counted together with the act -> text
        pairs that do copy them, a booking's `party_size` came out lexical, and the
        guardrails stopped checking that its value was copied.
        """
        carried: Counter[tuple[str, str]] = Counter()
        found: Counter[tuple[str, str]] = Counter()
        most = 1
        for example in examples:
            if not example.target:
                continue
            count = 0
            for slot, value in example.slot_values():
                text = value_text(value)
                if not text or is_flag(value):
                    continue
                carried[example.mode, slot] += 1
                count += 1
                if find_value(example.target, text) is not None:
                    found[example.mode, slot] += 1
            most = max(most, count)
        self.known_slots = {slot for _mode, slot in carried}
        copied = {key[1] for key, n in carried.items() if found[key] / n >= self.min_ratio}
        self.lexical_slots = self.known_slots - copied
        self.max_values = max(self.max_values, most)
        return self

    @staticmethod
    def _last_word(slot: str) -> str:
        words = slot.replace("-", "_").split("_")
        return next((w for w in reversed(words) if w), slot)

    def known_types(self) -> set[str]:
        """Last words of the delexicalised slots training had (style ``type``)."""
        return {self._last_word(s) for s in self.known_slots - self.lexical_slots}

    def slot_type(self, slot: str, known: set[str] | None = None) -> str:
        """The type a value of ``slot`` is named after: its last word, when it is known."""
        word = self._last_word(slot)
        return word if word in (self.known_types() if known is None else known) \
            else self.GENERIC_TYPE

    def delexicalises(self, slot: str) -> bool:
        """Whether values of ``slot`` become placeholders (unknown slots do)."""
        return slot not in self.lexical_slots

    def to_dict(self) -> dict[str, Any]:
        return {"style": self.style, "min_ratio": self.min_ratio, "max_values": self.max_values,
                "slot_words": self.slot_words,
                "lexical_slots": sorted(self.lexical_slots),
                "known_slots": sorted(self.known_slots)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Delexicaliser:
        return cls(data.get("lexical_slots", ()), style=data.get("style", "index"),
                   min_ratio=float(data.get("min_ratio", 0.5)),
                   max_values=int(data.get("max_values", 12)),
                   known_slots=data.get("known_slots", ()),
                   # models saved before the option wrote slot names as one piece
                   slot_words=bool(data.get("slot_words", False)))

    # ------------------------------------------------------------ preparing

    def _assign(self, example: GenerationExample) -> dict[tuple[str, str], str]:
        """(slot, value) -> placeholder for every delexicalised value of the example."""
        assigned: dict[tuple[str, str], str] = {}
        per_name: Counter[str] = Counter()
        known = self.known_types() if self.style == "type" else set()
        for slot, value in example.slot_values():
            if not self.delexicalises(slot) or is_flag(value):
                continue
            text = value_text(value)
            if not text or (slot, text) in assigned:
                continue
            if self.style == "index":
                if len(assigned) >= self.max_values:
                    continue  # beyond what the vocabulary has tokens for: stays text
                assigned[(slot, text)] = f"[v{len(assigned) + 1}]"
            else:
                name = self.slot_type(slot, known) if self.style == "type" else slot
                if per_name[name] >= self.MAX_PER_NAME:
                    continue  # beyond what the vocabulary has tokens for: stays text
                per_name[name] += 1
                assigned[(slot, text)] = placeholder_for(name, per_name[name])
        return assigned

    @staticmethod
    def _replace(text: str, assigned: dict[tuple[str, str], str]) -> str:
        # longest values first, so "New York City" is not cut by "New York"; a
        # placeholder already written is never searched again ("2" in "[time#2]")
        for (_, value), token in sorted(assigned.items(), key=lambda kv: -len(kv[0][1])):
            pattern = find_value(text, value)
            if pattern is not None:
                parts = PLACEHOLDER_SPLIT.split(text)
                text = "".join(part if i % 2 else pattern.sub(lambda _m, t=token: t, part)
                               for i, part in enumerate(parts))
        return text

    def slot_name(self, slot: str) -> str:
        """How ``slot`` is written in the model input."""
        return " ".join(slot.replace("_", " ").split()) if self.slot_words else slot

    def _slot_text(self, slot: str, value: Any, assigned: dict[tuple[str, str], str]) -> str:
        text = value_text(value)
        return f"{self.slot_name(slot)}={assigned.get((slot, text), text)}"

    def source_text(self, example: GenerationExample,
                    assigned: dict[tuple[str, str], str]) -> str:
        """The model input: the act, or intent + slots + turns."""
        if example.mode == ACT2TEXT:
            groups: list[tuple[str, list[str]]] = []
            for item in example.acts:
                if not groups or groups[-1][0] != item.act:
                    groups.append((item.act, []))
                if item.slot:
                    if item.value is None:
                        groups[-1][1].append(self.slot_name(item.slot))
                    else:
                        groups[-1][1].append(self._slot_text(item.slot, item.value, assigned))
            return ACT_SEPARATOR.join(" ".join([act, *parts]) for act, parts in groups)
        parts = [INTENT_TOKEN, example.intent or "none", SLOTS_TOKEN]
        parts += [self._slot_text(s, v, assigned) for s, v in example.slots if v is not None]
        for turn in example.context:
            parts.append(BOT_TOKEN if turn.speaker == BOT else USER_TOKEN)
            parts.append(self._replace(turn.text, assigned))
        return " ".join(parts)

    def prepare(self, example: GenerationExample) -> Prepared:
        """The example with placeholders in input and (when given) target."""
        assigned = self._assign(example)
        source = self.source_text(example, assigned)
        target = None if example.target is None else self._replace(example.target, assigned)
        values = {token: value for (_, value), token in assigned.items()}
        required = list(values) if example.mode == ACT2TEXT else []
        verbatim: list[str] = []
        if example.mode == ACT2TEXT:
            for slot, value in example.slot_values():
                text = value_text(value)
                if (text and self.delexicalises(slot) and not is_flag(value)
                        and (slot, text) not in assigned and text not in verbatim):
                    verbatim.append(text)
        return Prepared(source, target, values, required, verbatim)

    def placeholders(self) -> list[str]:
        """Every placeholder token the model may see, for the vocabulary."""
        if self.style == "index":
            return [f"[v{i}]" for i in range(1, self.max_values + 1)]
        names = (self.known_types() | {self.GENERIC_TYPE} if self.style == "type"
                 else self.known_slots - self.lexical_slots)
        return [placeholder_for(name, i) for name in sorted(names)
                for i in range(1, self.MAX_PER_NAME + 1)]


def relexicalise(text: str, values: dict[str, str]) -> str:
    """Put the values back in place of their placeholders (unknown ones stay)."""
    return PLACEHOLDER_PATTERN.sub(lambda m: values.get(m.group(0), m.group(0)), text)


def placeholders_in(text: str) -> list[str]:
    return PLACEHOLDER_PATTERN.findall(text)

