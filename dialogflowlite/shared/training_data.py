"""NLU training data: examples, entity annotation, synonyms, regexes, lookup tables.

The inline annotation syntax is Rasa's:

* ``[Berlin](city)`` — an entity whose value is the annotated text;
* ``[NYC](city:New York)`` — the older shorthand with a value;
* ``[NYC]{"entity": "city", "value": "New York", "role": "to", "group": "1"}``;
* ``[NYC][{"entity": "city"}, {"entity": "place"}]`` — several entities on one span.
"""

from __future__ import annotations

import json
import random
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from typing import Any

from dialogflowlite.errors import AnnotationError, Position
from dialogflowlite.shared.message import RETRIEVAL_SEPARATOR, Entity, Message

ANNOTATION_KEYS = ("entity", "value", "role", "group")
#: a `[` never closed whose text runs into `(` or `{` (`[Berlin(city)`): an annotation
#: with its `]` left out, where another never-closed `[` is text (`:-[`)
_UNCLOSED_ANNOTATION = re.compile(r"\[[^\[\]({]*[({]")


@dataclass
class Synonym:
    """Variants of an entity value that all normalise to ``value``."""

    value: str
    variants: list[str]
    position: Position | None = None


@dataclass
class RegexPattern:
    """A named regular expression used as a feature (and by the regex entity extractor)."""

    name: str
    pattern: str
    position: Position | None = None


@dataclass
class LookupTable:
    """A named list of values; matching a value is a feature for the models."""

    name: str
    elements: list[str]
    position: Position | None = None


def _offset_position(position: Position | None, column_offset: int) -> Position | None:
    if position is None or position.col is None:
        return position
    return Position(position.file, position.line, position.col + column_offset)


def parse_annotated_text(
    annotated: str,
    position: Position | None = None,
    warnings: list[AnnotationError] | None = None,
) -> tuple[str, list[Entity]]:
    """Strip inline entity annotation from ``annotated``.

    Returns the plain text and its entities with character offsets into the
    plain text. Malformed annotation raises :class:`AnnotationError` pointing
    at the column of the problem (when ``position`` gives the example's start).

    Square brackets that no annotation follows are text, as in Rasa: ``[1]``,
    ``press [ or ]``, and a ``[`` that is never closed (``:-[``), unless ``(`` or
    ``{`` follows it (``[Berlin(city)``, an error). Such an unclosed ``[`` may
    also be an entity left unfinished (``fly to [Berlin``), so it is added to
    ``warnings``, when given, as an error to report as a warning.
    """
    plain: list[str] = []
    entities: list[Entity] = []
    length = 0
    i = 0
    decoder = json.JSONDecoder()

    def fail(message: str, column: int, hint: str) -> AnnotationError:
        return AnnotationError(
            f"{message} in example {annotated!r}",
            position=_offset_position(position, column),
            hint=hint,
        )

    while i < len(annotated):
        char = annotated[i]
        if char != "[":
            plain.append(char)
            length += 1
            i += 1
            continue
        opened = i
        close = annotated.find("]", i + 1)
        if close == -1 and _UNCLOSED_ANNOTATION.match(annotated, i):
            # `[Berlin(city)`: an annotation without its `]`, not text
            raise fail("unclosed '['", i, "close the entity text with ']' and add (entity_name)")
        after = close + 1
        nxt = annotated[after] if close != -1 and after < len(annotated) else ""
        if nxt not in ("(", "{", "["):
            # Plain square brackets without an annotation after them are text, and so is
            # a `[` never closed (`:-[`, `the [ key`): Rasa trains such examples as written
            if close == -1 and warnings is not None:
                warnings.append(fail(
                    "'[' is never closed, so it is read as text", i,
                    "if it starts an entity, close it as [text](entity_name); "
                    "if it is text, nothing needs to change"))
            plain.append(char)
            length += 1
            i += 1
            continue
        nested = annotated.find("[", i + 1)
        if nested != -1 and nested < close:
            raise fail("unclosed '['", i, "close the entity text with ']' and add (entity_name)")
        span_text = annotated[i + 1 : close]
        specs: list[dict]
        if nxt == "(":
            end = annotated.find(")", after)
            if end == -1:
                raise fail("unclosed '('", after, "write the entity name as [text](entity)")
            inner = annotated[after + 1 : end].strip()
            if not inner:
                raise fail("empty entity name", after, "write the entity name as [text](entity)")
            name, _, value = inner.partition(":")
            specs = [{"entity": name.strip(), **({"value": value.strip()} if value else {})}]
            i = end + 1
        elif nxt in ("{", "["):
            try:
                parsed, end = decoder.raw_decode(annotated, after)
            except json.JSONDecodeError as e:
                raise fail(
                    f"bad JSON in entity annotation ({e.msg})",
                    e.pos,
                    'write it as [text]{"entity": "name", "value": "v"} with double quotes',
                ) from e
            specs = parsed if isinstance(parsed, list) else [parsed]
            if not specs or not all(isinstance(s, dict) for s in specs):
                raise fail(
                    "entity annotation must be a JSON object",
                    after,
                    'write it as [text]{"entity": "name"}',
                )
            i = end
        if not span_text.strip():
            raise fail("empty entity text", opened, "put the words of the entity between [ and ]")
        start = length
        plain.append(span_text)
        length += len(span_text)
        # `[ Berlin ](city)`: the spaces stay in the text, not in the entity, whose value
        # ' Berlin ' no prediction would ever match
        entity_start = start + len(span_text) - len(span_text.lstrip())
        entity_end = length - (len(span_text) - len(span_text.rstrip()))
        span_text = span_text.strip()
        for spec in specs:
            unknown = sorted(set(spec) - set(ANNOTATION_KEYS))
            if unknown:
                raise fail(
                    f"unknown annotation key(s) {', '.join(unknown)}",
                    after,
                    f"use only {', '.join(ANNOTATION_KEYS)}",
                )
            entity = spec.get("entity")
            if not isinstance(entity, str) or not entity.strip():
                raise fail('annotation without "entity"', after, 'add "entity": "name"')
            value = spec.get("value", span_text)
            entities.append(
                Entity(
                    entity=entity.strip(),
                    start=entity_start,
                    end=entity_end,
                    value=value,
                    role=_annotated_text(spec.get("role")),
                    group=_annotated_text(spec.get("group")),
                )
            )
    return "".join(plain), entities


