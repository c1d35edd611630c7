"""A domain whose actions include ``action_query_knowledge_base`` has the slots Rasa
SDK's knowledge-base action sets, as Rasa's domain adds them."""

from __future__ import annotations

from dialogflowlite.dialogue.domain_json import domain_from_dict, domain_to_dict
from dialogflowlite.io.loader import load_project
from dialogflowlite.io.validate import validate_project
from dialogflowlite.shared.domain import KNOWLEDGE_BASE_SLOTS

DOMAIN = """
    version: "3.1"
    intents: [query_knowledge_base]
    actions: [action_query_knowledge_base]
    slots:
      knowledge_base_last_object:
        type: any
        mappings: []
    """

STORIES = """
    version: "3.1"
    stories:
    - story: ask about a hotel
      steps:
      - intent: query_knowledge_base
      - action: action_query_knowledge_base
      - slot_was_set:
        - knowledge_base_listed_objects: [1, 2]
        - knowledge_base_last_object_type: hotel
    """


def test_the_knowledge_base_action_brings_its_slots(write_project) -> None:
    project = load_project(write_project(domain=DOMAIN, stories=STORIES), strict=False)
    slots = project.domain.slots
    assert list(KNOWLEDGE_BASE_SLOTS) == [
        "knowledge_base_listed_objects", "knowledge_base_last_object",
        "knowledge_base_last_object_type"]
    for name in ("knowledge_base_listed_objects", "knowledge_base_last_object_type"):
        # text slots that do not influence the conversation, as in Rasa
        assert (slots[name].type, slots[name].influence_conversation, slots[name].mappings,
                slots[name].declared) == ("text", False, [], False)
    # a slot the author declares stays as declared
    assert slots["knowledge_base_last_object"].type == "any"
    assert slots["knowledge_base_last_object"].declared
    assert project.domain.counts()["slots"] == 1
    # stories may set them: no "slot the domain lacks"
    assert [p.message for p in validate_project(project) if p.code == "DFL113"] == []


def test_the_slots_come_back_with_a_trained_domain(write_project) -> None:
    project = load_project(write_project(domain=DOMAIN), strict=False)
    data = domain_to_dict(project.domain)
    assert list(data["slots"]) == ["knowledge_base_last_object"]
    assert set(KNOWLEDGE_BASE_SLOTS) <= set(domain_from_dict(data).slots)


def test_without_the_action_there_are_no_knowledge_base_slots(write_project) -> None:
    domain = DOMAIN.replace("actions: [action_query_knowledge_base]", "actions: [action_hi]")
    project = load_project(write_project(domain=domain), strict=False)
    assert list(project.domain.slots) == ["knowledge_base_last_object"]
