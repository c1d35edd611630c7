"""What every tokenizer shares: tokens with exact character offsets on each message.

A tokenizer fills ``message.tokens`` (word level, ``end`` exclusive) and, on
training examples, makes sure no annotated entity starts or ends inside a
token: such a token is cut at the entity boundary, so an entity span always
maps onto whole tokens and is never dropped or shifted by the word-level
taggers that come later.
"""

from __future__ import annotations

from collections.abc import Iterable
from itertools import pairwise
from typing import Any, ClassVar

from dialogflowlite.components.base import NluComponent
from dialogflowlite.shared.message import Message, Token
from dialogflowlite.shared.training_data import TrainingData

#: keys every tokenizer accepts (Rasa's names and meaning)
TOKENIZER_DEFAULTS: dict[str, Any] = {
    # split intent names like ``inform+affirm`` into parts for multi-intent models
    "intent_tokenization_flag": False,
    "intent_split_symbol": "_",
}


class Tokenizer(NluComponent):
    """Base class of tokenizers: subclasses implement :meth:`tokenize`."""

    kind = "tokenizer"
    provides = ("tokens",)
    defaults: ClassVar[dict[str, Any]] = dict(TOKENIZER_DEFAULTS)
    setting_kinds: ClassVar[dict[str, type]] = {"intent_split_symbol": str}

    def tokenize(self, text: str) -> list[Token]:
        """Split ``text`` into tokens whose offsets index ``text`` exactly."""
        raise NotImplementedError

    def tokenize_batch(self, texts: list[str]) -> list[list[Token]]:
        """Tokenize several texts (subclasses with a faster batched path override this)."""
        return [self.tokenize(text) for text in texts]

    def intent_tokens(self, intent: str) -> list[str]:
        """The parts of an intent name (the whole name unless intent tokenization is on)."""
        if not self.config.get("intent_tokenization_flag"):
            return [intent]
        symbol = self.config.get("intent_split_symbol") or "_"
        return [part for part in intent.split(symbol) if part] or [intent]

    def process(self, messages: list[Message]) -> None:
        for message, tokens in zip(
            messages, self.tokenize_batch([m.text for m in messages]), strict=True
        ):
            message.tokens = tokens

    def process_training_data(self, training_data: TrainingData) -> None:
        examples = training_data.examples
        for message, tokens in zip(
            examples, self.tokenize_batch([m.text for m in examples]), strict=True
        ):
            cuts = {offset for e in message.entities for offset in (e.start, e.end)}
            message.tokens = split_tokens_at(message.text, tokens, cuts)
            if message.intent:
                message.features["intent_tokens"] = self.intent_tokens(message.intent)


def split_tokens_at(text: str, tokens: list[Token], cuts: Iterable[int]) -> list[Token]:
    """Cut every token that contains one of the offsets ``cuts`` strictly inside it.

    The pieces keep exact offsets; a piece loses the lemma of the whole token.
    """
    cuts = sorted(set(cuts))
    if not cuts:
        return tokens
    result: list[Token] = []
    for token in tokens:
        inside = [c for c in cuts if token.start < c < token.end]
        if not inside:
            result.append(token)
            continue
        bounds = [token.start, *inside, token.end]
        for start, end in pairwise(bounds):
            result.append(Token(text[start:end], start, end))
    return result
