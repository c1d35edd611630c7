"""``FallbackClassifier``: predict ``nlu_fallback`` when the classifier is unsure.

As in Rasa: when the top intent's confidence is below ``threshold``, or the
top two confidences are closer than ``ambiguity_threshold``, the message's
intent becomes ``nlu_fallback`` with confidence ``threshold``, inserted at the
top of the ranking; the classifier's ranking stays below it. A message that
no classifier gave an intent to falls back too, as does one whose top
confidences are NaN or infinite (0.0 in its ranking then), and so does a message with
nothing to classify: no letter or digit in it ("?", "...", an emoji alone),
unless the training data has that very text as an example. With
``unknown_words: true``, a message none of whose words the intent classifier
knows ("asdfgh"; see :mod:`~dialogflowlite.components.nlu.known_words`) falls
back as well.
"""

from __future__ import annotations

import logging
import math
from typing import Any, ClassVar

from dialogflowlite.artifact import ComponentStorage
from dialogflowlite.components.base import NluComponent, NluContext
from dialogflowlite.components.nlu.known_words import KNOWN_WORDS, knows_no_word
from dialogflowlite.errors import Position
from dialogflowlite.shared.message import (
    NLU_FALLBACK_INTENT,
    IntentPrediction,
    Message,
    has_content,
)
from dialogflowlite.shared.training_data import TrainingData

logger = logging.getLogger(__name__)

#: confidences closer than this count as equal (floating point noise)
_EPSILON = 1e-9

#: the training examples without a letter or digit, which are not fallbacks
CONTENTLESS_EXAMPLES_FILE = "contentless_examples.json"


class FallbackClassifier(NluComponent):
    """Replaces an unsure intent prediction by ``nlu_fallback``.

    ``threshold``: the lowest top confidence that is accepted.
    ``ambiguity_threshold``: the smallest accepted gap between the top two
    intents. ``unknown_words``: also fall back when the intent classifier knows
    none of the message's words. Place it after the intent classifiers.
    """

    name = "FallbackClassifier"
    kind = "intent_classifier"
    provides = ("intent",)
    defaults: ClassVar[dict[str, Any]] = {
        "threshold": 0.3,
        "ambiguity_threshold": 0.1,
        "unknown_words": False,
    }

    def __init__(self, config: dict[str, Any] | None = None, **kwargs: Any) -> None:
        super().__init__(config, **kwargs)
        #: stripped texts of training examples that have no letter or digit ("👍")
        self.contentless_examples: set[str] = set()
        #: whether the log already said that unknown_words has no counts to act on
        self._told_no_counts = False

    @classmethod
    def check_config(cls, config: dict[str, Any], *,
                     position: Position | None = None) -> None:
        """Both thresholds are confidences, between 0 and 1."""
        super().check_config(config, position=position)
        for key in ("threshold", "ambiguity_threshold"):
            cls.check_number(config, key, at_least=0, at_most=1, position=position)

    def train(self, training_data: TrainingData, context: NluContext) -> None:
        # A classifier answers "?" or "..." with whatever intent such strings sit
        # closest to (in practice often `affirm`, with high confidence), so they fall
        # back unless the project teaches an intent for them.
        self.contentless_examples = {
            m.text.strip() for m in training_data.intent_examples if not has_content(m.text)
        }

    def should_fall_back(self, message: Message) -> bool:
        """Whether the message's intent prediction is too unsure to act on."""
        if message.intent == NLU_FALLBACK_INTENT:
            return False  # already decided
        if message.intent is None or message.confidence is None:
            return True
        if not _finite_ranking(message):
            # a broken model (weights gone NaN) compares false against any threshold,
            # so without this check it would pass every message on as certain
            return True
        if not has_content(message.text) and message.text.strip() not in self.contentless_examples:
            return True
        if self.config["unknown_words"] and knows_no_word(message):
            return True
        if message.confidence < self.config["threshold"] - _EPSILON:
            return True
        ranking = message.intent_ranking
        if len(ranking) >= 2:
            gap = ranking[0].confidence - ranking[1].confidence
            if gap < self.config["ambiguity_threshold"] - _EPSILON:
                return True
        return False

    def process(self, messages: list[Message]) -> None:
        threshold = float(self.config["threshold"])
        if self.config["unknown_words"] and not self._told_no_counts:
            self._warn_without_counts(messages)
        for message in messages:
            if not self.should_fall_back(message):
                continue
            message.intent = NLU_FALLBACK_INTENT
            message.confidence = threshold
            message.intent_ranking = [
                IntentPrediction(NLU_FALLBACK_INTENT, threshold),
                *(_with_finite_confidence(p) for p in message.intent_ranking),
            ]

    def _warn_without_counts(self, messages: list[Message]) -> None:
        """Say once when ``unknown_words`` cannot act: no classifier counted known words."""
        parsed = [m for m in messages if m.intent is not None and m.intent != NLU_FALLBACK_INTENT]
        if parsed and not any(KNOWN_WORDS in m.features for m in parsed):
            self._told_no_counts = True
            logger.warning("%s: unknown_words is on, but the intent classifier before it does "
                           "not count the words it knows (a model trained before it did: "
                           "retrain with `dialogflowlite train --force`; or a classifier "
                           "that cannot)", self.name)

    def persist(self, storage: ComponentStorage) -> None:
        storage.write_json(CONTENTLESS_EXAMPLES_FILE, sorted(self.contentless_examples))

    @classmethod
    def load(cls, config: dict[str, Any], storage: ComponentStorage) -> FallbackClassifier:
        component = cls(config)
        # models saved before this file existed have none: no such examples
        if storage.exists(CONTENTLESS_EXAMPLES_FILE):
            component.contentless_examples = set(storage.read_json(CONTENTLESS_EXAMPLES_FILE))
        return component


def _finite_ranking(message: Message) -> bool:
    """Whether the message's confidence and those of its top two intents are numbers
    (not NaN or infinite)."""
    confidences = [message.confidence, *(p.confidence for p in message.intent_ranking[:2])]
    return all(math.isfinite(float(c)) for c in confidences if c is not None)


def _with_finite_confidence(prediction: IntentPrediction) -> IntentPrediction:
    """The prediction, with 0.0 for a confidence that is no number: the parse result
    is JSON, which has no NaN or infinity."""
    if math.isfinite(float(prediction.confidence)):
        return prediction
    return IntentPrediction(prediction.name, 0.0)
