"""Messages written as an intent: ``/greet``, ``/inform{"city": "Berlin"}``.

As in Rasa, such a message skips the NLU models: its intent is taken as
written (confidence 1.0, or the ``@0.8`` given after the name) and its
entities from the JSON after it. The JSON is an object of entity -> value (a
list value gives one entity per element), as in Rasa, or, here only, a list
of entity objects with ``entity``, ``value`` and optional ``role`` /
``group`` (Rasa takes ``/book[`` for the intent's name and so refuses it with
a warning). The whitespace around the message is left out, as in Rasa. Every
entity spans the JSON text of what remains, as Rasa's ``start`` and ``end``
do, and reads as Rasa 3's ``RegexMessageHandler`` writes it: ``entity``,
``value``, ``start``, ``end``, then ``"extractor": "RegexMessageHandler"``
(role and group, which only the list form gives, come before the extractor).
Text after the JSON is left out with a warning and the entities are
kept, as Rasa does; JSON that does not parse is ignored with a warning, like
Rasa does, and so is a confidence that is no number from 0 to 1.

Given the domain's names (:class:`ShortcutNames`), as a bot's parser gives
them, an intent the domain does not have makes the message ordinary text for
the models, and an entity it does not have is left out, each with a warning:
Rasa 3's ``RegexMessageHandler`` does the same, so a typo in a button's
payload (``/mood_grate``) does not put an unknown intent into the
conversation.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from dialogflowlite.shared.message import (
    RETRIEVAL_SEPARATOR,
    Entity,
    IntentPrediction,
    Message,
    chosen_retrieval_response,
)

if TYPE_CHECKING:
    from dialogflowlite.shared.domain import Domain

logger = logging.getLogger(__name__)

SHORTCUT_PREFIX = "/"
#: the extractor Rasa 3 names on the entities of such a message
SHORTCUT_EXTRACTOR = "RegexMessageHandler"
#: the order of Rasa 3's keys for them
_KEY_ORDER = ("entity", "value", "start", "end")
_SHORTCUT = re.compile(
    r"^/(?P<intent>[^\s{@\[/][^\s{@\[]*)"
    r"(?:@(?P<confidence>[^\s{\[]*))?"
    r"(?P<entities>[{\[].*)?$",
    re.DOTALL,
)


@dataclass(frozen=True)
class ShortcutNames:
    """The intents (with the default ones) and entities a ``/intent{...}`` message may
    name: the domain's."""

    intents: frozenset[str]
    entities: frozenset[str]
    #: the full names of the retrieval intents the domain answers (``faq/ask_hours``,
    #: from its ``utter_faq/ask_hours`` responses)
    retrieval: frozenset[str] = frozenset()

    @classmethod
    def from_domain(cls, domain: Domain) -> ShortcutNames | None:
        """The domain's names; None for a domain that declares no intents (a model
        trained without one), where every name is taken as written."""
        if not domain.intents:
            return None
        retrieval = frozenset(name[len("utter_"):] for name in domain.responses
                              if name.startswith("utter_") and RETRIEVAL_SEPARATOR in name)
        return cls(frozenset(domain.intent_names), frozenset(domain.entity_names), retrieval)

    @property
    def retrieval_intents(self) -> list[str]:
        """The base intents of :attr:`retrieval` (``faq``)."""
        return sorted({name.split(RETRIEVAL_SEPARATOR, 1)[0] for name in self.retrieval})

    def knows_intent(self, intent: str) -> bool:
        """Whether the domain has ``intent``; a retrieval intent's full name
        (``faq/ask_hours``) only where the domain answers it (``/greet/oops`` or a
        misspelt ``/faq/ask_hous`` is text for the models, as an unknown intent is)."""
        if RETRIEVAL_SEPARATOR not in intent:
            return intent in self.intents
        return intent.split(RETRIEVAL_SEPARATOR, 1)[0] in self.intents and \
            intent in self.retrieval


def is_intent_shortcut(text: str) -> bool:
    """Whether ``text`` is written as ``/intent...``."""
    return _SHORTCUT.match(text.strip()) is not None


def shortcut_entities_problem(text: str) -> str | None:
    """What is wrong with the entities of ``/intent{...}`` text (their JSON does not read,
    or text follows it), in words; None when nothing is, or ``text`` is no shortcut.
    ``data validate`` reports it for response buttons; parsing logs it."""
    match = _SHORTCUT.match(text.strip())
    raw = match.group("entities") if match else None
    if not raw:
        return None
    try:
        _, length = json.JSONDecoder().raw_decode(raw)
    except json.JSONDecodeError as e:
        return f"its entities are not valid JSON ({e.msg}), so they are left out"
    rest = raw[length:].strip()
    if rest:
        return f"the text {rest!r} after the entities' JSON is not understood and left out"
    return None


