"""The pretrained backend: fine-tune a Hugging Face seq2seq or causal language model.

``model:`` names the model: a hub name or a local folder (resolved by the
``dfl_resolve_model_source`` hook, so it works offline with local folders).
An encoder-decoder model (T5, BART, ...) reads the input with its encoder
and writes the reply with its decoder; a causal model (GPT-2, ...) reads
``input <reply>`` and continues with the reply, learning only the reply's
tokens. Placeholders and the input's structural tokens are added to its
vocabulary. The fine-tuned model is stored with ``save_pretrained`` (JSON,
text and safetensors only).

A model with learnt positions (GPT-2, BART, ...) has a most tokens it can
read: a reply is at most that long (a causal model's at most half of it, as
the input shares the positions), and an input is cut from the left to fit,
keeping the latest turns, where it would otherwise fail.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import torch
import torch.nn.functional as F

from dialogflowlite.components.generation.delex import (
    BOT_TOKEN,
    INTENT_TOKEN,
    SLOTS_TOKEN,
    USER_TOKEN,
    Prepared,
)
from dialogflowlite.errors import ModelLoadError, ModelSourceError

if TYPE_CHECKING:
    from dialogflowlite.artifact import ComponentStorage

#: separates the input from the reply for causal models
REPLY_TOKEN = "<reply>"
STRUCTURE_TOKENS = (INTENT_TOKEN, SLOTS_TOKEN, USER_TOKEN, BOT_TOKEN)
FOLDER = "pretrained"
#: files save_pretrained may write that a model file must not carry (and loading never needs)
_UNNEEDED_SUFFIXES = (".jinja", ".py", ".bin", ".pt", ".pkl")

Encoded = tuple[list[int], list[int]]


def model_positions(config: Any) -> int | None:
    """The most positions the model has, or None when it has no such limit (T5's relative
    positions)."""
    for name in ("n_positions", "max_position_embeddings", "n_ctx"):
        value = getattr(config, name, None)
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            return value
    return None


def _cache_argument(model: Any) -> str:
    """The name under which the model's forward takes its key/value cache."""
    import inspect

    parameters = inspect.signature(model.forward).parameters
    return "cache" if "cache" in parameters else "past_key_values"


def _cache_of(output: Any) -> Any:
    cache = getattr(output, "cache", None)
    return cache if cache is not None else getattr(output, "past_key_values", None)


class PretrainedStepper:
    """Adapts a Hugging Face model to the decoding interface, using its key/value cache."""

    def __init__(self, backend: PretrainedBackend, banned: list[int] | None = None) -> None:
        self.backend = backend
        self.model = backend.model
        self.cache_argument = _cache_argument(backend.model)
        self.eos_id = backend.eos_id
        self.bos_id = backend.start_id
        self.banned = torch.tensor(sorted({*backend.banned_ids, *(banned or [])}),
                                   dtype=torch.long)

    def start(self, source: list[int], batch: int) -> dict[str, Any]:
        ids = torch.tensor([source], dtype=torch.long)
        if self.backend.is_seq2seq:
            encoder = self.model.get_encoder()(input_ids=ids, attention_mask=torch.ones_like(ids))
            return {"encoder": encoder.last_hidden_state, "mask": torch.ones_like(ids),
                    "past": None}
        return {"prompt": ids, "past": None}

    def step(self, state: dict[str, Any], tokens: torch.Tensor) -> tuple[torch.Tensor, Any]:
        tokens = tokens.view(-1, 1)
        if self.backend.is_seq2seq:
            out = self.model(encoder_outputs=(state["encoder"],), attention_mask=state["mask"],
                             decoder_input_ids=tokens, use_cache=True,
                             **{self.cache_argument: state["past"]})
        else:
            if state.get("prompt") is not None:
                prompt = state.pop("prompt").expand(tokens.shape[0], -1)
                tokens = torch.cat([prompt, tokens], dim=1)
                state["prompt"] = None
            out = self.model(input_ids=tokens, use_cache=True,
                             **{self.cache_argument: state["past"]})
        state["past"] = _cache_of(out)
        logits = out.logits[:, -1].float()
        if len(self.banned):
            logits[:, self.banned] = float("-inf")
        return logits, state

    def reorder(self, state: dict[str, Any], index: torch.Tensor) -> dict[str, Any]:
        past = state["past"]
        if past is not None:
            if hasattr(past, "reorder_cache"):
                past.reorder_cache(index)
            else:  # legacy tuples
                state["past"] = tuple(tuple(t.index_select(0, index) for t in layer)
                                      for layer in past)
        if "encoder" in state:
            state["encoder"] = state["encoder"].index_select(0, index)
            state["mask"] = state["mask"].index_select(0, index)
        return state


