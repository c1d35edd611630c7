"""``EntitySynonymMapper``: map entity values to their canonical value.

Synonyms come from ``synonym:`` items and from annotations whose value differs
from their text (``[NYC](city:New York)``); every value trained is also its
own variant, so its spelling in other letter cases maps to it (see
:meth:`TrainingData.synonym_lookup`). Matching ignores case, and how an accented
letter is encoded: ``Café`` written with a combining accent (as some
keyboards and pasted text have it) is the same variant as with a composed
``é``.
"""

from __future__ import annotations

from typing import Any, ClassVar

from dialogflowlite.artifact import ComponentStorage
from dialogflowlite.components.base import NluComponent, NluContext
from dialogflowlite.components.tokenizers.unicode_text import word_form
from dialogflowlite.shared.message import Entity, Message
from dialogflowlite.shared.training_data import TrainingData

SYNONYMS_FILE = "synonyms.json"


class EntitySynonymMapper(NluComponent):
    """Replaces an extracted entity's value by its synonym's canonical value.

    An entity whose value it knows lists ``EntitySynonymMapper`` in its
    ``processors``, also where the value was already canonical (as Rasa's
    mapper records every match); an entity it does not know gets no
    ``processors`` key in the parse result. Roles, groups, offsets and the
    extractor stay as they were. Place it after the components that extract
    entities.
    """

    name = "EntitySynonymMapper"
    kind = "entity_extractor"
    defaults: ClassVar[dict[str, Any]] = {}
    #: 2: a variant both annotated and in a ``synonym:`` item takes the annotation's
    #: value, as in Rasa (it took the item's), so a model of revision 1 retrains it;
    #: 3: a variant written as its own value no longer overrides an earlier value, and
    #: an annotated value that is a number counts as its text (both as in Rasa);
    #: 4: every value trained is its own variant (other letter cases map to it), as
    #: in Rasa 3.6 and later
    revision: ClassVar[int] = 4

    def __init__(self, config: dict[str, Any] | None = None, **kwargs: Any) -> None:
        super().__init__(config, **kwargs)
        #: lower-cased variant -> canonical value
        self.synonyms: dict[str, str] = {}
        #: the same, by the variant's compared form (:func:`_form`; built from
        #: ``_by_form_of``, the synonyms it was built from)
        self._by_form: dict[str, str] = {}
        self._by_form_of: dict[str, str] | None = None

    def train(self, training_data: TrainingData, context: NluContext) -> None:
        self.synonyms = training_data.synonym_lookup()

    def _canonical(self, value: str) -> str | None:
        """The canonical value of a variant, or None: the variant spelt exactly so
        (in any letter case) first, as Rasa looks it up, then one that reads the same
        in the compared form (:func:`_form`: accents composed, widths folded,
        invisible marks left out)."""
        exact = self.synonyms.get(value.lower())
        if exact is not None:
            return exact
        if self._by_form_of is not self.synonyms:
            # a value's own spelling first: a variant that reads the same once its
            # accents are composed (``café`` typed two ways) keeps its value
            own_first = sorted(self.synonyms.items(), key=lambda kv: kv[0] != kv[1].lower())
            self._by_form = {_form(k): v for k, v in own_first}
            self._by_form_of = self.synonyms
        return self._by_form.get(_form(value))

    def normalise(self, entity: Entity) -> None:
        """Replace the value of one entity if it is a known variant."""
        if entity.value is None or isinstance(entity.value, (dict, list)):
            return
        canonical = self._canonical(str(entity.value))
        if canonical is None:
            return
        entity.value = canonical
        if self.name not in entity.processors:
            entity.processors.append(self.name)

    def process(self, messages: list[Message]) -> None:
        for message in messages:
            for entity in message.entities:
                self.normalise(entity)

    def persist(self, storage: ComponentStorage) -> None:
        storage.write_json(SYNONYMS_FILE, self.synonyms)

    @classmethod
    def load(cls, config: dict[str, Any], storage: ComponentStorage) -> EntitySynonymMapper:
        component = cls(config)
        component.synonyms = dict(storage.read_json(SYNONYMS_FILE))
        return component


def _form(text: str) -> str:
    """What variants are matched by: lower case, accents composed, full-width letters
    and digits as plain ones, invisible marks left out (:func:`word_form`)."""
    return word_form(text)
