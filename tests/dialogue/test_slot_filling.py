"""Slot mappings at run time: action_extract_slots after a user message."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from dialogflowlite import hookimpl
from dialogflowlite.dialogue.actions import ActionContext
from dialogflowlite.dialogue.custom_actions import CustomActionExecutor
from dialogflowlite.dialogue.slot_filling import extract_slots
from dialogflowlite.shared.domain import Domain
from dialogflowlite.shared.events import ActiveLoop, BotUttered, SlotSet, UserUttered
from dialogflowlite.shared.tracker import DialogueStateTracker

DOMAIN = """
version: "3.1"
intents: [inform, greet, affirm, deny, chitchat, book, order]
entities:
  - city:
      roles: [departure, destination]
  - cuisine
  - topping
  - person:
      groups: ["1", "2"]
slots:
  origin:
    type: text
    mappings:
    - type: from_entity
      entity: city
      role: departure
  destination:
    type: text
    mappings:
    - type: from_entity
      entity: city
      role: destination
  first_person:
    type: text
    mappings:
    - type: from_entity
      entity: person
      group: "1"
  cuisine:
    type: text
    mappings:
    - type: from_entity
      entity: cuisine
      not_intent: [chitchat]
  toppings:
    type: list
    mappings:
    - type: from_entity
      entity: topping
  note:
    type: text
    mappings:
    - type: from_text
      intent: inform
      conditions:
      - active_loop: note_form
        requested_slot: note
  agreed:
    type: bool
    mappings:
    - type: from_intent
      intent: affirm
      value: true
    - type: from_intent
      intent: deny
      value: false
  channel:
    type: text
    mappings:
    - type: from_trigger_intent
      intent: book
      value: booking
      conditions:
      - active_loop: note_form
  greeted:
    type: bool
    influence_conversation: false
    mappings:
    - type: from_intent
      intent: greet
      value: true
      conditions:
      - active_loop: null
forms:
  note_form:
    ignored_intents: [chitchat]
    required_slots: [note, cuisine]