@torch.no_grad()
def _grow_embeddings(model: Any, size: int, old_size: int, seed: int) -> None:
    """Add rows for new tokens, drawn like the existing ones (their mean and spread per dimension).

    New tokens then start as loud as old ones; rows drawn close to the mean
    (the library's default) give them logits too small to learn in a short
    fine-tuning.
    """
    try:
        model.resize_token_embeddings(size, mean_resizing=False)
    except TypeError:  # older transformers
        model.resize_token_embeddings(size)
    generator = torch.Generator().manual_seed(seed)
    tables = [model.get_input_embeddings().weight]
    output = model.get_output_embeddings()
    if output is not None and output.weight.data_ptr() != tables[0].data_ptr():
        tables.append(output.weight)
    for table in tables:
        old = table[:old_size].float()
        noise = torch.randn(size - old_size, table.shape[1], generator=generator)
        table[old_size:] = (old.mean(0) + noise * old.std(0)).to(table.dtype)


class PretrainedBackend:
    """A pretrained seq2seq or causal language model fine-tuned on the pairs."""

    kind = "pretrained"

    def __init__(self, model: Any, tokenizer: Any, max_source_length: int,
                 max_target_length: int) -> None:
        self.model = model
        self.tokenizer = tokenizer
        self.max_source_length = max_source_length
        self.max_target_length = max_target_length
        self.is_seq2seq = bool(getattr(model.config, "is_encoder_decoder", False))
        #: the model's positions (None: no limit); inputs and replies are kept within them
        self.positions = model_positions(model.config)
        self.eos_id = tokenizer.eos_token_id
        if self.eos_id is None:
            raise ModelLoadError("the pretrained tokenizer has no end-of-sequence token",
                                 hint="use a model whose tokenizer defines eos_token")
        self.pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else self.eos_id
        if self.is_seq2seq:
            start = getattr(model.config, "decoder_start_token_id", None)
            self.start_id = start if start is not None else self.pad_id
        else:
            self.start_id = tokenizer.convert_tokens_to_ids(REPLY_TOKEN)
        banned = {tokenizer.convert_tokens_to_ids(t) for t in (*STRUCTURE_TOKENS, REPLY_TOKEN)}
        banned |= {i for i in (tokenizer.pad_token_id, tokenizer.bos_token_id,
                               tokenizer.unk_token_id) if i is not None}
        # the unknown token too: it would reach the user as "<unk>"; the end stays writable
        # where it is also the unknown or start token (GPT-2's <|endoftext|>)
        banned.discard(self.eos_id)
        self.banned_ids = sorted(i for i in banned if i is not None and i >= 0)

    # ------------------------------------------------------------ building

    @staticmethod
    def _classes(path: str) -> tuple[Any, Any, Any]:
        from transformers import AutoConfig, AutoModelForCausalLM, AutoModelForSeq2SeqLM

        config = AutoConfig.from_pretrained(path)
        model_class = (AutoModelForSeq2SeqLM if getattr(config, "is_encoder_decoder", False)
                       else AutoModelForCausalLM)
        return config, model_class, None

    @classmethod
    def build(cls, name: str, placeholders: list[str], config: dict[str, Any]) -> PretrainedBackend:
        """Load ``name`` and add the generator's tokens to its vocabulary."""
        from transformers import AutoTokenizer

        from dialogflowlite.plugins.builtin.model_sources import resolve_model_path

        path = resolve_model_path(name, owner="NeuralResponseGenerator")
        try:
            tokenizer = AutoTokenizer.from_pretrained(path)
            _, model_class, _ = cls._classes(path)
            model = model_class.from_pretrained(path)
        except (OSError, ValueError) as e:
            raise ModelSourceError(f"NeuralResponseGenerator: cannot load the pretrained model "
                                   f"{name!r}: {e}",
                                   hint="give a folder with config.json, weights and a "
                                        "tokenizer, or a hub name while online") from e
        extra = [*STRUCTURE_TOKENS, *placeholders]
        if not getattr(model.config, "is_encoder_decoder", False):
            extra.append(REPLY_TOKEN)
        tokenizer.add_tokens([t for t in extra if t not in tokenizer.get_vocab()])
        if tokenizer.pad_token is None:
            tokenizer.pad_token = tokenizer.eos_token
        old_size = model.get_input_embeddings().weight.shape[0]
        if len(tokenizer) > old_size:
            _grow_embeddings(model, len(tokenizer), old_size, int(config.get("seed", 42)))
        return cls(model, tokenizer, int(config["max_source_length"]),
                   int(config["max_target_length"]))

    @property
    def longest_reply(self) -> int | None:
        """The most tokens decoding may write (its ``max_length``), or None for no limit.

        A decoder reads its start token and the reply's tokens but the last
        (the end is never read back), so a reply of ``max_length`` steps takes
        ``max_length`` positions. A causal model reads the input in the same
        positions: its reply takes at most half of them, and the input is cut
        to the rest.
        """
        if self.positions is None:
            return None
        return self.positions if self.is_seq2seq else max(1, self.positions // 2)

    # ------------------------------------------------------------ data

    def _ids(self, text: str, limit: int, keep_end: bool = False) -> list[int]:
        ids = self.tokenizer(text, add_special_tokens=False)["input_ids"]
        if len(ids) > limit:
            ids = ids[-limit:] if keep_end else ids[:limit]
        return ids

    def encode_source(self, text: str, reply_length: int = 0) -> list[int]:
        """The input's ids, the latest ``max_source_length`` of them, within the model's
        positions: a causal model keeps ``reply_length`` of them for the reply (its start
        token and the tokens it writes)."""
        limit = self.max_source_length
        if self.positions is not None:
            # the encoder's closing token takes a position too
            room = self.positions - 1 if self.is_seq2seq else self.positions - reply_length
            limit = min(limit, max(1, room))
        ids = self._ids(text, limit, keep_end=True)
        if self.is_seq2seq:
            return [*ids, self.eos_id]  # encoders of T5-like models expect the closing token
        return ids

    def encode(self, prepared: Prepared) -> Encoded:
        limit = self.max_target_length
        if self.longest_reply is not None:
            # the reply and its end are learnt in at most longest_reply positions
            limit = min(limit, max(1, self.longest_reply - 1))
        target = self._ids(prepared.target or "", limit)
        # a causal model reads input, start token, reply and end in one sequence
        return self.encode_source(prepared.source, reply_length=len(target) + 2), target

    def length(self, encoded: Encoded) -> int:
        return len(encoded[0]) + len(encoded[1])

    def _logits_and_labels(self, batch: list[Encoded]) -> tuple[torch.Tensor, torch.Tensor]:
        pad = self.pad_id
        if self.is_seq2seq:
            source_length = max(len(s) for s, _ in batch)
            target_length = max(len(t) for _, t in batch) + 1
            ids = torch.full((len(batch), source_length), pad, dtype=torch.long)
            mask = torch.zeros_like(ids)
            decoder = torch.full((len(batch), target_length), pad, dtype=torch.long)
            labels = torch.full((len(batch), target_length), -100, dtype=torch.long)
            for row, (source, target) in enumerate(batch):
                ids[row, :len(source)] = torch.tensor(source)
                mask[row, :len(source)] = 1
                decoder[row, :len(target) + 1] = torch.tensor([self.start_id, *target])
                labels[row, :len(target) + 1] = torch.tensor([*target, self.eos_id])
            logits = self.model(input_ids=ids, attention_mask=mask,
                                decoder_input_ids=decoder).logits
            return logits, labels
        sequences = [[*s, self.start_id, *t, self.eos_id] for s, t in batch]
        length = max(len(s) for s in sequences)
        ids = torch.full((len(batch), length), pad, dtype=torch.long)
        mask = torch.zeros_like(ids)
        labels = torch.full((len(batch), length), -100, dtype=torch.long)
        for row, ((source, _), sequence) in enumerate(zip(batch, sequences, strict=True)):
            ids[row, :len(sequence)] = torch.tensor(sequence)
            mask[row, :len(sequence)] = 1
            # a position predicts the next token; only the reply (and its end) is learnt
            labels[row, len(source):len(sequence) - 1] = torch.tensor(sequence[len(source) + 1:])
        logits = self.model(input_ids=ids, attention_mask=mask).logits
        return logits, labels

    def loss(self, batch: list[Encoded], label_smoothing: float = 0.0) -> torch.Tensor:
        logits, labels = self._logits_and_labels(batch)
        return F.cross_entropy(logits.reshape(-1, logits.shape[-1]).float(), labels.reshape(-1),
                               ignore_index=-100, label_smoothing=label_smoothing)

    @torch.no_grad()
    def token_nll(self, batch: list[Encoded]) -> tuple[float, int]:
        logits, labels = self._logits_and_labels(batch)
        total = F.cross_entropy(logits.reshape(-1, logits.shape[-1]).float(), labels.reshape(-1),
                                ignore_index=-100, reduction="sum")
        return float(total), int((labels != -100).sum())

    # ------------------------------------------------------------ generation

    def stepper(self, banned: list[int] | None = None) -> PretrainedStepper:
        """The decoding interface; ``banned`` tokens are never written (nor specials)."""
        return PretrainedStepper(self, banned)

    def token_ids(self, tokens: list[str]) -> list[int]:
        """Ids of the tokens that are single tokens of the vocabulary (placeholders)."""
        # not get_vocab(): it copies the whole vocabulary, and this runs for every reply
        unknown = self.tokenizer.unk_token_id
        ids = self.tokenizer.convert_tokens_to_ids(list(tokens))
        return [i for i in ids if i is not None and i != unknown]

    def decode_ids(self, ids: list[int]) -> str:
        kept = [i for i in ids if i not in (self.eos_id, self.pad_id)]
        return self.tokenizer.decode(kept, skip_special_tokens=False,
                                     clean_up_tokenization_spaces=False)

    @property
    def module(self) -> torch.nn.Module:
        return self.model

    # ------------------------------------------------------------ persistence

    def finish_training(self) -> None:
        """Nothing is kept only for training."""

    def quantize(self) -> None:
        """Dynamic int8 weights for the model's linear layers."""
        from dialogflowlite.models.quantization import quantize_linear_layers

        self.model = quantize_linear_layers(self.model)

    def persist(self, storage: ComponentStorage) -> None:
        folder = storage.path(FOLDER)
        folder.mkdir(parents=True, exist_ok=True)
        self.model.save_pretrained(folder, safe_serialization=True)
        self.tokenizer.save_pretrained(folder)
        for path in folder.rglob("*"):
            if path.is_file() and path.suffix in _UNNEEDED_SUFFIXES:
                path.unlink()
        storage.write_json("lengths.json", {"max_source_length": self.max_source_length,
                                            "max_target_length": self.max_target_length})

    @classmethod
    def load(cls, storage: ComponentStorage) -> PretrainedBackend:
        from transformers import AutoTokenizer

        folder = str(storage.path(FOLDER))
        tokenizer = AutoTokenizer.from_pretrained(folder)
        _, model_class, _ = cls._classes(folder)
        model = model_class.from_pretrained(folder)
        model.eval()
        lengths = storage.read_json("lengths.json")
        return cls(model, tokenizer, int(lengths["max_source_length"]),
                   int(lengths["max_target_length"]))
