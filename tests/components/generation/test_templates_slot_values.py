"""Response conditions compare a slot's value as it was set, as Rasa compares them."""

from __future__ import annotations

import pytest
from template_domains import custom_slot_domain

from dialogflowlite.components.generation.templates import TemplateRenderer
from dialogflowlite.io.loader import load_project
from dialogflowlite.shared.domain import Domain
from dialogflowlite.shared.events import SlotSet
from dialogflowlite.shared.tracker import DialogueStateTracker

DOMAIN = custom_slot_domain({"count": "float", "vip": "bool", "tags": "list"}, """\
  utter_count:
  - text: "two"
    condition: [{type: slot, name: count, value: 2}]
  - text: "some"
  utter_vip:
  - text: "a guest of honour"
    condition: [{type: slot, name: vip, value: true}]
  - text: "said yes"
    condition: [{type: slot, name: vip, value: "Yes"}]
  - text: "a guest"
  utter_tags:
  - text: "tagged red"
    condition: [{type: slot, name: tags, value: red}]
  - text: "tags"
""")


@pytest.fixture
def domain(write_project) -> Domain:
    return load_project(write_project(domain=DOMAIN)).domain


def said(domain: Domain, response: str, slot: str, value) -> str:
    tracker = DialogueStateTracker.for_domain("u1", domain, [SlotSet(name=slot, value=value)])
    return TemplateRenderer(domain, seed=1).render(response, tracker)[0]["text"]


def test_a_number_meets_a_number_condition_and_text_does_not(domain) -> None:
    assert said(domain, "utter_count", "count", 2.0) == "two"
    assert said(domain, "utter_count", "count", 2) == "two"
    # Rasa compares "2" with 2 as they are: they differ
    assert said(domain, "utter_count", "count", "2") == "some"


def test_a_bool_slot_set_to_a_word_meets_only_a_condition_on_that_word(domain) -> None:
    assert said(domain, "utter_vip", "vip", True) == "a guest of honour"
    # text against text ignores case, as in Rasa
    assert said(domain, "utter_vip", "vip", "yes") == "said yes"


def test_a_list_slot_never_meets_a_single_value_condition(domain) -> None:
    # the slot holds ["red"]; Rasa compares that list with "red" and finds them different
    assert said(domain, "utter_tags", "tags", "red") == "tags"
    assert said(domain, "utter_tags", "tags", ["red"]) == "tags"
