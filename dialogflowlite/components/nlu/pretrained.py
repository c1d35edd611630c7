"""Loading pretrained encoders and tokenizers for the NLU components.

``model:`` values go through the model sources (plugins, then the built-in
offline copy of all-MiniLM-L6-v2, then local folders and hub names). A
trained component saves the encoder's config and tokenizer files next to its
weights and rebuilds the encoder from them, so loading needs neither the
original folder nor network. Every failure is a
:class:`~dialogflowlite.errors.DialogflowLiteError` that says what to do.
"""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path
from typing import Any

from dialogflowlite.errors import (
    ComponentConfigError,
    ModelLoadError,
    ModelSourceError,
    Position,
)

logger = logging.getLogger(__name__)

_SOURCE_HINT = (
    "give `model:` a local folder, the installed alias all-MiniLM-L6-v2, or a hub name when online"
)


def resolve_model_source(name: str, owner: str, position: Position | None = None) -> str:
    """A ``model:`` value as a folder (or hub name) that ``transformers`` can load."""
    try:
        from dialogflowlite.plugins.builtin.model_sources import resolve_model_path
    except ImportError:  # pragma: no cover - the built-in source is part of the package
        resolve_model_path = None
    if resolve_model_path is not None:
        return resolve_model_path(name, owner=owner, position=position)
    from dialogflowlite.plugins.manager import get_plugin_manager

    found = get_plugin_manager().hook.dfl_resolve_model_source(name=name)
    return str(found) if found else name


def load_tokenizer(source: str, owner: str) -> Any:
    """The fast tokenizer of ``source`` (a slow one cannot give character offsets)."""
    from transformers import AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(source)
    except (OSError, ValueError) as e:
        raise ModelSourceError(
            f"{owner}: cannot load a tokenizer from {source!r}: {e}", hint=_SOURCE_HINT
        ) from e
    if not getattr(tokenizer, "is_fast", False):
        raise ModelSourceError(
            f"{owner}: the tokenizer of {source!r} is not a fast tokenizer, so sub-words "
            "cannot be aligned to words",
            hint="use a model folder with a tokenizer.json",
        )
    return tokenizer


class PieceTokenizer:
    """A saved fast tokenizer's Rust core, for parsing without importing ``transformers``.

    It offers what inference reads: ``backend_tokenizer`` (pieces with
    character offsets) and ``pad_token_id``.
    """

    #: the files besides tokenizer.json that make the folder loadable by ``transformers``
    SETTINGS_FILES = ("tokenizer_config.json", "special_tokens_map.json", "vocab.txt")

    def __init__(self, backend: Any, pad_token_id: int | None,
                 folder: Path | None = None) -> None:
        self.backend_tokenizer = backend
        self.pad_token_id = pad_token_id
        self.folder = folder

    def save_pretrained(self, folder: str | Path) -> None:
        """Write ``tokenizer.json`` and copy the settings files of the folder it came from."""
        import shutil

        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        self.backend_tokenizer.save(str(folder / "tokenizer.json"))
        for name in self.SETTINGS_FILES if self.folder is not None else ():
            if (self.folder / name).is_file():
                shutil.copyfile(self.folder / name, folder / name)


def load_piece_tokenizer(folder: str | Path) -> PieceTokenizer | None:
    """The tokenizer saved in ``folder`` as a :class:`PieceTokenizer`, or None when the
    folder has no ``tokenizer.json`` (then :func:`load_tokenizer` reads it)."""
    folder = Path(folder)
    if not (folder / "tokenizer.json").is_file():
        return None
    from tokenizers import Tokenizer

    backend = Tokenizer.from_file(str(folder / "tokenizer.json"))
    # a model's tokenizer.json may carry padding and truncation for its own use
    # (all-MiniLM-L6-v2: pad everything to 128): the components set their own
    backend.no_padding()
    backend.no_truncation()
    settings_file = folder / "tokenizer_config.json"
    settings = {}
    if settings_file.is_file():
        settings = json.loads(settings_file.read_text(encoding="utf-8"))
    pad = settings.get("pad_token")
    if isinstance(pad, dict):  # an AddedToken written out in full
        pad = pad.get("content")
    return PieceTokenizer(backend, backend.token_to_id(pad) if isinstance(pad, str) else None,
                          folder)


