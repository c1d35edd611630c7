"""Approximate string matching against many table elements.

Distance is the optimal string alignment distance: insertions, deletions,
substitutions and swaps of two neighbouring characters cost 1 each
(``Mnuich`` is one edit from ``Munich``). Similarity is
``1 - distance / max(len(a), len(b))``.

An element can only be within ``k`` edits of a text if they share enough
character bigrams: one edit breaks at most three of the element's distinct
bigrams (a swap of two neighbours breaks the one they form and one on each
side), so at least ``len(bigrams(element)) - 3k`` must be in the text. The
index uses this to compare a text with a few candidates instead of every
element of a large table.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass


def bounded_distance(a: str, b: str, limit: int) -> int:
    """The optimal string alignment distance of ``a`` and ``b``, or ``limit + 1`` if larger."""
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    if a == b:
        return 0
    previous2: list[int] = []
    previous = list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        current = [i] + [0] * len(b)
        best = current[0]
        for j in range(1, len(b) + 1):
            cost = 0 if a[i - 1] == b[j - 1] else 1
            value = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                value = min(value, previous2[j - 2] + 1)
            current[j] = value
            best = min(best, value)
        if best > limit:
            return limit + 1
        previous2, previous = previous, current
    return min(previous[len(b)], limit + 1)


def similarity(a: str, b: str) -> float:
    """``1 - distance / max(len(a), len(b))``: 1.0 for equal strings, 0.0 at worst."""
    longest = max(len(a), len(b))
    if longest == 0:
        return 1.0
    return 1.0 - bounded_distance(a, b, longest) / longest


def max_edits(length: int, threshold: float) -> int:
    """The most edits a string of ``length`` may have and stay at ``threshold`` similarity."""
    # A small epsilon keeps 0.8 * 5 = 4.000000000000001 from costing an edit.
    return max(0, math.floor((1.0 - threshold) * length + 1e-9))


def bigrams(text: str) -> set[str]:
    """The distinct character bigrams of ``text`` (the text itself when shorter)."""
    if len(text) < 2:
        return {text} if text else set()
    return {text[i : i + 2] for i in range(len(text) - 1)}


@dataclass(frozen=True)
class Match:
    """An element found close to a text."""

    key: str  # the element as compared (normalised)
    score: float


class FuzzyIndex:
    """Normalised table elements, searchable by similarity.

    Elements shorter than ``min_length`` characters only match exactly: one
    edit in a three-letter word makes another word more often than a typo.
    """

    def __init__(self, keys: Iterable[str], *, threshold: float, min_length: int) -> None:
        self.threshold = threshold
        self.min_length = min_length
        self.keys = sorted(set(keys))
        self.exact = set(self.keys)
        #: bigram -> element length -> numbers of the elements of that length with the bigram
        self._grams: dict[str, dict[int, list[int]]] = defaultdict(lambda: defaultdict(list))
        self._gram_counts: list[int] = []
        for number, key in enumerate(self.keys):
            grams = bigrams(key)
            self._gram_counts.append(len(grams))
            if self.fuzzy_allowed(key):  # the others are only ever found exactly
                for gram in grams:
                    self._grams[gram][len(key)].append(number)
        self.longest = max((len(k) for k in self.keys), default=0)

    def fuzzy_allowed(self, key: str) -> bool:
        return len(key) >= self.min_length and max_edits(len(key), self.threshold) > 0

    def search(self, text: str) -> list[Match]:
        """Every element at least ``threshold`` similar to ``text``, best first."""
        if not text:
            return []
        found: dict[str, float] = {}
        if text in self.exact:
            found[text] = 1.0
        # Only lengths that can reach the threshold: t * len(text) <= len(key) <= len(text) / t.
        lengths = range(
            math.ceil(self.threshold * len(text) - 1e-9),
            math.floor(len(text) / self.threshold + 1e-9) + 1,
        )
        shared: Counter[int] = Counter()
        for gram in bigrams(text):
            by_length = self._grams.get(gram)
            if by_length:
                for length in lengths:
                    shared.update(by_length.get(length, ()))
        size = len(text)
        for number, count in shared.items():
            key = self.keys[number]
            longest = max(len(key), size)
            limit = max_edits(longest, self.threshold)
            if count < self._gram_counts[number] - 3 * limit or key in found:
                continue
            distance = bounded_distance(text, key, limit)
            if distance <= limit:
                found[key] = 1.0 - distance / longest
        return sorted((Match(k, s) for k, s in found.items()), key=lambda m: (-m.score, m.key))