"""


def user(intent: str, *entities: dict[str, Any], text: str = "some text") -> UserUttered:
    return UserUttered(text=text, parse_data={"intent": {"name": intent, "confidence": 1.0},
                                              "entities": list(entities)})


def entity(name: str, value: Any, **extra: Any) -> dict[str, Any]:
    return {"entity": name, "value": value, "start": 0, "end": 1, **extra}


def extracted(domain: Domain, *events, context: ActionContext | None = None) -> dict[str, Any]:
    tracker = DialogueStateTracker.for_domain("t", domain, events)
    found = asyncio.run(extract_slots(tracker, context or ActionContext(domain)))
    return {e.name: e.value for e in found if isinstance(e, SlotSet)}


@pytest.fixture
def domain(domain_from) -> Domain:
    return domain_from(DOMAIN)


def test_from_entity_uses_roles_and_groups(domain) -> None:
    slots = extracted(domain, user("inform", entity("city", "Berlin", role="departure"),
                                   entity("city", "Rome", role="destination"),
                                   entity("person", "Ann", group="1"),
                                   entity("person", "Bob", group="2")))
    assert slots == {"origin": "Berlin", "destination": "Rome", "first_person": "Ann"}


def test_an_entity_without_the_role_fills_no_role_mapping(domain) -> None:
    assert extracted(domain, user("inform", entity("city", "Paris"))) == {}


def test_not_intent_blocks_and_list_slots_take_every_value(domain) -> None:
    assert extracted(domain, user("chitchat", entity("cuisine", "thai"))) == {}
    assert extracted(domain, user("inform", entity("cuisine", "thai"))) == {"cuisine": "thai"}
    assert extracted(domain, user("inform", entity("topping", "ham"),
                                  entity("topping", "olives"))) == {"toppings": ["ham", "olives"]}


def test_from_intent_gives_the_mapping_value(domain) -> None:
    assert extracted(domain, user("affirm"))["agreed"] is True
    assert extracted(domain, user("deny"))["agreed"] is False
    assert "agreed" not in extracted(domain, user("inform"))


def test_conditions_on_active_loop_and_requested_slot(domain) -> None:
    message = user("inform", text="by the window")
    assert "note" not in extracted(domain, message)
    in_form = [ActiveLoop(name="note_form"), SlotSet(name="requested_slot", value="note")]
    assert extracted(domain, *in_form, message)["note"] == "by the window"
    other_slot = [ActiveLoop(name="note_form"), SlotSet(name="requested_slot", value="cuisine")]
    assert "note" not in extracted(domain, *other_slot, message)


def test_condition_on_no_active_loop(domain) -> None:
    assert extracted(domain, user("greet"))["greeted"] is True
    assert "greeted" not in extracted(domain, ActiveLoop(name="note_form"), user("greet"))


def test_from_trigger_intent_fills_only_as_its_loop_starts(domain) -> None:
    # a message that starts no loop fills nothing (Rasa: no active loop, no value)
    assert "channel" not in extracted(domain, user("book"))
    # the form activated by the message fills it...
    assert extracted(domain, user("book"), ActiveLoop(name="note_form"))["channel"] == "booking"
    # ...but not a message sent while the form already runs
    assert "channel" not in extracted(domain, ActiveLoop(name="note_form"), user("book"))


def test_from_trigger_intent_waits_for_the_loop_its_conditions_name(domain_from) -> None:
    domain = domain_from("""
        version: "3.1"
        intents: [book]
        slots:
          channel:
            type: text
            mappings:
            - type: from_trigger_intent
              intent: book
              value: booking
              conditions:
              - active_loop: trip_form
        forms:
          trip_form:
            required_slots: []
          other_form:
            required_slots: []
        """)
    assert "channel" not in extracted(domain, user("book"), ActiveLoop(name="other_form"))
    assert extracted(domain, user("book"), ActiveLoop(name="trip_form"))["channel"] == "booking"


def test_ignored_intents_of_the_active_form_block_mappings(domain) -> None:
    in_form = [ActiveLoop(name="note_form"), SlotSet(name="requested_slot", value="cuisine")]
    assert "cuisine" in extracted(domain, *in_form, user("inform", entity("cuisine", "thai")))
    # `chitchat` is ignored by the form (and by the mapping itself)
    assert extracted(domain, *in_form, user("chitchat", entity("topping", "ham"))) == {}
    assert extracted(domain, user("chitchat", entity("topping", "ham"))) == {"toppings": ["ham"]}


def test_a_shared_entity_fills_only_the_requested_slot_of_the_form(domain_from) -> None:
    domain = domain_from("""
        version: "3.1"
        intents: [inform]
        entities: [number]
        slots:
          adults:
            type: float
            mappings: [{type: from_entity, entity: number}]
          children:
            type: float
            mappings: [{type: from_entity, entity: number}]
        forms:
          party_form:
            required_slots: [adults, children]
        """)
    message = user("inform", entity("number", 2))
    assert extracted(domain, message) == {"adults": 2, "children": 2}  # no form: both
    asked = [ActiveLoop(name="party_form"), SlotSet(name="requested_slot", value="children")]
    assert extracted(domain, *asked, message) == {"children": 2}


def test_a_slot_outside_the_form_does_not_make_an_entity_shared(domain_from) -> None:
    domain = domain_from("""
        version: "3.1"
        intents: [inform]
        entities: [number]
        slots:
          adults:
            type: float
            mappings: [{type: from_entity, entity: number}]
          date:
            type: text
            mappings: [{type: from_text, conditions: [{active_loop: party_form,
                                                      requested_slot: date}]}]
          last_number:
            type: float
            influence_conversation: false
            mappings: [{type: from_entity, entity: number}]
        forms:
          party_form:
            required_slots: [date, adults]
        """)
    asked = [ActiveLoop(name="party_form"), SlotSet(name="requested_slot", value="date")]
    found = extracted(domain, *asked, user("inform", entity("number", 3), text="3 on friday"))
    assert found == {"adults": 3, "date": "3 on friday", "last_number": 3}


def test_required_slots_that_map_an_entity_differently_do_not_share_it(domain_from) -> None:
    domain = domain_from("""
        version: "3.1"
        intents: [inform, inform_children]
        entities: [number]
        slots:
          adults:
            type: float
            mappings: [{type: from_entity, entity: number, intent: inform}]
          children:
            type: float
            mappings: [{type: from_entity, entity: number, intent: inform_children}]
          date:
            type: text
            mappings: [{type: from_text, conditions: [{active_loop: party_form,
                                                      requested_slot: date}]}]
        forms:
          party_form:
            required_slots: [date, adults, children]
        """)
    asked = [ActiveLoop(name="party_form"), SlotSet(name="requested_slot", value="date")]
    found = extracted(domain, *asked, user("inform_children", entity("number", 2), text="2 kids"))
    assert found == {"children": 2, "date": "2 kids"}


def test_first_applicable_mapping_wins(domain_from) -> None:
    domain = domain_from("""
        version: "3.1"
        intents: [inform, deny]
        slots:
          preferences:
            type: text
            mappings:
            - type: from_intent
              intent: deny
              value: no additional preferences
            - type: from_text
              not_intent: [affirm]
        """)
    assert extracted(domain, user("deny", text="no"))["preferences"] == "no additional preferences"
    assert extracted(domain, user("inform", text="a quiet table"))["preferences"] == "a quiet table"


def test_from_text_does_not_take_a_message_without_a_letter_or_digit(domain_from) -> None:
    domain = domain_from("""
        version: "3.1"
        intents: [inform, nlu_fallback]
        slots:
          preferences:
            type: text
            mappings:
            - type: from_text
        """)
    # "?" in answer to "any preferences?" asks back; it is not a preference
    for text in ("?", "...", " "):
        assert "preferences" not in extracted(domain, user("nlu_fallback", text=text)), text
    for text in ("7", "à la carte", "靠窗"):
        assert extracted(domain, user("nlu_fallback", text=text))["preferences"] == text


def test_2_0_projects_fill_slots_from_same_named_entities(domain_from) -> None:
    domain = domain_from("""
        version: "2.0"
        intents: [inform]
        entities: [city, date]
        slots:
          city:
            type: text
          date:
            type: text
            auto_fill: false
        """)
    assert extracted(domain, user("inform", entity("city", "Oslo"), entity("date", "today"))) == {
        "city": "Oslo"}


class SlotActions:
    def __init__(self) -> None:
        self.calls: list[str] = []

    @hookimpl
    def dfl_register_actions(self):
        outer = self

        class FillPhone:
            def name(self):
                return "action_fill_phone"

            def run(self, dispatcher, tracker, domain):
                outer.calls.append(self.name())
                digits = "".join(c for c in tracker.latest_message["text"] if c.isdigit())
                dispatcher.utter_message(text=f"noted {digits}")
                return [{"event": "slot", "name": "phone", "value": digits},
                        {"event": "restart"}]  # not allowed here: dropped

        class ValidateSlots:
            def name(self):
                return "action_validate_slot_mappings"

            async def run(self, dispatcher, tracker, domain):
                outer.calls.append(self.name())
                candidates = tracker.slots_to_validate()
                events = []
                if "phone" in candidates and len(candidates["phone"]) < 5:
                    events.append({"event": "slot", "name": "phone", "value": None})
                return events

        return [FillPhone, ValidateSlots()]


CUSTOM_DOMAIN = """
version: "3.1"
intents: [inform]
slots:
  phone:
    type: text
    mappings:
    - type: custom
      action: action_fill_phone
  mood:
    type: text
    mappings:
    - type: custom
    - type: from_text
