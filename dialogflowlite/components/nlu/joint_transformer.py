"""JointTransformerClassifier: a pretrained encoder fine-tuned for intents and slots.

``model:`` names the encoder: a hub name, a local folder, or an alias that a
model source plugin resolves (the built-in one maps ``all-MiniLM-L6-v2`` to
weights installed with the package, so the default project trains offline).
The encoder reads sub-word pieces from the model's fast tokenizer; the slot
head tags each word of ``message.tokens`` on its first piece, found through
the tokenizer's character offsets. Entity roles and groups are part of the
tag labels. Regex and lookup features from RegexFeaturizer are concatenated
to the word and sentence states when present.

On disk (through :class:`ComponentStorage` only): the encoder's config and
the tokenizer's files (JSON/text), every weight in one safetensors file and
the labels in JSON. Loading needs neither the original weights nor network.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from dialogflowlite.components.base import NluContext
from dialogflowlite.components.nlu.intent_slot_classifier import IntentSlotClassifier
from dialogflowlite.components.nlu.known_words import tokenizer_single_piece
from dialogflowlite.components.nlu.pretrained import (
    clear_run_time_settings,
    cut_max_length,
    encode_pieces,
    freeze_bottom_layers,
    keep_bottom_layers,
    layer_decay_multipliers,
    load_pretrained,
    load_stored_encoder,
    load_stored_weights,
    load_weights,
    max_length_problem,
    plain_state_dict,
    resolve_model_source,
    save_encoder_config,
    with_lora,
)
from dialogflowlite.components.nlu.sequence_labels import (
    LabelSet,
    example_tokens,
    regex_features,
)
from dialogflowlite.components.tokenizers.alignment import first_subtoken_indices
from dialogflowlite.errors import Position, TrainingError
from dialogflowlite.models.quantization import quantize_linear_layers
from dialogflowlite.shared.message import Message
from dialogflowlite.shared.training_data import TrainingData
from dialogflowlite.training.finetune import (
    FinetuneSource,
    check_same_shape,
)

if TYPE_CHECKING:
    from dialogflowlite.artifact import ComponentStorage
    from dialogflowlite.models.joint_intent_slot import JointIntentSlotModel

logger = logging.getLogger(__name__)

DEFAULT_MODEL = "sentence-transformers/all-MiniLM-L6-v2"
WEIGHTS = "model.safetensors"
META = "labels.json"
ENCODER_DIR = "encoder"
TOKENIZER_DIR = "tokenizer"


def auto_epochs(num_examples: int) -> int:
    """Epochs when the config says ``auto``: more passes over small data, fewer over big.

    Aims at roughly 40k example passes, between 3 and 20 epochs (a 13k-example
    corpus gets 3, a 200-example project 20, capped by its time budget).
    """
    return max(3, min(20, math.ceil(40_000 / max(1, num_examples))))


@dataclass
class _Encoded:
    """One example as the model reads it."""

    input_ids: list[int]
    word_index: list[int]
    #: the position after each word's last piece
    word_end: list[int]
    intent: int
    tags: list[int]
    token_features: list[list[float]]
    sentence_features: list[float]
    #: per word: whether it has no piece of its own (it shares a neighbour's)
    pieceless: list[bool] = field(default_factory=list)


#: LoRA's numbers: the key, its default, what it takes in words, and the test of a value
LORA_NUMBERS = (
    ("r", 8, "a whole number of at least 1", lambda v: v >= 1 and v == int(v)),
    ("alpha", 16, "a number above 0", lambda v: v > 0),
    ("dropout", 0.1, "a number of at least 0 and below 1", lambda v: 0 <= v < 1),
)


class JointTransformerClassifier(IntentSlotClassifier):
    """Fine-tunes a pretrained Transformer encoder for intents and BIO slots at once.

    Intent head on the first (or mean) piece state, slot head on each word's
    first piece, optional CRF, regex/lookup features, optional LoRA, dynamic
    int8 quantization when loaded with ``quantize``.
    """

    name = "JointTransformerClassifier"
    setting_kinds: ClassVar[dict[str, type]] = {"model": str}
    finetunable = True
    length_unit = "word pieces"
    defaults: dict[str, Any] = {
        # encoder: hub name, local folder, or an alias of a model source
        "model": DEFAULT_MODEL,
        # "cls" (first piece) or "mean" (mean of the pieces) for the intent head
        "pooling": "cls",
        # "first" (a word's first piece) or "mean" (the mean of its pieces) for the slot head
        "word_pooling": "first",
        # pieces read at once: the intent comes from a message's first max_length pieces,
        # and the words after them are tagged in further overlapping windows
        "max_length": 64,
        "use_crf": False,
        # "bio", or "bilou": a span's last word and one-word spans get tags of their own
        "tag_scheme": "bio",
        # tag only entities that the predicted intent's training examples carry
        "restrict_entities_to_intent": False,
        # cut a predicted entity in two at a comma or semicolon between its words, or
        # a Chinese or Japanese list separator (，、；) (Rasa's setting): true, false,
        # or per entity type ({address: false}; other types are cut)
        "split_entities_by_comma": True,
        "intent_classification": True,
        "entity_recognition": True,
        # an integer, or "auto" (see auto_epochs)
        "epochs": "auto",
        "batch_size": 32,
        "learning_rate": 1e-4,
        # the heads (and CRF) learn this much faster than the encoder
        "head_learning_rate_factor": 10.0,
        # each encoder layer learns at this factor times the rate of the layer above
        # it (1.0: all at the same rate)
        "layer_learning_rate_decay": 1.0,
        "weight_decay": 0.01,
        "warmup_ratio": 0.1,
        "max_grad_norm": 1.0,
        "dropout": 0.1,
        "slot_loss_weight": 1.0,
        # keep the pretrained word-piece embeddings fixed: much faster on CPU
        "freeze_embeddings": True,
        # use only the lowest N layers of the pretrained encoder (null: all of them):
        # faster training and parsing at some cost in accuracy; pair it with
        # pooling: mean (see docs/nlu.md)
        "encoder_layers": None,
        # also keep all embeddings and the lowest N encoder layers fixed (faster still)
        "freeze_layers": 0,
        # part held out for early stopping, used when it has at least min_held_out examples
        "validation_split": 0.1,
        "min_held_out": 100,
        # held-out evaluations in a row without a better score before training
        # stops (counted in evaluations: raise it with evaluations_per_epoch)
        "patience": 2,
        "evaluations_per_epoch": 1,
        # a wall-time budget for fine-tuning (minutes), or null
        "max_minutes": None,
        # null: the pipeline's seed
        "random_seed": None,
        # null: the GPU when there is one
        "device": None,
        # intents listed in the parse result's intent_ranking (0: all of them, as in Rasa)
        "ranking_length": 10,
        "inference_batch_size": 64,
        # dynamic int8 quantization of the Linear layers when loaded
        "quantize": False,
        # a leaner forward pass for BERT-style encoders when loaded for parsing
        "fast_inference": True,
        # a leaner forward pass for BERT-style encoders while fine-tuning; a local
        # BERT folder then loads without transformers
        "fast_training": True,
        # LoRA adapters instead of full fine-tuning: {r: 8, alpha: 16, dropout: 0.1}
        "lora": None,
    }

    def __init__(self, config: dict[str, Any] | None = None, **kwargs: Any) -> None:
        super().__init__(config, **kwargs)
        self.model: JointIntentSlotModel | None = None
        self.tokenizer: Any = None
        self.labels: LabelSet | None = None
        self.regex_names: list[str] = []
        self.fit_result: Any = None
        self._inference_only = False

    # ------------------------------------------------------------ configuration

    @classmethod
    def check_config(cls, config: dict[str, Any], *,
                     position: Position | None = None) -> None:
        """The shared training settings, the pooling choices and the layer settings
        (whether ``freeze_layers`` leaves any layer to fine-tune is known only once the
        encoder loads: training warns then)."""
        super().check_config(config, position=position)
        c = config
        if c["pooling"] not in ("cls", "mean"):
            cls._report_bad_value(c, "pooling", "use 'cls' or 'mean'", position)
        if c["word_pooling"] not in ("first", "mean"):
            cls._report_bad_value(c, "word_pooling", "use 'first' or 'mean'", position)
        cls.check_number(c, "layer_learning_rate_decay", above=0, at_most=1, position=position)
        cls.check_number(c, "head_learning_rate_factor", above=0, position=position)
        cls.check_number(c, "encoder_layers", at_least=1, whole=True, position=position)
        cls.check_number(c, "freeze_layers", at_least=0, whole=True, position=position)
        lora = c["lora"]
        if lora is not None and (
            not isinstance(lora, dict) or set(lora) - {"r", "alpha", "dropout", "target_modules"}
        ):
            cls._report_bad_value(c, "lora", "write it as {r: 8, alpha: 16, dropout: 0.1}",
                                  position)
        elif lora is not None:
            cls._check_lora(lora, position)

    @classmethod
    def _check_lora(cls, lora: dict[str, Any], position: Position | None) -> None:
        """The LoRA settings in their ranges, named ``lora.r`` and so on: `r: abc` failed
        with a traceback once the encoder had loaded, and `alpha: 0.5` was cut to 0,
        which switched the adapters off."""
        for key, default, wanted, fine in LORA_NUMBERS:
            value = lora.get(key, default)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or \
                    not math.isfinite(value) or not fine(value):
                cls.report_bad_setting(
                    f"component {cls.name}: setting 'lora.{key}' must be {wanted}, not "
                    f"{value!r}", hint=f"for example `{key}: {default}` under lora:",
                    position=position)
        modules = lora.get("target_modules")
        if modules is not None and not isinstance(modules, str) and not (
                isinstance(modules, list) and modules
                and all(isinstance(m, str) and m for m in modules)):
            cls.report_bad_setting(
                f"component {cls.name}: setting 'lora.target_modules' must be a module name "
                f"or a list of them, not {modules!r}",
                hint="for example `target_modules: [query, value]`", position=position)

    # ------------------------------------------------------------ training

    def _learning_rate_factors(self) -> dict[str, float]:
        """Learning-rate factors per parameter prefix: the heads', then each layer's."""
        factors = {"heads.": float(self.config["head_learning_rate_factor"])}
        decay = float(self.config["layer_learning_rate_decay"])
        if decay != 1.0:
            factors.update(layer_decay_multipliers(self.model, self.model.encoder, decay,
                                                   self.name))
        return factors

    def _auto_epochs(self, num_items: int) -> int:
        return auto_epochs(num_items)

    def _single_piece(self) -> Callable[[str], bool] | None:
        tokenizer = getattr(self, "tokenizer", None)
        return tokenizer_single_piece(tokenizer) if tokenizer is not None else None

    def fit(
        self, training_data: TrainingData, context: NluContext, held_out: TrainingData | None = None
    ) -> None:
        """Fine-tune; ``held_out`` (e.g. a dev split) replaces the automatic held-out part."""
        from dialogflowlite.models.crf import bio_transition_mask
        from dialogflowlite.models.joint_intent_slot import (
            JointIntentSlotConfig,
            JointIntentSlotModel,
        )
        from dialogflowlite.training.loop import seed_everything

        c = self.config
        split = self._split_for_training(training_data, context, held_out)
        seed_everything(split.seed)
        source = resolve_model_source(str(c["model"]), self.name, self.position)
        # BERT-style encoders train through LeanBert's forward pass (not under
        # LoRA, which wraps transformers modules); from a local folder they load
        # without importing transformers at all
        encoder, self.tokenizer = load_pretrained(
            source, self.name, lean=c["fast_training"] and not c["lora"])
        problem = max_length_problem(self.name, c, encoder)
        if problem is not None:
            self.report_bad_setting(problem[0], hint=problem[1], position=self.position)
        keep_bottom_layers(encoder, c["encoder_layers"], self.name)
        if c["encoder_layers"] is not None and c["pooling"] == "cls":
            # measured: a 4-layer all-MiniLM-L6-v2 with the first piece's state
            # learnt the template's entities but not its intents
            logger.warning("%s: with encoder_layers, the first piece's state may carry "
                           "little of the sentence; if intents are not learnt, set "
                           "pooling: mean", self.name)
        if c["freeze_embeddings"] and hasattr(encoder, "get_input_embeddings"):
            encoder.get_input_embeddings().weight.requires_grad_(False)
        freeze_bottom_layers(encoder, int(c["freeze_layers"]), self.name)
        if c["lora"]:
            encoder = with_lora(encoder, c["lora"], self.name)
        model_config = JointIntentSlotConfig(
            hidden_size=encoder.config.hidden_size,
            num_intents=len(self.labels.intents),
            num_tags=len(self.labels.tags),
            num_token_features=len(self.regex_names),
            num_sentence_features=len(self.regex_names),
            dropout=float(c["dropout"]),
            pooling=c["pooling"],
            word_pooling=c["word_pooling"],
            use_crf=bool(c["use_crf"]) and self._tags_wanted,
            slot_loss_weight=float(c["slot_loss_weight"]),
        )
        allowed = bio_transition_mask(self.labels.tags) if model_config.use_crf else None
        self.model = JointIntentSlotModel(encoder, model_config, allowed)
        if context.finetune_from is not None:
            self._start_from(context.finetune_from)

        self._run_training(split, context, self._collate, lambda i: len(i.input_ids),
                           self._learning_rate_factors())
        if c["lora"]:
            self.model.encoder = self.model.encoder.merge_and_unload()
        if context.quantize:
            # weights are saved in full precision; the saved config asks for int8 at load
            self.config["quantize"] = True

    def _start_from(self, source: FinetuneSource) -> None:
        """Load a trained model's weights into the new model (``train --finetune``)."""
        assert self.model is not None and self.labels is not None
        if self.config["lora"]:
            raise TrainingError(f"{self.name}: fine-tuning a model trained with lora is not "
                                "supported", hint="train without --finetune")
        meta = source.storage.read_json(META)
        self._check_finetune_labels(source, meta)
        check_same_shape(self.name, source, {"model": meta.get("source_model"),
                                             **meta["model_config"]},
                         {"model": self.config["model"], **asdict(self.model.config)},
                         ignore=("dropout", "slot_loss_weight"))
        load_weights(self.model, source.storage.read_tensors(WEIGHTS), self.name)

    def _encode(self, messages: Sequence[Message], with_labels: bool) -> list[_Encoded]:
        """Sub-word pieces, first-piece index per word, labels and features per message."""
        assert self.labels is not None
        encoded = self._pieces([m.text for m in messages])
        items = []
        for i, message in enumerate(messages):
            tokens = example_tokens(message)
            ids, offsets = encoded[i]
            first_pieces = first_subtoken_indices(offsets, tokens)
            index = _complete(list(first_pieces))
            tokens = tokens[: len(index)]
            intent, tags = -1, []
            if with_labels:
                intent = self.labels.intent_index(message)
                tags = self.labels.tag_indices(message, tokens)
            token_features, sentence_features = regex_features(
                message, self.regex_names, len(tokens)
            )
            items.append(
                _Encoded(
                    ids,
                    index,
                    word_ends(index, offsets) if self._reads_word_ends else [],
                    intent,
                    tags,
                    token_features,
                    sentence_features,
                    [piece < 0 for piece in first_pieces[: len(index)]],
                )
            )
        return items

    def _pieces(self, texts: list[str]) -> list[tuple[list[int], list[tuple[int, int]]]]:
        """Piece ids and character offsets of each text, cut at ``max_length`` pieces."""
        return encode_pieces(self.tokenizer, texts, int(self.config["max_length"]))

    @property
    def _reads_word_ends(self) -> bool:
        """Whether the model reads where words end (``word_pooling: mean``); parsing
        skips that work otherwise."""
        return self.model is not None and self.model.config.word_pooling == "mean"

    def _word_count(self, item: _Encoded) -> int:
        return len(item.word_index)

    def _item_length(self, item: _Encoded) -> int:
        return len(item.input_ids)

    def _was_cut(self, item: _Encoded) -> bool:
        return len(item.input_ids) >= int(self.config["max_length"])

    def _pieceless(self, item: _Encoded) -> list[bool]:
        return item.pieceless

    def _collate(self, items: list[_Encoded]) -> dict[str, Any]:
        import torch

        from dialogflowlite.models.joint_intent_slot import IGNORE_INDEX

        pieces = max(len(i.input_ids) for i in items)
        words = max(1, max(len(i.word_index) for i in items))
        pad = self.tokenizer.pad_token_id or 0
        features = len(self.regex_names)
        # padded Python lists, then one tensor per field: far fewer small torch calls
        batch: dict[str, Any] = {
            "input_ids": torch.tensor(
                [i.input_ids + [pad] * (pieces - len(i.input_ids)) for i in items]
            ),
            # a single unpadded message needs no mask (a faster path in the encoder)
            "attention_mask": None
            if len(items) == 1
            else torch.tensor(
                [[1] * len(i.input_ids) + [0] * (pieces - len(i.input_ids)) for i in items]
            ),
            "word_index": torch.tensor(
                [i.word_index + [0] * (words - len(i.word_index)) for i in items]
            ),
            "word_end": torch.tensor(
                [i.word_end + [1] * (words - len(i.word_end)) for i in items]
            )
            if self._reads_word_ends
            else None,
            "word_mask": torch.tensor(
                [[True] * len(i.word_index) + [False] * (words - len(i.word_index)) for i in items]
            ),
            "tags": torch.tensor([i.tags + [IGNORE_INDEX] * (words - len(i.tags)) for i in items]),
            "intents": torch.tensor([max(i.intent, 0) for i in items]),
            "token_features": None,
            "sentence_features": None,
        }
        if features:
            blank = [0.0] * features
            batch["token_features"] = torch.tensor(
                [i.token_features + [blank] * (words - len(i.token_features)) for i in items]
            )
            batch["sentence_features"] = torch.tensor([i.sentence_features for i in items])
        return batch

    def _forward(self, model: JointIntentSlotModel, batch: dict[str, Any]) -> Any:
        return model(
            batch["input_ids"],
            batch["attention_mask"],
            batch["word_index"],
            batch["token_features"],
            batch["sentence_features"],
            batch["word_end"],
        )

    # ------------------------------------------------------------ persistence

    def persist(self, storage: ComponentStorage) -> None:
        """Encoder config, tokenizer files, all weights (safetensors) and labels (JSON)."""
        if self.model is None or self.labels is None:
            raise TrainingError(f"{self.name}: nothing to save, the component was not trained")
        if self._inference_only:
            raise TrainingError(
                f"{self.name}: a classifier loaded for parsing cannot be saved again",
                hint="copy its model file instead, or retrain",
            )
        encoder = self.model.encoder
        save_encoder_config(encoder, storage.path(ENCODER_DIR))
        clear_run_time_settings(self.tokenizer)
        self.tokenizer.save_pretrained(storage.path(TOKENIZER_DIR))
        storage.write_tensors(WEIGHTS, plain_state_dict(self.model))
        storage.write_json(META, {**self._shared_meta(), "source_model": self.config["model"]})

    @classmethod
    def load(
        cls, config: dict[str, Any], storage: ComponentStorage, quantize: bool = False
    ) -> JointTransformerClassifier:
        """Rebuild the trained classifier from its own files (no network, no source weights)."""

        from dialogflowlite.models.crf import bio_transition_mask
        from dialogflowlite.models.fast_bert import FastBertEncoder, supports_fast_path
        from dialogflowlite.models.joint_intent_slot import (
            JointIntentSlotConfig,
            JointIntentSlotModel,
        )
        from dialogflowlite.models.weight_sharing import share_identical_weights

        component = cls(config)
        meta = storage.read_json(META)
        component._restore_shared_meta(meta)
        fast = bool(component.config["fast_inference"])
        encoder, component.tokenizer = load_stored_encoder(
            storage.path(ENCODER_DIR), storage.path(TOKENIZER_DIR), fast, cls.name
        )
        cut_max_length(cls.name, component.config, encoder)
        model_config = JointIntentSlotConfig(**meta["model_config"])
        allowed = bio_transition_mask(component.labels.tags) if model_config.use_crf else None
        model = JointIntentSlotModel(encoder, model_config, allowed)
        load_stored_weights(model, storage, WEIGHTS, cls.name)
        model.eval()
        if fast and supports_fast_path(model.encoder):
            model.encoder = FastBertEncoder(model.encoder)
            component._inference_only = True
            # frozen weights equal to another loaded component's are held once
            share_identical_weights(model)
        component.model = model
        if quantize or component.config["quantize"]:
            component._quantize()
        return component

    def _quantize(self) -> None:
        """Dynamic int8 quantization of every Linear layer (CPU inference)."""

        assert self.model is not None
        self.model.to("cpu").eval()
        self.model = quantize_linear_layers(self.model, inplace=True)


# ---------------------------------------------------------------- helpers


def word_ends(index: list[int], offsets: Sequence[tuple[int, int]]) -> list[int]:
    """For each word (first pieces ``index``, in order), the position after its last piece.

    A word ends where the next word with a later first piece starts; the last
    word ends after the last piece with text (special pieces have no span).
    Words that share a piece end right after it.
    """
    with_text = [i for i, (start, end) in enumerate(offsets) if end > start]
    following = with_text[-1] + 1 if with_text else 1
    ends = [0] * len(index)
    for w in range(len(index) - 1, -1, -1):
        first = index[w]
        ends[w] = following if following > first else first + 1
        following = min(following, first) if first >= 0 else following
    return ends


def _complete(index: list[int]) -> list[int]:
    """Drop trailing words without a piece (cut off); others borrow a neighbour's piece."""
    n = len(index)
    while n and index[n - 1] < 0:
        n -= 1
    index = index[:n]
    valid = [i for i in index if i >= 0]
    last = valid[0] if valid else 0
    for w, value in enumerate(index):
        if value < 0:
            index[w] = last
        else:
            last = value
    return index
