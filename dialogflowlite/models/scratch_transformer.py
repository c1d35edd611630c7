"""A small Transformer for intents and slots, trained from scratch (DIET-like).

Each word is represented by the sum of a word embedding, the mean of its
character n-gram embeddings (so unseen words that look like known ones still
mean something, in any language) and a projection of its extra features
(regex and lookup matches). A learned ``CLS`` vector is prepended; a
convolution over neighbouring words adds local context, and a Transformer
encoder with learned positions mixes the sequence. The ``CLS``
state feeds the intent head, each word's state the slot head
(:class:`~dialogflowlite.models.intent_slot_heads.IntentSlotHeads`, optional
CRF).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from dialogflowlite.models.intent_slot_heads import IntentSlotModel, JointOutput
from dialogflowlite.models.tracing import TraceCache

PAD_ID = 0
UNK_ID = 1


@dataclass
class ScratchTransformerConfig:
    """Every hyperparameter of :class:`ScratchTransformerModel`."""

    word_vocab_size: int
    ngram_vocab_size: int
    num_intents: int
    num_tags: int
    num_token_features: int = 0
    num_sentence_features: int = 0
    hidden_size: int = 128
    num_layers: int = 2
    num_heads: int = 4
    ff_size: int = 512
    dropout: float = 0.1
    #: words per message, including the CLS position
    max_positions: int = 128
    #: width of a convolution over neighbouring words before the Transformer (0: none)
    conv_kernel: int = 3
    use_crf: bool = True
    slot_loss_weight: float = 1.0


class ScratchEncoder(nn.Module):
    """Word + character n-gram + feature embeddings -> Transformer states (CLS first).

    A loaded model that only predicts calls :meth:`trace_inference`: its
    passes without gradients then run as TorchScript traces (see
    :mod:`dialogflowlite.models.tracing`); training always runs eagerly.
    """

    def __init__(self, config: ScratchTransformerConfig) -> None:
        super().__init__()
        size = config.hidden_size
        self.words = nn.Embedding(config.word_vocab_size, size, padding_idx=PAD_ID)
        self.ngrams = nn.Embedding(config.ngram_vocab_size, size, padding_idx=PAD_ID)
        self.features = (
            nn.Linear(config.num_token_features, size, bias=False)
            if config.num_token_features
            else None
        )
        self.cls = nn.Parameter(torch.zeros(size))
        self.positions = nn.Embedding(config.max_positions, size)
        self.norm = nn.LayerNorm(size)
        self.dropout = nn.Dropout(config.dropout)
        # local word-order features (n-gram-like) that attention alone learns slowly
        self.conv = (
            nn.Conv1d(size, size, config.conv_kernel, padding=config.conv_kernel // 2)
            if config.conv_kernel
            else None
        )
        layer = nn.TransformerEncoderLayer(
            size,
            config.num_heads,
            config.ff_size,
            config.dropout,
            activation="gelu",
            batch_first=True,
            norm_first=True,
        )
        self.layers = nn.TransformerEncoder(layer, config.num_layers, enable_nested_tensor=False)
        self.final_norm = nn.LayerNorm(size)
        nn.init.normal_(self.cls, std=0.02)
        self._traces = TraceCache(enabled=False)

    def trace_inference(self, enabled: bool = True) -> None:
        """Run passes without gradients as traces made on first use (or stop doing so)."""
        self._traces.enabled = enabled
        self._traces.clear()

    def forward(
        self,
        word_ids: torch.Tensor,
        ngram_ids: torch.Tensor,
        word_mask: torch.Tensor,
        token_features: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """States (batch, 1 + words, hidden); position 0 is CLS.

        ``word_ids`` (batch, words), ``ngram_ids`` (batch, words, n-grams,
        padded with 0), ``word_mask`` (batch, words), ``token_features``
        (batch, words, F).
        """
        if self.training or torch.is_grad_enabled() or not self._traces.enabled:
            return self._encode(word_ids, ngram_ids, word_mask, token_features)
        if self.features is None or token_features is None:
            return self._traces.run("words", self, self._encode, word_ids, ngram_ids, word_mask)
        return self._traces.run("features", self, self._encode, word_ids, ngram_ids, word_mask,
                                token_features)

    def _encode(
        self,
        word_ids: torch.Tensor,
        ngram_ids: torch.Tensor,
        word_mask: torch.Tensor,
        token_features: torch.Tensor | None = None,
    ) -> torch.Tensor:
        grams = self.ngrams(ngram_ids)
        counts = (ngram_ids != PAD_ID).sum(-1, keepdim=True).clamp(min=1)
        x = self.words(word_ids) + grams.sum(2) / counts
        if self.features is not None and token_features is not None:
            x = x + self.features(token_features.to(x.dtype))
        cls = self.cls.expand(x.size(0), 1, -1)
        x = torch.cat([cls, x], 1)
        x = x + self.positions(torch.arange(x.size(1), device=x.device))
        x = self.dropout(self.norm(x))
        mask = torch.cat([word_mask.new_ones(word_mask.size(0), 1), word_mask.bool()], 1)
        if self.conv is not None:
            local = self.conv((x * mask.unsqueeze(-1)).transpose(1, 2)).transpose(1, 2)
            x = x + self.dropout(F.gelu(local))
        x = self.layers(x, src_key_padding_mask=~mask)
        return self.final_norm(x)


class ScratchTransformerModel(IntentSlotModel):
    """:class:`ScratchEncoder` with intent and slot heads."""

    def __init__(
        self, config: ScratchTransformerConfig, allowed_transitions: torch.Tensor | None = None
    ) -> None:
        super().__init__()
        self.config = config
        self.encoder = ScratchEncoder(config)
        self._build_heads(config, allowed_transitions)

    def forward(
        self,
        word_ids: torch.Tensor,
        ngram_ids: torch.Tensor,
        word_mask: torch.Tensor,
        token_features: torch.Tensor | None = None,
        sentence_features: torch.Tensor | None = None,
    ) -> JointOutput:
        """Intent logits from the CLS state, tag emissions from each word's state."""
        states = self.encoder(word_ids, ngram_ids, word_mask, token_features)
        return self.heads(states[:, 0], states[:, 1:], token_features, sentence_features)

