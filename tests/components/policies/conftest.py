"""Fixtures of the policy tests: small projects read through the real loader."""

from __future__ import annotations

from collections.abc import Callable
from itertools import count

import pytest

from dialogflowlite.io.loader import Project, load_project

DOMAIN = """
version: "3.1"
intents: [greet, bye, ask_weather, inform, affirm, deny, stop, chitchat, thanks]
entities: [city]
slots:
  city:
    type: text
    mappings: [{type: from_entity, entity: city}]
  premium:
    type: bool
    influence_conversation: true
    mappings: [{type: custom}]
forms:
  weather_form:
    required_slots: [city]
responses:
  utter_greet: [{text: hi}]
  utter_bye: [{text: bye}]
  utter_weather: [{text: sunny}]
  utter_ask_city: [{text: where?}]
  utter_ask_continue: [{text: continue?}]
  utter_chitchat: [{text: chat}]
  utter_welcome: [{text: welcome}]
  utter_premium: [{text: premium}]
  utter_basic: [{text: basic}]
  utter_done: [{text: done}]
  utter_noworries: [{text: np}]
  utter_cancelled: [{text: cancelled}]
"""


@pytest.fixture
def dialogue_project(write_project) -> Callable[..., Project]:
    """``dialogue_project(stories=..., rules=..., domain=..., config=...)`` -> a loaded project."""
    numbers = count()

    def build(*, stories: str | None = None, rules: str | None = None,
              domain: str = DOMAIN, config: str | None = None) -> Project:
        root = write_project(domain=domain, stories=stories, rules=rules, config=config,
                             name=f"project{next(numbers)}")
        return load_project(root, strict=True)

    return build
