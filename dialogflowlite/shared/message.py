"""Messages, tokens and entity spans: what flows through the NLU pipeline.

A :class:`Message` is both a training example (``intent`` and ``entities`` are
the gold labels) and a message being parsed (components fill in the predicted
``intent``, ``confidence``, ``intent_ranking`` and ``entities``). Its
:meth:`Message.parse_result` is exactly the JSON of Rasa's ``/model/parse``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from dialogflowlite.errors import Position

RETRIEVAL_SEPARATOR = "/"
NLU_FALLBACK_INTENT = "nlu_fallback"


def selected_response(parse_data: dict[str, Any], base_intent: str | None) -> dict[str, Any]:
    """The ``response`` a parse's response selector chose for ``base_intent`` (with its
    ``intent_response_key`` and ``confidence``; empty when none): its own selector's
    answer, else the ``default`` selector's (one selector for every retrieval intent,
    Rasa's and the templates' usual set-up)."""
    selector = parse_data.get("response_selector") or {}
    chosen = selector.get(base_intent or "") or selector.get("default") or {}
    response = chosen.get("response") if isinstance(chosen, dict) else None
    return response if isinstance(response, dict) else {}


def selected_retrieval_intent(parse_data: dict[str, Any], base_intent: str | None) -> str | None:
    """The retrieval intent (``faq/ask_hours``) the response selector chose for
    ``base_intent`` (see :func:`selected_response`)."""
    key = selected_response(parse_data, base_intent).get("intent_response_key")
    return key if isinstance(key, str) and key else None


def full_intent_name(parse_data: dict[str, Any]) -> str | None:
    """The parsed intent, in full (``faq/ask_hours``) when the response selector chose a
    key of it; a ``default`` selector answers every message, so its key counts only
    when it belongs to the parsed intent (Rasa's check of ``all_retrieval_intents``)."""
    intent = (parse_data.get("intent") or {}).get("name")
    if not isinstance(intent, str) or not intent:
        return None
    if RETRIEVAL_SEPARATOR not in intent:
        selected = selected_retrieval_intent(parse_data, intent)
        if selected and selected.split(RETRIEVAL_SEPARATOR, 1)[0] == intent:
            return selected
    return intent


def chosen_retrieval_response(intent: str, confidence: float = 1.0,
                              all_intents: Sequence[str] = ()) -> dict[str, Any]:
    """A response selector's result that chose ``intent`` (``faq/ask_hours``), in Rasa's
    shape under its base intent (``faq``): what a message carries whose retrieval intent
    is known without a selector (a ``/faq/ask_hours`` button, a corrected parse).
    ``all_intents``: the other retrieval intents known, listed with it."""
    base = intent.split(RETRIEVAL_SEPARATOR, 1)[0]
    response = {"responses": None, "confidence": confidence, "intent_response_key": intent,
                "utter_action": f"utter_{intent}", "template_name": f"utter_{intent}"}
    return {"all_retrieval_intents": sorted({base, *all_intents}),
            base: {"response": response,
                   "ranking": [{"confidence": confidence, "intent_response_key": intent}]}}


def has_content(text: str) -> bool:
    """Whether ``text`` has a letter or digit, of any script: "?" and "..." have none.

    Such a message gives the classifiers nothing to go by (``FallbackClassifier``
    sends it to ``nlu_fallback``), and a ``from_text`` slot mapping does not take it.
    """
    return any(character.isalnum() for character in text)


@dataclass
class Token:
    """A word with its character offsets in the message text (``end`` is exclusive)."""

    text: str
    start: int
    end: int
    lemma: str | None = None
    data: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.end < self.start:
            raise ValueError(
                f"token {self.text!r} ends ({self.end}) before it starts ({self.start})"
            )


#: the keys of a parse result's entity that :class:`Entity` has a field for
ENTITY_KEYS = frozenset(
    ("entity", "start", "end", "value", "role", "group", "confidence_entity", "extractor",
     "processors", "confidence_role", "confidence_group")
)


@dataclass
class Entity:
    """An entity span by character offsets, with Rasa's optional role and group.

    ``role_confidence`` and ``group_confidence`` are Rasa's ``confidence_role``
    and ``confidence_group``: a trained tagger's confidence in the role and the
    group, given only with them.

    ``extra`` holds the keys an extractor writes beyond those (Rasa's Duckling
    extractor: ``text``, ``confidence`` and ``additional_info``); they are
    written back as they are.
    """

    entity: str
    start: int
    end: int
    value: Any
    role: str | None = None
    group: str | None = None
    confidence: float | None = None
    extractor: str | None = None
    processors: list[str] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)
    role_confidence: float | None = None
    group_confidence: float | None = None
    #: the order an extractor writes its keys in, where it differs from the usual one
    #: (see :meth:`to_dict`); only the JSON shows it, so it takes no part in comparing
    key_order: tuple[str, ...] | None = field(default=None, compare=False)

    def to_dict(self) -> dict[str, Any]:
        """The entity as one entry of Rasa's parse result ``entities`` list.

        As in Rasa's output, the optional keys are there only when they have a value:
        ``confidence_entity`` when the extractor gives one (the trained taggers do,
        regexes and lookup tables do not), ``role`` and ``group`` when set (each
        followed by ``confidence_role`` / ``confidence_group`` when the extractor gives
        one), ``extractor`` when an extractor found it (an annotation has none), and
        ``processors`` when a processor
        (``EntitySynonymMapper``) changed the entity. The keys of ``extra`` follow.

        The keys come in the order Rasa's DIETClassifier and EntitySynonymMapper
        write them (clients that print the JSON show the same): type, offsets,
        confidence, role and group, then ``value``, ``extractor`` and ``processors``;
        a regex match, having no confidence, role or group, reads as Rasa's does.
        An entity with a ``key_order`` (Rasa's Duckling and spaCy extractors, an
        entity written in the message, one read back from JSON in another order)
        gives those keys first, in that order, and any others after them in the
        usual order.
        """
        result: dict[str, Any] = {"entity": self.entity, "start": self.start, "end": self.end}
        optional = (
            ("confidence_entity", self.confidence),
            ("role", self.role),
            ("confidence_role", self.role_confidence if self.role is not None else None),
            ("group", self.group),
            ("confidence_group", self.group_confidence if self.group is not None else None),
        )
        result.update((key, value) for key, value in optional if value is not None)
        result["value"] = self.value
        if self.extractor is not None:
            result["extractor"] = self.extractor
        if self.processors:
            result["processors"] = list(self.processors)
        for key, value in self.extra.items():
            result.setdefault(key, value)
        if self.key_order:
            result = _ordered(result, self.key_order)
        return result

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Entity:
        """Read an entity from Rasa's JSON (parse results, tracker events, training data);
        an absent optional key reads as ``None`` (or no processors), and any other key
        goes to ``extra``, so :meth:`to_dict` gives back what was read, in its order.

        The order read is kept (``key_order``) only where it is not the one
        :meth:`to_dict` gives anyway, so that an entity read in the usual order keeps
        it when a key is added later (a processor, a confidence).
        """
        entity = cls(
            entity=data["entity"],
            start=int(data.get("start", 0) or 0),
            end=int(data.get("end", 0) or 0),
            value=data.get("value"),
            role=data.get("role"),
            group=data.get("group"),
            confidence=data.get("confidence_entity"),
            extractor=data.get("extractor"),
            processors=list(data.get("processors") or []),
            extra={key: value for key, value in data.items() if key not in ENTITY_KEYS},
            role_confidence=data.get("confidence_role"),
            group_confidence=data.get("confidence_group"),
        )
        if list(entity.to_dict()) != list(data):
            entity.key_order = tuple(data)
        return entity

    @property
    def label(self) -> str:
        """The label a sequence tagger predicts: the type, plus role and group when set."""
        label = self.entity
        if self.role:
            label += f"#role={self.role}"
        if self.group:
            label += f"#group={self.group}"
        return label


