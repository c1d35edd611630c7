"""The from-scratch backend: a small Transformer encoder-decoder and its BPE vocabulary.

Optionally the input is read through a frozen pretrained encoder
(:mod:`.source_encoder`) instead of the BPE vocabulary's embeddings.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import torch
import torch.nn.functional as F

from dialogflowlite.components.generation.delex import Prepared
from dialogflowlite.components.generation.source_encoder import SourceEncoder
from dialogflowlite.components.generation.vocabulary import SubwordVocabulary
from dialogflowlite.models.seq2seq import LayerCache, Seq2SeqConfig, Seq2SeqTransformer

if TYPE_CHECKING:
    from dialogflowlite.artifact import ComponentStorage

#: an encoded pair: source ids, target ids (without BOS/EOS)
Encoded = tuple[list[int], list[int]]


class ScratchStepper:
    """Adapts :class:`Seq2SeqTransformer` to the decoding interface, with a key/value cache."""

    def __init__(self, model: Seq2SeqTransformer, bos_id: int, eos_id: int,
                 banned_ids: list[int] | None = None,
                 source_encoder: SourceEncoder | None = None) -> None:
        self.model = model
        self.bos_id = bos_id
        self.eos_id = eos_id
        self.banned = torch.tensor(sorted(banned_ids or []), dtype=torch.long)
        self.source_encoder = source_encoder

    def start(self, source: list[int], batch: int) -> dict[str, Any]:
        # one encoding (batch size 1) is shared by every hypothesis; attention broadcasts it
        if self.source_encoder is not None:
            states, keep = self.source_encoder.states([source])
            memory, mask = self.model.encode_states(states, keep)
        else:
            source_ids = torch.tensor([source], dtype=torch.long)
            memory, mask = self.model.encode(source_ids)
        state = {"memory": memory, "mask": mask, "cache": self.model.new_cache(), "position": 0}
        if self.model.config.copy_attention:
            state["source_ids"] = source_ids
        return state

    def step(self, state: dict[str, Any], tokens: torch.Tensor) -> tuple[torch.Tensor, Any]:
        cache: list[LayerCache] = state["cache"]
        logits = self.model.decode(tokens.view(-1, 1), state["memory"], state["mask"], cache,
                                   start=state["position"], source_ids=state.get("source_ids"))
        state["position"] += 1
        logits = logits[:, -1]
        if len(self.banned):
            logits[:, self.banned] = float("-inf")
        return logits, state

    def reorder(self, state: dict[str, Any], index: torch.Tensor) -> dict[str, Any]:
        state["cache"] = self.model.reorder_cache(state["cache"], index)
        return state


class ScratchBackend:
    """A Transformer trained from scratch on the project's pairs."""

    kind = "transformer"

    def __init__(self, model: Seq2SeqTransformer, vocabulary: SubwordVocabulary,
                 max_source_length: int, max_target_length: int,
                 source_encoder: SourceEncoder | None = None) -> None:
        self.model = model
        self.vocabulary = vocabulary
        self.max_source_length = max_source_length
        self.max_target_length = max_target_length
        self.source_encoder = source_encoder

    @classmethod
    def build(cls, prepared: list[Prepared], placeholders: list[str],
              config: dict[str, Any]) -> ScratchBackend:
        """A fresh model with a vocabulary learnt from the prepared pairs (and their
        inputs, unless ``source_encoder`` reads those)."""
        source_encoder = None
        if config.get("source_encoder"):
            source_encoder = SourceEncoder.build(str(config["source_encoder"]),
                                                 int(config["max_source_length"]))
        texts = [p.target for p in prepared if p.target]
        if source_encoder is None:
            texts += [p.source for p in prepared]
        vocabulary = SubwordVocabulary.train(
            texts, vocab_size=int(config["vocab_size"]), placeholders=placeholders,
            min_frequency=2 if len(texts) > 200 else 1)
        max_source = int(config["max_source_length"])
        max_target = int(config["max_target_length"])
        model_config = Seq2SeqConfig(
            vocab_size=vocabulary.size, hidden_size=int(config["hidden_size"]),
            encoder_layers=int(config["encoder_layers"]),
            decoder_layers=int(config["decoder_layers"]), heads=int(config["heads"]),
            ff_size=int(config["ff_size"]), dropout=float(config["dropout"]),
            max_positions=max(max_source, max_target + 1) + 1, pad_id=vocabulary.pad_id,
            source_state_size=source_encoder.size if source_encoder else 0,
            copy_attention=bool(config.get("copy_attention", False)))
        return cls(Seq2SeqTransformer(model_config), vocabulary, max_source, max_target,
                   source_encoder)

    @property
    def longest_reply(self) -> int:
        """The most tokens a reply can have: the model has no positions beyond them."""
        return self.model.config.max_positions

    # ------------------------------------------------------------ data

    def encode_source(self, text: str, reply_length: int = 0) -> list[int]:
        """The input's ids, the latest ``max_source_length`` of them (``reply_length`` is
        for models whose input and reply share positions; the encoder has its own)."""
        if self.source_encoder is not None:
            return self.source_encoder.ids(text)
        return self.vocabulary.encode(text, self.max_source_length, keep_end=True)

    def encode(self, prepared: Prepared) -> Encoded:
        target = self.vocabulary.encode(prepared.target or "", self.max_target_length)
        return self.encode_source(prepared.source), target

    def _collate(self, batch: list[Encoded]) -> tuple[dict[str, torch.Tensor], torch.Tensor,
                                                      torch.Tensor]:
        """Model source arguments, decoder inputs and labels of a batch."""
        pad, bos, eos = self.vocabulary.pad_id, self.vocabulary.bos_id, self.vocabulary.eos_id
        target_length = max(len(t) for _, t in batch) + 1
        inputs = torch.full((len(batch), target_length), pad, dtype=torch.long)
        labels = torch.full((len(batch), target_length), -100, dtype=torch.long)
        for row, (_, target) in enumerate(batch):
            inputs[row, :len(target) + 1] = torch.tensor([bos, *target])
            labels[row, :len(target) + 1] = torch.tensor([*target, eos])
        if self.source_encoder is not None:
            states, keep = self.source_encoder.states([s for s, _ in batch])
            return {"source": states, "source_keep": keep}, inputs, labels
        source_length = max(1, max(len(s) for s, _ in batch))
        sources = torch.full((len(batch), source_length), pad, dtype=torch.long)
        for row, (source, _) in enumerate(batch):
            if source:
                sources[row, :len(source)] = torch.tensor(source)
        return {"source": sources}, inputs, labels

    def loss(self, batch: list[Encoded], label_smoothing: float = 0.0) -> torch.Tensor:
        """Mean cross-entropy per target token (EOS included) of a batch."""
        sources, inputs, labels = self._collate(batch)
        logits = self.model(target_ids=inputs, **sources)
        return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), labels.reshape(-1),
                               ignore_index=-100, label_smoothing=label_smoothing)

    @torch.no_grad()
    def token_nll(self, batch: list[Encoded]) -> tuple[float, int]:
        """Summed negative log-likelihood of the targets and their token count."""
        sources, inputs, labels = self._collate(batch)
        logits = self.model(target_ids=inputs, **sources)
        total = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), labels.reshape(-1),
                                ignore_index=-100, reduction="sum")
        return float(total), int((labels != -100).sum())

    def length(self, encoded: Encoded) -> int:
        return len(encoded[0]) + len(encoded[1])

    # ------------------------------------------------------------ generation

    def stepper(self, banned: list[int] | None = None) -> ScratchStepper:
        """The decoding interface; ``banned`` tokens are never written (nor specials)."""
        return ScratchStepper(self.model, self.vocabulary.bos_id, self.vocabulary.eos_id,
                              [*self.vocabulary.banned_ids, *(banned or [])],
                              self.source_encoder)

    def token_ids(self, tokens: list[str]) -> list[int]:
        """Ids of the tokens that are single tokens of the vocabulary (placeholders)."""
        ids = (self.vocabulary.tokenizer.token_to_id(t) for t in tokens)
        return [i for i in ids if i is not None]

    def decode_ids(self, ids: list[int]) -> str:
        return self.vocabulary.decode(ids)

    def parameters(self) -> Any:
        return self.model.parameters()

    @property
    def module(self) -> torch.nn.Module:
        return self.model

    # ------------------------------------------------------------ persistence

    def persist(self, storage: ComponentStorage) -> None:
        storage.write_json("seq2seq_config.json", self.model.config.to_dict())
        storage.write_text("vocabulary.json", self.vocabulary.to_json())
        storage.write_tensors("seq2seq.safetensors", self.model.state_dict())
        storage.write_json("lengths.json", {"max_source_length": self.max_source_length,
                                            "max_target_length": self.max_target_length})
        if self.source_encoder is not None:
            self.source_encoder.persist(storage)

    def finish_training(self) -> None:
        """Free what only training needed (the source encoder's kept states)."""
        if self.source_encoder is not None:
            self.source_encoder.forget()

    def quantize(self) -> None:
        """Dynamic int8 weights for the linear layers (the source encoder's too)."""
        from dialogflowlite.models.quantization import quantize_linear_layers

        self.model = quantize_linear_layers(self.model)
        if self.source_encoder is not None:
            self.source_encoder.speed_up(quantize=True)

    @classmethod
    def load(cls, storage: ComponentStorage) -> ScratchBackend:
        config = Seq2SeqConfig.from_dict(storage.read_json("seq2seq_config.json"))
        vocabulary = SubwordVocabulary.from_json(storage.read_text("vocabulary.json"))
        model = Seq2SeqTransformer(config)
        state = storage.read_tensors("seq2seq.safetensors")
        if config.tie_embeddings and "lm_head.weight" not in state:
            state["lm_head.weight"] = state["embed.weight"]
        model.load_state_dict(state)
        model.eval()
        lengths = storage.read_json("lengths.json")
        max_source = int(lengths["max_source_length"])
        source_encoder = None
        if config.source_state_size:
            source_encoder = SourceEncoder.load(storage, max_source)
            source_encoder.speed_up(quantize=False)
        return cls(model, vocabulary, max_source, int(lengths["max_target_length"]),
                   source_encoder)