def _annotated_text(value: Any) -> str | None:
    """A role or group as written in an annotation, as text: ``"group": 1`` is ``"1"``, as
    the tagger predicts it (a number role was kept as a number, so a role ``0`` was lost
    and the data's roles could not be sorted)."""
    return None if value is None else str(value)


def annotate(text: str, entities: Iterable[Entity]) -> str:
    """Write ``text`` with inline annotation for ``entities`` (inverse of parsing)."""
    out: list[str] = []
    cursor = 0
    by_span: dict[tuple[int, int], list[Entity]] = defaultdict(list)
    for entity in entities:
        by_span[(entity.start, entity.end)].append(entity)
    for (start, end), group in sorted(by_span.items()):
        if start < cursor:
            continue  # overlapping spans cannot be written inline; keep the first
        out.append(text[cursor:start])
        span = text[start:end]
        specs = []
        for entity in group:
            spec: dict = {"entity": entity.entity}
            if entity.value is not None and entity.value != span:
                spec["value"] = entity.value
            if entity.role:
                spec["role"] = entity.role
            if entity.group:
                spec["group"] = entity.group
            specs.append(spec)
        if len(specs) == 1 and list(specs[0]) == ["entity"]:
            out.append(f"[{span}]({specs[0]['entity']})")
        elif len(specs) == 1:
            out.append(f"[{span}]{json.dumps(specs[0], ensure_ascii=False)}")
        else:
            out.append(f"[{span}]{json.dumps(specs, ensure_ascii=False)}")
        cursor = end
    out.append(text[cursor:])
    return "".join(out)


def annotated_synonyms(examples: Iterable[Message]) -> list[Synonym]:
    """The synonyms that examples give inline: one per entity whose value, as text, is
    other than the annotated one (``[NYC](city:New York)`` makes ``NYC`` a synonym of
    ``New York``; a JSON ``"value": 2`` on ``two`` makes ``two`` one of ``2``), in the
    order of the examples, each at its example's position."""
    found = []
    for message in examples:
        for entity in message.entities:
            span = message.text[entity.start : entity.end]
            value = _synonym_value(entity.value)
            if value is not None and value != span:
                found.append(Synonym(value, [span], message.position))
    return found