def _ordered(entity: dict[str, Any], order: Sequence[str]) -> dict[str, Any]:
    """``entity`` with the keys of ``order`` first, in that order, then the others as
    they were."""
    ordered = {key: entity[key] for key in order if key in entity}
    ordered.update((key, value) for key, value in entity.items() if key not in ordered)
    return ordered


@dataclass
class IntentPrediction:
    """One intent with the model's confidence in it."""

    name: str
    confidence: float

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "confidence": finite_confidence(self.confidence)}


def finite_confidence(value: float | None) -> float:
    """``value`` as a parse result writes it: 0.0 for none, NaN or infinity (a model
    whose training diverged), which JSON cannot carry and no threshold compares."""
    if value is None:
        return 0.0
    value = float(value)
    return value if math.isfinite(value) else 0.0


@dataclass
class Message:
    """A user utterance, either as a labelled training example or being parsed."""

    text: str
    intent: str | None = None
    entities: list[Entity] = field(default_factory=list)
    confidence: float | None = None
    intent_ranking: list[IntentPrediction] = field(default_factory=list)
    tokens: list[Token] = field(default_factory=list)
    response_selector: dict[str, Any] = field(default_factory=dict)
    metadata: dict[str, Any] = field(default_factory=dict)
    #: per-component outputs that are not part of the parse result (features, scores)
    features: dict[str, Any] = field(default_factory=dict)
    position: Position | None = None
    #: a training example's metadata as Rasa's training data holds it, the intent's under
    #: ``intent`` and the example's own under ``example`` (``metadata`` is the two merged);
    #: None where the data does not say which is which. Only the JSON writer reads it, so
    #: it takes no part in comparing messages.
    metadata_levels: dict[str, Any] | None = field(default=None, compare=False)

    @property
    def base_intent(self) -> str | None:
        """The intent without its retrieval part: ``faq`` for ``faq/ask_price``."""
        if self.intent is None:
            return None
        return self.intent.split(RETRIEVAL_SEPARATOR, 1)[0]

    @property
    def retrieval_key(self) -> str | None:
        """The retrieval part of the intent (``ask_price`` for ``faq/ask_price``), if any."""
        if self.intent and RETRIEVAL_SEPARATOR in self.intent:
            return self.intent.split(RETRIEVAL_SEPARATOR, 1)[1]
        return None

    def set_intent(self, ranking: list[IntentPrediction], top_k: int = 10) -> None:
        """Record a prediction: the best intent, its confidence and the top-k ranking."""
        # a confidence that is no number ranks last (NaN would make the order undefined)
        ranking = sorted(ranking, key=lambda p: finite_confidence(p.confidence), reverse=True)
        if ranking:
            self.intent = ranking[0].name
            self.confidence = float(ranking[0].confidence)
        self.intent_ranking = ranking[:top_k]

    def parse_result(self) -> dict[str, Any]:
        """The message in the shape of Rasa's ``/model/parse`` response."""
        result: dict[str, Any] = {
            "text": self.text,
            "intent": {
                "name": self.intent,
                "confidence": finite_confidence(self.confidence),
            },
            "entities": [entity.to_dict() for entity in self.entities],
            "intent_ranking": [p.to_dict() for p in self.intent_ranking],
            "text_tokens": [[t.start, t.end] for t in self.tokens],
        }
        if self.response_selector:
            result["response_selector"] = self.response_selector
        return result

    @classmethod
    def from_parse_result(cls, data: dict[str, Any]) -> Message:
        """Rebuild a message from a parse result (as stored in a ``user`` event)."""
        intent = data.get("intent") or {}
        message = cls(
            text=data.get("text") or "",
            intent=intent.get("name"),
            confidence=intent.get("confidence"),
            entities=[Entity.from_dict(e) for e in data.get("entities") or []],
            intent_ranking=[
                IntentPrediction(p["name"], float(p.get("confidence", 0.0)))
                for p in data.get("intent_ranking") or []
                if p.get("name") is not None
            ],
            response_selector=dict(data.get("response_selector") or {}),
            metadata=dict(data.get("metadata") or {}),
        )
        message.tokens = [
            Token(message.text[s:e], s, e) for s, e in data.get("text_tokens") or []
        ]
        return message
