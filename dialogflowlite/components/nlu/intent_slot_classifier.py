"""What the joint intent + slot classifiers share, whatever their encoder.

:class:`~dialogflowlite.components.nlu.joint_transformer.JointTransformerClassifier`
(a fine-tuned pretrained encoder) and
:class:`~dialogflowlite.components.nlu.scratch_transformer.ScratchTransformerClassifier`
(a small Transformer trained from nothing) read messages differently but
predict, score and write their results the same way. A subclass says how to
turn messages into items (``_encode``), items into a padded batch
(``_collate``), a batch into model outputs (``_forward``), and how many words
an item tags (``_word_count``) and, when it is not that, how long it is for
batching (``_item_length``), and whether the model's length limit cut an item
short (``_was_cut``).

A message too long for the model in one pass keeps its intent from the first
pass, and its remaining words are tagged in further passes over overlapping
windows of the message (see :meth:`IntentSlotClassifier._tag_rest`), so an
entity near the end of a long message is found at its own offsets.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from dialogflowlite.components.base import NluComponent
from dialogflowlite.components.nlu.known_words import WordKnowledge, training_words
from dialogflowlite.components.nlu.sequence_labels import (
    REGEX_FEATURES,
    TAG_SCHEMES,
    LabelSet,
    Scores,
    TagConfidence,
    best_index,
    example_tokens,
    predict_batch,
    regex_feature_names,
    score,
    split_held_out,
    write_prediction,
)
from dialogflowlite.components.tokenizers.alignment import OUTSIDE, CommaSplitting
from dialogflowlite.components.tokenizers.unicode_text import word_form
from dialogflowlite.errors import Position, TrainingError
from dialogflowlite.shared.message import Message, Token
from dialogflowlite.training.finetune import FinetuneSource, check_same_labels, finetune_epochs

if TYPE_CHECKING:
    import torch

    from dialogflowlite.components.base import NluContext
    from dialogflowlite.shared.training_data import TrainingData

logger = logging.getLogger(__name__)

#: words a window for the rest of a long message repeats from the part before it,
#: so that the words after a cut are tagged with some context on their left
WINDOW_OVERLAP_WORDS = 8


def _is_comma_splitting(setting: Any) -> bool:
    """Whether ``setting`` is a ``split_entities_by_comma`` Rasa reads: true or false,
    or a mapping of entity types to true or false."""
    if isinstance(setting, dict):
        return all(isinstance(split, bool) for split in setting.values())
    return isinstance(setting, bool)


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
    setting_kinds: ClassVar[dict[str, type]] = {"random_seed": int}

    model: Any
    labels: LabelSet | None
    regex_names: list[str]
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

    def _was_cut(self, item: Any) -> bool:
        """Whether the model's length limit left words of the item's message untagged."""
        return False

    #: what ``max_length`` counts, for messages about it
    length_unit = "words"

    def _cut_short(self, item: Any, message: Message) -> bool:
        """Whether ``max_length`` cut the item's message: the model read only its first
        words (a message whose last words have no piece is not cut)."""
        return self._was_cut(item) and self._word_count(item) < len(example_tokens(message))

    def _pieceless(self, item: Any) -> list[bool]:
        """For each word of the item, whether the model read nothing of its own for it
        (a character the encoder's tokenizer drops): such a word shares a
        neighbour's state, and so its tag."""
        return []

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
        self._warn_cut_examples(split.train, items)
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
        logger.info("%s: %s", self.name, self.fit_result.summary())

    def _warn_cut_examples(self, examples: Sequence[Message], items: list[Any]) -> None:
        """Say (once) how many training examples ``max_length`` cut: the model learns
        their intent and entities from their first words only."""
        cut = [m for m, item in zip(examples, items, strict=True) if self._cut_short(item, m)]
        if not cut:
            return
        where = f" (the first at {cut[0].position})" if cut[0].position else ""
        longest = max(len(example_tokens(m)) for m in cut)
        logger.warning(
            "%s: %d training example(s)%s are longer than max_length (%d %s; the longest "
            "has %d words): the model learns from their first part only. Raise max_length "
            "to train on them whole.",
            self.name, len(cut), where, int(self.config["max_length"]), self.length_unit,
            longest,
        )

    # ------------------------------------------------------------ shared

    @classmethod
    def _report_bad_value(cls, config: dict[str, Any], key: str, hint: str,
                          position: Position | None) -> None:
        cls.report_bad_setting(f"component {cls.name}: bad value {config[key]!r} for '{key}'",
                               hint=hint, position=position)

    @classmethod
    def _checked_value(cls, key: str, value: Any, position: Position | None) -> Any:
        # split_entities_by_comma is true or false, or one of them per entity type
        # (checked in check_config)
        if key == "split_entities_by_comma" and isinstance(value, dict):
            return value
        return super()._checked_value(key, value, position)

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
        if not _is_comma_splitting(c.get("split_entities_by_comma", True)):
            cls._report_bad_value(c, "split_entities_by_comma",
                                  "use true or false, or a mapping of entity types to true "
                                  "or false, e.g. {address: false}", position)
        cls.check_training_settings(c, position=position)
        cls.check_device(c, position=position)
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
            stored = meta["training_words"]
            # (with their compared form, for words saved before words had one)
            self.training_words = frozenset(stored) | {word_form(w) for w in stored}

    @property
    def _comma_splitting(self) -> CommaSplitting:
        """Where predicted entities are cut at commas (``split_entities_by_comma``)."""
        return CommaSplitting.from_setting(self.config.get("split_entities_by_comma", True))

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
        self, items: list[Any], intent: int | None = None
    ) -> tuple[list[Any], list[list[int]], list[list[TagConfidence]]]:
        """Intent probabilities, tag paths and tag confidences for a chunk of items.

        With ``intent`` (an index), ``restrict_entities_to_intent`` allows the
        tags of that intent whatever intent each item is predicted: the windows
        of one long message are tagged for the message's intent.
        """

        from dialogflowlite.training.loop import device_of, move_to

        assert self.model is not None
        # during training (the held-out scores) the model is on the training device
        batch = move_to(self._collate(items), device_of(self.model))
        tags_by_intent = self._tags_by_intent()
        if tags_by_intent is not None and intent is not None:
            tags_by_intent = tags_by_intent[intent].expand_as(tags_by_intent)
        return predict_batch(self.model, batch, self._forward, len(items),
                             intents_wanted=bool(self.config["intent_classification"]),
                             tags_wanted=self._tags_wanted,
                             tags_by_intent=tags_by_intent,
                             tag_classes=self._tag_classes())

    def _tag_classes(self) -> torch.Tensor | None:
        """The role and group index of each tag (None without roles and groups), from
        which the role and group confidences are summed (see
        :func:`~dialogflowlite.components.nlu.sequence_labels.tag_confidences`)."""
        import torch

        if self.labels is None:
            return None
        cached = getattr(self, "_role_group_classes", None)
        if cached is not None and cached[0] is self.labels:
            return cached[1]
        rows = self.labels.role_and_group_classes()
        classes = torch.tensor(rows, dtype=torch.long) if rows is not None else None
        self._role_group_classes = (self.labels, classes)
        return classes

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
        count the words of each that the classifier knows.

        A message without a word the model reads (empty, only white space or
        invisible characters) gets no prediction, as in Rasa: its intent stays
        unset and its ranking empty, where the model would answer it with
        whatever intent sits closest to nothing.
        """
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
            chunk, items = self._readable(chunk, self._encode(chunk, with_labels=False))
            if not items:
                continue
            intents, paths, confidences = self._predict(items)
            for message, item, intent, path, conf in zip(
                chunk, items, intents, paths, confidences, strict=True
            ):
                tokens = example_tokens(message)
                pieceless = list(self._pieceless(item))
                if self._cut_short(item, message):
                    self._warn_cut_message(item, len(tokens))
                if path and self._was_cut(item):
                    path, conf = self._tag_rest(message, tokens, list(path), list(conf),
                                                None if intent is None else best_index(intent),
                                                pieceless)
                if path and any(pieceless):
                    path = self._untag_pieceless(list(path), pieceless)
                tokens = tokens[: len(path) if path else self._word_count(item)]
                write_prediction(
                    message,
                    self.labels,
                    intent,
                    tokens,
                    path,
                    conf,
                    self.name,
                    int(self.config["ranking_length"]) or len(self.labels.intents),
                    self._comma_splitting,
                )

    def _warn_cut_message(self, item: Any, words: int) -> None:
        """Say that a message of ``words`` words was too long to be read in one pass.

        Rasa's ``LanguageModelFeaturizer`` cuts such a message too (and the
        words past its limit get no features); here only the intent is read from
        the first pass, and entities are tagged in all of the message.
        """
        logger.warning(
            "%s: a message of %d words is longer than max_length (%d %s): its intent "
            "is read from its first %d words only (entities from all of it). Raise "
            "max_length to classify such messages whole.",
            self.name, words, int(self.config["max_length"]), self.length_unit,
            self._word_count(item),
        )

    def _readable(self, messages: list[Message],
                  items: list[Any]) -> tuple[list[Message], list[Any]]:
        """The messages (and their items) of which the model reads at least one word."""
        kept = [(m, item) for m, item in zip(messages, items, strict=True)
                if self._word_count(item)]
        return [m for m, _ in kept], [item for _, item in kept]

    def _tag_rest(self, message: Message, tokens: list[Token], path: list[int],
                  confidences: list[TagConfidence], intent: int | None,
                  pieceless: list[bool]) -> tuple[list[int], list[TagConfidence]]:
        """Extend the tags of a message cut short by the length limit to its other words.

        Each window reads the message from a few words before the first word
        not tagged yet (``WINDOW_OVERLAP_WORDS``), so that word is read with
        context; only the window's tags of words not tagged before are kept. The
        windows are planned first (encoding is cheap), then tagged in batches for
        the message's ``intent`` (its index: what ``restrict_entities_to_intent``
        restricts the tags by). ``pieceless`` is extended with the flags of the
        newly tagged words (see :meth:`_pieceless`).
        """
        tagged = len(path)
        windows = self._windows(message, tokens, tagged)
        size = int(self.config["inference_batch_size"])
        for begin in range(0, len(windows), size):
            chunk = windows[begin : begin + size]
            _, window_paths, window_confidences = self._predict(
                [item for _, _, item in chunk], intent)
            for (start, first_new, item), window_path, window_conf in zip(
                chunk, window_paths, window_confidences, strict=True
            ):
                path.extend(window_path[first_new - start :])
                confidences.extend(window_conf[first_new - start :])
                pieceless.extend(self._pieceless(item)[first_new - start :])
        return path, confidences

    def _untag_pieceless(self, path: list[int], pieceless: list[bool]) -> list[int]:
        """``path`` with the words the model read nothing of taken out of entities.

        Such a word (``"\\ufffd"`` after ``two``) repeats its neighbour's tag and
        came out as an entity of its own. It gets ``O``, unless the words on
        both sides of it belong to one entity, which it then continues.
        """
        assert self.labels is not None
        tags = self.labels.tags
        index = {tag: i for i, tag in enumerate(tags)}
        for w, lacking in enumerate(pieceless[: len(path)]):
            if not lacking:
                continue
            before = tags[path[w - 1]] if w > 0 else OUTSIDE
            after = tags[path[w + 1]] if w + 1 < len(path) else OUTSIDE
            inside = (before[:2] in ("B-", "I-") and after[:2] in ("I-", "L-")
                      and before[2:] == after[2:])
            path[w] = index.get(f"I-{after[2:]}", 0) if inside else index[OUTSIDE]
        return path

    def _windows(self, message: Message, tokens: list[Token],
                 tagged: int) -> list[tuple[int, int, Any]]:
        """The windows that tag words ``tagged`` and after: (first word, first new word,
        encoded item) each. A window holds at most twice ``max_length`` words (no pass
        reads more, as every word takes a piece), so a very long message costs work
        in proportion to its length; planning stops where a window would tag no new
        word (the rest has nothing the model reads)."""
        words = 2 * int(self.config["max_length"])
        windows: list[tuple[int, int, Any]] = []
        start = 0
        while tagged < len(tokens):
            start = max(start + 1, tagged - min(WINDOW_OVERLAP_WORDS, tagged // 2))
            [item] = self._encode([message_window(message, tokens, start, words)],
                                  with_labels=False)
            end = start + self._word_count(item)
            if end <= tagged:
                break
            windows.append((start, tagged, item))
            tagged = end
        return windows


def message_window(message: Message, tokens: Sequence[Token], first: int,
                   count: int | None = None) -> Message:
    """Words ``first`` to ``first + count`` of the message (all from ``first`` on when
    ``count`` is None) as a message of its own: their text, their tokens with offsets
    into it, and their per-token regex features."""
    last = len(tokens) if count is None else min(len(tokens), first + count)
    offset = tokens[first].start
    window = Message(
        text=message.text[offset : tokens[last - 1].end],
        tokens=[Token(t.text, t.start - offset, t.end - offset) for t in tokens[first:last]],
    )
    regex = message.features.get(REGEX_FEATURES)
    if regex:
        rows = regex.get("token") or []
        window.features[REGEX_FEATURES] = {
            **regex,
            "token": rows[first:last] if len(rows) == len(tokens) else [],
        }
    return window