def encode_pieces(tokenizer: Any, texts: list[str],
                  max_length: int) -> list[tuple[list[int], list[tuple[int, int]]]]:
    """Piece ids (special pieces included) and character offsets of each text, cut at
    ``max_length`` pieces.

    With a fast tokenizer (or a :class:`PieceTokenizer`) the Rust tokenizer is
    called directly: the same pieces as calling the tokenizer, without its
    per-call Python overhead. The cut it sets stays on the tokenizer;
    :func:`clear_run_time_settings` removes it before the tokenizer is saved.
    """
    texts = [encodable_text(text) for text in texts]
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is None:
        encoded = tokenizer(texts, return_offsets_mapping=True, truncation=True,
                            max_length=max_length)
        return list(zip(encoded["input_ids"], encoded["offset_mapping"], strict=True))
    truncation = backend.truncation
    if truncation is None or truncation.get("max_length") != max_length:
        backend.enable_truncation(max_length)
    if backend.padding is not None:
        backend.no_padding()
    return [(e.ids, e.offsets) for e in backend.encode_batch(texts)]


#: model types whose position numbers start after the padding index
_POSITIONS_AFTER_PADDING = ("roberta", "xlm-roberta", "camembert")


def position_limit(encoder: Any) -> int | None:
    """The most pieces (special ones included) ``encoder`` reads in one pass, or None
    when its configuration does not say."""
    config = getattr(encoder, "config", None)
    positions = getattr(config, "max_position_embeddings", None)
    if not isinstance(positions, int) or isinstance(positions, bool):
        return None
    if getattr(config, "model_type", None) in _POSITIONS_AFTER_PADDING:
        positions -= int(getattr(config, "pad_token_id", 1) or 1) + 1
    return positions


def max_length_problem(owner: str, config: dict[str, Any],
                       encoder: Any) -> tuple[str, str] | None:
    """The error and hint for a ``max_length`` over the pieces ``encoder`` reads at
    once (a longer pass indexes past its position embeddings when a long message is
    parsed), or None when it fits."""
    limit = position_limit(encoder)
    if limit is None or int(config["max_length"]) <= limit:
        return None
    return (f"component {owner}: max_length {config['max_length']} is more than the "
            f"{limit} word pieces the encoder {config['model']} reads at once",
            f"set max_length to {limit} or less")


def cut_max_length(owner: str, config: dict[str, Any], encoder: Any) -> None:
    """Lower a stored ``max_length`` to the pieces ``encoder`` reads at once, with a
    warning: a model trained before such a setting was refused still parses long
    messages."""
    limit = position_limit(encoder)
    if limit is not None and int(config["max_length"]) > limit:
        logger.warning("%s: max_length %s is more than the %d word pieces the encoder "
                       "reads at once; reading %d at a time", owner, config["max_length"],
                       limit, limit)
        config["max_length"] = limit


_SURROGATES = re.compile("[\ud800-\udfff]")


def encodable_text(text: str) -> str:
    """``text`` with each surrogate code point replaced by U+FFFD, one for one.

    JSON may carry half of a UTF-16 pair (``"\\ud83d"``, from a client that cut
    a message inside an emoji), and such a string has no UTF-8 form, which the
    Rust tokenizer needs: it would fail the whole batch. Replacing keeps every
    other character at its offset.
    """
    return _SURROGATES.sub("\ufffd", text) if _SURROGATES.search(text) else text


