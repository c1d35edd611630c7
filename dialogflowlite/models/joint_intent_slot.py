"""Joint intent classification and BIO slot tagging on top of a Transformer encoder.

The encoder (any module returning hidden states for ``input_ids`` and
``attention_mask``, e.g. a pretrained ``transformers`` model) reads sub-word
pieces. The intent head reads the first piece's state (or the mean of all
pieces); the slot head reads, for every word, the state of that word's first
piece. Word-level extra features (regex and lookup matches) are concatenated
to the word states, sentence-level ones to the pooled state. Slot tags come
from a softmax per word or, with ``use_crf``, from a CRF over the word
sequence.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from dialogflowlite.models.crf import ConditionalRandomField

IGNORE_INDEX = -100


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
    use_crf: bool = False
    #: weight of the slot loss next to the intent loss
    slot_loss_weight: float = 1.0


@dataclass
class JointOutput:
    """Intent logits (batch, intents) and slot emissions (batch, words, tags)."""

    intent_logits: torch.Tensor
    tag_logits: torch.Tensor


class JointIntentSlotModel(nn.Module):
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
        self.config = config
        self.encoder = encoder
        self.dropout = nn.Dropout(config.dropout)
        self.intent_head = nn.Linear(
            config.hidden_size + config.num_sentence_features, config.num_intents
        )
        self.slot_head = nn.Linear(config.hidden_size + config.num_token_features, config.num_tags)
        self.crf = (
            ConditionalRandomField(config.num_tags, allowed_transitions) if config.use_crf else None
        )

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
    ) -> JointOutput:
        """Logits for one batch.

        ``word_index`` (batch, words) holds each word's first piece position
        (padding words may point anywhere, e.g. 0); ``token_features`` is
        (batch, words, F_token), ``sentence_features`` (batch, F_sentence).
        """
        hidden = self.encode(input_ids, attention_mask)
        if self.config.pooling == "mean" and attention_mask is not None:
            weights = attention_mask.unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * weights).sum(1) / weights.sum(1).clamp(min=1.0)
        elif self.config.pooling == "mean":
            pooled = hidden.mean(1)
        else:
            pooled = hidden[:, 0]
        if self.config.num_sentence_features:
            pooled = torch.cat(
                [
                    pooled,
                    _features(sentence_features, pooled, 1, self.config.num_sentence_features),
                ],
                -1,
            )
        index = word_index.clamp(min=0).unsqueeze(-1).expand(-1, -1, hidden.size(-1))
        words = torch.gather(hidden, 1, index)
        if self.config.num_token_features:
            words = torch.cat(
                [words, _features(token_features, words, 2, self.config.num_token_features)], -1
            )
        return JointOutput(
            self.intent_head(self.dropout(pooled)), self.slot_head(self.dropout(words))
        )

    def loss(
        self,
        output: JointOutput,
        intents: torch.Tensor | None,
        tags: torch.Tensor | None,
        word_mask: torch.Tensor,
    ) -> torch.Tensor:
        """Intent cross-entropy plus the weighted slot loss (CRF NLL or cross-entropy).

        ``tags`` (batch, words) uses :data:`IGNORE_INDEX` where there is no label.
        Either part may be None (intent-only or slot-only training).
        """
        total = output.intent_logits.new_zeros(())
        if intents is not None:
            total = total + F.cross_entropy(output.intent_logits, intents)
        if tags is not None:
            if self.crf is not None:
                slot = self.crf(output.tag_logits, tags, word_mask)
            else:
                slot = F.cross_entropy(
                    output.tag_logits.flatten(0, 1), tags.flatten(), ignore_index=IGNORE_INDEX
                )
            total = total + self.config.slot_loss_weight * slot
        return total

    @torch.no_grad()
    def decode_tags(
        self, output: JointOutput, word_mask: torch.Tensor
    ) -> tuple[list[list[int]], list[list[float]]]:
        """Best tag per word, and the softmax probability of that tag, for each sequence."""
        probs = output.tag_logits.float().softmax(-1)
        lengths = word_mask.sum(1).tolist()
        if self.crf is not None:
            paths = self.crf.decode(output.tag_logits.float(), word_mask)
        else:
            best = probs.argmax(-1).tolist()
            paths = [row[: int(n)] for row, n in zip(best, lengths, strict=True)]
        confidences = []
        for b, path in enumerate(paths):
            if not path:
                confidences.append([])
                continue
            chosen = probs[b, torch.arange(len(path)), torch.tensor(path)]
            confidences.append(chosen.tolist())
        return paths, confidences


def _features(
    features: torch.Tensor | None, like: torch.Tensor, dims: int, width: int
) -> torch.Tensor:
    """``features`` as the dtype of ``like``, or zeros when a message has none."""
    if features is None:
        return like.new_zeros((*like.shape[:dims], width))
    return features.to(like.dtype)
