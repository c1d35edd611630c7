"""Lean forward passes for BERT-style encoders, for parsing and for fine-tuning.

``transformers`` models are general: every call builds attention masks,
checks options and goes through several small modules per layer. For
single-message parsing on a CPU that overhead is a sizeable part of the time,
and the three attention projections are three separate matrix products.
:class:`FastBertEncoder` takes the weights of a BERT-like model (BERT,
MiniLM and friends: absolute positions, post-layer-norm blocks), fuses the
query/key/value projections into one ``nn.Linear`` and runs the layers in a
single plain loop with ``scaled_dot_product_attention``. The results match
the original model up to float rounding, and its ``nn.Linear`` layers can be
quantized like any others.

The whole pass (embeddings and layers) is traced with TorchScript on first
use (once for batches with padding, once without; see
:mod:`dialogflowlite.models.tracing`). A traced call runs every operation of
every layer in one call that releases the interpreter lock, where the plain
loop takes the lock back after each of its ~90 small operations. In a server the event loop
runs Python code at the same time, and the plain loop spent most of its time
waiting for the lock (a 16-message batch next to a busy Python thread: 206 ms
plain, 71 ms traced; 60 ms alone either way). Tracing is skipped, with the
plain loop kept, wherever TorchScript is unavailable.

:func:`supports_fast_path` says whether a model has that shape; anything else
keeps its own forward. :func:`bert_skeleton` builds a :class:`LeanBert`, empty
modules with a BERT model's names and shapes from its ``config.json``, so
weights load without importing ``transformers`` at all: a parsing process
(the server) starts faster and holds less memory, and fine-tuning starts
seconds sooner. :class:`LeanBert`'s own forward pass is the one fine-tuning
uses: the same layer loop (one function serves both), with BERT's dropout and
gradients for every weight, untraced.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from dialogflowlite.models.tracing import TraceCache

_ACTIVATIONS = {"gelu": F.gelu, "relu": F.relu}


def supports_fast_path(encoder: Any) -> bool:
    """Whether ``encoder`` is a BERT-style ``transformers`` model this module can mirror."""
    config = getattr(encoder, "config", None)
    if config is None or getattr(config, "model_type", None) != "bert":
        return False
    if getattr(config, "hidden_act", None) not in _ACTIVATIONS:
        return False
    if getattr(config, "position_embedding_type", "absolute") != "absolute":
        return False
    if getattr(config, "is_decoder", False) or getattr(config, "add_cross_attention", False):
        return False
    layers = getattr(getattr(encoder, "encoder", None), "layer", None)
    return layers is not None and hasattr(encoder, "embeddings")


def _container(**children: Any) -> nn.Module:
    """A module that only holds named children (the attribute layout of a BERT model)."""
    module = nn.Module()
    for name, child in children.items():
        setattr(module, name, child)
    return module


def bert_skeleton(config: dict[str, Any]) -> LeanBert | None:
    """Modules named and shaped like a ``transformers`` BertModel without pooler.

    ``config`` is the model's ``config.json``. The weights are whatever
    ``nn.Linear`` and friends start with: load the stored ones next. None when
    the config is not a plain BERT-style encoder that :class:`FastBertEncoder`
    can run (the caller then builds the model with ``transformers``).
    """
    required = ("vocab_size", "hidden_size", "num_hidden_layers", "num_attention_heads",
                "intermediate_size", "max_position_embeddings", "type_vocab_size")
    if any(key not in config for key in required):
        return None
    hidden, inner = int(config["hidden_size"]), int(config["intermediate_size"])
    eps = float(config.get("layer_norm_eps", 1e-12))

    def layer() -> nn.Module:
        return _container(
            attention=_container(
                self=_container(query=nn.Linear(hidden, hidden), key=nn.Linear(hidden, hidden),
                                value=nn.Linear(hidden, hidden)),
                output=_container(dense=nn.Linear(hidden, hidden),
                                  LayerNorm=nn.LayerNorm(hidden, eps=eps)),
            ),
            intermediate=_container(dense=nn.Linear(hidden, inner)),
            output=_container(dense=nn.Linear(inner, hidden),
                              LayerNorm=nn.LayerNorm(hidden, eps=eps)),
        )

    pad = config.get("pad_token_id")
    model = LeanBert()
    model.embeddings = _container(
        word_embeddings=nn.Embedding(int(config["vocab_size"]), hidden, padding_idx=pad),
        position_embeddings=nn.Embedding(int(config["max_position_embeddings"]), hidden),
        token_type_embeddings=nn.Embedding(int(config["type_vocab_size"]), hidden),
        LayerNorm=nn.LayerNorm(hidden, eps=eps),
    )
    model.encoder = _container(
        layer=nn.ModuleList(layer() for _ in range(int(config["num_hidden_layers"])))
    )
    model.config = SimpleNamespace(**config)
    return model if supports_fast_path(model) else None


class LeanBert(nn.Module):
    """A BERT-style encoder built by :func:`bert_skeleton`, with a lean forward pass.

    Its modules have a ``transformers`` BertModel's names and shapes (so its
    weights load from, and save to, that layout). Its forward pass is made
    for fine-tuning on a CPU: the three attention projections run as one
    matrix product (their weights are concatenated on each call, so each
    keeps its own gradient), every block is a few large operations instead
    of many small modules, and the matrix products of a batch run on its
    real pieces only, not on padding. Dropout is BERT's (after the
    embeddings, on the attention weights, after each block's output
    projection), in training mode only. In evaluation mode the hidden states
    match the ``transformers`` model's up to float rounding. For parsing,
    :class:`FastBertEncoder` goes further (fused copies, traces).
    """

    config: SimpleNamespace

    def get_input_embeddings(self) -> nn.Embedding:
        return self.embeddings.word_embeddings

    def forward(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None
    ) -> SimpleNamespace:
        """Hidden states as ``.last_hidden_state`` (batch, pieces, hidden); zeros at padding."""
        hidden_dropout = attention_dropout = 0.0
        if self.training:
            hidden_dropout = float(getattr(self.config, "hidden_dropout_prob", 0.1))
            attention_dropout = float(getattr(self.config, "attention_probs_dropout_prob", 0.1))
        embeddings = self.embeddings
        x = _embed(input_ids, embeddings.word_embeddings, embeddings.position_embeddings,
                   embeddings.token_type_embeddings, embeddings.LayerNorm)
        keep = None
        if attention_mask is not None and not bool(attention_mask.all()):
            keep = attention_mask.bool()
        blocks = [_lean_block(layer) for layer in self.encoder.layer]
        states = _run_blocks(_dropped(x, hidden_dropout), keep, blocks,
                             int(self.config.num_attention_heads),
                             _ACTIVATIONS[self.config.hidden_act],
                             hidden_dropout, attention_dropout)
        return SimpleNamespace(last_hidden_state=states)


def lean_bert(config: dict[str, Any], tensors: dict[str, torch.Tensor]) -> LeanBert | None:
    """A :class:`LeanBert` from a ``config.json`` and weights in a BertModel's layout
    (buffers such as ``position_ids`` may be there or not), or None when they do not
    fit one."""
    lean = bert_skeleton(config)
    if lean is None:
        return None
    weights = {key: value for key, value in tensors.items() if not key.endswith("_ids")}
    missing, unexpected = lean.load_state_dict(weights, strict=False)
    return None if missing or unexpected else lean


def lean_copy(encoder: Any) -> LeanBert | None:
    """A :class:`LeanBert` holding a copy of a BERT-style ``transformers`` model's
    weights, or None when ``encoder`` does not have that shape."""
    if not supports_fast_path(encoder):
        return None
    config = encoder.config.to_dict() if hasattr(encoder.config, "to_dict") else vars(
        encoder.config)
    lean = lean_bert(dict(config), encoder.state_dict())
    return None if lean is None else lean.train(encoder.training)


class _Layer(nn.Module):
    """One BERT layer's parts for parsing, its attention projections fused into one
    ``nn.Linear`` (a copy of their weights, quantizable like any other)."""

    def __init__(self, layer: Any) -> None:
        super().__init__()
        attention = layer.attention
        query, key, value = attention.self.query, attention.self.key, attention.self.value
        size = query.in_features
        self.qkv = nn.Linear(size, 3 * size)
        with torch.no_grad():
            self.qkv.weight.copy_(torch.cat([query.weight, key.weight, value.weight]))
            self.qkv.bias.copy_(torch.cat([query.bias, key.bias, value.bias]))
        self.attention_out = attention.output.dense
        self.attention_norm = attention.output.LayerNorm
        self.intermediate = layer.intermediate.dense
        self.output = layer.output.dense
        self.output_norm = layer.output.LayerNorm


class FastBertEncoder(nn.Module):
    """Inference-only mirror of a BERT-style encoder (same weights, leaner forward).

    ``trace`` (default True): run the layers through TorchScript traces made
    on first use, which release the interpreter lock while they run.
    """

    def __init__(self, encoder: Any, *, trace: bool = True) -> None:
        super().__init__()
        if not supports_fast_path(encoder):
            raise ValueError("the encoder is not a BERT-style model")
        config = encoder.config
        self.config = config
        self.num_heads = int(config.num_attention_heads)
        self.activation = _ACTIVATIONS[config.hidden_act]
        embeddings = encoder.embeddings
        self.word_embeddings = embeddings.word_embeddings
        self.position_embeddings = embeddings.position_embeddings
        self.token_type_embeddings = embeddings.token_type_embeddings
        self.embedding_norm = embeddings.LayerNorm
        self.layers = nn.ModuleList(_Layer(layer) for layer in encoder.encoder.layer)
        # traces by input kind (padded or not), made on first use, after any
        # quantization; copies (a copy may have other weights) make their own
        self._traces = TraceCache(enabled=trace)
        self.eval()

    @property
    def trace(self) -> bool:
        return self._traces.enabled

    def get_input_embeddings(self) -> nn.Embedding:
        return self.word_embeddings

    @torch.inference_mode()
    def forward(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None
    ) -> SimpleNamespace:
        """Hidden states as ``.last_hidden_state`` (batch, pieces, hidden).

        In a batch of texts of different lengths, the matrix products (most of
        the work) run on the real pieces only, packed together; only attention
        sees the padded layout. Hidden states at padding positions are zeros.
        """
        if attention_mask is None or bool(attention_mask.all()):
            states = self._traces.run(False, self, self._encode, input_ids)
        else:
            states = self._traces.run(True, self, self._encode, input_ids, attention_mask.bool())
        return SimpleNamespace(last_hidden_state=states)

    def _encode(self, input_ids: torch.Tensor, keep: torch.Tensor | None = None) -> torch.Tensor:
        """Embeddings and layers; ``keep`` marks the real pieces (None: all of them)."""
        x = _embed(input_ids, self.word_embeddings, self.position_embeddings,
                   self.token_type_embeddings, self.embedding_norm)
        return _run_blocks(x, keep, list(self.layers), self.num_heads, self.activation)


def _embed(input_ids: torch.Tensor, words: nn.Embedding, positions: nn.Embedding,
           token_types: nn.Embedding, norm: nn.Module) -> torch.Tensor:
    """BERT's embeddings of one-segment input: word + position + segment 0, normalised."""
    length = input_ids.shape[1]
    return norm(words(input_ids) + positions.weight[:length] + token_types.weight[0])