def pad_pieces(batch: list[list[int]], pad_id: int) -> tuple[Any, Any]:
    """Piece-id lists as a padded (batch, longest) id tensor and its 0/1 attention mask."""
    import torch

    length = max(len(ids) for ids in batch)
    input_ids = torch.full((len(batch), length), pad_id, dtype=torch.long)
    mask = torch.zeros((len(batch), length), dtype=torch.long)
    for row, ids in enumerate(batch):
        input_ids[row, :len(ids)] = torch.tensor(ids)
        mask[row, :len(ids)] = 1
    return input_ids, mask


def clear_run_time_settings(tokenizer: Any) -> None:
    """Remove the cut :func:`encode_pieces` set: a saved tokenizer should not carry it."""
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is not None:
        backend.no_truncation()


#: checkpoint keys that are not part of the encoder (pooler, pre-training heads)
_NOT_ENCODER = ("pooler.", "cls.")


def load_local_bert(source: str) -> tuple[Any, PieceTokenizer] | None:
    """A BERT-style model in a local folder, read without importing ``transformers``.

    Reads ``config.json``, ``model.safetensors`` and ``tokenizer.json`` into
    the modules of :func:`~dialogflowlite.models.fast_bert.bert_skeleton` and a
    :class:`PieceTokenizer`: the same weights and pieces as ``AutoModel`` and
    ``AutoTokenizer`` give, several seconds sooner (importing ``transformers``
    and building its model is most of what loading costs). None for anything
    else (a hub name, another architecture, weights in another format, a
    checkpoint that does not fit): the caller loads it with ``transformers``.
    """
    folder = Path(source)
    files = [folder / name for name in ("config.json", "model.safetensors", "tokenizer.json")]
    if not all(f.is_file() for f in files):
        return None
    try:
        config = json.loads(files[0].read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(config, dict) or config.get("model_type") != "bert":
        return None
    from safetensors.torch import load_file

    from dialogflowlite.models.fast_bert import lean_bert

    try:
        tensors = load_file(str(files[1]))
    except Exception:  # unreadable: transformers will say what is wrong with it
        return None
    if any(key.startswith("bert.") for key in tensors):  # a checkpoint with heads
        tensors = {key[len("bert."):]: value for key, value in tensors.items()
                   if key.startswith("bert.")}
    encoder = lean_bert(config, {key: value for key, value in tensors.items()
                                 if not key.startswith(_NOT_ENCODER)})
    tokenizer = load_piece_tokenizer(folder) if encoder is not None else None
    return None if tokenizer is None else (encoder, tokenizer)


def load_encoder(source: str, owner: str) -> Any:
    """The pretrained encoder of ``source``, without its pooler."""
    from transformers import AutoModel

    try:
        encoder = AutoModel.from_pretrained(source)
    except (OSError, ValueError) as e:
        raise ModelSourceError(
            f"{owner}: cannot load pretrained weights from {source!r}: {e}", hint=_SOURCE_HINT
        ) from e
    return without_pooler(encoder)


def load_pretrained(source: str, owner: str, lean: bool = True) -> tuple[Any, Any]:
    """The encoder and tokenizer of a resolved model ``source``, for training.

    With ``lean``, a BERT-style model in a local folder loads without importing
    ``transformers`` (:func:`load_local_bert`), and a BERT-style encoder that
    ``transformers`` loads is copied into ``LeanBert``, whose forward pass is
    made for CPU training. Without it, the ``transformers`` model is kept (LoRA
    wraps its modules).
    """
    from dialogflowlite.models.fast_bert import lean_copy

    local = load_local_bert(source) if lean else None
    if local is not None:
        return local
    tokenizer = load_tokenizer(source, owner)
    encoder = load_encoder(source, owner)
    if lean:
        encoder = lean_copy(encoder) or encoder
    return encoder, tokenizer


def encoder_from_config(folder: str, owner: str) -> Any:
    """An encoder built from a saved config (weights are loaded by the caller)."""
    from transformers import AutoConfig, AutoModel

    try:
        config = AutoConfig.from_pretrained(folder)
    except (OSError, ValueError) as e:
        raise ModelLoadError(
            f"{owner}: the stored encoder config is unreadable: {e}",
            hint="retrain with `dialogflowlite train --force`",
        ) from e
    return without_pooler(AutoModel.from_config(config))


def load_stored_encoder(encoder_dir: Path, tokenizer_dir: Path, fast: bool,
                        owner: str) -> tuple[Any, Any]:
    """A trained component's saved encoder (weights not loaded yet) and tokenizer.

    With ``fast``, a BERT-style encoder and its tokenizer are rebuilt without
    importing ``transformers`` (:func:`~dialogflowlite.models.fast_bert.bert_skeleton`
    and :class:`PieceTokenizer`): parsing processes start sooner and hold less
    memory. Anything else is built by ``transformers``.
    """
    from dialogflowlite.models.fast_bert import bert_skeleton

    encoder = tokenizer = None
    config_file = Path(encoder_dir) / "config.json"
    if fast and config_file.is_file():
        encoder = bert_skeleton(json.loads(config_file.read_text(encoding="utf-8")))
        if encoder is not None:
            tokenizer = load_piece_tokenizer(tokenizer_dir)
    if tokenizer is None:
        tokenizer = load_tokenizer(str(tokenizer_dir), owner)
    if encoder is None:
        encoder = encoder_from_config(str(encoder_dir), owner)
    return encoder, tokenizer


def save_encoder_config(encoder: Any, folder: Path) -> None:
    """The encoder's ``config.json`` (a ``transformers`` config, or a skeleton's)."""
    config = encoder.config
    if hasattr(config, "save_pretrained"):
        config.save_pretrained(folder)
        return
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.json").write_text(json.dumps(vars(config), indent=2, sort_keys=True),
                                        encoding="utf-8")


