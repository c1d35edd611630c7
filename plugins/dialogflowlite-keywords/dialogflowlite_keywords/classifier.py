"""``KeywordIntentClassifier``: training examples used as exact keyword phrases.

Every training example becomes a keyword for its intent. A message that
contains a keyword as a whole word sequence gets that intent with confidence
1.0; when several keywords match, the longest (most specific) one decides.
A message without a keyword is left as it is, so the classifier can sit after
a statistical classifier and override it only where the data is certain.
"""

from __future__ import annotations

import logging
import re
from collections import defaultdict
from typing import Any

from dialogflowlite.artifact import ComponentStorage
from dialogflowlite.components.base import NluComponent, NluContext
from dialogflowlite.errors import Position
from dialogflowlite.shared.message import IntentPrediction, Message
from dialogflowlite.shared.training_data import TrainingData

logger = logging.getLogger(__name__)

KEYWORDS_FILE = "keywords.json"
#: punctuation around an example that should not be part of its keyword
_EDGE_PUNCTUATION = " \t\r\n.,;:!?¡¿'\"()[]"


def keyword_of(text: str) -> str:
    """The keyword an example stands for: its text without surrounding punctuation."""
    return " ".join(text.strip(_EDGE_PUNCTUATION).split())


class KeywordIntentClassifier(NluComponent):
    """Gives the intent of a training example to any message that contains the example.

    Matching is on whole words (a keyword never matches inside a longer word)
    and, unless ``case_sensitive`` is set, ignores case. A keyword found under
    two intents is ambiguous: it is dropped with a warning.
    """

    name = "KeywordIntentClassifier"
    kind = "intent_classifier"
    defaults = {"case_sensitive": False}
    provides = ("intent",)

    def __init__(
        self, config: dict[str, Any] | None = None, *, position: Position | None = None
    ) -> None:
        super().__init__(config, position=position)
        #: keyword -> intent, as learnt from the training data
        self.keywords: dict[str, str] = {}
        self._patterns: list[tuple[re.Pattern[str], str, str]] = []

    # ------------------------------------------------------------ training

    def _key(self, keyword: str) -> str:
        return keyword if self.config["case_sensitive"] else keyword.lower()

    def train(self, training_data: TrainingData, context: NluContext | None = None) -> None:
        """Collect one keyword per example; drop keywords that two intents share."""
        intents_of: dict[str, set[str]] = defaultdict(set)
        spelled: dict[str, str] = {}
        for example in training_data.intent_examples:
            keyword = keyword_of(example.text)
            if not keyword or example.base_intent is None:
                continue
            key = self._key(keyword)
            intents_of[key].add(example.base_intent)
            spelled.setdefault(key, keyword)
        keywords: dict[str, str] = {}
        for key, intents in intents_of.items():
            if len(intents) > 1:
                logger.warning(
                    "%s: keyword '%s' is an example of the intents %s, so it is not used",
                    self.name,
                    spelled[key],
                    ", ".join(sorted(intents)),
                )
                continue
            keywords[spelled[key]] = next(iter(intents))
        self._set_keywords(keywords)

    def _set_keywords(self, keywords: dict[str, str]) -> None:
        self.keywords = dict(keywords)
        flags = 0 if self.config["case_sensitive"] else re.IGNORECASE
        patterns = []
        # Longest first, so the most specific keyword wins when several match.
        for keyword in sorted(self.keywords, key=lambda k: (-len(k), k)):
            words = r"\s+".join(re.escape(word) for word in keyword.split())
            patterns.append(
                (re.compile(rf"(?<!\w){words}(?!\w)", flags), keyword, self.keywords[keyword])
            )
        self._patterns = patterns

    # ------------------------------------------------------------ inference

    def match(self, text: str) -> tuple[str, str] | None:
        """The (keyword, intent) that ``text`` contains, or None."""
        for pattern, keyword, intent in self._patterns:
            if pattern.search(text):
                return keyword, intent
        return None

    def process(self, messages: list[Message]) -> None:
        """Set the intent of each message that contains a keyword (confidence 1.0)."""
        for message in messages:
            found = self.match(message.text)
            if found is None:
                continue
            keyword, intent = found
            # A keyword hit is certain: the ranking holds only this intent, so
            # a later fallback does not see an ambiguity that is not there.
            message.set_intent([IntentPrediction(intent, 1.0)])
            message.features[self.name] = {"keyword": keyword}

    # ------------------------------------------------------------ persistence

    def persist(self, storage: ComponentStorage) -> None:
        storage.write_json(KEYWORDS_FILE, {"keywords": self.keywords})

    @classmethod
    def load(cls, config: dict[str, Any], storage: ComponentStorage) -> KeywordIntentClassifier:
        component = cls(config)
        data = storage.read_json(KEYWORDS_FILE)
        component._set_keywords(data.get("keywords") or {})
        return component
