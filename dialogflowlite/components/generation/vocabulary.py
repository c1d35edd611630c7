"""The generator's vocabulary: byte-level BPE learnt from the training texts.

Byte-level pieces mean no character is ever unknown and decoding gives back
the exact text, spaces and case included (BLEU is computed on that text).
Placeholders (``[city]``) and the input's structural tokens are whole tokens
of their own. The vocabulary is stored as the ``tokenizers`` JSON, so a model
file holds no code.
"""

from __future__ import annotations

from collections.abc import Iterable

from dialogflowlite.components.generation.delex import (
    BOT_TOKEN,
    INTENT_TOKEN,
    SLOTS_TOKEN,
    USER_TOKEN,
)

PAD, BOS, EOS, UNK = "<pad>", "<s>", "</s>", "<unk>"
SPECIAL_TOKENS = (PAD, BOS, EOS, UNK, INTENT_TOKEN, SLOTS_TOKEN, USER_TOKEN, BOT_TOKEN)


class SubwordVocabulary:
    """Text <-> token ids for the from-scratch generator."""

    def __init__(self, tokenizer) -> None:  # a tokenizers.Tokenizer
        self.tokenizer = tokenizer
        self.pad_id = tokenizer.token_to_id(PAD)
        self.bos_id = tokenizer.token_to_id(BOS)
        self.eos_id = tokenizer.token_to_id(EOS)

    @classmethod
    def train(cls, texts: Iterable[str], *, vocab_size: int = 4000,
              placeholders: Iterable[str] = (), min_frequency: int = 2) -> SubwordVocabulary:
        """Learn BPE merges from ``texts``; ``placeholders`` become single tokens."""
        from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers, trainers

        tokenizer = Tokenizer(models.BPE())
        tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
        tokenizer.decoder = decoders.ByteLevel()
        trainer = trainers.BpeTrainer(
            vocab_size=vocab_size, min_frequency=min_frequency, show_progress=False,
            special_tokens=list(SPECIAL_TOKENS),
            initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
        tokenizer.train_from_iterator(texts, trainer)
        # added after training, so the merges never see them split
        tokenizer.add_tokens([AddedToken(p, normalized=False, single_word=False)
                              for p in dict.fromkeys(placeholders)])
        return cls(tokenizer)

    @property
    def banned_ids(self) -> list[int]:
        """Tokens a reply never contains: the special tokens except end-of-reply."""
        ids = [self.tokenizer.token_to_id(t) for t in SPECIAL_TOKENS if t != EOS]
        return [i for i in ids if i is not None]

    @property
    def size(self) -> int:
        return self.tokenizer.get_vocab_size()

    def encode(self, text: str, max_length: int | None = None, *,
               keep_end: bool = False) -> list[int]:
        """Token ids of ``text`` (no BOS/EOS), cut to ``max_length``.

        ``keep_end`` keeps the last tokens instead of the first (for inputs
        whose latest turns matter most).
        """
        ids = self.tokenizer.encode(text).ids
        if max_length is not None and len(ids) > max_length:
            ids = ids[-max_length:] if keep_end else ids[:max_length]
        return ids

    def decode(self, ids: Iterable[int]) -> str:
        special = {self.pad_id, self.bos_id, self.eos_id}
        return self.tokenizer.decode([i for i in ids if i not in special],
                                     skip_special_tokens=False)

    def to_json(self) -> str:
        return self.tokenizer.to_str()

    @classmethod
    def from_json(cls, text: str) -> SubwordVocabulary:
        from tokenizers import Tokenizer

        return cls(Tokenizer.from_str(text))
