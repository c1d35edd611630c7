"""How many words of a message an intent classifier knows.

A message of words that neither the training examples nor the pretrained
tokenizer's vocabulary hold ("asdfgh", "qwerty uiop") gives a classifier
nothing to go by, yet it answers with some intent, often confidently (the
template's model took "asdfgh" for `affirm` at 0.59). Classifiers that know
their words record, for each parsed message, how many of its words they know
under ``message.features[KNOWN_WORDS]``; ``FallbackClassifier`` with
``unknown_words: true`` sends a message of only unknown words to
``nlu_fallback``.

A word is known when a training example has it (ignoring case), when it has a
digit (numbers, times), or when the pretrained tokenizer keeps it as one piece
of its vocabulary: a sub-word tokenizer cuts words it was not built with into
several pieces ("asdfgh" -> as ##df ##gh), and keeps the words of its language
whole ("certainly", which the template never uses and its model classifies
right).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from dialogflowlite.components.nlu.sequence_labels import example_tokens
from dialogflowlite.components.tokenizers.unicode_text import word_form
from dialogflowlite.shared.message import Message, has_content

#: the key of ``message.features`` that holds ``{"known": k, "words": n}``
KNOWN_WORDS = "known_words"

#: how many words' single-piece answers are remembered
_CACHE_SIZE = 20_000


def training_words(examples: Iterable[Message]) -> frozenset[str]:
    """The words (tokens with a letter or digit) of the examples, in their
    :func:`word_form`."""
    return frozenset(
        word_form(token.text)
        for message in examples
        for token in example_tokens(message)
        if has_content(token.text)
    )


class WordKnowledge:
    """Tells known words from unknown ones (see the module's description).

    ``single_piece(word)`` says whether the pretrained tokenizer keeps ``word``
    whole; without one (a classifier trained from scratch), only the training
    words and words with digits are known.
    """

    def __init__(self, words: frozenset[str],
                 single_piece: Callable[[str], bool] | None = None) -> None:
        self.words = words
        self.single_piece = single_piece
        self._pieces: dict[str, bool] = {}

    def knows(self, word: str) -> bool:
        form = word_form(word)
        if form in self.words or any(character.isdigit() for character in word):
            return True
        if self.single_piece is None:
            return False
        answer = self._pieces.get(form)
        if answer is None:
            answer = self.single_piece(word)
            if len(self._pieces) >= _CACHE_SIZE:
                self._pieces.clear()  # users' typos should not grow it without end
            self._pieces[form] = answer
        return answer

    def record(self, message: Message) -> None:
        """Write how many of the message's words are known to its features."""
        words = [t.text for t in example_tokens(message) if has_content(t.text)]
        message.features[KNOWN_WORDS] = {
            "known": sum(1 for word in words if self.knows(word)),
            "words": len(words),
        }


def knows_no_word(message: Message) -> bool:
    """Whether a classifier recorded that it knows none of the message's words
    (False when none recorded, or the message has no words)."""
    counts: dict[str, Any] | None = message.features.get(KNOWN_WORDS)
    return bool(counts) and counts["words"] > 0 and counts["known"] == 0


def tokenizer_single_piece(tokenizer: Any) -> Callable[[str], bool]:
    """``single_piece`` for a fast tokenizer (or a ``PieceTokenizer``): the word comes out
    as one piece that is not the unknown piece."""
    backend = tokenizer.backend_tokenizer
    unknown = {"[UNK]", "<unk>", getattr(backend.model, "unk_token", None)}

    def single_piece(word: str) -> bool:
        encoding = backend.encode(word, add_special_tokens=False)
        # a tokenizer.json may pad every text for its own use: padding is not a piece
        pieces = [p for p, real in zip(encoding.tokens, encoding.attention_mask, strict=True)
                  if real]
        return len(pieces) == 1 and pieces[0] not in unknown

    return single_piece