actions: [action_fill_phone, action_validate_slot_mappings]
"""


def test_custom_mappings_run_their_action_and_validation(domain_from, register_plugin) -> None:
    plugin = SlotActions()
    register_plugin(plugin, "slot-actions")
    domain = domain_from(CUSTOM_DOMAIN)
    context = ActionContext(domain, CustomActionExecutor())
    tracker = DialogueStateTracker.for_domain("t", domain, [user("inform", text="call 0301234567")])

    events = asyncio.run(extract_slots(tracker, context))

    slots = {e.name: e.value for e in events if isinstance(e, SlotSet)}
    assert slots == {"phone": "0301234567", "mood": "call 0301234567"}
    assert [e.text for e in events if isinstance(e, BotUttered)] == ["noted 0301234567"]
    assert plugin.calls == ["action_fill_phone", "action_validate_slot_mappings"]
    assert not any(e.type_name == "restart" for e in events)


def test_validation_action_can_reject_a_candidate(domain_from, register_plugin) -> None:
    register_plugin(SlotActions(), "slot-actions")
    domain = domain_from(CUSTOM_DOMAIN)
    tracker = DialogueStateTracker.for_domain("t", domain, [user("inform", text="call 123")])
    events = asyncio.run(extract_slots(tracker, ActionContext(domain, CustomActionExecutor())))
    phone = [e.value for e in events if isinstance(e, SlotSet) and e.name == "phone"]
    assert phone == [None]


def test_a_failing_custom_mapping_action_leaves_other_slots(domain_from, caplog) -> None:
    domain = domain_from(CUSTOM_DOMAIN.replace(
        "actions: [action_fill_phone, action_validate_slot_mappings]",
        "actions: [action_fill_phone]"))
    tracker = DialogueStateTracker.for_domain("t", domain, [user("inform", text="hi")])
    with caplog.at_level("WARNING"):
        events = asyncio.run(extract_slots(tracker, ActionContext(domain, CustomActionExecutor())))
    assert {e.name: e.value for e in events if isinstance(e, SlotSet)} == {"mood": "hi"}
    assert "action_fill_phone" in caplog.text


GUARDED_CUSTOM_DOMAIN = """
version: "3.1"
intents: [inform, chitchat]
entities: [phone]
slots:
  phone:
    type: text
    mappings:
    - type: from_entity
      entity: phone
    - type: custom
      action: action_fill_phone
      not_intent: [chitchat]
      conditions:
      - active_loop: contact_form
