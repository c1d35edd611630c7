"""A tiny trainable classifier for pipeline tests (no torch, trains in microseconds).

Intents: nearest neighbour by word overlap, with a softmax over the intents.
Entities: every annotated value (as a word sequence) is remembered with its
type, role and group, and found again by exact word match.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

from dialogflowlite import hookimpl
from dialogflowlite.artifact import ComponentStorage
from dialogflowlite.components.base import NluComponent, NluContext
from dialogflowlite.shared.message import Entity, IntentPrediction, Message
from dialogflowlite.shared.training_data import TrainingData


def _words(message: Message) -> list[str]:
    return [t.text.lower() for t in message.tokens]


class TinyClassifier(NluComponent):
    """Word-overlap nearest neighbour for intents, memorised values for entities."""

    name = "TinyClassifier"
    kind = "intent_classifier"
    requires = ("tokens",)
    provides = ("intent", "intent_ranking", "entities")
    defaults: ClassVar[dict[str, Any]] = {"temperature": 0.1, "entity_recognition": True}

    def __init__(self, config: dict[str, Any] | None = None, **kwargs: Any) -> None:
        super().__init__(config, **kwargs)
        self.examples: list[tuple[list[str], str]] = []
        self.values: list[tuple[list[str], str, str | None, str | None]] = []
        self.trained_on = 0

    def train(self, training_data: TrainingData, context: NluContext) -> None:
        self.trained_on = len(training_data.examples)
        self.examples = [(_words(m), m.base_intent) for m in training_data.examples if m.intent]
        values = []
        for m in training_data.examples:
            for e in m.entities:
                words = [t.text.lower() for t in m.tokens if e.start <= t.start and t.end <= e.end]
                if words and (words, e.entity, e.role, e.group) not in values:
                    values.append((words, e.entity, e.role, e.group))
        self.values = sorted(values, key=lambda v: -len(v[0]))

    def process(self, messages: list[Message]) -> None:
        intents = sorted({intent for _, intent in self.examples})
        for message in messages:
            words = set(_words(message))
            best = {intent: 0.0 for intent in intents}
            for example, intent in self.examples:
                union = words | set(example)
                overlap = len(words & set(example)) / len(union) if union else 0.0
                best[intent] = max(best[intent], overlap)
            if best:
                exps = {i: math.exp(s / self.config["temperature"]) for i, s in best.items()}
                total = sum(exps.values())
                message.set_intent([IntentPrediction(i, e / total) for i, e in exps.items()])
            if self.config["entity_recognition"]:
                self._entities(message)

    def _entities(self, message: Message) -> None:
        tokens = message.tokens
        lowered = [t.text.lower() for t in tokens]
        taken: set[int] = set()
        for words, entity, role, group in self.values:
            for i in range(len(tokens) - len(words) + 1):
                span = range(i, i + len(words))
                if lowered[i : i + len(words)] == words and not taken & set(span):
                    taken |= set(span)
                    start, end = tokens[i].start, tokens[i + len(words) - 1].end
                    message.entities.append(
                        Entity(
                            entity,
                            start,
                            end,
                            message.text[start:end],
                            role=role,
                            group=group,
                            confidence=0.9,
                            extractor=self.name,
                        )
                    )

    def persist(self, storage: ComponentStorage) -> None:
        storage.write_json(
            "tiny.json",
            {"examples": self.examples, "values": self.values, "trained_on": self.trained_on},
        )

    @classmethod
    def load(cls, config: dict[str, Any], storage: ComponentStorage) -> TinyClassifier:
        component = cls(config)
        data = storage.read_json("tiny.json")
        component.examples = [(list(w), i) for w, i in data["examples"]]
        component.values = [(list(w), e, r, g) for w, e, r, g in data["values"]]
        component.trained_on = data["trained_on"]
        return component


def standin(name: str, defaults: dict[str, Any] | None = None) -> type[TinyClassifier]:
    """A TinyClassifier registered under another name (for components not installed here)."""
    return type(
        name,
        (TinyClassifier,),
        {
            "name": name,
            "defaults": {**TinyClassifier.defaults, **(defaults or {})},
            "__doc__": f"Test stand-in for {name}.",
        },
    )


class TinyPlugin:
    """Registers the given component classes."""

    def __init__(self, *classes: type) -> None:
        self.classes = list(classes) or [TinyClassifier]

    @hookimpl
    def dfl_register_components(self) -> list[type]:
        return self.classes
