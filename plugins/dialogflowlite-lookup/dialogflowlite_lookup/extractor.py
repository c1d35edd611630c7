"""``FuzzyLookupEntityExtractor``: lookup-table elements found despite typos.

For every run of one or more tokens of a message, the extractor looks for
table elements that are at least ``threshold`` similar to the run's text
(see :mod:`dialogflowlite_lookup.matching`). Each hit is a candidate entity:
the table's name is the entity type, the element as the table spells it is
the value, the similarity is the confidence. Candidates are taken best first
(highest similarity, then the longer span), skipping any that overlap one
already taken or an entity of the same type that an earlier component found.

Because candidates are whole tokens, an element is never found inside a
longer word; runs that begin or end with a punctuation token are skipped.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from dialogflowlite.artifact import ComponentStorage
from dialogflowlite.components.base import NluComponent, NluContext
from dialogflowlite.errors import ComponentConfigError, Position
from dialogflowlite.io.formats import did_you_mean
from dialogflowlite.shared.message import Entity, Message, Token
from dialogflowlite.shared.training_data import TrainingData
from dialogflowlite_lookup.matching import FuzzyIndex, max_edits

TABLES_FILE = "tables.json"


@dataclass(frozen=True)
class _Candidate:
    score: float
    start: int
    end: int
    table: int
    value: str

    def overlaps(self, start: int, end: int) -> bool:
        return self.start < end and start < self.end


def _has_word_char(token: Token) -> bool:
    return any(char.isalnum() for char in token.text)


class FuzzyLookupEntityExtractor(NluComponent):
    """Extracts lookup-table elements as entities, tolerating typos; the value is the
    table's spelling.
    """

    name = "FuzzyLookupEntityExtractor"
    kind = "entity_extractor"
    requires = ("tokens",)
    provides = ("entities",)
    defaults: ClassVar[dict[str, Any]] = {
        # the least similarity (1 - edits / length) of a match, above 0 and at most 1
        "threshold": 0.8,
        # elements shorter than this many characters only match exactly
        "min_length": 4,
        "case_sensitive": False,
        # the tables to use; null: every table named like an entity of the data or domain
        "lookup_tables": None,
    }

    def __init__(self, config: dict[str, Any] | None = None, **kwargs: Any) -> None:
        super().__init__(config, **kwargs)
        #: table name -> its elements, in the order the data gives them
        self.tables: dict[str, list[str]] = {}
        self._build()

    @classmethod
    def check_config(cls, config: dict[str, Any], *,
                     position: Position | None = None) -> None:
        """The settings' ranges; ``data validate`` runs this too, without building the
        component."""
        super().check_config(config, position=position)
        cls.check_number(config, "threshold", above=0, at_most=1, position=position)
        cls.check_number(config, "min_length", at_least=1, whole=True, position=position)
        tables = config["lookup_tables"]
        if tables is not None and not (
            isinstance(tables, list) and all(isinstance(t, str) for t in tables)
        ):
            raise ComponentConfigError(
                f"component {cls.name}: bad value {tables!r} for 'lookup_tables'",
                hint="use a list of lookup table names, or null", position=position)

    def normalise(self, text: str) -> str:
        """The form in which texts and elements are compared."""
        text = " ".join(text.split())
        return text if self.config["case_sensitive"] else text.casefold()

    def _build(self) -> None:
        #: normalised element -> (table number, element as spelled), first table first
        self._elements: dict[str, list[tuple[int, str]]] = {}
        self._names = list(self.tables)
        for number, (_, elements) in enumerate(self.tables.items()):
            for element in elements:
                key = self.normalise(element)
                if key:
                    self._elements.setdefault(key, []).append((number, element))
        self._index = FuzzyIndex(
            self._elements,
            threshold=float(self.config["threshold"]),
            min_length=int(self.config["min_length"]),
        )
        longest = self._index.longest
        self._max_window = longest + max_edits(longest, float(self.config["threshold"]))

    # ------------------------------------------------------------ training

    def _chosen_tables(self, training_data: TrainingData, context: NluContext) -> list[str]:
        available = [table.name for table in training_data.lookups]
        wanted = self.config["lookup_tables"]
        if wanted is not None:
            for name in wanted:
                if name not in available:
                    raise ComponentConfigError(
                        f"{self.name}: there is no lookup table '{name}' in the NLU data",
                        position=self.position,
                        hint=did_you_mean(name, available)
                        or f"lookup tables: {', '.join(available) or 'none'}",
                    )
            return list(dict.fromkeys(wanted))
        entities = set(training_data.entity_types)
        if context.domain is not None:
            entities.update(context.domain.entities)
        return [name for name in dict.fromkeys(available) if name in entities]

    def train(self, training_data: TrainingData, context: NluContext) -> None:
        """Take the elements of the chosen lookup tables."""
        chosen = self._chosen_tables(training_data, context)
        tables: dict[str, list[str]] = {name: [] for name in chosen}
        for table in training_data.lookups:
            if table.name in tables:
                tables[table.name].extend(e for e in table.elements if e.strip())
        self.tables = {name: list(dict.fromkeys(elements)) for name, elements in tables.items()}
        self._build()

    # ------------------------------------------------------------ extraction

    def candidates(self, message: Message) -> list[_Candidate]:
        """Every table element found in the message, as possible entities."""
        text, tokens = message.text, message.tokens
        found: list[_Candidate] = []
        for first, token in enumerate(tokens):
            if not _has_word_char(token):
                continue
            for last in range(first, len(tokens)):
                span = text[token.start : tokens[last].end]
                if len(span) > self._max_window:
                    break
                if not _has_word_char(tokens[last]):
                    continue
                for match in self._index.search(self.normalise(span)):
                    for table, value in self._elements[match.key]:
                        found.append(
                            _Candidate(match.score, token.start, tokens[last].end, table, value)
                        )
        return found

    def extract(self, message: Message) -> list[Entity]:
        """The entities to add to ``message``, best candidates first, without overlaps."""
        taken: list[_Candidate] = []
        earlier = [(e.entity, e.start, e.end) for e in message.entities]
        ranked = sorted(
            self.candidates(message),
            key=lambda c: (-c.score, -(c.end - c.start), c.start, c.table),
        )
        for candidate in ranked:
            entity = self._names[candidate.table]
            if any(c.overlaps(candidate.start, candidate.end) for c in taken):
                continue
            if any(
                kind == entity and candidate.overlaps(start, end) for kind, start, end in earlier
            ):
                continue
            taken.append(candidate)
        return [
            Entity(
                entity=self._names[c.table],
                start=c.start,
                end=c.end,
                value=c.value,
                confidence=round(c.score, 4),
                extractor=self.name,
            )
            for c in sorted(taken, key=lambda c: c.start)
        ]

    def process(self, messages: list[Message]) -> None:
        for message in messages:
            message.entities.extend(self.extract(message))

    # ------------------------------------------------------------ persistence

    def persist(self, storage: ComponentStorage) -> None:
        storage.write_json(TABLES_FILE, {"tables": self.tables})

    @classmethod
    def load(cls, config: dict[str, Any], storage: ComponentStorage) -> FuzzyLookupEntityExtractor:
        component = cls(config)
        component.tables = dict(storage.read_json(TABLES_FILE).get("tables") or {})
        component._build()
        return component
