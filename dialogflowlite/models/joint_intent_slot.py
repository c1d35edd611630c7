"""Joint intent classification and BIO slot tagging on top of a Transformer encoder.

The encoder (any module returning hidden states for ``input_ids`` and
``attention_mask``, e.g. a pretrained ``transformers`` model) reads sub-word
pieces. The intent head reads the first piece's state (or the mean of all
pieces); the slot head reads, for every word, the state of that word's first
piece (or the mean of the word's pieces). The heads (with optional extra features and CRF) are
:class:`~dialogflowlite.models.intent_slot_heads.IntentSlotHeads`.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from dialogflowlite.models.intent_slot_heads import IGNORE_INDEX, IntentSlotModel, JointOutput

__all__ = ["IGNORE_INDEX", "JointIntentSlotConfig", "JointIntentSlotModel", "JointOutput"]


@dataclass
class JointIntentSlotConfig:
    """Every hyperparameter of :class:`JointIntentSlotModel`."""

    hidden_size: int
    num_intents: int
    num_tags: int
    num_token_features: int = 0
    num_sentence_features: int = 0
    dropout: float = 0.1
    #: "cls" (first piece) or "mean" (mean of all pieces)
    pooling: str = "cls"
    #: "first" (the word's first piece) or "mean" (the mean of its pieces) for the slot head
    word_pooling: str = "first"
    use_crf: bool = False
    #: weight of the slot loss next to the intent loss
    slot_loss_weight: float = 1.0


class JointIntentSlotModel(IntentSlotModel):
    """An encoder with an intent head and a slot head (optionally with a CRF)."""

    def __init__(
        self,
        encoder: nn.Module,
        config: JointIntentSlotConfig,
        allowed_transitions: torch.Tensor | None = None,
    ) -> None:
        super().__init__()
        if config.pooling not in ("cls", "mean"):
            raise ValueError(f"pooling must be 'cls' or 'mean', not {config.pooling!r}")
        if config.word_pooling not in ("first", "mean"):
            raise ValueError(
                f"word_pooling must be 'first' or 'mean', not {config.word_pooling!r}")
        self.config = config
        self.encoder = encoder
        self._build_heads(config, allowed_transitions)

    def encode(self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None) -> torch.Tensor:
        """Hidden states (batch, pieces, hidden) of the encoder."""
        output = self.encoder(input_ids=input_ids, attention_mask=attention_mask)
        return output.last_hidden_state if hasattr(output, "last_hidden_state") else output[0]

    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor | None,
        word_index: torch.Tensor,
        token_features: torch.Tensor | None = None,
        sentence_features: torch.Tensor | None = None,
        word_end: torch.Tensor | None = None,
    ) -> JointOutput:
        """Logits for one batch.

        ``word_index`` (batch, words) holds each word's first piece position
        (padding words may point anywhere, e.g. 0); ``token_features`` is
        (batch, words, F_token), ``sentence_features`` (batch, F_sentence).
        ``word_end`` (batch, words), the position after each word's last
        piece, is needed for ``word_pooling: mean``.
        """
        hidden = self.encode(input_ids, attention_mask)
        if self.config.pooling == "mean" and attention_mask is not None:
            weights = attention_mask.unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * weights).sum(1) / weights.sum(1).clamp(min=1.0)
        elif self.config.pooling == "mean":
            pooled = hidden.mean(1)
        else:
            pooled = hidden[:, 0]
        if self.config.word_pooling == "mean":
            if word_end is None:
                raise ValueError("word_pooling 'mean' needs word_end")
            words = mean_of_spans(hidden, word_index, word_end)
        else:
            index = word_index.clamp(min=0).unsqueeze(-1).expand(-1, -1, hidden.size(-1))
            words = torch.gather(hidden, 1, index)
        return self.heads(pooled, words, token_features, sentence_features)



def mean_of_spans(hidden: torch.Tensor, start: torch.Tensor, end: torch.Tensor) -> torch.Tensor:
    """The mean of ``hidden`` (batch, pieces, size) over each span [start, end) of pieces.

    ``start`` and ``end`` are (batch, spans); an empty span reads the one piece
    at ``start``. Sums come from one running sum, so any number of spans costs
    two gathers.
    """
    start = start.clamp(min=0)
    end = torch.maximum(end, start + 1).clamp(max=hidden.shape[1])
    start = torch.minimum(start, end - 1)
    running = torch.cat([hidden.new_zeros(hidden.shape[0], 1, hidden.shape[2]),
                         hidden.cumsum(1)], 1)
    size = hidden.shape[2]
    total = (torch.gather(running, 1, end.unsqueeze(-1).expand(-1, -1, size))
             - torch.gather(running, 1, start.unsqueeze(-1).expand(-1, -1, size)))
    return total / (end - start).unsqueeze(-1).to(hidden.dtype)