forms:
  contact_form:
    required_slots: [phone]
actions: [action_fill_phone]
"""


@pytest.fixture
def guarded(domain_from, register_plugin):
    """Extract slots with GUARDED_CUSTOM_DOMAIN; returns the slots and the calls of
    action_fill_phone."""
    plugin = SlotActions()
    register_plugin(plugin, "slot-actions")
    domain = domain_from(GUARDED_CUSTOM_DOMAIN)

    def run(*events) -> tuple[dict[str, Any], list[str]]:
        plugin.calls.clear()
        slots = extracted(domain, *events, context=ActionContext(domain, CustomActionExecutor()))
        return slots, [call for call in plugin.calls if call == "action_fill_phone"]

    return run


IN_CONTACT_FORM = [ActiveLoop(name="contact_form"), SlotSet(name="requested_slot", value="phone")]


def test_a_custom_mapping_runs_only_when_its_conditions_hold(guarded) -> None:
    # no form active: the action is not called
    assert guarded(user("inform", text="0301234567")) == ({}, [])
    # its not_intent
    assert guarded(*IN_CONTACT_FORM, user("chitchat", text="0301234567")) == ({}, [])
    assert guarded(*IN_CONTACT_FORM, user("inform", text="0301234567")) == (
        {"phone": "0301234567"}, ["action_fill_phone"])


def test_a_custom_mapping_after_a_mapping_that_filled_the_slot_does_not_run(guarded) -> None:
    message = user("inform", entity("phone", "555-1234"), text="555 1234")
    assert guarded(*IN_CONTACT_FORM, message) == ({"phone": "555-1234"}, [])
