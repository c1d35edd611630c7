"""User steps drawn as example messages (``visualize --nlu``, as Rasa draws them).

Each user step of a story path takes the text of the first NLU example of its
intent that holds the step's entities, so the graph reads like a
conversation.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from dialogflowlite.shared.events import Event, UserUttered
from dialogflowlite.shared.story_paths import StoryPath
from dialogflowlite.shared.training_data import TrainingData


def example_text(data: TrainingData, intent: str, entities: Sequence[dict[str, Any]]) -> str | None:
    """The first example of ``intent`` that holds every entity of ``entities``, or None.

    An entity matches one of the same type, and of the same value when the
    story gives one. ``intent`` may be a retrieval intent (``faq/ask_hours``).
    """
    for message in data.examples:
        if intent not in (message.intent, message.base_intent):
            continue
        if all(_holds(message.entities, wanted) for wanted in entities):
            return message.text
    return None


def _holds(found: Sequence[Any], wanted: dict[str, Any]) -> bool:
    value = wanted.get("value")
    return any(e.entity == wanted.get("entity") and (value is None or str(e.value) == str(value))
               for e in found)


def with_examples(paths: Sequence[StoryPath], data: TrainingData) -> list[StoryPath]:
    """The paths with each user step's intent replaced by an example message (see above).

    A step no example fits keeps its own text, or else its intent.
    """
    return [replace(path, events=[_as_example(event, data) for event in path.events])
            for path in paths]


def _as_example(event: Event, data: TrainingData) -> Event:
    if not isinstance(event, UserUttered) or not event.intent_name:
        return event
    intent = event.parse_data["intent"].get("full_retrieval_intent_name") or event.intent_name
    text = example_text(data, intent, event.entities) or event.text
    if text is None:
        return event
    # without an intent the graph labels the step by its text
    return UserUttered(text=text, parse_data={"entities": event.entities},
                       timestamp=event.timestamp)