def _entities(raw: str, start: int, text: str) -> list[Entity]:
    """The entities written in ``raw`` (the text from the ``{`` or ``[`` on), which
    starts at ``start`` of ``text``; each spans the JSON value, as in Rasa."""
    try:
        parsed: Any
        parsed, length = json.JSONDecoder().raw_decode(raw)
    except json.JSONDecodeError as e:
        logger.warning(
            "the entities of %r are not valid JSON (%s); continuing without them", text, e.msg
        )
        return []
    rest = raw[length:].strip()
    if rest:
        # Rasa keeps the entities of `/inform{"city": "Rome"} now` and warns about the rest
        logger.warning("%r: the text after the entities' JSON is not understood; continuing "
                       "without %r", text, rest)
    end = start + length
    entities: list[Entity] = []
    if isinstance(parsed, dict):
        for name, values in parsed.items():
            for value in values if isinstance(values, list) else [values]:
                entities.append(_written_entity(str(name), start, end, value))
    elif isinstance(parsed, list) and all(isinstance(e, dict) and "entity" in e for e in parsed):
        for item in parsed:
            group = item.get("group")
            entities.append(
                _written_entity(
                    str(item["entity"]),
                    start,
                    end,
                    item.get("value"),
                    role=item.get("role"),
                    group=None if group is None else str(group),
                )
            )
    else:
        logger.warning(
            'the entities of %r must be a JSON object like {"city": "Berlin"}; '
            "continuing without them",
            text,
        )
    return entities


def _written_entity(name: str, start: int, end: int, value: Any,
                    role: str | None = None, group: str | None = None) -> Entity:
    """An entity written in the message, with Rasa 3's extractor and key order."""
    return Entity(name, start, end, value, role=role, group=group,
                  extractor=SHORTCUT_EXTRACTOR, key_order=_KEY_ORDER)


def _confidence(raw: str | None, text: str) -> float:
    """The ``@0.8`` after the intent, or 1.0; one that is no number between 0 and 1 is
    ignored with a warning, as bad entity JSON is, except digits and dots that make
    no number (``@..``), which give 0.0, as in Rasa."""
    if raw is None:
        return 1.0
    try:
        value = float(raw)
    except ValueError:
        if raw and set(raw) <= set("0123456789."):
            # digits and dots that make no number (`@..`, `@1.2.3`): 0.0, as Rasa reads them
            logger.warning("the confidence of %r is no number; 0.0 is used", text)
            return 0.0
        value = -1.0
    if not 0.0 <= value <= 1.0:
        logger.warning("the confidence of %r must be a number from 0 to 1 after the @; "
                       "1.0 is used", text)
        return 1.0
    return value


def parse_intent_shortcut(text: str, names: ShortcutNames | None = None) -> Message | None:
    """The message for ``/intent{...}`` text, or None when ``text`` is ordinary text.

    As Rasa's ``RegexMessageHandler``, it reads the text without the whitespace
    around it: that is the message's text, and the entities' offsets count in it.
    With ``names``, text naming an intent outside them is ordinary text, and
    entities outside them are left out (a warning says which).
    """
    stripped = text.strip()
    match = _SHORTCUT.match(stripped)
    if match is None:
        return None
    intent = match.group("intent")
    if names is not None and not names.knows_intent(intent):
        logger.warning("%r names the intent %r, which the domain does not have; the message "
                       "is understood as text instead", text, intent)
        return None
    confidence = _confidence(match.group("confidence"), text)
    raw = match.group("entities")
    entities = _entities(raw, match.start("entities"), text) if raw else []
    if names is not None:
        unknown = sorted({e.entity for e in entities} - names.entities)
        if unknown:
            logger.warning("%r names entities the domain does not have (%s); continuing "
                           "without them", text, ", ".join(unknown))
            entities = [e for e in entities if e.entity in names.entities]
    # `/faq/ask_hours` is the intent `faq` to the dialogue (its rules and stories name
    # `faq`), with the response selector's choice made: `utter_faq` answers ask_hours
    base, _, key = intent.partition(RETRIEVAL_SEPARATOR)
    if not key:
        base = intent  # `/faq/`: no key to choose, the name as written
    return Message(
        text=stripped,
        intent=base,
        confidence=confidence,
        intent_ranking=[IntentPrediction(base, confidence)],
        entities=entities,
        response_selector=(chosen_retrieval_response(intent, confidence,
                                                     names.retrieval_intents if names else ())
                           if base != intent else {}),
    )
