"""Scores over the response keys of retrieval intents (``faq/ask_price``, ...).

A sentence vector comes either from a pretrained encoder (the mean of its
hidden states over real pieces, as sentence-transformers models are trained
to be read) or from a :class:`~dialogflowlite.models.scratch_transformer.ScratchEncoder`
(its CLS state). A small feed-forward head maps it to one score per response
key.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from dialogflowlite.models.scratch_transformer import ScratchEncoder


@dataclass
class ResponseSelectorConfig:
    """Every hyperparameter of :class:`ResponseSelectorModel` besides its encoder."""

    hidden_size: int
    num_responses: int
    #: size of the head's hidden layer (0: a single linear layer)
    head_size: int = 256
    dropout: float = 0.1


class ResponseSelectorModel(nn.Module):
    """An encoder (pretrained or from scratch) and a head scoring each response key."""

    def __init__(self, encoder: nn.Module, config: ResponseSelectorConfig) -> None:
        super().__init__()
        self.config = config
        self.encoder = encoder
        if config.head_size:
            self.head = nn.Sequential(
                nn.Dropout(config.dropout),
                nn.Linear(config.hidden_size, config.head_size),
                nn.GELU(),
                nn.Dropout(config.dropout),
                nn.Linear(config.head_size, config.num_responses),
            )
        else:
            self.head = nn.Sequential(
                nn.Dropout(config.dropout), nn.Linear(config.hidden_size, config.num_responses)
            )

    def sentence_vectors(self, **inputs: torch.Tensor) -> torch.Tensor:
        """(batch, hidden) sentence vectors from either kind of encoder."""
        if isinstance(self.encoder, ScratchEncoder):
            states = self.encoder(inputs["word_ids"], inputs["ngram_ids"], inputs["word_mask"])
            return states[:, 0]
        mask = inputs.get("attention_mask")
        output = self.encoder(input_ids=inputs["input_ids"], attention_mask=mask)
        hidden = output.last_hidden_state if hasattr(output, "last_hidden_state") else output[0]
        if mask is None:
            return hidden.mean(1)
        weights = mask.unsqueeze(-1).to(hidden.dtype)
        return (hidden * weights).sum(1) / weights.sum(1).clamp(min=1.0)

    def forward(self, **inputs: torch.Tensor) -> torch.Tensor:
        """Scores (batch, responses)."""
        return self.head(self.sentence_vectors(**inputs))
