"""Regular expressions and lookup tables from the training data, ready to match.

Shared by ``RegexFeaturizer`` and ``RegexEntityExtractor``. A lookup table
becomes one alternation of its escaped elements (longest first); with word
boundaries, an element only matches where no letter or digit touches it,
except on a side where the element ends in a script written without spaces
(Chinese, Japanese, Thai, ...), since such text has no word boundaries to
look for.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from dialogflowlite.components.tokenizers.unicode_text import is_unspaced
from dialogflowlite.errors import ProjectError
from dialogflowlite.shared.training_data import TrainingData

if TYPE_CHECKING:
    from dialogflowlite.artifact import ComponentStorage

#: the file of a component's storage that holds its patterns
PATTERNS_FILE = "patterns.json"


@dataclass(frozen=True)
class NamedPattern:
    """One regular expression (its source text) under a feature or entity name."""

    name: str
    pattern: str
    source: str  # "regex" or "lookup"


def lookup_pattern(elements: list[str], use_word_boundaries: bool) -> str:
    """One regular expression matching any element of a lookup table."""
    parts = []
    for element in sorted({e.strip() for e in elements if e.strip()}, key=lambda e: (-len(e), e)):
        escaped = re.escape(element)
        if use_word_boundaries:
            left = "" if is_unspaced(element[0]) else r"(?<!\w)"
            right = "" if is_unspaced(element[-1]) else r"(?!\w)"
            escaped = f"{left}{escaped}{right}"
        parts.append(escaped)
    # A table without elements must never match.
    return "(?:" + "|".join(parts) + ")" if parts else r"(?!x)x"


def collect_patterns(
    training_data: TrainingData,
    *,
    use_regexes: bool = True,
    use_lookup_tables: bool = True,
    use_word_boundaries: bool = True,
) -> list[NamedPattern]:
    """The patterns of the training data; a regex that does not compile is an error at its line."""
    patterns: list[NamedPattern] = []
    if use_regexes:
        for regex in training_data.regexes:
            try:
                re.compile(regex.pattern)
            except re.error as e:
                raise ProjectError(
                    f"regex '{regex.name}' is not a valid regular expression "
                    f"({e}): {regex.pattern}",
                    position=regex.position,
                    hint="fix the pattern (Python `re` syntax)",
                ) from e
            patterns.append(NamedPattern(regex.name, regex.pattern, "regex"))
    if use_lookup_tables:
        for table in training_data.lookups:
            patterns.append(
                NamedPattern(
                    table.name, lookup_pattern(table.elements, use_word_boundaries), "lookup"
                )
            )
    return patterns


class PatternMatcher:
    """Finds the matches of named patterns in a text; patterns of the same name are merged."""

    def __init__(self, patterns: list[NamedPattern], case_sensitive: bool) -> None:
        self.patterns = list(patterns)
        flags = 0 if case_sensitive else re.IGNORECASE
        grouped: dict[str, list[str]] = {}
        for pattern in self.patterns:
            grouped.setdefault(pattern.name, []).append(pattern.pattern)
        #: feature names in the order the data first mentions them
        self.names: list[str] = list(grouped)
        self._compiled = [
            (name, [re.compile(p, flags) for p in sources]) for name, sources in grouped.items()
        ]

    def matches(self, text: str) -> list[tuple[str, int, int]]:
        """Every non-empty match as (name, start, end), in pattern order."""
        found: list[tuple[str, int, int]] = []
        for name, compiled in self._compiled:
            for pattern in compiled:
                found.extend(
                    (name, m.start(), m.end())
                    for m in pattern.finditer(text)
                    if m.end() > m.start()
                )
        return found

    def to_json(self) -> list[dict[str, str]]:
        return [{"name": p.name, "pattern": p.pattern, "source": p.source} for p in self.patterns]

    @staticmethod
    def patterns_from_json(data: list[dict[str, str]]) -> list[NamedPattern]:
        return [NamedPattern(d["name"], d["pattern"], d.get("source", "regex")) for d in data]

    def save(self, storage: ComponentStorage) -> None:
        """Write the patterns into a component's storage (``patterns.json``)."""
        storage.write_json(PATTERNS_FILE, {"patterns": self.to_json()})

    @classmethod
    def load(cls, storage: ComponentStorage, case_sensitive: bool) -> PatternMatcher:
        """The matcher :meth:`save` wrote."""
        data = storage.read_json(PATTERNS_FILE)
        return cls(cls.patterns_from_json(data.get("patterns") or []), case_sensitive)
