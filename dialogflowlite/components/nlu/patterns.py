"""Regular expressions and lookup tables from the training data, ready to match.

Shared by ``RegexFeaturizer`` and ``RegexEntityExtractor``. A lookup table
becomes one regular expression of its escaped elements, written as a trie,
where the longest element that matches at a place wins; with word
boundaries, an element only matches where no part of a word touches it (a
letter, digit, ``_``, combining mark or zero-width joiner: so ``Jose`` does
not match the start of a decomposed ``José``, nor ``राम`` that of ``रामा``),
except on a side where the element, or the text beside it, is in a script
written without spaces (Chinese, Japanese, Thai, ...), since such text has no
word boundaries to look for: ``北京`` is found in ``我想去北京玩`` and
``iPhone`` in ``买iPhone手机``, as the jieba tokenizer finds its fixed words.

Matching does not depend on how accented letters are encoded: the message,
the lookup elements and the regexes are compared in composed form (NFC), so
``café`` typed with a combining accent (``e`` + U+0301, as some keyboards
and pasted text have it) matches the element ``café`` written with ``é``
(U+00E9), and the other way round. A match's start and end are offsets into
the message as typed (:class:`ComposedText`).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, NamedTuple

from dialogflowlite.components.tokenizers.unicode_text import UNSPACED_RANGES
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


@lru_cache(maxsize=1)
def word_part_class() -> str:
    """A regex character class of what is part of a word: ``\\w`` (letters, digits,
    ``_``), combining marks and the zero-width (non-)joiners.

    Python's ``\\w`` leaves out combining marks, which are part of words: the
    accent of a decomposed ``é``, the vowel signs of Indic scripts.
    """
    ranges: list[list[int]] = []
    planes = (range(0x30000), range(0xE0000, 0xE1000))  # no marks lie elsewhere
    for code in (c for plane in planes for c in plane):
        if unicodedata.category(chr(code))[0] != "M":
            continue
        if ranges and ranges[-1][1] == code - 1:
            ranges[-1][1] = code
        else:
            ranges.append([code, code])
    marks = "".join(
        _escaped_code(low) if low == high else f"{_escaped_code(low)}-{_escaped_code(high)}"
        for low, high in ranges
    )
    return f"[\\w\\u200c\\u200d{marks}]"


def _escaped_code(code: int) -> str:
    return f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


#: lookup elements longer than this are listed as they are, not in the trie
#: (whose nesting grows with the length of its elements)
_TRIE_MAX_ELEMENT_LENGTH = 64


def lookup_pattern(elements: list[str], use_word_boundaries: bool,
                   case_sensitive: bool = True) -> str:
    """One regular expression matching any element of a lookup table.

    Where several elements match at one place, the longest wins. The elements
    are written as a trie (``new(?: york)?``) rather than a list, so matching
    tries only the elements that begin like the text: a table of 50,000 city
    names matched a message in 0.2 s as a list, and well under a millisecond
    as a trie. Elements are written composed (NFC), as messages are matched
    (:class:`ComposedText`). With ``case_sensitive`` off (the pattern is then
    compiled with ``re.IGNORECASE``), elements that differ only in case share
    their trie branches.
    """
    ordered = sorted({composed_form(e.strip()) for e in elements if e.strip()},
                     key=lambda e: (-len(e), e))
    if not ordered:
        return r"(?!x)x"  # a table without elements must never match
    alternation = f"(?:{_alternation(ordered, case_sensitive)})"
    if not use_word_boundaries:
        return alternation
    # No part of a word may touch the match, except where the match or the text
    # beside it is in a script without spaces (北京 in 我想去北京玩, iPhone in
    # 买iPhone手机): a word there ends at any character. The match's first and last
    # characters are the element's, so this is each element's own boundary, written once.
    word_part, unspaced = word_part_class(), unspaced_class()
    return (f"(?:(?={unspaced})|(?<={unspaced})|(?<!{word_part})){alternation}"
            f"(?:(?<={unspaced})|(?={unspaced})|(?!{word_part}))")


@lru_cache(maxsize=1)
def unspaced_class() -> str:
    """A regex character class of the scripts written without spaces (see
    :func:`~dialogflowlite.components.tokenizers.unicode_text.is_unspaced`)."""
    return "[" + "".join(f"{_escaped_code(low)}-{_escaped_code(high)}"
                         for low, high in UNSPACED_RANGES) + "]"


def _alternation(ordered: list[str], case_sensitive: bool) -> str:
    """A regex for any of ``ordered`` (longest first), the longest that matches winning."""
    long = [re.escape(e) for e in ordered if len(e) > _TRIE_MAX_ELEMENT_LENGTH]
    short = [e for e in ordered if len(e) <= _TRIE_MAX_ELEMENT_LENGTH]
    # every listed element is longer than any in the trie, so listing them first
    # keeps the longest match winning
    trie = [_trie_regex(_build_trie(short, case_sensitive))] if short else []
    return "|".join(long + trie)


_END = ""  # the key that marks where an element ends in a trie node


def _build_trie(elements: list[str], case_sensitive: bool) -> dict[str, dict]:
    root: dict[str, dict] = {}
    for element in elements:
        node = root
        for char in element:
            if not case_sensitive and len(char.lower()) == 1:
                char = char.lower()
            node = node.setdefault(char, {})
        node[_END] = {}
    return root


def _trie_regex(node: dict[str, dict]) -> str:
    """The regex of a trie node: its branches, each continued as far as it is one
    path; optional when an element ends here, so that longer ones are tried first."""
    branches = []
    for char, child in node.items():
        if char == _END:
            continue
        path = re.escape(char)
        while len(child) == 1 and _END not in child:
            [(next_char, child)] = child.items()
            path += re.escape(next_char)
        branches.append(path + _trie_regex(child))
    if not branches:
        return ""
    if _END not in node:
        return branches[0] if len(branches) == 1 else f"(?:{'|'.join(branches)})"
    return f"(?:{'|'.join(branches)})?"


def collect_patterns(
    training_data: TrainingData,
    *,
    use_regexes: bool = True,
    use_lookup_tables: bool = True,
    use_word_boundaries: bool = True,
    case_sensitive: bool = True,
) -> list[NamedPattern]:
    """The patterns of the training data; a regex that does not compile is an error at its line.

    Regexes and lookup elements come out composed (NFC), as
    :meth:`PatternMatcher.matches` compares them with composed text.

    ``case_sensitive`` is how the patterns will be matched (lookup tables are
    written for it).
    """
    patterns: list[NamedPattern] = []
    if use_regexes:
        for regex in training_data.regexes:
            # composed, as the text it is matched against (a letter written with
            # escapes, ``e\u0301``, stays decomposed and does not match it)
            pattern = composed_form(regex.pattern)
            try:
                re.compile(pattern)
            except re.error as e:
                raise ProjectError(
                    f"regex '{regex.name}' is not a valid regular expression "
                    f"({e}): {regex.pattern}",
                    position=regex.position,
                    hint="fix the pattern (Python `re` syntax)",
                ) from e
            patterns.append(NamedPattern(regex.name, pattern, "regex"))
    if use_lookup_tables:
        for table in training_data.lookups:
            pattern = lookup_pattern(table.elements, use_word_boundaries, case_sensitive)
            patterns.append(NamedPattern(table.name, pattern, "lookup"))
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
        """Every non-empty match as (name, start, end), in pattern order.

        The patterns are matched against the composed form of ``text``; start and
        end are offsets into ``text`` itself, as the user typed it.
        """
        composed = ComposedText.of(text)
        found: list[tuple[str, int, int]] = []
        for name, compiled in self._compiled:
            for pattern in compiled:
                found.extend(
                    (name, *composed.span(m.start(), m.end()))
                    for m in pattern.finditer(composed.text)
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


# ------------------------------------------------------------ composed text


def composed_form(text: str) -> str:
    """``text`` with its accented letters composed (Unicode NFC), as patterns match."""
    return unicodedata.normalize("NFC", text)


class ComposedText(NamedTuple):
    """A text in composed form (NFC), with the way back to offsets of the text as typed.

    The typed text is cut into pieces that compose on their own (a letter with
    the marks that follow it); each composed character knows the piece it came
    from, so a match in the composed text is the span of its pieces in the typed
    one: ``e`` + U+0301 is one ``é`` in the composed text, and two characters of
    the typed text.
    """

    #: the composed text, which patterns are matched against
    text: str
    #: per composed character, where its piece starts and ends in the typed text
    #: (None when the typed text is composed already: the offsets are the same)
    starts: tuple[int, ...] | None = None
    ends: tuple[int, ...] | None = None

    @classmethod
    def of(cls, typed: str) -> ComposedText:
        """The composed form of ``typed``."""
        if unicodedata.is_normalized("NFC", typed):
            return cls(typed)
        parts: list[str] = []
        starts: list[int] = []
        ends: list[int] = []
        begin = 0
        for at in range(1, len(typed) + 1):
            if at < len(typed) and not _begins_piece(typed[at]):
                continue
            part = composed_form(typed[begin:at])
            parts.append(part)
            starts.extend([begin] * len(part))
            ends.extend([at] * len(part))
            begin = at
        return cls("".join(parts), tuple(starts), tuple(ends))

    def span(self, start: int, end: int) -> tuple[int, int]:
        """The typed text's span of the composed text's ``start``-``end`` (not empty):
        whole pieces, so a letter never loses its marks."""
        if self.starts is None or self.ends is None:
            return start, end
        return self.starts[start], self.ends[end - 1]


def _begins_piece(char: str) -> bool:
    """Whether composing never joins ``char`` to what comes before it: a starter
    (no combining mark) that no character composes with as its second part."""
    if char < "\u0300":  # Latin-1 and the letters before the combining marks
        return True
    first = unicodedata.normalize("NFD", char)[0]
    return unicodedata.combining(first) == 0 and first not in _second_parts()


@lru_cache(maxsize=1)
def _second_parts() -> frozenset[str]:
    """The starters that compose with the character before them (Unicode's NFC
    "maybe"): the second part of a composed character's decomposition, such as
    vowel signs of Indic scripts, and Hangul's vowel and final consonant jamo."""
    found: set[str] = set()
    for code in range(0x30000):  # no decomposition lies above
        char = chr(code)
        decomposition = unicodedata.decomposition(char)
        if not decomposition or decomposition.startswith("<"):
            continue  # none, or a compatibility one, which NFC never composes
        parts = decomposition.split()
        # a composition exclusion decomposes too, but never composes back
        if len(parts) == 2 and composed_form(char) == char:
            found.add(chr(int(parts[1], 16)))
    # Hangul syllables compose by rule, not by listed decompositions
    found.update(chr(code) for code in range(0x1161, 0x1176))  # vowels
    found.update(chr(code) for code in range(0x11A8, 0x11C3))  # final consonants
    return frozenset(found)
