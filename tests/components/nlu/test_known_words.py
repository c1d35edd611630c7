"""Which words of a message a classifier knows (``known_words``)."""

from __future__ import annotations

import unicodedata
from types import SimpleNamespace

from dialogflowlite.components.nlu.known_words import (
    KNOWN_WORDS,
    WordKnowledge,
    knows_no_word,
    tokenizer_single_piece,
    training_words,
)
from dialogflowlite.components.tokenizers.alignment import simple_tokens
from dialogflowlite.shared.message import Message


def message(text: str) -> Message:
    return Message(text, tokens=simple_tokens(text))


def wordpiece(padded_to: int | None = None) -> SimpleNamespace:
    """A WordPiece tokenizer with whole words 'hello' and 'table' and letter pieces."""
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers

    letters = [chr(c) for c in range(ord("a"), ord("z") + 1)]
    vocab = ["[PAD]", "[UNK]", "hello", "table", *letters, *(f"##{c}" for c in letters)]
    backend = Tokenizer(models.WordPiece({p: i for i, p in enumerate(vocab)}, unk_token="[UNK]"))
    backend.normalizer = normalizers.BertNormalizer(lowercase=True)
    backend.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    if padded_to:  # as all-MiniLM-L6-v2's tokenizer.json ships: every text padded to 128
        backend.enable_padding(length=padded_to, pad_token="[PAD]", pad_id=0)
    return SimpleNamespace(backend_tokenizer=backend)


def test_training_words_are_the_lower_cased_words_of_the_examples() -> None:
    words = training_words([message("Book a TABLE, please!"), message("7 pm")])
    assert words == {"book", "a", "table", "please", "7", "pm"}


def test_a_word_is_known_from_the_examples_its_digits_or_one_piece() -> None:
    for padded_to in (None, 8):
        known = WordKnowledge(frozenset({"reserve"}), tokenizer_single_piece(wordpiece(padded_to)))
        assert known.knows("Reserve")  # an example has it
        assert known.knows("HELLO")  # one piece of the vocabulary
        assert known.knows("7pm")  # a digit
        assert not known.knows("qwerty")  # cut into letters, in no example
        assert not known.knows("€")  # the unknown piece is not a word
    scratch = WordKnowledge(frozenset({"reserve"}))
    assert scratch.knows("reserve") and not scratch.knows("hello")


def test_a_word_typed_another_way_is_known_as_itself() -> None:
    # decomposed Vietnamese from a combining keyboard: every word was unknown, and the
    # fallback took the message
    words = training_words([message("tạm biệt")])
    known = WordKnowledge(words)
    assert known.knows(unicodedata.normalize("NFD", "Tạm"))
    assert known.knows(unicodedata.normalize("NFD", "biệt"))


def test_the_count_is_recorded_and_read_by_the_fallback() -> None:
    known = WordKnowledge(frozenset({"table"}), tokenizer_single_piece(wordpiece()))
    mash, booking, punctuation = message("qwerty uiop!"), message("a table?"), message("?!")
    for m in (mash, booking, punctuation):
        known.record(m)
    assert mash.features[KNOWN_WORDS] == {"known": 0, "words": 2}
    assert booking.features[KNOWN_WORDS] == {"known": 2, "words": 2}  # "a" is a piece too
    assert punctuation.features[KNOWN_WORDS] == {"known": 0, "words": 0}
    assert [knows_no_word(m) for m in (mash, booking, punctuation, message("x"))] == [
        True, False, False, False]  # no words, or no count recorded: not "no known word"
