"""Placeholders of the slots Rasa's domain has by itself read ``None`` while unset."""

from __future__ import annotations

import logging

from template_domains import custom_slot_domain

from dialogflowlite.components.generation.templates import TemplateRenderer
from dialogflowlite.io.loader import load_project
from dialogflowlite.shared.events import SlotSet
from dialogflowlite.shared.tracker import DialogueStateTracker

DOMAIN = custom_slot_domain({"name": "text"}, """\
  utter_meta:
  - text: "meta {session_started_metadata}, name {name}"
  utter_asked:
  - text: "asked {requested_slot}"
""")

FORMS = """
forms:
  ask_form:
    required_slots: [name]
"""


def text(write_project, domain: str, response: str, events=()) -> str:
    loaded = load_project(write_project(domain=domain)).domain
    tracker = DialogueStateTracker.for_domain("u1", loaded, list(events))
    return TemplateRenderer(loaded, seed=1).render(response, tracker)[0]["text"]


def test_unset_session_metadata_reads_none_as_in_rasa(write_project, caplog) -> None:
    with caplog.at_level(logging.WARNING):
        said = text(write_project, DOMAIN, "utter_meta")
    # Rasa fills every slot of its domain, None when unset; the author's own slot
    # keeps its placeholder, with a warning naming it
    assert said == "meta None, name {name}"
    assert "{name}" in caplog.text and "session_started_metadata" not in caplog.text
    said = text(write_project, DOMAIN, "utter_meta",
                [SlotSet(name="session_started_metadata", value={"lang": "de"}),
                 SlotSet(name="name", value="Ann")])
    assert said == "meta {'lang': 'de'}, name Ann"


def test_requested_slot_reads_none_only_where_forms_add_it(write_project) -> None:
    assert text(write_project, DOMAIN + FORMS, "utter_asked") == "asked None"
    assert text(write_project, DOMAIN + FORMS, "utter_asked",
                [SlotSet(name="requested_slot", value="name")]) == "asked name"
    # without forms Rasa's domain has no requested_slot either
    assert text(write_project, DOMAIN, "utter_asked") == "asked {requested_slot}"


def test_the_stored_tracker_is_left_as_it_is(write_project) -> None:
    loaded = load_project(write_project(domain=DOMAIN)).domain
    tracker = DialogueStateTracker.for_domain("u1", loaded)
    before = dict(tracker.slots)
    TemplateRenderer(loaded, seed=1).render("utter_meta", tracker)
    assert tracker.slots == before


KNOWLEDGE_BASE = """
actions: [action_query_knowledge_base]
"""


def test_knowledge_base_slots_read_none_only_where_the_action_adds_them(write_project) -> None:
    domain = DOMAIN + """  utter_last:
  - text: "last {knowledge_base_last_object}"
"""
    assert text(write_project, domain + KNOWLEDGE_BASE, "utter_last") == "last None"
    assert text(write_project, domain + KNOWLEDGE_BASE, "utter_last",
                [SlotSet(name="knowledge_base_last_object", value="Rome")]) == "last Rome"
    assert text(write_project, domain, "utter_last") == "last {knowledge_base_last_object}"