def _lean_block(layer: nn.Module) -> SimpleNamespace:
    """A ``transformers`` BERT layer's parts under :class:`_Layer`'s names; its three
    attention projections become one product over their concatenated weights, so
    each projection keeps its own gradient."""
    projections = layer.attention.self
    weight = torch.cat([projections.query.weight, projections.key.weight,
                        projections.value.weight])
    bias = torch.cat([projections.query.bias, projections.key.bias, projections.value.bias])
    return SimpleNamespace(
        qkv=lambda hidden: F.linear(hidden, weight, bias),
        attention_out=layer.attention.output.dense,
        attention_norm=layer.attention.output.LayerNorm,
        intermediate=layer.intermediate.dense,
        output=layer.output.dense,
        output_norm=layer.output.LayerNorm,
    )


def _run_blocks(x: torch.Tensor, keep: torch.Tensor | None, blocks: list[Any], heads: int,
                activation: Any, hidden_dropout: float = 0.0,
                attention_dropout: float = 0.0) -> torch.Tensor:
    """Post-layer-norm BERT blocks over ``x`` (batch, pieces, hidden).

    ``keep`` marks the real pieces (None: all of them): the matrix products run
    on those only, packed together, and only attention sees the padded layout;
    hidden states at padding come back as zeros. Each block has :class:`_Layer`'s
    parts. Dropout (rates of zero: none) sits where BERT has it: on the
    attention weights and after each block's two output projections.
    """
    batch, length, size = x.shape
    total = batch * length
    # rows of the flattened (batch * length) layout that hold real pieces
    rows = None if keep is None else keep.reshape(-1).nonzero().squeeze(1)
    mask = None if keep is None else keep[:, None, None, :]
    hidden = _pack(x.reshape(total, size), rows)
    for block in blocks:
        qkv = _unpack(block.qkv(hidden), rows, total)
        qkv = qkv.view(batch, length, 3, heads, size // heads).permute(2, 0, 3, 1, 4)
        context = F.scaled_dot_product_attention(qkv[0], qkv[1], qkv[2], attn_mask=mask,
                                                 dropout_p=attention_dropout)
        context = _pack(context.transpose(1, 2).reshape(total, size), rows)
        hidden = block.attention_norm(_dropped(block.attention_out(context), hidden_dropout)
                                      + hidden)
        inner = activation(block.intermediate(hidden))
        hidden = block.output_norm(_dropped(block.output(inner), hidden_dropout) + hidden)
    return _unpack(hidden, rows, total).view(batch, length, size)


def _dropped(x: torch.Tensor, rate: float) -> torch.Tensor:
    """``x`` through dropout at ``rate``; no operation at all at rate zero (nothing
    to record in a trace)."""
    return F.dropout(x, rate, training=True) if rate else x


def _pack(flat: torch.Tensor, rows: torch.Tensor | None) -> torch.Tensor:
    """The given rows of ``flat`` (all of them when ``rows`` is None)."""
    return flat if rows is None else flat.index_select(0, rows)


def _unpack(packed: torch.Tensor, rows: torch.Tensor | None, total: int) -> torch.Tensor:
    """``packed`` back at its ``rows`` of ``total``, zeros elsewhere."""
    if rows is None:
        return packed
    out = packed.new_zeros(total, packed.size(-1))
    out.index_copy_(0, rows, packed)
    return out

