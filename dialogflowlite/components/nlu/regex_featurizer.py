"""``RegexFeaturizer``: 0/1 features from the project's regexes and lookup tables.

Output, per message: ``message.features["regex"] = {"names": [...], "token":
[[0/1 per name] per token], "sentence": [0/1 per name]}``. A token gets 1
for a name when a match of that name's patterns overlaps it; the sentence gets
1 when the name matches anywhere. Classifiers read these as extra inputs.
"""

from __future__ import annotations

import bisect
from typing import Any, ClassVar

from dialogflowlite.artifact import ComponentStorage
from dialogflowlite.components.base import NluComponent, NluContext
from dialogflowlite.components.nlu.patterns import PatternMatcher, collect_patterns
from dialogflowlite.shared.message import Message
from dialogflowlite.shared.training_data import TrainingData

FEATURE_KEY = "regex"


class RegexFeaturizer(NluComponent):
    """Marks the tokens (and the sentence) that the training data's regexes and lookups match.

    ``case_sensitive`` (default on, as in Rasa) decides whether case matters;
    ``use_word_boundaries`` keeps lookup elements from matching inside longer
    words; ``use_regexes`` / ``use_lookup_tables`` switch either source off.
    An accented letter matches however it is encoded (``é``, or ``e`` and a
    combining accent).
    """

    name = "RegexFeaturizer"
    kind = "featurizer"
    requires = ("tokens",)
    provides = ("regex_features",)
    # 2: lookup tables are saved as tries whose word boundaries count combining marks;
    # 3: regexes and lookup elements are saved composed (NFC);
    # 4: a lookup element is found beside Chinese, Japanese or Thai text (买iPhone手机)
    revision = 4
    defaults: ClassVar[dict[str, Any]] = {
        "case_sensitive": True,
        "use_word_boundaries": True,
        "use_regexes": True,
        "use_lookup_tables": True,
    }
    # Rasa's incremental-training and naming options: nothing to do here.
    compatible_keys = ("number_additional_patterns", "alias")

    def __init__(self, config: dict[str, Any] | None = None, **kwargs: Any) -> None:
        super().__init__(config, **kwargs)
        self.matcher = PatternMatcher([], self.config["case_sensitive"])

    @property
    def names(self) -> list[str]:
        """The feature names, one per distinct regex / lookup name."""
        return self.matcher.names

    def train(self, training_data: TrainingData, context: NluContext) -> None:
        patterns = collect_patterns(
            training_data,
            use_regexes=self.config["use_regexes"],
            use_lookup_tables=self.config["use_lookup_tables"],
            use_word_boundaries=self.config["use_word_boundaries"],
            case_sensitive=self.config["case_sensitive"],
        )
        self.matcher = PatternMatcher(patterns, self.config["case_sensitive"])

    def features(self, message: Message) -> dict[str, Any]:
        """The regex features of one tokenized message."""
        names = self.matcher.names
        index = {name: i for i, name in enumerate(names)}
        token_features = [[0] * len(names) for _ in message.tokens]
        sentence = [0] * len(names)
        # tokens come in text order, so the tokens a match overlaps are found by
        # bisection: a long message with many matches stays linear in its length
        ends = [token.end for token in message.tokens]
        for name, start, end in self.matcher.matches(message.text):
            column = index[name]
            sentence[column] = 1
            row = bisect.bisect_right(ends, start)
            while row < len(ends) and message.tokens[row].start < end:
                if message.tokens[row].end > start:
                    token_features[row][column] = 1
                row += 1
        return {"names": list(names), "token": token_features, "sentence": sentence}

    def process(self, messages: list[Message]) -> None:
        for message in messages:
            message.features[FEATURE_KEY] = self.features(message)

    def process_training_data(self, training_data: TrainingData) -> None:
        self.process(training_data.examples)

    def persist(self, storage: ComponentStorage) -> None:
        self.matcher.save(storage)

    @classmethod
    def load(cls, config: dict[str, Any], storage: ComponentStorage) -> RegexFeaturizer:
        component = cls(config)
        component.matcher = PatternMatcher.load(storage, component.config["case_sensitive"])
        return component
