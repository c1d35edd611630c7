"""``RegexFeaturizer``: 0/1 features from the project's regexes and lookup tables.

Output, per message: ``message.features["regex"] = {"names": [...], "token":
[[0/1 per name] per token], "sentence": [0/1 per name]}``. A token gets 1
for a name when a match of that name's patterns overlaps it; the sentence gets
1 when the name matches anywhere. Classifiers read these as extra inputs.
With ``use_entity_values``, the values each entity type is annotated with in
the training data are one more lookup table per type
(:mod:`.entity_values`).
"""

from __future__ import annotations

from typing import Any, ClassVar

from dialogflowlite.artifact import ComponentStorage
from dialogflowlite.components.base import NluComponent, NluContext
from dialogflowlite.components.nlu.entity_values import EntityValueLexicon
from dialogflowlite.components.nlu.patterns import PatternMatcher, collect_patterns
from dialogflowlite.shared.message import Message
from dialogflowlite.shared.training_data import TrainingData

FEATURE_KEY = "regex"
PATTERNS_FILE = "patterns.json"


class RegexFeaturizer(NluComponent):
    """Marks the tokens (and the sentence) that the training data's regexes and lookups match.

    ``case_sensitive`` (default on, as in Rasa) decides whether case matters;
    ``use_word_boundaries`` keeps lookup elements from matching inside longer
    words; ``use_regexes`` / ``use_lookup_tables`` switch either source off;
    ``use_entity_values`` adds the annotated entity values as lookup tables.
    """

    name = "RegexFeaturizer"
    kind = "featurizer"
    requires = ("tokens",)
    provides = ("regex_features",)
    defaults: ClassVar[dict[str, Any]] = {
        "case_sensitive": True,
        "use_word_boundaries": True,
        "use_regexes": True,
        "use_lookup_tables": True,
        # the values annotated for each entity type in the training data are one
        # more lookup table per type (training messages do not see their own)
        "use_entity_values": False,
    }
    # Rasa's incremental-training and naming options: nothing to do here.
    compatible_keys = ("number_additional_patterns", "alias")

    def __init__(self, config: dict[str, Any] | None = None, **kwargs: Any) -> None:
        super().__init__(config, **kwargs)
        self.matcher = PatternMatcher([], self.config["case_sensitive"])
        self.lexicon: EntityValueLexicon | None = None

    @property
    def names(self) -> list[str]:
        """The feature names: one per distinct regex / lookup name, then one per entity type."""
        return self.matcher.names + (self.lexicon.names if self.lexicon else [])

    def train(self, training_data: TrainingData, context: NluContext) -> None:
        patterns = collect_patterns(
            training_data,
            use_regexes=self.config["use_regexes"],
            use_lookup_tables=self.config["use_lookup_tables"],
            use_word_boundaries=self.config["use_word_boundaries"],
        )
        self.matcher = PatternMatcher(patterns, self.config["case_sensitive"])
        self.lexicon = (
            EntityValueLexicon.from_examples(training_data.examples, self.config["case_sensitive"])
            if self.config["use_entity_values"] else None
        )

    def features(self, message: Message, training: bool = False) -> dict[str, Any]:
        """The regex features of one tokenized message.

        ``training``: the message is a training example, whose own annotated
        values do not mark it.
        """
        names = self.names
        index = {name: i for i, name in enumerate(names)}
        token_features = [[0] * len(names) for _ in message.tokens]
        sentence = [0] * len(names)
        for name, start, end in self.matcher.matches(message.text):
            column = index[name]
            sentence[column] = 1
            for row, token in enumerate(message.tokens):
                if token.start < end and token.end > start:
                    token_features[row][column] = 1
        if self.lexicon is not None:
            for name, first, stop in self.lexicon.matches(message, leave_out_own=training):
                column = index[name]
                sentence[column] = 1
                for row in range(first, stop):
                    token_features[row][column] = 1
        return {"names": list(names), "token": token_features, "sentence": sentence}

    def process(self, messages: list[Message]) -> None:
        for message in messages:
            message.features[FEATURE_KEY] = self.features(message)

    def process_training_data(self, training_data: TrainingData) -> None:
        for message in training_data.examples:
            message.features[FEATURE_KEY] = self.features(message, training=True)

    def persist(self, storage: ComponentStorage) -> None:
        data: dict[str, Any] = {"patterns": self.matcher.to_json()}
        if self.lexicon is not None:
            data["entity_values"] = self.lexicon.to_json()
        storage.write_json(PATTERNS_FILE, data)

    @classmethod
    def load(cls, config: dict[str, Any], storage: ComponentStorage) -> RegexFeaturizer:
        component = cls(config)
        data = storage.read_json(PATTERNS_FILE)
        component.matcher = PatternMatcher(
            PatternMatcher.patterns_from_json(data.get("patterns") or []),
            component.config["case_sensitive"],
        )
        if data.get("entity_values") is not None:
            component.lexicon = EntityValueLexicon.from_json(data["entity_values"])
        return component
