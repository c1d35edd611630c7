"""ScratchTransformerClassifier: intents and slots without pretrained weights, any language.

In the spirit of Rasa's DIET: words are featurised by a word vocabulary and
by character n-grams (``<word>`` cut into pieces of ``ngram_min`` to
``ngram_max`` characters, learnt from the training data), plus regex and
lookup features when RegexFeaturizer ran; a small Transformer reads the
sequence; a CLS state gives the intent and each word's state its BIO tag
(CRF by default). Word dropout during training teaches the model to lean on
n-grams for words it has never seen.

On disk: vocabularies and labels as JSON, weights as safetensors.
"""

from __future__ import annotations

import logging
import math
import random
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from dialogflowlite.components.base import NluContext
from dialogflowlite.components.nlu.intent_slot_classifier import IntentSlotClassifier
from dialogflowlite.components.nlu.sequence_labels import (
    LabelSet,
    example_tokens,
    regex_features,
)
from dialogflowlite.components.nlu.word_features import (
    WordNgramVocabulary,
    drop_words,
    pad_word_batch,
)
from dialogflowlite.errors import ModelLoadError, Position, TrainingError
from dialogflowlite.shared.message import Message
from dialogflowlite.shared.training_data import TrainingData
from dialogflowlite.training.finetune import (
    FinetuneSource,
    check_same_shape,
)

if TYPE_CHECKING:
    from dialogflowlite.artifact import ComponentStorage
    from dialogflowlite.models.scratch_transformer import ScratchTransformerModel

logger = logging.getLogger(__name__)

WEIGHTS = "model.safetensors"
META = "labels.json"
VOCABULARY = "vocabulary.json"


def auto_epochs(num_examples: int) -> int:
    """Epochs when the config says ``auto``: about 250k example passes, 10 to 100 epochs."""
    return max(10, min(100, math.ceil(250_000 / max(1, num_examples))))


@dataclass
class _Encoded:
    """One example as the model reads it."""

    word_ids: list[int]
    ngram_ids: list[list[int]]
    intent: int
    tags: list[int]
    token_features: list[list[float]]
    sentence_features: list[float]


