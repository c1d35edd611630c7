"""A Transformer encoder-decoder with attention, for generating replies from scratch.

Pre-norm layers, learned positions, one shared vocabulary whose embedding is
tied to the output projection. The decoder keeps a cache of keys and values,
so generating token by token costs one position per step.

With ``copy_attention`` the model is a pointer-generator: each reply token is
drawn from a mix of the vocabulary's distribution and an attention over the
source tokens, so a word of the input (a slot name of a service never seen in
training, a placeholder) can be written by pointing at it.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn


@dataclass
class Seq2SeqConfig:
    """Every hyperparameter of :class:`Seq2SeqTransformer`, with its default."""

    vocab_size: int
    hidden_size: int = 256
    encoder_layers: int = 3
    decoder_layers: int = 3
    heads: int = 4
    ff_size: int = 1024
    dropout: float = 0.1
    max_positions: int = 512
    pad_id: int = 0
    tie_embeddings: bool = True
    #: width of precomputed source states (a pretrained encoder's) read instead of
    #: source token ids; 0: the source is token ids of the shared vocabulary
    source_state_size: int = 0
    #: mix a pointer over the source tokens into every output distribution
    #: (needs source token ids, so not with ``source_state_size``)
    copy_attention: bool = False

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Seq2SeqConfig:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


#: per decoder layer: self-attention keys and values so far, cross-attention keys and values
LayerCache = dict[str, torch.Tensor]


class MultiHeadAttention(nn.Module):
    """Scaled dot-product attention over several heads.

    Self-attention projects queries, keys and values in one matrix product;
    cross-attention projects the (fixed) memory's keys and values once, so a
    decoder step only projects its query.
    """

    def __init__(self, hidden: int, heads: int, dropout: float, *, cross: bool = False) -> None:
        super().__init__()
        if hidden % heads:
            raise ValueError(f"hidden size {hidden} is not divisible by {heads} heads")
        self.heads = heads
        self.head_size = hidden // heads
        self.cross = cross
        if cross:
            self.query = nn.Linear(hidden, hidden)
            self.key_value = nn.Linear(hidden, 2 * hidden)
        else:
            self.query_key_value = nn.Linear(hidden, 3 * hidden)
        self.out = nn.Linear(hidden, hidden)
        self.dropout = dropout

    def _split(self, x: torch.Tensor) -> torch.Tensor:
        batch, length, _ = x.shape
        return x.view(batch, length, self.heads, self.head_size).transpose(1, 2)

    def project(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Queries, keys and values of ``x`` attending to itself, split into heads."""
        query, key, value = self.query_key_value(x).chunk(3, dim=-1)
        return self._split(query), self._split(key), self._split(value)

    def project_query(self, x: torch.Tensor) -> torch.Tensor:
        return self._split(self.query(x))

    def project_memory(self, memory: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        key, value = self.key_value(memory).chunk(2, dim=-1)
        return self._split(key), self._split(value)

    def attend(self, query: torch.Tensor, keys: torch.Tensor, values: torch.Tensor,
               mask: torch.Tensor | None) -> torch.Tensor:
        """Attend from ``query`` over ``keys``/``values``; ``mask`` True = may attend.

        Keys, values and mask with batch size 1 are shared by every query row
        (all beams of one source).
        """
        batch = query.shape[0]
        if keys.shape[0] != batch:
            keys = keys.expand(batch, -1, -1, -1)
            values = values.expand(batch, -1, -1, -1)
        if mask is not None and mask.dim() == 4 and mask.shape[0] != batch:
            mask = mask.expand(batch, -1, -1, -1)
        attended = F.scaled_dot_product_attention(
            query, keys, values, attn_mask=mask,
            dropout_p=self.dropout if self.training else 0.0)
        _, _, length, _ = attended.shape
        return self.out(attended.transpose(1, 2).reshape(batch, length, -1))


class FeedForward(nn.Module):
    def __init__(self, hidden: int, ff_size: int, dropout: float) -> None:
        super().__init__()
        self.inner = nn.Linear(hidden, ff_size)
        self.outer = nn.Linear(ff_size, hidden)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.outer(self.dropout(F.gelu(self.inner(x))))


class EncoderLayer(nn.Module):
    def __init__(self, config: Seq2SeqConfig) -> None:
        super().__init__()
        self.attention_norm = nn.LayerNorm(config.hidden_size)
        self.attention = MultiHeadAttention(config.hidden_size, config.heads, config.dropout)
        self.ff_norm = nn.LayerNorm(config.hidden_size)
        self.ff = FeedForward(config.hidden_size, config.ff_size, config.dropout)
        self.dropout = nn.Dropout(config.dropout)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        query, keys, values = self.attention.project(self.attention_norm(x))
        x = x + self.dropout(self.attention.attend(query, keys, values, mask))
        return x + self.dropout(self.ff(self.ff_norm(x)))


class DecoderLayer(nn.Module):
    def __init__(self, config: Seq2SeqConfig) -> None:
        super().__init__()
        self.self_norm = nn.LayerNorm(config.hidden_size)
        self.self_attention = MultiHeadAttention(config.hidden_size, config.heads, config.dropout)
        self.cross_norm = nn.LayerNorm(config.hidden_size)
        self.cross_attention = MultiHeadAttention(
            config.hidden_size, config.heads, config.dropout, cross=True
        )
        self.ff_norm = nn.LayerNorm(config.hidden_size)
        self.ff = FeedForward(config.hidden_size, config.ff_size, config.dropout)
        self.dropout = nn.Dropout(config.dropout)

    def forward(
        self,
        x: torch.Tensor,
        memory: torch.Tensor,
        self_mask: torch.Tensor | None,
        memory_mask: torch.Tensor,
        cache: LayerCache | None = None,
    ) -> torch.Tensor:
        query, keys, values = self.self_attention.project(self.self_norm(x))
        if cache is not None:
            if "self_keys" in cache:
                keys = torch.cat([cache["self_keys"], keys], dim=2)
                values = torch.cat([cache["self_values"], values], dim=2)
            cache["self_keys"], cache["self_values"] = keys, values
        x = x + self.dropout(self.self_attention.attend(query, keys, values, self_mask))
        if cache is not None and "cross_keys" in cache:
            cross_keys, cross_values = cache["cross_keys"], cache["cross_values"]
        else:
            cross_keys, cross_values = self.cross_attention.project_memory(memory)
            if cache is not None:
                cache["cross_keys"], cache["cross_values"] = cross_keys, cross_values
        query = self.cross_attention.project_query(self.cross_norm(x))
        x = x + self.dropout(
            self.cross_attention.attend(query, cross_keys, cross_values, memory_mask)
        )
        return x + self.dropout(self.ff(self.ff_norm(x)))


class Seq2SeqTransformer(nn.Module):
    """Encoder-decoder Transformer: source token ids -> next-token logits of the target."""

    def __init__(self, config: Seq2SeqConfig) -> None:
        super().__init__()
        self.config = config
        hidden = config.hidden_size
        self.embed = nn.Embedding(config.vocab_size, hidden, padding_idx=config.pad_id)
        self.positions = nn.Embedding(config.max_positions, hidden)
        self.scale = math.sqrt(hidden)
        self.dropout = nn.Dropout(config.dropout)
        if config.source_state_size:
            self.source_projection = nn.Linear(config.source_state_size, hidden)
        if config.copy_attention:
            if config.source_state_size:
                raise ValueError("copy_attention points at source token ids, "
                                 "so it cannot read precomputed source states")
            self.copy_query = nn.Linear(hidden, hidden)
            self.copy_gate = nn.Linear(2 * hidden, 1)
        self.encoder = nn.ModuleList(EncoderLayer(config) for _ in range(config.encoder_layers))
        self.encoder_norm = nn.LayerNorm(hidden)
        self.decoder = nn.ModuleList(DecoderLayer(config) for _ in range(config.decoder_layers))
        self.decoder_norm = nn.LayerNorm(hidden)
        self.lm_head = nn.Linear(hidden, config.vocab_size, bias=False)
        if config.tie_embeddings:
            self.lm_head.weight = self.embed.weight
        self.apply(self._init_weights)

    @staticmethod
    def _init_weights(module: nn.Module) -> None:
        if isinstance(module, nn.Linear):
            nn.init.normal_(module.weight, std=0.02)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.Embedding):
            nn.init.normal_(module.weight, std=0.02)
            if module.padding_idx is not None:
                with torch.no_grad():
                    module.weight[module.padding_idx].zero_()

    def _embed(self, ids: torch.Tensor, start: int = 0) -> torch.Tensor:
        length = ids.shape[1]
        if start + length > self.config.max_positions:
            raise ValueError(
                f"sequence of {start + length} tokens is longer than "
                f"max_positions={self.config.max_positions}"
            )
        positions = torch.arange(start, start + length, device=ids.device)
        return self.dropout(self.embed(ids) * self.scale + self.positions(positions))

    def source_mask(self, source_ids: torch.Tensor) -> torch.Tensor:
        """Attention mask over the source: (batch, 1, 1, source_length), True = real token."""
        return (source_ids != self.config.pad_id)[:, None, None, :]

    def encode(self, source_ids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Encode (batch, source_length) ids; returns the memory and its mask."""
        mask = self.source_mask(source_ids)
        return self._encode_layers(self._embed(source_ids), mask), mask

    def encode_states(self, states: torch.Tensor,
                      keep: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Encode precomputed source states (batch, source_length, source_state_size);
        ``keep`` (batch, source_length) marks the real positions. Returns the memory
        and its mask."""
        mask = keep[:, None, None, :]
        x = self.dropout(self.source_projection(states))
        return self._encode_layers(x, mask), mask

    def _encode_layers(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        for layer in self.encoder:
            x = layer(x, mask)
        return self.encoder_norm(x)

    def decode(
        self,
        target_ids: torch.Tensor,
        memory: torch.Tensor,
        memory_mask: torch.Tensor,
        cache: list[LayerCache] | None = None,
        start: int = 0,
        source_ids: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Logits (batch, target_length, vocab) for every target position.

        With ``cache`` (one dict per layer, filled as it goes) only the new
        positions are passed, starting at position ``start``. With
        ``copy_attention`` the result is log-probabilities (logits that are
        already normalised), and ``source_ids`` (the memory's token ids) is
        required.
        """
        length = target_ids.shape[1]
        if cache is None or length > 1:
            total = start + length
            causal = torch.ones(length, total, dtype=torch.bool, device=target_ids.device)
            self_mask: torch.Tensor | None = torch.tril(causal, diagonal=start)
        else:
            self_mask = None  # one new position may attend to everything before it
        x = self._embed(target_ids, start)
        for index, layer in enumerate(self.decoder):
            x = layer(x, memory, self_mask, memory_mask, None if cache is None else cache[index])
        states = self.decoder_norm(x)
        logits = self.lm_head(states)
        if not self.config.copy_attention:
            return logits
        if source_ids is None:
            raise ValueError("a model with copy_attention needs the source ids to decode")
        return self._mix_copy(states, logits, memory, memory_mask, source_ids)

    def _mix_copy(self, states: torch.Tensor, logits: torch.Tensor, memory: torch.Tensor,
                  memory_mask: torch.Tensor, source_ids: torch.Tensor) -> torch.Tensor:
        """Log of ``gate * softmax(logits) + (1 - gate) * attention over the source ids``.

        ``memory``, ``memory_mask`` and ``source_ids`` may have batch size 1
        for a batch of several rows (the beams of one source).
        """
        scores = torch.matmul(self.copy_query(states), memory.transpose(1, 2)) / self.scale
        scores = scores.masked_fill(~memory_mask[:, 0], float("-inf"))
        attention = scores.float().softmax(-1)  # (batch, target, source)
        context = torch.matmul(attention.to(memory.dtype), memory)
        gate = torch.sigmoid(self.copy_gate(torch.cat([states, context], -1))).float()
        batch, length, _ = attention.shape
        index = source_ids.unsqueeze(1).expand(batch, length, -1)
        probs = (logits.float().softmax(-1) * gate).scatter_add(-1, index, attention * (1 - gate))
        # the floor keeps a token that neither part gives any weight finite
        return probs.clamp_min(1e-20).log()

    def forward(self, source: torch.Tensor, target_ids: torch.Tensor,
                source_keep: torch.Tensor | None = None) -> torch.Tensor:
        """Teacher-forced logits: ``target_ids`` starts with BOS and is shifted by the caller.

        ``source`` is token ids, or precomputed states with their ``source_keep`` mask.
        """
        if source_keep is not None:
            memory, mask = self.encode_states(source, source_keep)
            return self.decode(target_ids, memory, mask)
        memory, mask = self.encode(source)
        return self.decode(target_ids, memory, mask, source_ids=source)

    def new_cache(self) -> list[LayerCache]:
        return [{} for _ in self.decoder]

    @staticmethod
    def reorder_cache(cache: list[LayerCache], index: torch.Tensor) -> list[LayerCache]:
        """Select rows of the cached tensors (beam search keeps the surviving beams).

        Cross-attention keys and values of a single source (batch size 1) are
        shared by all rows and stay as they are.
        """
        return [{k: v if v.shape[0] == 1 and k.startswith("cross") else v.index_select(0, index)
                 for k, v in layer.items()} for layer in cache]

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())