def without_pooler(encoder: Any) -> Any:
    """The encoder with its pooler removed: heads read hidden states, a pooler only costs."""
    if getattr(encoder, "pooler", None) is not None:
        encoder.pooler = None
    return encoder


def _layer_list(encoder: Any) -> Any:
    """The ``nn.ModuleList`` holding the encoder's blocks (None when it cannot be found)."""
    from torch import nn

    count = getattr(getattr(encoder, "config", None), "num_hidden_layers", None)
    if count is None:
        return None
    return next((m for m in encoder.modules()
                 if isinstance(m, nn.ModuleList) and len(m) == count), None)


def encoder_layers(encoder: Any) -> list[Any]:
    """The encoder's Transformer blocks, bottom first (empty when they cannot be found)."""
    holder = _layer_list(encoder)
    return list(holder) if holder is not None else []


def layer_decay_multipliers(model: Any, encoder: Any, decay: float,
                            owner: str) -> dict[str, float]:
    """Learning-rate factors per parameter-name prefix of ``model`` for layer-wise decay.

    The top block of ``encoder`` (a submodule of ``model``) learns at the full
    rate, each block below at ``decay`` times the one above it, and the
    embeddings at the rate of a block below the lowest: the lower a block, the
    more general what it learnt in pre-training, and the less it should move.
    """
    layers = encoder_layers(encoder)
    if not layers:
        raise ComponentConfigError(
            f"{owner}: cannot find the layers of this encoder to set their learning rates",
            hint="set layer_learning_rate_decay: 1.0",
        )
    names = {id(module): name for name, module in model.named_modules()}
    multipliers = {f"{names[id(layer)]}.": decay ** (len(layers) - 1 - depth)
                   for depth, layer in enumerate(layers)}
    embeddings = getattr(encoder, "embeddings", None)
    if embeddings is not None:
        multipliers[f"{names[id(embeddings)]}."] = decay ** len(layers)
    return multipliers


