"""Intent and slot heads shared by the joint intent + slot models.

Given a pooled sentence state and one state per word (from any encoder), the
intent head gives intent logits and the slot head BIO tag emissions, with
word-level and sentence-level extra features (regex and lookup matches)
concatenated first. Slot tags come from a softmax per word or, with
``use_crf``, from a CRF over the word sequence.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from dialogflowlite.models.crf import FORBIDDEN_SCORE, ConditionalRandomField

IGNORE_INDEX = -100


@dataclass
class JointOutput:
    """Intent logits (batch, intents) and slot emissions (batch, words, tags)."""

    intent_logits: torch.Tensor
    tag_logits: torch.Tensor


class IntentSlotHeads(nn.Module):
    """Dropout and a linear layer per task, an optional CRF, and their losses."""

    def __init__(
        self,
        hidden_size: int,
        num_intents: int,
        num_tags: int,
        *,
        num_token_features: int = 0,
        num_sentence_features: int = 0,
        dropout: float = 0.1,
        use_crf: bool = False,
        slot_loss_weight: float = 1.0,
        allowed_transitions: torch.Tensor | None = None,
    ) -> None:
        super().__init__()
        self.num_token_features = num_token_features
        self.num_sentence_features = num_sentence_features
        self.slot_loss_weight = slot_loss_weight
        self.dropout = nn.Dropout(dropout)
        self.intent_head = nn.Linear(hidden_size + num_sentence_features, num_intents)
        self.slot_head = nn.Linear(hidden_size + num_token_features, num_tags)
        self.crf = ConditionalRandomField(num_tags, allowed_transitions) if use_crf else None

    def forward(
        self,
        pooled: torch.Tensor,
        words: torch.Tensor,
        token_features: torch.Tensor | None = None,
        sentence_features: torch.Tensor | None = None,
    ) -> JointOutput:
        """Logits from pooled (batch, hidden) and word (batch, words, hidden) states."""
        if self.num_sentence_features:
            extra = _features(sentence_features, pooled, 1, self.num_sentence_features)
            pooled = torch.cat([pooled, extra], -1)
        if self.num_token_features:
            extra = _features(token_features, words, 2, self.num_token_features)
            words = torch.cat([words, extra], -1)
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
            total = total + self.slot_loss_weight * slot
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
        # the chosen tags' probabilities in one gather (a few tensor calls per
        # batch, not per sequence: each call waits for the interpreter lock in a server)
        width = probs.shape[1]
        chosen = torch.tensor([path + [0] * (width - len(path)) for path in paths],
                              dtype=torch.long, device=probs.device).reshape(len(paths), width)
        picked = probs.gather(-1, chosen.unsqueeze(-1)).squeeze(-1).tolist()
        confidences = [row[: len(path)] for row, path in zip(picked, paths, strict=True)]
        return paths, confidences


def restrict_tags(output: JointOutput, tags_by_intent: torch.Tensor) -> JointOutput:
    """``output`` with the tags its predicted intents do not allow ruled out.

    ``tags_by_intent`` (intents, tags) is True where the intent's training
    examples carry the tag's entity (and for ``O``). Ruled-out tags get the
    score the CRF gives forbidden transitions (finite, as a CRF adds scores
    up), so a softmax or CRF picks among the allowed ones.
    """
    allowed = tags_by_intent.to(output.tag_logits.device)[output.intent_logits.argmax(-1)]
    logits = output.tag_logits.masked_fill(~allowed.unsqueeze(1), FORBIDDEN_SCORE)
    return JointOutput(output.intent_logits, logits)


def _features(
    features: torch.Tensor | None, like: torch.Tensor, dims: int, width: int
) -> torch.Tensor:
    """``features`` as the dtype of ``like``, or zeros when a message has none."""
    if features is None:
        return like.new_zeros((*like.shape[:dims], width))
    return features.to(like.dtype)


class IntentSlotModel(nn.Module):
    """Base of the joint models: the subclass's encoder feeds :class:`IntentSlotHeads`.

    The heads are built from the config's sizes (``hidden_size``,
    ``num_intents``, ``num_tags``, ``num_token_features``,
    ``num_sentence_features``, ``dropout``, ``use_crf``,
    ``slot_loss_weight``); the loss and the tag decoding are theirs.
    """

    heads: IntentSlotHeads

    def _build_heads(self, config: Any, allowed_transitions: torch.Tensor | None) -> None:
        self.heads = IntentSlotHeads(
            config.hidden_size,
            config.num_intents,
            config.num_tags,
            num_token_features=config.num_token_features,
            num_sentence_features=config.num_sentence_features,
            dropout=config.dropout,
            use_crf=config.use_crf,
            slot_loss_weight=config.slot_loss_weight,
            allowed_transitions=allowed_transitions,
        )

    @property
    def crf(self) -> nn.Module | None:
        return self.heads.crf

    def loss(
        self,
        output: JointOutput,
        intents: torch.Tensor | None,
        tags: torch.Tensor | None,
        word_mask: torch.Tensor,
    ) -> torch.Tensor:
        """See :meth:`IntentSlotHeads.loss`."""
        return self.heads.loss(output, intents, tags, word_mask)

    def decode_tags(
        self, output: JointOutput, word_mask: torch.Tensor
    ) -> tuple[list[list[int]], list[list[float]]]:
        """See :meth:`IntentSlotHeads.decode_tags`."""
        return self.heads.decode_tags(output, word_mask)
