"""``WhitespaceTokenizer``: words and punctuation by Unicode character classes.

The rules, in order:

* white space (any Unicode space, zero-width spaces and the invisible marks of
  writing direction) separates tokens and is never part of one;
* URLs (``https://...``, ``www....``) and e-mail addresses are one token each;
* a word is a run of letters, digits, ``_``, combining marks and soft hyphens;
  it continues over an apostrophe or hyphen with letters or digits on both sides
  (``don't``, ``O'Brien``, ``e-mail``, ``COVID-19``) and over ``. , : /``
  between digits (``3.5``, ``10,000``, ``10:30``, ``24/7``); a final
  ``'s`` is split off (``Berlin's`` -> ``Berlin`` ``'s``, ``it's`` -> ``it`` ``'s``);
* every other character (punctuation, symbols, emoji) is a token of its own,
  together with the marks and modifiers that belong to it (skin tones,
  variation selectors, zero-width-joined emoji sequences, flag pairs);
* in scripts written without spaces (Han, kana, Thai, Lao, Khmer, Myanmar)
  every character is a token, since no word segmenter is configured; a
  segmenting tokenizer (``SpacyTokenizer``, or a plugin's) does better.
"""

from __future__ import annotations

import re
from typing import Any, ClassVar

from dialogflowlite.components.tokenizers.base import TOKENIZER_DEFAULTS, Tokenizer
from dialogflowlite.components.tokenizers.unicode_text import (
    APOSTROPHES,
    HYPHENS,
    MARK,
    NUMBER_JOINERS,
    SPACE,
    WORD,
    char_class,
    is_regional_indicator,
    is_word_char,
)
from dialogflowlite.errors import ComponentConfigError, Position
from dialogflowlite.shared.message import Token

_URL = r"(?:\b(?:https?|ftp)://|\bwww\.)[^\s<>\"']*[^\s<>\"'.,;:!?)\]}]"
_EMAIL = r"(?<![\w.+-])[\w.+-]+@\w[\w-]*(?:\.[\w-]+)+"
_PROTECTED = re.compile(f"{_URL}|{_EMAIL}")
_ZWJ = "\u200d"


def _is_possessive(text: str, i: int) -> bool:
    """Whether ``text[i]`` (an apostrophe) starts a possessive ``'s`` ending a word."""
    return (
        i + 1 < len(text)
        and text[i + 1] in "sS"
        and (i + 2 >= len(text) or not is_word_char(text[i + 2]))
    )


def _word_end(text: str, i: int, limit: int) -> int:
    """The end of the word that starts at ``i`` (the word never runs past ``limit``)."""
    i += 1
    while i < limit:
        char = text[i]
        joins = char_class(char) in (WORD, MARK)
        if not joins and i + 1 < limit:
            after = text[i + 1]
            joins = (
                (char in APOSTROPHES and is_word_char(after) and not _is_possessive(text, i))
                or (char in HYPHENS and is_word_char(after))
                or (char in NUMBER_JOINERS and text[i - 1].isdigit() and after.isdigit())
            )
        if not joins:
            break
        i += 1
    return i


def _symbol_end(text: str, i: int, limit: int) -> int:
    """The end of a one-character token at ``i`` with the marks that belong to it."""
    first = text[i]
    i += 1
    if is_regional_indicator(first) and i < limit and is_regional_indicator(text[i]):
        i += 1  # a flag is two regional indicators
    while i < limit and char_class(text[i]) == MARK:
        if text[i] == _ZWJ and i + 1 < limit and char_class(text[i + 1]) != SPACE:
            i += 2  # a zero-width joiner glues the next character on (family emoji)
        else:
            i += 1
    return i


def whitespace_spans(text: str) -> list[tuple[int, int]]:
    """Token spans (start, end) of ``text`` by the rules in this module's docstring."""
    spans: list[tuple[int, int]] = []
    protected = [(m.start(), m.end()) for m in _PROTECTED.finditer(text)]
    p = 0
    i = 0
    n = len(text)
    while i < n:
        while p < len(protected) and protected[p][0] < i:
            p += 1
        next_protected = protected[p][0] if p < len(protected) else n
        if i == next_protected and p < len(protected):
            spans.append(protected[p])
            i = protected[p][1]
            p += 1
            continue
        char = text[i]
        kind = char_class(char)
        if kind == SPACE:
            i += 1
            continue
        start = i
        if kind == WORD:
            i = _word_end(text, i, next_protected)
            if i < n and text[i] in APOSTROPHES and i > start and _is_possessive(text, i):
                spans.append((start, i))
                start, i = i, i + 2
        else:
            i = _symbol_end(text, i, n)
        spans.append((start, i))
    return spans


class WhitespaceTokenizer(Tokenizer):
    """Splits text into words and punctuation with exact character offsets.

    Unicode-aware: accents (also decomposed), emoji sequences and scripts
    without spaces (one token per character) are handled; marks of writing
    direction separate words like spaces, and a soft hyphen stays inside its
    word; URLs and e-mail addresses stay whole. ``token_pattern`` replaces the rules by a regular
    expression whose matches are the tokens (a text it finds nothing in is one token).
    """

    name = "WhitespaceTokenizer"
    #: 2: direction marks separate words, soft hyphens stay inside them
    revision = 2
    defaults: ClassVar[dict[str, Any]] = {
        **TOKENIZER_DEFAULTS,
        # a regular expression whose matches are the tokens (None: the built-in rules)
        "token_pattern": None,
    }
    compatible_keys = ("prefix_separator_symbol", "case_sensitive")

    def __init__(self, config: dict[str, Any] | None = None, **kwargs: Any) -> None:
        super().__init__(config, **kwargs)
        self._pattern: re.Pattern[str] | None = None
        if self.config["token_pattern"]:
            self._pattern = re.compile(str(self.config["token_pattern"]))

    @classmethod
    def check_config(cls, config: dict[str, Any], *,
                     position: Position | None = None) -> None:
        """``token_pattern``, when given, must be a valid regular expression."""
        super().check_config(config, position=position)
        if config["token_pattern"]:
            try:
                re.compile(str(config["token_pattern"]))
            except re.error as e:
                raise ComponentConfigError(
                    f"{cls.name}: token_pattern is not a valid regular expression ({e})",
                    position=position,
                    hint="fix the pattern, or remove token_pattern",
                ) from e

    def tokenize(self, text: str) -> list[Token]:
        if self._pattern is not None:
            spans = [m.span() for m in self._pattern.finditer(text) if m.end() > m.start()]
            if not spans and text.strip():
                # as Rasa: a text the pattern finds nothing in ("!!!" with `\w+`) is one
                # token, not none (a message without tokens got no intent at all)
                start = len(text) - len(text.lstrip())
                spans = [(start, len(text.rstrip()))]
        else:
            spans = whitespace_spans(text)
        return [Token(text[start:end], start, end) for start, end in spans]