class ScratchTransformerClassifier(IntentSlotClassifier):
    """Intent + BIO slot classifier trained from scratch: word and n-gram features, a
    small Transformer, CLS intent head, CRF slot head.
    """

    name = "ScratchTransformerClassifier"
    finetunable = True
    defaults: dict[str, Any] = {
        "hidden_size": 128,
        "num_layers": 2,
        "num_heads": 4,
        "ff_size": 512,
        "dropout": 0.1,
        # a convolution over this many neighbouring words before the Transformer (0: none)
        "conv_kernel": 3,
        # chance of hiding a word's id during training (its n-grams stay)
        "word_dropout": 0.1,
        "lowercase": True,
        "ngram_min": 1,
        "ngram_max": 4,
        # the most frequent n-grams kept in the vocabulary
        "max_ngrams": 50_000,
        "max_ngrams_per_word": 48,
        # words read at once: the intent comes from a message's first max_length words,
        # and the words after them are tagged in further overlapping windows
        "max_length": 128,
        "use_crf": True,
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
        "slot_loss_weight": 1.0,
        # an integer, or "auto" (see auto_epochs)
        "epochs": "auto",
        "batch_size": 32,
        "learning_rate": 1e-3,
        "weight_decay": 0.01,
        "warmup_ratio": 0.05,
        "max_grad_norm": 1.0,
        "validation_split": 0.1,
        "min_held_out": 100,
        # held-out evaluations in a row without a better score before training
        # stops (counted in evaluations: raise it with evaluations_per_epoch)
        "patience": 5,
        "evaluations_per_epoch": 1,
        "max_minutes": None,
        "random_seed": None,
        "device": None,
        # intents listed in the parse result's intent_ranking (0: all of them, as in Rasa)
        "ranking_length": 10,
        "inference_batch_size": 128,
    }

    def __init__(self, config: dict[str, Any] | None = None, **kwargs: Any) -> None:
        super().__init__(config, **kwargs)
        self.model: ScratchTransformerModel | None = None
        self.labels: LabelSet | None = None
        self.regex_names: list[str] = []
        self.vocabulary = self._new_vocabulary()
        self.fit_result: Any = None
        self._dropout_rng = random.Random(0)

    @classmethod
    def check_config(cls, config: dict[str, Any], *,
                     position: Position | None = None) -> None:
        """The shared training settings, and the sizes of the model and its vocabulary."""
        super().check_config(config, position=position)
        c = config
        cls.check_numbers(c, ("num_layers", "ff_size", "max_ngrams", "max_ngrams_per_word"),
                          at_least=1, whole=True, position=position)
        sizes_fine = cls.check_numbers(c, ("hidden_size", "num_heads"), at_least=1, whole=True,
                                       position=position)
        ngrams_fine = cls.check_numbers(c, ("ngram_min", "ngram_max"), at_least=1, whole=True,
                                        position=position)
        cls.check_number(c, "word_dropout", at_least=0, below=1, position=position)
        if sizes_fine and c["hidden_size"] % c["num_heads"]:
            cls._report_bad_value(c, "num_heads", "hidden_size must be a multiple of num_heads",
                                  position)
        if (
            not isinstance(c["conv_kernel"], int)
            or c["conv_kernel"] < 0
            or (c["conv_kernel"] and c["conv_kernel"] % 2 == 0)
        ):
            cls._report_bad_value(c, "conv_kernel",
                                  "use 0 (no convolution) or an odd width such as 3", position)
        if ngrams_fine and c["ngram_min"] > c["ngram_max"]:
            cls._report_bad_value(c, "ngram_min", "ngram_min must not exceed ngram_max", position)

    def _new_vocabulary(self) -> WordNgramVocabulary:
        c = self.config
        return WordNgramVocabulary(
            lowercase=bool(c["lowercase"]),
            ngram_min=int(c["ngram_min"]),
            ngram_max=int(c["ngram_max"]),
            max_ngrams=int(c["max_ngrams"]),
            max_ngrams_per_word=int(c["max_ngrams_per_word"]),
        )

    # ------------------------------------------------------------ training

    def _auto_epochs(self, num_items: int) -> int:
        return auto_epochs(num_items)

    def fit(
        self, training_data: TrainingData, context: NluContext, held_out: TrainingData | None = None
    ) -> None:
        """Train; ``held_out`` (e.g. a dev split) replaces the automatic held-out part."""
        from dialogflowlite.models.crf import bio_transition_mask
        from dialogflowlite.models.scratch_transformer import (
            ScratchTransformerConfig,
            ScratchTransformerModel,
        )
        from dialogflowlite.training.loop import seed_everything

        c = self.config
        split = self._split_for_training(training_data, context, held_out)
        if context.finetune_from is not None:
            # the stored weights embed the stored vocabulary: new words are read
            # through their character n-grams, as at run time
            self.vocabulary = WordNgramVocabulary.from_json(
                context.finetune_from.storage.read_json(VOCABULARY))
        else:
            self.vocabulary = self._new_vocabulary().build(
                [t.text for t in example_tokens(m)] for m in split.train
            )
        self._dropout_rng = random.Random(split.seed)

        seed_everything(split.seed)
        model_config = ScratchTransformerConfig(
            word_vocab_size=len(self.vocabulary.words),
            ngram_vocab_size=len(self.vocabulary.ngrams),
            num_intents=len(self.labels.intents),
            num_tags=len(self.labels.tags),
            num_token_features=len(self.regex_names),
            num_sentence_features=len(self.regex_names),
            hidden_size=int(c["hidden_size"]),
            num_layers=int(c["num_layers"]),
            num_heads=int(c["num_heads"]),
            ff_size=int(c["ff_size"]),
            dropout=float(c["dropout"]),
            max_positions=int(c["max_length"]) + 1,
            conv_kernel=int(c["conv_kernel"]),
            use_crf=bool(c["use_crf"]) and self._tags_wanted,
            slot_loss_weight=float(c["slot_loss_weight"]),
        )
        allowed = bio_transition_mask(self.labels.tags) if model_config.use_crf else None
        self.model = ScratchTransformerModel(model_config, allowed)
        if context.finetune_from is not None:
            self._start_from(context.finetune_from)

        self._run_training(split, context, self._collate_training, lambda i: len(i.word_ids))

    def _encode(self, messages: Sequence[Message], with_labels: bool) -> list[_Encoded]:
        assert self.labels is not None
        items = []
        limit = int(self.config["max_length"])
        for message in messages:
            tokens = example_tokens(message)[:limit]
            words = [t.text for t in tokens]
            intent, tags = -1, []
            if with_labels:
                intent = self.labels.intent_index(message)
                tags = self.labels.tag_indices(message, tokens)
            token_features, sentence_features = regex_features(
                message, self.regex_names, len(tokens)
            )
            items.append(
                _Encoded(
                    [self.vocabulary.word_id(w) for w in words],
                    [self.vocabulary.ngram_ids(w) for w in words],
                    intent,
                    tags,
                    token_features,
                    sentence_features,
                )
            )
        return items

    def _collate_training(self, items: list[_Encoded]) -> dict[str, Any]:
        batch = self._collate(items)
        batch["word_ids"] = drop_words(
            batch["word_ids"], float(self.config["word_dropout"]), self._dropout_rng
        )
        return batch

    def _word_count(self, item: _Encoded) -> int:
        return len(item.word_ids)

    def _was_cut(self, item: _Encoded) -> bool:
        return len(item.word_ids) >= int(self.config["max_length"])

    def _collate(self, items: list[_Encoded]) -> dict[str, Any]:
        import torch

        from dialogflowlite.models.intent_slot_heads import IGNORE_INDEX

        word_ids, ngram_ids, word_mask = pad_word_batch(
            [i.word_ids for i in items], [i.ngram_ids for i in items]
        )
        batch, words = word_ids.shape
        tags = torch.full((batch, words), IGNORE_INDEX, dtype=torch.long)
        features = len(self.regex_names)
        token_features = torch.zeros((batch, words, features)) if features else None
        sentence_features = torch.zeros((batch, features)) if features else None
        for b, item in enumerate(items):
            n = len(item.word_ids)
            if item.tags:
                tags[b, : len(item.tags)] = torch.tensor(item.tags)
            if features and n:
                token_features[b, :n] = torch.tensor(item.token_features)
            if features:
                sentence_features[b] = torch.tensor(item.sentence_features)
        intents = torch.tensor([max(i.intent, 0) for i in items], dtype=torch.long)
        return {
            "word_ids": word_ids,
            "ngram_ids": ngram_ids,
            "word_mask": word_mask,
            "token_features": token_features,
            "sentence_features": sentence_features,
            "intents": intents,
            "tags": tags,
        }

    def _forward(self, model: ScratchTransformerModel, batch: dict[str, Any]) -> Any:
        return model(
            batch["word_ids"],
            batch["ngram_ids"],
            batch["word_mask"],
            batch["token_features"],
            batch["sentence_features"],
        )

    def _start_from(self, source: FinetuneSource) -> None:
        """Load a trained model's weights into the new model (``train --finetune``)."""
        assert self.model is not None and self.labels is not None
        meta = source.storage.read_json(META)
        self._check_finetune_labels(source, meta)
        check_same_shape(self.name, source, meta["model_config"], asdict(self.model.config),
                         ignore=("dropout", "slot_loss_weight"))
        try:
            self.model.load_state_dict(source.storage.read_tensors(WEIGHTS))
        except RuntimeError as e:
            raise TrainingError(f"{self.name}: the weights in {source.model.name} do not fit "
                                f"the model: {e}", hint="train without --finetune") from e

    # ------------------------------------------------------------ persistence

    def persist(self, storage: ComponentStorage) -> None:
        """Vocabularies and labels as JSON, weights as safetensors."""
        if self.model is None or self.labels is None:
            raise TrainingError(f"{self.name}: nothing to save, the component was not trained")
        storage.write_tensors(WEIGHTS, {k: v.cpu() for k, v in self.model.state_dict().items()})
        storage.write_json(VOCABULARY, self.vocabulary.to_json())
        storage.write_json(META, self._shared_meta())

    @classmethod
    def load(
        cls, config: dict[str, Any], storage: ComponentStorage, **_: Any
    ) -> ScratchTransformerClassifier:
        """Rebuild the trained classifier from its files."""

        from dialogflowlite.models.crf import bio_transition_mask
        from dialogflowlite.models.scratch_transformer import (
            ScratchTransformerConfig,
            ScratchTransformerModel,
        )

        component = cls(config)
        meta = storage.read_json(META)
        component._restore_shared_meta(meta)
        component.vocabulary = WordNgramVocabulary.from_json(storage.read_json(VOCABULARY))
        model_config = ScratchTransformerConfig(**meta["model_config"])
        allowed = bio_transition_mask(component.labels.tags) if model_config.use_crf else None
        model = ScratchTransformerModel(model_config, allowed)
        try:
            model.load_state_dict(storage.read_tensors(WEIGHTS))
        except RuntimeError as e:
            raise ModelLoadError(
                f"{cls.name}: stored weights do not fit the model: {e}",
                hint="retrain with `dialogflowlite train --force`",
            ) from e
        # a loaded classifier only predicts: one traced call per batch (see models/tracing)
        model.encoder.trace_inference()
        component.model = model.eval()
        return component
