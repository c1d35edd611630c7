"""The entity values annotated in the training data, as a lookup that marks tokens.

``RegexFeaturizer`` with ``use_entity_values`` turns every entity type into a
lookup table of the values its training examples annotate, so that a
classifier learns "this phrase was a playlist before" without the project
listing playlists. A match covers whole tokens: the text from one token's
start to another's end, equal to a known value.

A training message must not be marked by its own annotations, or the model
would learn that the mark *is* the label and then fail on every value it has
not seen. So training messages are marked leave-one-out: a value counts only
when some other example annotates it too, which is exactly what holds for a
new message at run time.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence

from dialogflowlite.shared.message import Message, Token

#: feature names are this prefix and the entity type (distinct from regex names)
PREFIX = "entity_values:"


class EntityValueLexicon:
    """How often each (entity type, value) was annotated in the training data."""

    def __init__(self, counts: Counter[tuple[str, str]], case_sensitive: bool,
                 max_tokens: int) -> None:
        self.counts = counts
        self.case_sensitive = case_sensitive
        #: the longest value, in tokens (longer spans are never looked up)
        self.max_tokens = max_tokens
        self._types: dict[str, list[str]] = {}
        for entity, value in counts:
            self._types.setdefault(value, []).append(entity)
        for types in self._types.values():
            types.sort()
        #: one feature name per entity type, sorted
        self.names = sorted({PREFIX + entity for entity, _ in counts})

    @classmethod
    def from_examples(cls, examples: Iterable[Message], case_sensitive: bool,
                      ) -> EntityValueLexicon:
        """Count the annotated values of ``examples`` (values of whole tokens only)."""
        counts: Counter[tuple[str, str]] = Counter()
        longest = 0
        for message in examples:
            for entity, value, width in _annotations(message, case_sensitive):
                counts[(entity, value)] += 1
                longest = max(longest, width)
        return cls(counts, case_sensitive, longest)

    def matches(self, message: Message, leave_out_own: bool = False,
                ) -> list[tuple[str, int, int]]:
        """Known values in ``message`` as (feature name, first token, last token + 1).

        With ``leave_out_own`` (training messages) the message's own
        annotations do not count: a value must be annotated elsewhere too.
        """
        tokens = message.tokens
        own: Counter[tuple[str, str]] = Counter()
        if leave_out_own:
            own.update((e, v) for e, v, _ in _annotations(message, self.case_sensitive))
        found = []
        for first in range(len(tokens)):
            for last in range(first, min(len(tokens), first + self.max_tokens)):
                value = self._norm(message.text[tokens[first].start:tokens[last].end])
                for entity in self._types.get(value, ()):
                    if self.counts[(entity, value)] > own[(entity, value)]:
                        found.append((PREFIX + entity, first, last + 1))
        return found

    def _norm(self, text: str) -> str:
        return text if self.case_sensitive else text.lower()

    def to_json(self) -> dict:
        return {"case_sensitive": self.case_sensitive, "max_tokens": self.max_tokens,
                "values": [[entity, value, count]
                           for (entity, value), count in sorted(self.counts.items())]}

    @classmethod
    def from_json(cls, data: dict) -> EntityValueLexicon:
        counts = Counter({(entity, value): int(count) for entity, value, count in data["values"]})
        return cls(counts, bool(data["case_sensitive"]), int(data["max_tokens"]))


def _annotations(message: Message, case_sensitive: bool) -> list[tuple[str, str, int]]:
    """(type, value, tokens) of each entity that starts and ends on token edges."""
    out = []
    for entity in message.entities:
        covered = _covered(message.tokens, entity.start, entity.end)
        if covered:
            value = message.text[entity.start:entity.end]
            out.append((entity.entity, value if case_sensitive else value.lower(), covered))
    return out


def _covered(tokens: Sequence[Token], start: int, end: int) -> int:
    """How many tokens [start, end) spans exactly; 0 when it cuts a token."""
    starts = [i for i, t in enumerate(tokens) if t.start == start]
    ends = [i for i, t in enumerate(tokens) if t.end == end]
    if not starts or not ends or ends[0] < starts[0]:
        return 0
    return ends[0] - starts[0] + 1
