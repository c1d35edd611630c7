"""A small Transformer over a window of dialogue states that scores the next action.

Input: ``[batch, history, features]`` state vectors (left-padded windows,
the latest state last) and a mask of the real rows. Each state is projected
to the hidden size and gets an embedding of its age (0 for the latest
state), so windows of any length line up. Pre-norm Transformer blocks with
causal self-attention (a state sees itself and earlier states; padding is
never attended to) follow, and the latest state's output is scored against
every action.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn


@dataclass
class DialogueTransformerConfig:
    """Every hyperparameter of :class:`DialogueTransformer`, with its default."""

    num_features: int
    num_actions: int
    max_history: int = 5
    hidden_size: int = 64
    num_layers: int = 1
    num_heads: int = 4
    intermediate_size: int = 128
    dropout: float = 0.1

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class _Block(nn.Module):
    """Pre-norm self-attention and feed-forward, each with a residual connection."""

    def __init__(self, config: DialogueTransformerConfig) -> None:
        super().__init__()
        if config.hidden_size % config.num_heads:
            raise ValueError("hidden_size must be a multiple of num_heads")
        self.num_heads = config.num_heads
        self.dropout = config.dropout
        self.attention_norm = nn.LayerNorm(config.hidden_size)
        self.qkv = nn.Linear(config.hidden_size, 3 * config.hidden_size)
        self.out = nn.Linear(config.hidden_size, config.hidden_size)
        self.feed_forward_norm = nn.LayerNorm(config.hidden_size)
        self.feed_forward = nn.Sequential(
            nn.Linear(config.hidden_size, config.intermediate_size),
            nn.GELU(),
            nn.Linear(config.intermediate_size, config.hidden_size),
        )
        self.residual_dropout = nn.Dropout(config.dropout)

    def forward(self, hidden: torch.Tensor, allowed: torch.Tensor) -> torch.Tensor:
        batch, length, size = hidden.shape
        q, k, v = self.qkv(self.attention_norm(hidden)).chunk(3, dim=-1)

        def heads(x: torch.Tensor) -> torch.Tensor:
            return x.view(batch, length, self.num_heads, size // self.num_heads).transpose(1, 2)

        attended = F.scaled_dot_product_attention(
            heads(q),
            heads(k),
            heads(v),
            attn_mask=allowed,
            dropout_p=self.dropout if self.training else 0.0,
        )
        attended = attended.transpose(1, 2).reshape(batch, length, size)
        hidden = hidden + self.residual_dropout(self.out(attended))
        return hidden + self.residual_dropout(self.feed_forward(self.feed_forward_norm(hidden)))


class DialogueTransformer(nn.Module):
    """Scores the next action after a window of dialogue states."""

    def __init__(self, config: DialogueTransformerConfig) -> None:
        super().__init__()
        self.config = config
        self.input = nn.Linear(config.num_features, config.hidden_size)
        self.age = nn.Embedding(config.max_history, config.hidden_size)
        self.input_dropout = nn.Dropout(config.dropout)
        self.blocks = nn.ModuleList(_Block(config) for _ in range(config.num_layers))
        self.norm = nn.LayerNorm(config.hidden_size)
        self.classifier = nn.Linear(config.hidden_size, config.num_actions)

    def forward(self, features: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Action logits ``[batch, actions]`` for windows ``[batch, history, features]``."""
        length = features.size(1)
        if length > self.config.max_history:
            raise ValueError(f"windows hold at most {self.config.max_history} states")
        ages = torch.arange(length - 1, -1, -1, device=features.device)
        hidden = self.input_dropout(self.input(features) + self.age(ages))
        positions = torch.arange(length, device=features.device)
        causal = positions[None, :] <= positions[:, None]
        # a padded row still attends to itself, so no row is left without keys
        allowed = causal & (
            mask[:, None, :] | torch.eye(length, dtype=torch.bool, device=features.device)
        )
        allowed = allowed[:, None]
        for block in self.blocks:
            hidden = block(hidden, allowed)
        return self.classifier(self.norm(hidden[:, -1]))