def _synonym_value(value: Any) -> str | None:
    """The canonical value that an annotated entity ``value`` gives its text, or None
    when it gives none (no value, or a JSON object or list).

    A number or a boolean counts as its text (``2`` as ``"2"``): Rasa's
    EntitySynonymMapper trains on ``str(value)``, and matches extracted values as text.
    """
    if value is None or isinstance(value, (dict, list)):
        return None
    return value if isinstance(value, str) else str(value)


def _without_own_value(synonym: Synonym) -> Synonym:
    """``synonym`` without the variants written exactly as its value."""
    return replace(synonym, variants=[v for v in synonym.variants if v != synonym.value])


@dataclass
class TrainingData:
    """All NLU training data of a project, merged from every file under ``data/``."""

    examples: list[Message] = field(default_factory=list)
    synonyms: list[Synonym] = field(default_factory=list)
    regexes: list[RegexPattern] = field(default_factory=list)
    lookups: list[LookupTable] = field(default_factory=list)

    def merge(self, other: TrainingData) -> TrainingData:
        """A new object holding both sets of data."""
        return TrainingData(
            examples=self.examples + other.examples,
            synonyms=self.synonyms + other.synonyms,
            regexes=self.regexes + other.regexes,
            lookups=self.lookups + other.lookups,
        )

    @property
    def intent_examples(self) -> list[Message]:
        """Examples that carry an intent label."""
        return [m for m in self.examples if m.intent]

    @property
    def intents(self) -> list[str]:
        """Sorted base intents (retrieval intents counted once, as ``faq``)."""
        return sorted({m.base_intent for m in self.examples if m.base_intent})

    @property
    def full_intents(self) -> list[str]:
        """Sorted intents including retrieval sub-intents (``faq/ask_price``)."""
        return sorted({m.intent for m in self.examples if m.intent})

    @property
    def retrieval_intents(self) -> list[str]:
        """Base intents whose examples carry a retrieval key (``faq`` in ``faq/ask_price``)."""
        return sorted(
            {m.base_intent for m in self.examples if m.intent and RETRIEVAL_SEPARATOR in m.intent}
        )

    @property
    def entity_types(self) -> list[str]:
        """Sorted entity types annotated in the examples."""
        return sorted({e.entity for m in self.examples for e in m.entities})

    @property
    def entity_roles(self) -> dict[str, list[str]]:
        roles: dict[str, set[str]] = defaultdict(set)
        for m in self.examples:
            for e in m.entities:
                if e.role:
                    roles[e.entity].add(e.role)
        return {k: sorted(v) for k, v in roles.items()}

    @property
    def entity_groups(self) -> dict[str, list[str]]:
        groups: dict[str, set[str]] = defaultdict(set)
        for m in self.examples:
            for e in m.entities:
                if e.group:
                    groups[e.entity].add(e.group)
        return {k: sorted(v) for k, v in groups.items()}

    def intent_counts(self) -> Counter:
        """How many examples each (full) intent has."""
        return Counter(m.intent for m in self.examples if m.intent)

    def synonyms_in_training_order(self) -> list[Synonym]:
        """Every variant -> value pair that synonym training reads, in the order it reads
        them: the ``synonym:`` items, then :func:`annotated_synonyms`.

        A later pair for the same variant (letter case ignored) overrides an earlier
        one, so an annotation wins over an item wherever the two stand in the files:
        Rasa's EntitySynonymMapper adds the items first and the annotations after
        them. A variant written exactly as its value (``NYC`` under ``NYC``) is no
        pair and overrides nothing, as the mapper skips it before it ignores case.
        :meth:`synonym_map`, ``data validate`` (DFL129) and the JSON that
        ``data convert`` writes all read synonyms through this list.
        """
        items = [_without_own_value(synonym) for synonym in self.synonyms]
        return [*(s for s in items if s.variants), *annotated_synonyms(self.examples)]

    def synonym_map(self) -> dict[str, str]:
        """Lower-cased variant -> canonical value, from synonyms and from annotations:
        the last value :meth:`synonyms_in_training_order` gives each variant
        (``data validate`` warns about a variant given two values, DFL129)."""
        return {
            variant.lower(): synonym.value
            for synonym in self.synonyms_in_training_order()
            for variant in synonym.variants
        }

    def synonym_lookup(self) -> dict[str, str]:
        """What EntitySynonymMapper trains: :meth:`synonym_map`, and every value itself,
        lower-cased, mapped to the value where no variant maps that spelling and no
        earlier value took it.

        ``[Berlin](city)`` makes an extracted ``berlin`` ``Berlin``, and a synonym
        ``New York`` makes ``new york`` ``New York``, as in Rasa 3.6 and later.
        """
        lookup = self.synonym_map()
        for value in self._values_in_training_order():
            lookup.setdefault(value.lower(), value)
        return lookup

    def _values_in_training_order(self) -> Iterator[str]:
        """The canonical value of every ``synonym:`` item with variants, then that of
        every annotated entity, as text (see :func:`annotated_synonyms`)."""
        for synonym in self.synonyms:
            if synonym.variants:
                yield synonym.value
        for message in self.examples:
            for entity in message.entities:
                value = _synonym_value(entity.value)
                if value is not None:
                    yield value

    def filter_intents(self, keep: Iterable[str]) -> TrainingData:
        """A copy with only examples of the given (full) intents."""
        wanted = set(keep)
        return TrainingData(
            [m for m in self.examples if m.intent in wanted],
            self.synonyms,
            self.regexes,
            self.lookups,
        )

    def train_test_split(
        self, training_fraction: float = 0.8, seed: int = 42
    ) -> tuple[TrainingData, TrainingData]:
        """Examples split into a training and a test part, each (full) intent in proportion.

        The split is Rasa's stratified one: the classes (retrieval intents per
        key, ``faq/ask_price``, then the other intents), each from the fewest
        examples to the most, are walked in turn, and each class gives
        training as many of its examples (shuffled with ``seed``) as keep the
        running count of training examples at ``int(examples so far *
        training_fraction)``, but at least one to each part. An intent with a
        single example therefore goes to the test part only. Synonyms, regexes
        and lookup tables go to both parts, as in Rasa. The order of the
        examples within each part is the order they had.
        """
        if not 0.0 < training_fraction < 1.0:
            raise ValueError(f"training_fraction must be between 0 and 1, not {training_fraction}")
        training: set[int] = set()
        seen = trained = 0
        for indices in self._split_classes():
            random.Random(seed).shuffle(indices)
            wanted = int((seen + len(indices)) * training_fraction) - trained
            count = min(len(indices) - 1, max(1, wanted))
            training.update(indices[:count])
            seen, trained = seen + len(indices), trained + count
        train = [m for i, m in enumerate(self.examples) if i in training]
        test = [m for i, m in enumerate(self.examples) if i not in training and m.intent]
        return (
            TrainingData(train, list(self.synonyms), list(self.regexes), list(self.lookups)),
            TrainingData(test, list(self.synonyms), list(self.regexes), list(self.lookups)),
        )

    def split_keeps_fraction(self, training_fraction: float) -> bool:
        """Whether :meth:`train_test_split` can put an example of every class (full
        intent) into both parts and still keep ``training_fraction`` of the examples for
        training. Rasa's check: the smaller part's share of the examples, rounded down,
        plus one is at least the number of classes."""
        smaller_share = min(training_fraction, 1.0 - training_fraction)
        return int(smaller_share * len(self.intent_examples)) + 1 >= len(self.full_intents)

    def _split_classes(self) -> list[list[int]]:
        """The example indices of each class, in the order Rasa's split walks them.

        Retrieval intents (per key) come first, then the other intents; within
        each group the classes with fewer examples come first, ties in the
        order the classes first appear.
        """
        by_intent: dict[str, list[int]] = defaultdict(list)
        for index, message in enumerate(self.examples):
            if message.intent:
                by_intent[message.intent].append(index)
        retrieval = [v for k, v in by_intent.items() if RETRIEVAL_SEPARATOR in k]
        plain = [v for k, v in by_intent.items() if RETRIEVAL_SEPARATOR not in k]
        return sorted(retrieval, key=len) + sorted(plain, key=len)
