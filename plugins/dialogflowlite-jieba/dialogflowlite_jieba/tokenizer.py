"""``JiebaTokenizer``: Chinese word segmentation by jieba, with exact character offsets.

Segmentation of one message:

1. the fixed words (see :mod:`dialogflowlite_jieba.dictionary`) are found
   and become one token each;
2. jieba (precise mode, its HMM for unknown words unless ``hmm: false``)
   segments the text between them, with the user dictionary entries of
   ``dictionary_path`` added to its dictionary;
3. white space is dropped; every token's ``start``/``end`` index the message
   text exactly.

On training examples the base class then cuts any token that an annotated
entity starts or ends inside of, so no entity is dropped or shifted when
jieba's segmentation disagrees with the annotation.

The trained model stores the fixed words and the user dictionary entries
(``dictionary.json``), so a served model needs neither the project's data
nor the dictionary file.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from dialogflowlite.components.base import NluContext
from dialogflowlite.components.tokenizers.base import TOKENIZER_DEFAULTS, Tokenizer
from dialogflowlite.components.tokenizers.unicode_text import is_invisible
from dialogflowlite.errors import ComponentConfigError, Position
from dialogflowlite.shared.message import Token
from dialogflowlite.shared.training_data import TrainingData
from dialogflowlite_jieba.dictionary import (
    DictionaryEntry,
    FixedWords,
    read_user_dictionary,
    words_from_data,
)

if TYPE_CHECKING:
    import jieba

    from dialogflowlite.artifact import ComponentStorage

logger = logging.getLogger(__name__)

DICTIONARY_FILE = "dictionary.json"

_lock = threading.Lock()
_shared: jieba.Tokenizer | None = None


def _quiet_jieba() -> None:
    """jieba logs every dictionary load at DEBUG to stderr by default; keep that out."""
    jieba_logger = logging.getLogger("jieba")
    if jieba_logger.level in (logging.NOTSET, logging.DEBUG):
        jieba_logger.setLevel(logging.WARNING)


def jieba_tokenizer(entries: list[DictionaryEntry]) -> jieba.Tokenizer:
    """An initialised jieba tokenizer with ``entries`` added to its dictionary.

    Without entries every caller shares one tokenizer: loading jieba's main
    dictionary takes a second, and segmenting never changes it.
    """
    import jieba

    global _shared
    _quiet_jieba()
    if not entries:
        with _lock:
            if _shared is None:
                shared = jieba.Tokenizer()
                shared.initialize()
                _shared = shared
            return _shared
    tokenizer = jieba.Tokenizer()
    tokenizer.initialize()
    for entry in entries:
        tokenizer.add_word(entry.word, entry.frequency, entry.tag)
    return tokenizer


def _is_latin_run(word: str) -> bool:
    """Whether ``word`` is Latin letters and digits only, in ASCII or full width (what a
    Chinese input method types as ＤＤ２０４８): an order number or a phone tail."""
    return bool(word) and all(any(low <= ord(c) <= high for low, high in _LATIN_RANGES)
                              for c in word)


#: ASCII and full-width digits and Latin letters, by code point (``str.lower`` would let
#: in the Kelvin sign and a dotted İ)
_LATIN_RANGES = ((0x30, 0x39), (0x41, 0x5A), (0x61, 0x7A),
                 (0xFF10, 0xFF19), (0xFF21, 0xFF3A), (0xFF41, 0xFF5A))


class JiebaTokenizer(Tokenizer):
    """Segments Chinese text into words with jieba; the project's entity values stay whole.

    Words from the NLU data (lookup tables, synonyms, annotated entities) are
    always one token; ``dictionary_path`` adds a jieba user dictionary (a
    file, or a folder of files, relative to the project folder).
    """

    name = "JiebaTokenizer"
    #: 2: a run of full-width letters and digits is one token, as its ASCII form is;
    #: invisible marks are no tokens
    revision: ClassVar[int] = 2
    defaults: ClassVar[dict[str, Any]] = {
        **TOKENIZER_DEFAULTS,
        # a jieba user dictionary ("word [frequency] [tag]" per line), or a folder of them,
        # relative to the project folder; None: no user dictionary
        "dictionary_path": None,
        # keep lookup-table elements, synonyms and annotated entity texts as one token each
        "words_from_data": True,
        # jieba's hidden Markov model for words missing from its dictionary
        "hmm": True,
    }
    compatible_keys = ("token_pattern", "prefix_separator_symbol", "case_sensitive")

    def __init__(
        self, config: dict[str, Any] | None = None, *, position: Position | None = None
    ) -> None:
        super().__init__(config, position=position)
        self.entries: list[DictionaryEntry] = []
        self.fixed_words = FixedWords([])
        self._jieba: jieba.Tokenizer | None = None
        path = self.dictionary_path
        # Checked only where config.yml is being read: a loaded model has the entries stored.
        if path is not None and position is not None and not path.exists():
            raise ComponentConfigError(
                f"{self.name}: dictionary_path {path} does not exist",
                position=position,
                hint="give a jieba user dictionary file (or a folder of them), relative to "
                "the project folder, or remove dictionary_path",
            )

    @property
    def dictionary_path(self) -> Path | None:
        """``dictionary_path`` resolved against the folder of config.yml (or the current one)."""
        value = self.config["dictionary_path"]
        if not value:
            return None
        path = Path(str(value)).expanduser()
        if not path.is_absolute() and self.position is not None and self.position.file:
            path = Path(self.position.file).parent / path
        return path

    @property
    def jieba(self) -> jieba.Tokenizer:
        """The jieba tokenizer with this component's user dictionary, made on first use."""
        if self._jieba is None:
            self._jieba = jieba_tokenizer(self.entries)
        return self._jieba

    def _set_words(self, entries: list[DictionaryEntry], fixed: list[str]) -> None:
        self.entries = list(entries)
        self.fixed_words = FixedWords(fixed)
        self._jieba = None

    # ------------------------------------------------------------ training

    def train(self, training_data: TrainingData, context: NluContext) -> None:
        """Read the user dictionary and collect the fixed words from the data."""
        path = self.dictionary_path
        entries = read_user_dictionary(path, self.position) if path is not None else []
        fixed = words_from_data(training_data) if self.config["words_from_data"] else []
        self._set_words(entries, fixed)
        logger.info(
            "%s: %d user dictionary entries, %d fixed words",
            self.name,
            len(entries),
            len(self.fixed_words.words),
        )
        self.jieba  # noqa: B018 - load jieba's dictionary now, not on the first message

    # ------------------------------------------------------------ segmentation

    def _segment(self, text: str, offset: int, tokens: list[Token], whole: str) -> None:
        run: tuple[int, int] | None = None  # a run of Latin letters and digits, so far
        for word, start, end in self.jieba.tokenize(text, HMM=bool(self.config["hmm"])):
            if run is not None and _is_latin_run(word) and run[1] == start:
                run = (run[0], end)  # jieba cuts full-width ＤＤ２０４８ letter by letter
                continue
            if run is not None:
                tokens.append(Token(whole[offset + run[0]:offset + run[1]],
                                    offset + run[0], offset + run[1]))
                run = None
            if _is_latin_run(word):
                run = (start, end)
            elif not is_invisible(word):
                tokens.append(
                    Token(whole[offset + start : offset + end], offset + start, offset + end)
                )
        if run is not None:
            tokens.append(Token(whole[offset + run[0]:offset + run[1]],
                                offset + run[0], offset + run[1]))

    def tokenize(self, text: str) -> list[Token]:
        tokens: list[Token] = []
        position = 0
        for start, end in self.fixed_words.spans(text):
            if start > position:
                self._segment(text[position:start], position, tokens, text)
            tokens.append(Token(text[start:end], start, end))
            position = end
        if position < len(text):
            self._segment(text[position:], position, tokens, text)
        return tokens

    # ------------------------------------------------------------ persistence

    def persist(self, storage: ComponentStorage) -> None:
        storage.write_json(
            DICTIONARY_FILE,
            {
                "user_dictionary": [entry.to_json() for entry in self.entries],
                "fixed_words": list(self.fixed_words.words),
            },
        )

    @classmethod
    def load(cls, config: dict[str, Any], storage: ComponentStorage) -> JiebaTokenizer:
        tokenizer = cls(config)
        if storage.exists(DICTIONARY_FILE):
            data = storage.read_json(DICTIONARY_FILE)
            tokenizer._set_words(
                [DictionaryEntry.from_json(e) for e in data.get("user_dictionary") or []],
                list(data.get("fixed_words") or []),
            )
        tokenizer.jieba  # noqa: B018 - load jieba's dictionary with the model, not on a message
        return tokenizer
