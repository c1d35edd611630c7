"""What the joint intent + slot classifiers share, whatever their encoder.

:class:`~dialogflowlite.components.nlu.joint_transformer.JointTransformerClassifier`
(a fine-tuned pretrained encoder) and
:class:`~dialogflowlite.components.nlu.scratch_transformer.ScratchTransformerClassifier`
(a small Transformer trained from nothing) read messages differently but
predict, score and write their results the same way. A subclass says how to
turn messages into items (``_encode``), items into a padded batch
(``_collate``), a batch into model outputs (``_forward``), and how many words
an item tags (``_word_count``) and, when it is not that, how long it is for
batching (``_item_length``).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from dialogflowlite.components.base import NluComponent
from dialogflowlite.components.nlu.known_words import WordKnowledge, training_words
from dialogflowlite.components.nlu.sequence_labels import (
    TAG_SCHEMES,
    LabelSet,
    Scores,
    best_index,
    example_tokens,
    predict_batch,
    regex_feature_names,
    score,
    split_held_out,
    write_prediction,
)
from dialogflowlite.errors import Position, TrainingError
from dialogflowlite.shared.message import Message
from dialogflowlite.training.finetune import FinetuneSource, check_same_labels, finetune_epochs

if TYPE_CHECKING:
    import torch

    from dialogflowlite.components.base import NluContext
    from dialogflowlite.shared.training_data import TrainingData

logger = logging.getLogger(__name__)


@dataclass
class TrainingSplit:
    """The examples a training learns from (``train``) and picks its checkpoint on (``dev``)."""

    seed: int
    train: list[Message]
    dev: list[Message]


class IntentSlotClassifier(NluComponent):
    """Base of the classifiers that predict an intent and slot tags (BIO or BILOU) in one model."""

    kind = "intent_classifier"
    requires = ("tokens",)
    provides = ("intent", "intent_ranking", "entities")

    model: Any
    labels: LabelSet | None
    regex_names: list[str]
    _device: torch.device | None
    #: the lower-cased words of the training examples (None in models saved before
    #: they were kept: messages then get no count of known words)
    training_words: frozenset[str] | None = None
    _word_knowledge: WordKnowledge | None = None

    # ------------------------------------------------------------ what subclasses give

    def _encode(self, messages: Sequence[Message], with_labels: bool) -> list[Any]:
        raise NotImplementedError

    def _collate(self, items: list[Any]) -> dict[str, Any]:
        raise NotImplementedError

    def _forward(self, model: Any, batch: dict[str, Any]) -> Any:
        raise NotImplementedError

    def _word_count(self, item: Any) -> int:
        """Words of the message that ``item`` tags (a cut message tags fewer)."""
        raise NotImplementedError

    def _item_length(self, item: Any) -> int:
        """What batches are sorted by, so that a batch holds items of similar length."""
        return self._word_count(item)

    def _auto_epochs(self, num_items: int) -> int:
        """The epochs of ``epochs: auto`` for this many training items."""
        raise NotImplementedError

    def fit(self, training_data: TrainingData, context: NluContext,
            held_out: TrainingData | None = None) -> None:
        """Train; ``held_out`` (e.g. a dev split) replaces the automatic held-out part."""
        raise NotImplementedError

    def _single_piece(self) -> Callable[[str], bool] | None:
        """Whether the pretrained tokenizer keeps a word whole; None without one."""
        return None

    def train(self, training_data: TrainingData, context: NluContext) -> None:
        """Train on the examples, holding out a part for early stopping when big enough."""
        self.fit(training_data, context)

    # ------------------------------------------------------------ training, shared

    def _split_for_training(self, training_data: TrainingData, context: NluContext,
                            held_out: TrainingData | None) -> TrainingSplit:
        """Hold out a part for early stopping (or take ``held_out``); set the labels and
        the regex feature names from all the examples."""
        c = self.config
        seed = c["random_seed"] if c["random_seed"] is not None else context.seed
        examples = training_data.intent_examples
        if not examples:
            raise TrainingError(
                f"{self.name}: no training examples with an intent",
                hint="add examples under `nlu:` in data/nlu.yml",
            )
        if held_out is not None:
            train_examples, dev_examples = examples, held_out.intent_examples
        else:
            train_examples, dev_examples = split_held_out(
                examples, float(c["validation_split"]), int(c["min_held_out"]), seed
            )
        self.labels = LabelSet.from_examples(examples, self.name, c["tag_scheme"])
        self.regex_names = regex_feature_names(examples)
        self.training_words = training_words(examples)
        return TrainingSplit(seed, train_examples, dev_examples)

    def _run_training(self, split: TrainingSplit, context: NluContext,
                      collate: Callable[[list[Any]], dict[str, Any]],
                      length: Callable[[Any], int],
                      lr_multipliers: dict[str, float] | None = None) -> None:
        """Train ``self.model`` with the shared loop; the held-out part picks the checkpoint.

        ``collate`` makes a training batch of encoded items, ``length`` is what
        batches are sorted by; ``lr_multipliers`` scale the learning rate of
        parameters by name prefix.
        """
        from dialogflowlite.training.loop import LoopConfig, fit

        c = self.config
        items = self._encode(split.train, with_labels=True)
        dev_items = self._encode(split.dev, with_labels=True) if split.dev else []
        epochs = self._auto_epochs(len(items)) if c["epochs"] == "auto" else int(c["epochs"])
        if context.finetune_from is not None:
            epochs = finetune_epochs(epochs, context.epoch_fraction)
        steps_per_epoch = math.ceil(len(items) / int(c["batch_size"]))
        loop_config = LoopConfig(
            epochs=epochs,
            batch_size=int(c["batch_size"]),
            learning_rate=float(c["learning_rate"]),
            weight_decay=float(c["weight_decay"]),
            warmup_ratio=float(c["warmup_ratio"]),
            max_grad_norm=float(c["max_grad_norm"]),
            patience=int(c["patience"]),
            eval_every=max(1, steps_per_epoch // max(1, int(c["evaluations_per_epoch"]))),
            max_minutes=c["max_minutes"],
            seed=split.seed,
            device=c["device"] or context.device,
            progress=context.progress,
            description=self.name,
            lr_multipliers=dict(lr_multipliers or {}),
        )
        evaluate = (
            (lambda model: self._score_items(dev_items).selection_score(self._tags_wanted))
            if dev_items
            else None
        )
        self.fit_result = fit(self.model, items, collate, self._step, loop_config,
                              evaluate=evaluate, lengths=[length(i) for i in items])
        self._device = next(self.model.parameters()).device
        logger.info("%s: %s", self.name, self.fit_result.summary())

    # ------------------------------------------------------------ shared

    @classmethod
    def _report_bad_value(cls, config: dict[str, Any], key: str, hint: str,
                          position: Position | None) -> None:
        cls.report_bad_setting(f"component {cls.name}: bad value {config[key]!r} for '{key}'",
                               hint=hint, position=position)

    @classmethod
    def check_config(cls, config: dict[str, Any], *,
                     position: Position | None = None) -> None:
        """The tag scheme, what is learnt, and the training settings both classifiers have."""
        super().check_config(config, position=position)
        c = config
        if c.get("tag_scheme") not in TAG_SCHEMES:
            cls._report_bad_value(c, "tag_scheme",
                                  "use " + " or ".join(repr(s) for s in TAG_SCHEMES), position)
        if not (c["intent_classification"] or c["entity_recognition"]):
            cls._report_bad_value(c, "intent_classification", "enable intents, entities or both",
                                  position)
        cls.check_training_settings(c, position=position)
        cls.check_numbers(c, ("max_length", "inference_batch_size"), at_least=1, whole=True,
                          position=position)
        # 0 keeps every intent in the ranking (Rasa's meaning)
        cls.check_number(c, "ranking_length", at_least=0, whole=True, position=position)
        cls.check_number(c, "slot_loss_weight", at_least=0, position=position)

    def _check_finetune_labels(self, source: FinetuneSource, meta: dict[str, Any]) -> None:
        """The stored model predicts the labels, from the features, this training has
        (``train --finetune``; ``meta`` is the stored model's description)."""
        assert self.labels is not None
        stored = LabelSet.from_json(meta["labels"])
        check_same_labels(self.name, source, "intents", stored.intents, self.labels.intents)
        check_same_labels(self.name, source, "entity tags", stored.tags, self.labels.tags)
        check_same_labels(self.name, source, "regex and lookup features",
                          meta.get("regex_names") or [], self.regex_names)

    def _shared_meta(self) -> dict[str, Any]:
        """What both classifiers keep in their meta JSON: the labels, the regex
        feature names, the model's shape and the training words."""
        assert self.labels is not None and self.model is not None
        return {
            "labels": self.labels.to_json(),
            "regex_names": self.regex_names,
            "model_config": asdict(self.model.config),
            "training_words": sorted(self.training_words or ()),
        }

    def _restore_shared_meta(self, meta: dict[str, Any]) -> None:
        """Set the labels, regex feature names and training words from a stored meta
        JSON (models saved before training words were kept have none)."""
        self.labels = LabelSet.from_json(meta["labels"])
        self.regex_names = list(meta.get("regex_names") or [])
        if meta.get("training_words") is not None:
            self.training_words = frozenset(meta["training_words"])

    @property
    def _tags_wanted(self) -> bool:
        return bool(self.config["entity_recognition"]) and bool(
            self.labels and self.labels.has_entities
        )

    def _step(self, model: Any, batch: dict[str, Any]) -> Any:
        """Loss and intent hits of one training batch."""
        from dialogflowlite.training.loop import StepOutput

        output = self._forward(model, batch)
        intents = batch["intents"] if self.config["intent_classification"] else None
        tags = batch["tags"] if self._tags_wanted else None
        loss = model.loss(output, intents, tags, batch["word_mask"])
        correct = int((output.intent_logits.argmax(-1) == batch["intents"]).sum())
        return StepOutput(loss, correct, len(batch["intents"]))

    def _chunks(self, items: list[Any]) -> list[list[Any]]:
        ordered = sorted(items, key=self._item_length)
        size = int(self.config["inference_batch_size"])
        return [ordered[i : i + size] for i in range(0, len(ordered), size)]

    def _score_items(self, items: list[Any]) -> Scores:
        """Scores of the current model on encoded, labelled items."""
        assert self.labels is not None
        gold, predicted = [], []
        for chunk in self._chunks(items):
            intents, paths, _ = self._predict(chunk)
            for item, intent, path in zip(chunk, intents, paths, strict=True):
                gold_intent = self.labels.intents[item.intent] if item.intent >= 0 else None
                gold.append((gold_intent, [self.labels.tags[t] for t in item.tags]))
                best = self.labels.intents[best_index(intent)] if intent is not None else None
                predicted.append(
                    (
                        best if self.config["intent_classification"] else gold_intent,
                        [self.labels.tags[t] for t in path],
                    )
                )
        return score(gold, predicted)

    def _predict(
        self, items: list[Any]
    ) -> tuple[list[Any], list[list[int]], list[list[float]]]:
        """Intent probabilities, tag paths and tag confidences for a chunk of items."""
        import torch

        from dialogflowlite.training.loop import move_to

        assert self.model is not None
        batch = move_to(self._collate(items), self._device or torch.device("cpu"))
        return predict_batch(self.model, batch, self._forward, len(items),
                             intents_wanted=bool(self.config["intent_classification"]),
                             tags_wanted=self._tags_wanted,
                             tags_by_intent=self._tags_by_intent())

    def _tags_by_intent(self) -> torch.Tensor | None:
        """The intents x tags mask of ``restrict_entities_to_intent`` (None when off)."""
        import torch

        if not self.config.get("restrict_entities_to_intent") or self.labels is None:
            return None
        cached = getattr(self, "_tag_mask", None)
        if cached is not None and cached[0] is self.labels:
            return cached[1]
        rows = self.labels.tags_by_intent()
        if rows is None:
            logger.warning("%s: restrict_entities_to_intent is ignored: this model was "
                           "saved without the entities of each intent (retrain it)", self.name)
        mask = torch.tensor(rows, dtype=torch.bool) if rows is not None else None
        self._tag_mask = (self.labels, mask)
        return mask

    def _knowledge(self) -> WordKnowledge | None:
        """What tells this classifier's known words from unknown ones (see
        :mod:`~dialogflowlite.components.nlu.known_words`)."""
        if self.training_words is None:
            return None
        known = self._word_knowledge
        if known is None or known.words is not self.training_words:
            known = self._word_knowledge = WordKnowledge(self.training_words,
                                                         self._single_piece())
        return known

    def process(self, messages: list[Message]) -> None:
        """Predict the intent ranking and the entities of a batch of messages, and
        count the words of each that the classifier knows."""
        if self.model is None or self.labels is None or not messages:
            return
        knowledge = self._knowledge()
        if knowledge is not None:
            for message in messages:
                knowledge.record(message)
        size = int(self.config["inference_batch_size"])
        order = sorted(range(len(messages)), key=lambda i: len(messages[i].text))
        for start in range(0, len(order), size):
            chunk = [messages[i] for i in order[start : start + size]]
            items = self._encode(chunk, with_labels=False)
            intents, paths, confidences = self._predict(items)
            for message, item, intent, path, conf in zip(
                chunk, items, intents, paths, confidences, strict=True
            ):
                tokens = example_tokens(message)[: self._word_count(item)]
                write_prediction(
                    message,
                    self.labels,
                    intent,
                    tokens,
                    path,
                    conf,
                    self.name,
                    int(self.config["ranking_length"]) or len(self.labels.intents),
                )
