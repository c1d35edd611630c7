"""A frozen pretrained encoder that reads the from-scratch generator's input.

With ``source_encoder:`` set (a hub name, a local folder, or an alias of a
model source such as ``all-minilm-l6-v2``), the from-scratch generator reads
its input through a pretrained BERT-style encoder instead of learning every
input word from its own pairs: the encoder's hidden states, kept fixed, are
projected to the generator's width and pass through the generator's own
encoder layers, which learn. Input words the pairs never had (the slot names
of a new API, ``transfer amount`` where training said ``amount``) then arrive
with what the pretrained model knows of them.

The encoder never learns, so the states of each distinct input are computed
once while training and kept (a bot's inputs repeat: SGD's 7,510 act -> text
pairs have 643 distinct inputs). The trained generator stores the encoder
beside its own weights, so a model file needs no network or source weights.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from dialogflowlite.components.nlu.pretrained import (
    clear_run_time_settings,
    encode_pieces,
    load_pretrained,
    load_stored_encoder,
    load_stored_weights,
    pad_pieces,
    plain_state_dict,
    resolve_model_source,
    save_encoder_config,
)
from dialogflowlite.errors import TrainingError

if TYPE_CHECKING:
    from dialogflowlite.artifact import ComponentStorage

ENCODER_DIR = "source_encoder"
TOKENIZER_DIR = "source_tokenizer"
WEIGHTS = "source_encoder.safetensors"
OWNER = "NeuralResponseGenerator"


class SourceEncoder:
    """Input text -> piece ids -> the frozen encoder's hidden states (batched, cached)."""

    def __init__(self, encoder: Any, tokenizer: Any, max_length: int) -> None:
        self.encoder = encoder.eval().requires_grad_(False)
        self.tokenizer = tokenizer
        self.max_length = max_length
        self.pad_id = int(getattr(tokenizer, "pad_token_id", None) or 0)
        #: while training: piece ids of an input -> its hidden states (float16: they
        #: only feed a projection)
        self._states: dict[tuple[int, ...], torch.Tensor] = {}
        self._caching = True
        self._inference_only = False

    @classmethod
    def build(cls, name: str, max_length: int) -> SourceEncoder:
        """The pretrained encoder and tokenizer of ``name`` (resolved through the model sources)."""
        encoder, tokenizer = load_pretrained(resolve_model_source(name, OWNER), OWNER)
        return cls(encoder, tokenizer, max_length)

    @property
    def size(self) -> int:
        """Width of the hidden states."""
        return int(self.encoder.config.hidden_size)

    def ids(self, text: str) -> list[int]:
        """Piece ids of ``text`` with the special pieces; a long text keeps its end
        (the latest turns of a context)."""
        (ids, _), = encode_pieces(self.tokenizer, [text], 100_000)
        if len(ids) <= self.max_length:
            return ids
        keep = max(0, self.max_length - 2)
        return [ids[0], *ids[len(ids) - 1 - keep:-1], ids[-1]]

    def states(self, batch: list[list[int]]) -> tuple[torch.Tensor, torch.Tensor]:
        """Hidden states of a batch of piece-id lists, padded, and the mask of real pieces.

        While training, each distinct input is encoded once and its states kept.
        """
        cache = self._caching
        missing = [ids for ids in dict.fromkeys(map(tuple, batch))
                   if not cache or ids not in self._states]
        found: dict[tuple[int, ...], torch.Tensor] = {}
        if missing:
            ids, mask = pad_pieces([list(m) for m in missing], self.pad_id)
            with torch.inference_mode():
                hidden = self.encoder(ids, mask).last_hidden_state
            for row, key in enumerate(missing):
                found[key] = hidden[row, :len(key)].to(torch.float16 if cache else torch.float32)
            if cache:
                self._states.update(found)
        length = max(len(ids) for ids in batch)
        states = torch.zeros(len(batch), length, self.size)
        mask = torch.zeros(len(batch), length, dtype=torch.bool)
        for row, ids in enumerate(batch):
            key = tuple(ids)
            value = found.get(key)
            if value is None:
                value = self._states[key]
            states[row, :len(ids)] = value.float()
            mask[row, :len(ids)] = True
        return states, mask

    def forget(self) -> None:
        """Drop the kept states and keep no more (training is over)."""
        self._states.clear()
        self._caching = False

    # ------------------------------------------------------------ parsing

    def speed_up(self, quantize: bool) -> None:
        """Run the encoder through the lean inference pass, int8 weights with ``quantize``."""
        from dialogflowlite.models.fast_bert import FastBertEncoder, supports_fast_path
        from dialogflowlite.models.quantization import quantize_linear_layers
        from dialogflowlite.models.weight_sharing import share_identical_weights

        if supports_fast_path(self.encoder) and not isinstance(self.encoder, FastBertEncoder):
            self.encoder = FastBertEncoder(self.encoder)
            self._inference_only = True
            # kept frozen in training: its weights may be an NLU component's too
            share_identical_weights(self.encoder)
        if quantize:
            self.encoder = quantize_linear_layers(self.encoder)
            self._inference_only = True

    # ------------------------------------------------------------ persistence

    def persist(self, storage: ComponentStorage) -> None:
        if self._inference_only:
            raise TrainingError(f"{OWNER}: a generator loaded for replying cannot be saved again",
                                hint="copy its model file instead, or retrain")
        save_encoder_config(self.encoder, storage.path(ENCODER_DIR))
        clear_run_time_settings(self.tokenizer)
        self.tokenizer.save_pretrained(storage.path(TOKENIZER_DIR))
        storage.write_tensors(WEIGHTS, plain_state_dict(self.encoder))

    @classmethod
    def load(cls, storage: ComponentStorage, max_length: int) -> SourceEncoder:
        encoder, tokenizer = load_stored_encoder(Path(storage.path(ENCODER_DIR)),
                                                 Path(storage.path(TOKENIZER_DIR)), True, OWNER)
        load_stored_weights(encoder, storage, WEIGHTS, OWNER)
        loaded = cls(encoder, tokenizer, max_length)
        loaded.forget()
        return loaded

