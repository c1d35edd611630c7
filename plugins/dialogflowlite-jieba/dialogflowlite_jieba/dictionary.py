"""The two kinds of extra words the jieba tokenizer knows.

* **User dictionary entries** come from files in jieba's own format, one
  ``word [frequency] [tag]`` per line. They go into jieba's dictionary, so
  jieba weighs them against its other words exactly as ``jieba.load_userdict``
  does.
* **Fixed words** come from the project's NLU data: lookup-table elements,
  synonym values and variants, and the text of annotated entities. They are
  found in a message before jieba runs and always become one token each;
  jieba segments only the text between them. This is what keeps a product
  name or an entity value in one piece, whatever jieba's dictionary says.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from dialogflowlite.components.tokenizers.alignment import FULL_WIDTH_SEPARATORS
from dialogflowlite.components.tokenizers.unicode_text import UNSPACED_RANGES
from dialogflowlite.errors import ComponentConfigError, Position
from dialogflowlite.shared.training_data import TrainingData

#: the separators of a Chinese or Japanese list, which never belong inside a word
_LIST_SEPARATOR = re.compile("[" + "".join(sorted(FULL_WIDTH_SEPARATORS)) + "]")
#: ``word [frequency] [tag]``, as jieba reads its user dictionaries
_ENTRY = re.compile(r"^(.+?)( [0-9]+)?( [a-z]+)?$")
#: a letter or digit of a script written with spaces: a word must not be cut out of one
_SPACED_WORD_CHAR = (
    "[^\\W" + "".join(f"{chr(low)}-{chr(high)}" for low, high in UNSPACED_RANGES) + "]"
)


@dataclass(frozen=True)
class DictionaryEntry:
    """One line of a jieba user dictionary."""

    word: str
    frequency: int | None = None
    tag: str | None = None

    def to_json(self) -> list[str | int | None]:
        return [self.word, self.frequency, self.tag]

    @classmethod
    def from_json(cls, data: list[str | int | None]) -> DictionaryEntry:
        word, frequency, tag = data
        return cls(
            str(word),
            int(frequency) if frequency is not None else None,
            str(tag) if tag is not None else None,
        )


def dictionary_files(path: Path) -> list[Path]:
    """The dictionary files at ``path``: the file itself, or every file in the folder."""
    if path.is_dir():
        return sorted(p for p in path.iterdir() if p.is_file() and not p.name.startswith("."))
    return [path]


def read_user_dictionary(path: Path, position: Position | None = None) -> list[DictionaryEntry]:
    """The entries of a jieba user dictionary file, or of every file in a folder."""
    if not path.exists():
        raise ComponentConfigError(
            f"JiebaTokenizer: dictionary_path {path} does not exist",
            position=position,
            hint="give a jieba user dictionary file (or a folder of them), relative to the "
            "project folder, or remove dictionary_path",
        )
    entries: list[DictionaryEntry] = []
    for file in dictionary_files(path):
        try:
            lines = file.read_text(encoding="utf-8-sig").splitlines()
        except UnicodeDecodeError as e:
            raise ComponentConfigError(
                f"JiebaTokenizer: the dictionary {file} is not UTF-8 text",
                position=position,
                hint="save the dictionary as UTF-8",
            ) from e
        for line in lines:
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            word, frequency, tag = _ENTRY.match(line).groups()  # type: ignore[union-attr]
            entries.append(
                DictionaryEntry(
                    word.strip(),
                    int(frequency) if frequency else None,
                    tag.strip() if tag else None,
                )
            )
    return entries


def words_from_data(training_data: TrainingData) -> list[str]:
    """Lookup-table elements, synonym values and variants, and annotated entity texts."""
    words: list[str] = []
    for table in training_data.lookups:
        words.extend(table.elements)
    for synonym in training_data.synonyms:
        words.append(synonym.value)
        words.extend(synonym.variants)
    for example in training_data.examples:
        words.extend(example.text[e.start : e.end] for e in example.entities)
    return clean_words(words)


def clean_words(words: Iterable[str]) -> list[str]:
    """Words worth fixing, sorted: the space-free pieces of at least two characters.

    A phrase with spaces (``iPhone 15 Pro``) gives its pieces, since the spaces
    already separate them and a token never holds white space. A list annotated
    as one entity (``北京，上海``) gives its items: a full-width separator stays a
    token of its own, so ``split_entities_by_comma`` can cut the entity there. A
    single character is left to jieba: fixing it would cut it out of every longer
    word it appears in.
    """
    pieces = {piece for word in words for piece in _LIST_SEPARATOR.sub(" ", str(word)).split()}
    return sorted(piece for piece in pieces if len(piece) >= 2)


class FixedWords:
    """Finds fixed words in a text: longest first, left to right, without overlaps.

    Matching ignores case. A word whose first or last character is a letter or
    digit of a spaced script (Latin, Cyrillic, ...) is not matched where
    such a character touches it, so ``Pro`` is not found inside ``Professional``;
    Chinese characters around a word never block it.
    """

    def __init__(self, words: Iterable[str]) -> None:
        self.words = clean_words(words)
        self._by_first: dict[str, list[str]] = {}
        for word in sorted(self.words, key=lambda w: (-len(w), w)):
            self._by_first.setdefault(word[0].lower(), []).append(word.lower())
        self._spaced = re.compile(_SPACED_WORD_CHAR)

    def __bool__(self) -> bool:
        return bool(self.words)

    def _touches(self, text: str, start: int, end: int) -> bool:
        """Whether a spaced-script word character sits against a spaced-script word edge."""
        before = start > 0 and self._spaced.match(text[start])
        after = end < len(text) and self._spaced.match(text[end - 1])
        return bool(
            (before and self._spaced.match(text[start - 1]))
            or (after and self._spaced.match(text[end]))
        )

    def spans(self, text: str) -> list[tuple[int, int]]:
        """``(start, end)`` of every fixed word found in ``text``."""
        if not self._by_first:
            return []
        found: list[tuple[int, int]] = []
        i = 0
        while i < len(text):
            for word in self._by_first.get(text[i].lower(), ()):
                end = i + len(word)
                if text[i:end].lower() == word and not self._touches(text, i, end):
                    found.append((i, end))
                    i = end
                    break
            else:
                i += 1
        return found
