"""``RegexEntityExtractor``: entities straight from regexes and lookup tables.

Only patterns named like an entity type annotated in the training data are
used (a regex ``zipcode`` extracts ``zipcode`` entities). The value is the
matched text as typed; as in Rasa, a match has no confidence.
"""

from __future__ import annotations

import bisect
import logging
from typing import Any, ClassVar

from dialogflowlite.artifact import ComponentStorage
from dialogflowlite.components.base import NluComponent, NluContext
from dialogflowlite.components.nlu.patterns import PatternMatcher, collect_patterns
from dialogflowlite.shared.message import Entity, Message
from dialogflowlite.shared.training_data import TrainingData

logger = logging.getLogger(__name__)


class RegexEntityExtractor(NluComponent):
    """Extracts entities wherever a regex or lookup table named like the entity matches.

    Where matches of one entity type overlap, the longest one is kept.
    ``case_sensitive`` defaults to off; ``use_word_boundaries`` keeps lookup
    elements from matching inside longer words. An accented letter matches
    however it is encoded (``é``, or ``e`` and a combining accent); the
    entity's value, start and end are the message's as the user typed it.
    """

    name = "RegexEntityExtractor"
    kind = "entity_extractor"
    provides = ("entities",)
    # 2: lookup tables are saved as tries whose word boundaries count combining marks;
    # 3: regexes and lookup elements are saved composed (NFC);
    # 4: a lookup element is found beside Chinese, Japanese or Thai text (买iPhone手机)
    revision = 4
    defaults: ClassVar[dict[str, Any]] = {
        "case_sensitive": False,
        "use_word_boundaries": True,
        "use_regexes": True,
        "use_lookup_tables": True,
    }

    def __init__(self, config: dict[str, Any] | None = None, **kwargs: Any) -> None:
        super().__init__(config, **kwargs)
        self.matcher = PatternMatcher([], self.config["case_sensitive"])

    def train(self, training_data: TrainingData, context: NluContext) -> None:
        entity_types = set(training_data.entity_types)
        patterns = [
            p
            for p in collect_patterns(
                training_data,
                use_regexes=self.config["use_regexes"],
                use_lookup_tables=self.config["use_lookup_tables"],
                use_word_boundaries=self.config["use_word_boundaries"],
                case_sensitive=self.config["case_sensitive"],
            )
            if p.name in entity_types
        ]
        if not patterns:
            logger.warning(
                "%s: no regex or lookup table is named like an annotated entity, so it will "
                "extract nothing (name a regex or lookup table after the entity type)",
                self.name,
            )
        self.matcher = PatternMatcher(patterns, self.config["case_sensitive"])

    def extract(self, text: str) -> list[Entity]:
        """The entities found in ``text``, ordered by position."""
        kept: list[tuple[str, int, int]] = []
        #: per entity type, the spans kept so far, sorted (they never overlap)
        spans: dict[str, list[tuple[int, int]]] = {}
        # Longest first, so a shorter overlapping match of the same type loses.
        for name, start, end in sorted(
            self.matcher.matches(text), key=lambda m: (-(m[2] - m[1]), m[1])
        ):
            taken = spans.setdefault(name, [])
            if _overlaps(taken, start, end):
                continue
            bisect.insort(taken, (start, end))
            kept.append((name, start, end))
        return [
            Entity(name, start, end, text[start:end], extractor=self.name)
            for name, start, end in sorted(kept, key=lambda m: (m[1], m[2], m[0]))
        ]

    def process(self, messages: list[Message]) -> None:
        for message in messages:
            message.entities.extend(self.extract(message.text))

    def persist(self, storage: ComponentStorage) -> None:
        self.matcher.save(storage)

    @classmethod
    def load(cls, config: dict[str, Any], storage: ComponentStorage) -> RegexEntityExtractor:
        component = cls(config)
        component.matcher = PatternMatcher.load(storage, component.config["case_sensitive"])
        return component


def _overlaps(spans: list[tuple[int, int]], start: int, end: int) -> bool:
    """Whether ``start``-``end`` overlaps one of ``spans`` (sorted, not overlapping each
    other): only the spans just before and just after where it would go can."""
    at = bisect.bisect_left(spans, (start, end))
    before = at > 0 and spans[at - 1][1] > start
    after = at < len(spans) and spans[at][0] < end
    return before or after
