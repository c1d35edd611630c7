"""``SpacyEntityExtractor``: the named entities of an installed spaCy pipeline."""

from __future__ import annotations

from typing import Any, ClassVar

from dialogflowlite.components.base import NluComponent
from dialogflowlite.components.tokenizers.spacy_loader import (
    load_spacy,
    missing_pipeline_error,
    spacy_pipeline_components,
    spacy_pipeline_installed,
)
from dialogflowlite.errors import ComponentConfigError, Position
from dialogflowlite.shared.message import Entity, Message

#: spaCy components that set ``doc.ents``
ENTITY_COMPONENTS = ("ner", "entity_ruler")
#: the order of the keys of Rasa's spaCy entities, which clients printing the JSON show
SPACY_KEY_ORDER = ("entity", "value", "start", "confidence", "end", "extractor")


def has_entity_recognizer(model: str) -> bool:
    """Whether the installed spaCy pipeline ``model`` finds named entities."""
    return any(name in ENTITY_COMPONENTS for name in spacy_pipeline_components(model))


class SpacyEntityExtractor(NluComponent):
    """Extracts the entities (PERSON, ORG, GPE, ...) that a pretrained spaCy pipeline finds.

    ``model`` names an installed spaCy pipeline with a named-entity recognizer
    (``en_core_web_md``); ``dimensions`` limits the entity labels (all when
    empty). The labels are spaCy's; nothing is learnt from the project data.
    """

    name = "SpacyEntityExtractor"
    setting_kinds: ClassVar[dict[str, type]] = {"dimensions": list, "model": str}
    kind = "entity_extractor"
    provides = ("entities",)
    defaults: ClassVar[dict[str, Any]] = {
        "model": None,
        "dimensions": None,
    }

    def __init__(self, config: dict[str, Any] | None = None, **kwargs: Any) -> None:
        super().__init__(config, **kwargs)
        # whether the pipeline is installed is checked here, not in check_config: it
        # depends on the machine that trains, not on the config
        model = self.config["model"]
        if not spacy_pipeline_installed(str(model)):
            raise missing_pipeline_error(str(model), self.name, self.position)
        if not has_entity_recognizer(str(model)):
            raise ComponentConfigError(
                f"{self.name}: the spaCy pipeline '{model}' has no entity recognizer",
                position=self.position,
                hint="use a pipeline with `ner`, such as en_core_web_md",
            )

    @classmethod
    def check_config(cls, config: dict[str, Any], *,
                     position: Position | None = None) -> None:
        """``model`` must name a spaCy pipeline."""
        super().check_config(config, position=position)
        if not config["model"]:
            cls.report_bad_setting(
                f"{cls.name} needs `model:`, an installed spaCy pipeline with an entity "
                "recognizer",
                position=position,
                hint="for example `model: en_core_web_md`",
            )

    def process(self, messages: list[Message]) -> None:
        nlp = load_spacy(str(self.config["model"]), "xx")
        wanted = set(self.config["dimensions"] or [])
        for message, doc in zip(messages, nlp.pipe([m.text for m in messages]), strict=True):
            for ent in doc.ents:
                if wanted and ent.label_ not in wanted:
                    continue
                # as Rasa's: spaCy gives no confidence, written as `confidence: null`
                message.entities.append(
                    Entity(ent.label_, ent.start_char, ent.end_char, ent.text,
                           extractor=self.name, extra={"confidence": None},
                           key_order=SPACY_KEY_ORDER)
                )
