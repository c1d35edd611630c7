"""Word and character n-gram vocabularies for the models trained from scratch.

Words are looked up in a vocabulary learnt from the training data; each word
is also cut into character n-grams of ``<word>`` (the angle brackets mark its
edges), so an unseen word that shares pieces with known ones still carries
meaning, in any script. Both vocabularies reserve id 0 for padding and id 1
for anything unknown, and are saved as plain JSON lists.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any

from dialogflowlite.components.tokenizers.unicode_text import word_form

PAD_ID = 0
UNK_ID = 1
_RESERVED = ("<pad>", "<unk>")
_CACHE_LIMIT = 200_000


def char_ngrams(word: str, low: int, high: int) -> list[str]:
    """Character n-grams of ``<word>``, from ``low`` to ``high`` characters long."""
    marked = f"<{word}>"
    grams = []
    for n in range(low, high + 1):
        grams.extend(marked[i : i + n] for i in range(len(marked) - n + 1))
    return grams


class WordNgramVocabulary:
    """Word ids and character n-gram ids for word tokens."""

    def __init__(
        self,
        *,
        lowercase: bool = True,
        ngram_min: int = 1,
        ngram_max: int = 4,
        max_ngrams: int = 50_000,
        max_ngrams_per_word: int = 48,
    ) -> None:
        self.lowercase = lowercase
        self.ngram_min = ngram_min
        self.ngram_max = ngram_max
        self.max_ngrams = max_ngrams
        self.max_ngrams_per_word = max_ngrams_per_word
        self.words: dict[str, int] = {w: i for i, w in enumerate(_RESERVED)}
        self.ngrams: dict[str, int] = {g: i for i, g in enumerate(_RESERVED)}
        #: a stored vocabulary's words and n-grams by their :meth:`normalise` form where
        #: it differs (one saved before words were compared in that form); not saved
        self._word_forms: dict[str, int] = {}
        self._ngram_forms: dict[str, int] = {}
        self._cache: dict[str, list[int]] = {}

    def normalise(self, word: str) -> str:
        # a decomposed é, a full-width ４ or a pasted soft hyphen would make another word
        return word_form(word, lowercase=self.lowercase)

    def build(self, sentences: Iterable[Sequence[str]]) -> WordNgramVocabulary:
        """Learn both vocabularies from word sequences (the most frequent n-grams are kept)."""
        word_counts: Counter[str] = Counter()
        for words in sentences:
            word_counts.update(self.normalise(w) for w in words)
        self.words = {w: i for i, w in enumerate([*_RESERVED, *sorted(word_counts)])}
        gram_counts: Counter[str] = Counter()
        for word, count in word_counts.items():
            for gram in set(char_ngrams(word, self.ngram_min, self.ngram_max)):
                gram_counts[gram] += count
        kept = sorted(gram_counts, key=lambda g: (-gram_counts[g], g))[: self.max_ngrams]
        self.ngrams = {g: i for i, g in enumerate([*_RESERVED, *sorted(kept)])}
        self._cache = {}
        return self

    def word_id(self, word: str) -> int:
        key = self.normalise(word)
        return self.words.get(key, self._word_forms.get(key, UNK_ID))

    def ngram_ids(self, word: str) -> list[int]:
        """Known n-gram ids of a word (at most ``max_ngrams_per_word``; ``[UNK]`` if none)."""
        word = self.normalise(word)
        cached = self._cache.get(word)
        if cached is None:
            grams = dict.fromkeys(char_ngrams(word, self.ngram_min, self.ngram_max))
            ids = [self.ngrams[g] if g in self.ngrams else self._ngram_forms[g]
                   for g in grams if g in self.ngrams or g in self._ngram_forms]
            cached = ids[: self.max_ngrams_per_word] or [UNK_ID]
            if len(self._cache) < _CACHE_LIMIT:
                self._cache[word] = cached
        return cached

    def to_json(self) -> dict[str, Any]:
        return {
            "lowercase": self.lowercase,
            "ngram_min": self.ngram_min,
            "ngram_max": self.ngram_max,
            "max_ngrams": self.max_ngrams,
            "max_ngrams_per_word": self.max_ngrams_per_word,
            "words": list(self.words),
            "ngrams": list(self.ngrams),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> WordNgramVocabulary:
        vocabulary = cls(
            lowercase=data["lowercase"],
            ngram_min=data["ngram_min"],
            ngram_max=data["ngram_max"],
            max_ngrams=data["max_ngrams"],
            max_ngrams_per_word=data["max_ngrams_per_word"],
        )
        vocabulary.words = {w: i for i, w in enumerate(data["words"])}
        vocabulary.ngrams = {g: i for i, g in enumerate(data["ngrams"])}
        # the ids stay as saved (they index the trained embeddings); a vocabulary saved
        # before words were compared in one form finds them by that form too
        vocabulary._word_forms = _by_form(vocabulary.words, vocabulary.normalise)
        vocabulary._ngram_forms = _by_form(vocabulary.ngrams, vocabulary.normalise)
        return vocabulary


def _by_form(ids: dict[str, int], normalise: Any) -> dict[str, int]:
    """``ids`` by the normalised form of each key where that form is not a key itself
    (the first id of a form wins)."""
    forms: dict[str, int] = {}
    for key, index in ids.items():
        form = normalise(key)
        if form != key and form not in ids:
            forms.setdefault(form, index)
    return forms


def pad_word_batch(
    word_ids: Sequence[Sequence[int]], ngram_ids: Sequence[Sequence[Sequence[int]]]
) -> tuple[Any, Any, Any]:
    """Padded ``word_ids`` (batch, words), ``ngram_ids`` (batch, words, n) and ``word_mask``."""
    import torch

    batch = len(word_ids)
    words = max(1, max((len(w) for w in word_ids), default=1))
    grams = max(1, max((len(g) for sent in ngram_ids for g in sent), default=1))
    # padded Python lists, then one tensor each: per-word tensor calls would each
    # wait for the interpreter lock in a busy server
    no_grams = [0] * grams
    word_rows, gram_rows, mask_rows = [], [], []
    for ids, sentence in zip(word_ids, ngram_ids, strict=True):
        real = len(ids)
        word_rows.append(list(ids[:real]) + [0] * (words - real))
        mask_rows.append([True] * real + [False] * (words - real))
        padded = [list(g) + [0] * (grams - len(g)) for g in sentence[:real]]
        gram_rows.append(padded + [no_grams] * (words - len(padded)))
    word_tensor = torch.tensor(word_rows, dtype=torch.long).reshape(batch, words)
    gram_tensor = torch.tensor(gram_rows, dtype=torch.long).reshape(batch, words, grams)
    mask = torch.tensor(mask_rows, dtype=torch.bool).reshape(batch, words)
    return word_tensor, gram_tensor, mask


def drop_words(word_ids: Any, rate: float, rng: Any) -> Any:
    """``word_ids`` with each real word replaced by the unknown id with chance ``rate``.

    ``rng`` is a :class:`random.Random`, so training stays repeatable without
    drawing from torch's generator.
    """
    import torch

    if rate <= 0:
        return word_ids
    rows, cols = word_ids.shape
    keep = torch.tensor(
        [[rng.random() >= rate for _ in range(cols)] for _ in range(rows)], dtype=torch.bool
    ).reshape(rows, cols)
    return torch.where(keep | (word_ids == PAD_ID), word_ids, torch.full_like(word_ids, UNK_ID))