def keep_bottom_layers(encoder: Any, count: int | None, owner: str) -> None:
    """Cut ``encoder`` down to its embeddings and lowest ``count`` blocks (None: keep all).

    The upper blocks of a pretrained encoder add the least to a task it is
    fine-tuned for, and every block costs the same time per message. The
    encoder's config records the new depth, so a stored model reloads with it.
    """
    if count is None:
        return
    holder = _layer_list(encoder)
    if holder is None:
        raise ComponentConfigError(
            f"{owner}: cannot find the layers of this encoder to keep {count} of",
            hint="remove encoder_layers",
        )
    total = len(holder)
    if not 1 <= count <= total:
        raise ComponentConfigError(
            f"{owner}: encoder_layers is {count}, but the encoder has {total} layers",
            hint=f"use a number from 1 to {total}, or null for all of them",
        )
    del holder[count:]
    encoder.config.num_hidden_layers = count


def freeze_bottom_layers(encoder: Any, count: int, owner: str) -> None:
    """Keep the embeddings and the lowest ``count`` blocks fixed while fine-tuning.

    Their backward pass is skipped altogether, which is where the time goes.
    """
    if count <= 0:
        return
    layers = encoder_layers(encoder)
    if not layers:
        raise ComponentConfigError(
            f"{owner}: cannot find the layers of this encoder to freeze",
            hint="set freeze_layers: 0",
        )
    if count >= len(layers):
        # config checks cannot tell: the layer count is known only now the encoder loaded
        logger.warning("%s: freeze_layers is %d and the encoder has %d layers, so all of it "
                       "stays as pretrained and only the heads learn; use at most %d to "
                       "fine-tune its top layers", owner, count, len(layers), len(layers) - 1)
    if hasattr(encoder, "get_input_embeddings"):
        encoder.get_input_embeddings().requires_grad_(False)
    embeddings = getattr(encoder, "embeddings", None)
    if embeddings is not None:
        embeddings.requires_grad_(False)
    for layer in layers[:count]:
        layer.requires_grad_(False)


def with_lora(encoder: Any, options: dict[str, Any], owner: str) -> Any:
    """``encoder`` wrapped with LoRA adapters (peft is imported only here)."""
    try:
        from peft import LoraConfig, get_peft_model
    except ImportError as e:
        raise ComponentConfigError(
            f"{owner}: `lora` needs the peft package, which is not installed",
            hint="pip install 'dialogflowlite[lora]', or remove `lora` from the config",
        ) from e
    # checked by the component's check_config; alpha as given (0.5 stays 0.5)
    config = LoraConfig(
        r=int(options.get("r", 8)),
        lora_alpha=options.get("alpha", 16),
        lora_dropout=float(options.get("dropout", 0.1)),
        target_modules=options.get("target_modules"),
    )
    try:
        return get_peft_model(encoder, config)
    except ValueError as e:
        raise ComponentConfigError(
            f"{owner}: LoRA cannot wrap this encoder: {e}",
            hint="set lora.target_modules to the names of its attention layers",
        ) from e


def plain_state_dict(model: Any) -> dict[str, Any]:
    """The model's tensors on the CPU, ready for safetensors."""
    import torch

    return {
        k: v.detach().cpu()
        for k, v in model.state_dict().items()
        if isinstance(v, torch.Tensor) and not v.is_quantized
    }


def load_stored_weights(model: Any, storage: Any, name: str, owner: str) -> None:
    """Read a component's stored weights file straight into ``model`` (no second copy
    of the weights while loading), failing clearly when they do not fit it."""
    missing, unexpected = storage.read_tensors_into(name, model)
    _check_fit(missing, unexpected, owner)


def load_weights(model: Any, tensors: dict[str, Any], owner: str) -> None:
    """Load stored tensors, failing clearly when they do not fit the model."""
    missing, unexpected = model.load_state_dict(tensors, strict=False)
    _check_fit(missing, unexpected, owner)


def _check_fit(missing: list[str], unexpected: list[str], owner: str) -> None:
    # buffers such as position_ids are rebuilt by the model itself
    missing = [k for k in missing if not k.endswith("position_ids")]
    if missing or unexpected:
        raise ModelLoadError(
            f"{owner}: stored weights do not fit the model "
            f"(missing {missing[:3]}, unexpected {unexpected[:3]})",
            hint="retrain with `dialogflowlite train --force`",
        )
