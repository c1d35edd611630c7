"""Character classes the tokenizers need, from the Unicode database.

Python's ``re`` has no ``\\p{...}`` classes, and ``\\w`` does not cover
combining marks (a decomposed ``é`` would split in two), so the whitespace
tokenizer classifies characters itself with :mod:`unicodedata`.
"""

from __future__ import annotations

import unicodedata
from functools import lru_cache

SPACE = 0
WORD = 1
#: a character of a script written without spaces between words (one token each)
UNSPACED = 2
#: attaches to the character before it (combining marks, emoji modifiers)
MARK = 3
#: punctuation, symbols, emoji: a token of its own
OTHER = 4

#: scripts written without spaces: Han, kana, Thai, Lao, Khmer, Myanmar
UNSPACED_RANGES: tuple[tuple[int, int], ...] = (
    (0x0E00, 0x0EFF),  # Thai, Lao
    (0x1000, 0x109F),  # Myanmar
    (0x1780, 0x17FF),  # Khmer
    (0x3040, 0x30FF),  # Hiragana, Katakana
    (0x31F0, 0x31FF),  # Katakana phonetic extensions
    (0x3400, 0x4DBF),  # CJK extension A
    (0x4E00, 0x9FFF),  # CJK unified ideographs
    (0xF900, 0xFAFF),  # CJK compatibility ideographs
    (0xFF66, 0xFF9F),  # half-width Katakana
    (0x20000, 0x3134F),  # CJK extensions B-G
)

#: invisible characters that separate like a space: zero-width spaces, and the
#: marks and controls of writing direction, which clients of right-to-left
#: scripts put around words
INVISIBLE_SPACES = frozenset(
    "\u200b\u2060\ufeff"  # zero-width space, word joiner, byte order mark
    "\u061c\u200e\u200f"  # Arabic letter mark, left-to-right and right-to-left marks
    "\u202a\u202b\u202c\u202d\u202e"  # direction embeddings and overrides
    "\u2066\u2067\u2068\u2069"  # direction isolates
)
#: zero-width (non-)joiners: part of words in Persian and Indic scripts, and of emoji sequences
JOINERS = frozenset("\u200c\u200d")
#: the soft hyphen: an invisible hyphenation point inside a word, common in text pasted
#: from documents and web pages
SOFT_HYPHEN = "\u00ad"
APOSTROPHES = frozenset("'\u2019\u02bc")
HYPHENS = frozenset("-\u2010\u2011")
#: joins digits on both sides: 3.5, 10,000, 10:30, 24/7
NUMBER_JOINERS = frozenset(".,:/")


def is_unspaced(char: str) -> bool:
    """Whether ``char`` belongs to a script written without spaces between words."""
    code = ord(char)
    return any(low <= code <= high for low, high in UNSPACED_RANGES)


def _is_emoji_modifier(code: int) -> bool:
    # skin tones, and the tag characters of subdivision flags
    return 0x1F3FB <= code <= 0x1F3FF or 0xE0020 <= code <= 0xE007F


def is_regional_indicator(char: str) -> bool:
    """Half of a flag emoji (two of them make one flag)."""
    return 0x1F1E6 <= ord(char) <= 0x1F1FF


@lru_cache(maxsize=8192)
def char_class(char: str) -> int:
    """The tokenizer's class of one character (SPACE, WORD, UNSPACED, MARK or OTHER)."""
    if char.isspace() or char in INVISIBLE_SPACES:
        return SPACE
    if char in JOINERS or char == SOFT_HYPHEN or _is_emoji_modifier(ord(char)):
        return MARK
    category = unicodedata.category(char)
    if category[0] == "M":
        return MARK
    if category in ("Zs", "Zl", "Zp", "Cc"):
        return SPACE
    if is_unspaced(char) and category[0] == "L":
        return UNSPACED
    if category[0] in "LN" or category == "Pc":
        return WORD
    return OTHER


def is_word_char(char: str) -> bool:
    """A letter, digit or connector (``_``) of a spaced script."""
    return char_class(char) == WORD


#: invisible marks a word may carry that do not change what it says: the soft hyphen,
#: zero-width (non-)joiners, the word joiner, the byte order mark and the emoji
#: variation selectors (🍕 with U+FE0F is 🍕)
_INVISIBLE_IN_WORDS = (frozenset({SOFT_HYPHEN, "\u200b", "\u2060", "\ufeff"}) | JOINERS
                       | frozenset(chr(c) for c in range(0xFE00, 0xFE10)))


def word_form(word: str, *, lowercase: bool = True) -> str:
    """How a word is compared where its spelling should not matter: learnt features,
    known words, synonyms. Composed (Unicode NFC: a decomposed é is é), with the
    full-width Latin letters, digits and signs of Chinese and Japanese input methods
    as their plain forms (``４`` is ``4``) and half-width katakana as full-width,
    without the invisible marks in :data:`_INVISIBLE_IN_WORDS`, and lower-cased
    unless told. (Not NFKC as a whole: it would join Korean letters typed apart,
    ``ㅋㅋ``, into other syllables, and turn ``x²`` into ``x2``.)"""
    if word.isascii():
        return word.lower() if lowercase else word
    folded = "".join(_width_folded(c) for c in word if c not in _INVISIBLE_IN_WORDS)
    form = unicodedata.normalize("NFC", folded)
    return form.lower() if lowercase else form


def _width_folded(char: str) -> str:
    code = ord(char)
    if 0xFF01 <= code <= 0xFF5E:  # full-width ASCII: ！ to ～
        return chr(code - 0xFEE0)
    if 0xFF61 <= code <= 0xFF9F:  # half-width katakana and marks
        return unicodedata.normalize("NFKC", char)
    return char


def is_invisible(text: str) -> bool:
    """Whether ``text`` is only invisible marks and spaces (no token of its own)."""
    return all(c in _INVISIBLE_IN_WORDS or c in INVISIBLE_SPACES or c.isspace() for c in text)
