"""Forms and slot mappings, case by case against what Rasa 3's code does.

Each test drives whole turns through the processor (``action_extract_slots``
after the user message, then the form) and compares the events with the ones
Rasa's ``ActionExtractSlots`` and ``FormAction`` produce for the same turn.
"""

from __future__ import annotations

from typing import Any

import pytest
from dialogue_doubles import ActionRun, action_names, actions_plugin, say, simple_rules, texts

from dialogflowlite.shared.domain import ACTION_LISTEN, REQUESTED_SLOT
from dialogflowlite.shared.events import (
    ActionExecuted,
    ActionExecutionRejected,
    ActiveLoop,
    BotUttered,
    Event,
    SlotSet,
    UserUttered,
)

DOMAIN = """
version: "3.1"
intents: [book, inform, chitchat, faq, affirm, greet, ask_weather]
entities:
  - city:
      roles: [from, to]
  - count
  - person:
      groups: ["1", "2"]
slots:
  origin:
    type: text
    mappings:
    - type: from_entity
      entity: city
      role: from
  destination:
    type: text
    mappings:
    - type: from_entity
      entity: city
      role: to
  lead:
    type: text
    mappings:
    - type: from_entity
      entity: person
      group: "1"
      intent: [inform, book]
  note:
    type: text
    mappings:
    - type: from_text
      conditions:
      - active_loop: trip_form
        requested_slot: note
  remark:
    type: text
    mappings:
    - type: from_text
      conditions:
      - active_loop: trip_form
        requested_slot: count
  count:
    type: float
    mappings:
    - type: from_entity
      entity: count
      not_intent: [faq, greet]
  channel:
    type: text
    influence_conversation: false
    mappings:
    - type: from_trigger_intent
      intent: book
      value: web
  mood:
    type: text
    influence_conversation: false
    mappings:
    - type: from_intent
      intent: greet
      value: happy
      conditions:
      - active_loop: null
        requested_slot: note
forms:
  trip_form:
    ignored_intents: [chitchat]
    required_slots: [origin, destination, note, count]
responses:
  utter_ask_origin:
  - text: From where?
  utter_ask_destination:
  - text: To where?
  utter_ask_trip_form_destination:
  - text: Where to, for this trip?
  utter_ask_note:
  - text: Any note?
  utter_ask_count:
  - text: How many?
  utter_faq:
  - text: We fly daily.
  utter_done:
  - text: Done.
"""

RULES = dict(after_intent={"book": ["trip_form"], "faq": ["utter_faq"]},
             after_loop_done={"trip_form": ["utter_done"]},
             on_rejection={"faq": ["utter_faq"], "chitchat": ["utter_faq"]})


def parse(intent: str, *entities: dict[str, Any], text: str = "some text") -> dict[str, Any]:
    return {"text": text, "intent": {"name": intent, "confidence": 1.0},
            "entities": list(entities)}


def entity(name: str, value: Any, **extra: Any) -> dict[str, Any]:
    return {"entity": name, "value": value, "start": 0, "end": 1, **extra}


def send(processor, intent: str, *entities: dict[str, Any], text: str = "some text"):
    return say(processor, text, parse_data=parse(intent, *entities, text=text))


def slot_events(events: list[Event]) -> list[tuple[str, Any]]:
    return [(e.name, e.value) for e in events if isinstance(e, SlotSet)]


def extracted(result) -> list[tuple[str, Any]]:
    """The slot events of ``action_extract_slots`` this turn: as in Rasa, they follow
    the user message directly, with no ``action`` event of their own."""
    events = result.events
    start = next(i for i, e in enumerate(events) if isinstance(e, UserUttered))
    end = next((i for i, e in enumerate(events[start + 1:], start + 1)
                if isinstance(e, ActionExecuted)), len(events))
    return slot_events(events[start + 1:end])


@pytest.fixture
def trip(bot):
    return bot(DOMAIN, simple_rules(**RULES))


# ------------------------------------------------------------ action_extract_slots


def test_from_entity_takes_only_the_role_and_group_it_names(trip) -> None:
    # Rasa: SlotMapping.entity_is_desired compares type, role and group exactly
    result = send(trip, "inform", entity("city", "Rome", role="to"),
                  entity("person", "Ann", group="2"))
    assert extracted(result) == [("destination", "Rome")]
    result = send(trip, "inform", entity("city", "Oslo", role="from"),
                  entity("person", "Bob", group="1"))
    assert extracted(result) == [("origin", "Oslo"), ("lead", "Bob")]


def test_intent_and_not_intent_lists_filter_the_mapping(trip) -> None:
    # Rasa: SlotMapping.intent_is_desired: `intent` list when given, else not `not_intent`
    result = send(trip, "greet", entity("person", "Ann", group="1"), entity("count", 3))
    assert extracted(result) == [("mood", "happy")]
    result = send(trip, "book", entity("person", "Ann", group="1"), entity("count", 3))
    assert ("lead", "Ann") in extracted(result)
    assert ("count", 3) in extracted(result)


def test_slots_fill_on_every_turn_outside_forms_whatever_influence_conversation(trip) -> None:
    # Rasa runs action_extract_slots after every user message; `influence_conversation`
    # only concerns featurization
    result = send(trip, "greet")
    assert extracted(result) == [("mood", "happy")]
    assert result.tracker.slots["mood"] == "happy"


def test_a_null_active_loop_condition_ignores_its_requested_slot(trip) -> None:
    # Rasa ActionExtractSlots._matches_mapping_conditions: `active_loop: null` holds
    # whenever no loop runs, without looking at `requested_slot`
    result = send(trip, "greet")
    assert result.tracker.requested_slot is None
    assert extracted(result) == [("mood", "happy")]


def test_a_null_active_loop_condition_does_not_hold_while_a_form_runs(trip) -> None:
    send(trip, "book")
    result = send(trip, "greet", entity("city", "Oslo", role="from"))
    assert ("mood", "happy") not in extracted(result)


def test_conditioned_from_text_fills_only_the_slot_the_form_asks(trip) -> None:
    send(trip, "book", entity("city", "Oslo", role="from"), entity("city", "Rome", role="to"))
    result = send(trip, "inform", text="window seat please")
    # `remark` also maps from_text, but only while the form asks for `count`
    assert extracted(result) == [("note", "window seat please")]
    assert texts(result) == ["How many?"]
    result = send(trip, "inform", text="two of us")
    assert extracted(result) == [("remark", "two of us")]


def test_from_trigger_intent_fills_as_the_form_activates_only(trip) -> None:
    result = send(trip, "book")
    # nothing from action_extract_slots (no loop yet), the form fills it as it starts
    assert ("channel", "web") not in extracted(result)
    assert result.tracker.slots["channel"] == "web"
    assert result.tracker.active_loop_name == "trip_form"


# ------------------------------------------------------------ the form


def test_happy_path_events_match_rasa(trip) -> None:
    first = send(trip, "book", entity("city", "Oslo", role="from"))
    assert action_names(first)[-2:] == ["trip_form", ACTION_LISTEN]
    form_events = _form_events(first)
    # Rasa: ActiveLoop, activation slot events, requested_slot, the question
    assert isinstance(form_events[0], ActiveLoop) and form_events[0].name == "trip_form"
    assert slot_events(form_events) == [
        ("origin", "Oslo"), ("channel", "web"), (REQUESTED_SLOT, "destination")]
    assert texts(first) == ["Where to, for this trip?"]  # utter_ask_<form>_<slot> first

    send(trip, "inform", entity("city", "Rome", role="to"))
    send(trip, "inform", text="aisle")
    last = send(trip, "inform", entity("count", 2))
    # Rasa: request_next_slot gives requested_slot null, then the loop ends
    assert [(type(e).__name__, e.name, getattr(e, "value", None))
            for e in _form_events(last)] == [("SlotSet", REQUESTED_SLOT, None),
                                             ("ActiveLoop", None, None)]
    assert texts(last) == ["Done."]
    assert last.tracker.active_loop_name is None


def _form_events(result) -> list[Event]:
    events = result.events
    start = next(i for i, e in enumerate(events)
                 if isinstance(e, ActionExecuted) and e.name == "trip_form")
    end = next(i for i, e in enumerate(events[start + 1:], start + 1)
               if isinstance(e, ActionExecuted))
    return events[start + 1:end]


def test_a_message_that_fills_nothing_rejects_and_a_rule_answers_then_the_form_asks_again(
        trip) -> None:
    send(trip, "book")
    result = send(trip, "faq", text="do you fly daily?")
    rejected = [e.name for e in result.events if isinstance(e, ActionExecutionRejected)]
    assert rejected == ["trip_form"]
    # Rasa's processor logs ActionExecutionRejected instead of the form's action; the
    # form coming back does not validate and asks again (requested_slot set anew)
    assert [(type(e).__name__, getattr(e, "name", None)) for e in result.events] == [
        ("UserUttered", None), ("ActionExecutionRejected", "trip_form"),
        ("ActionExecuted", "utter_faq"), ("BotUttered", None),
        ("ActionExecuted", "trip_form"), ("SlotSet", REQUESTED_SLOT), ("BotUttered", None),
        ("ActionExecuted", ACTION_LISTEN)]
    assert texts(result) == ["We fly daily.", "From where?"]
    assert result.tracker.requested_slot == "origin"


def test_ignored_intents_fill_nothing_while_the_form_runs(trip) -> None:
    send(trip, "book", entity("city", "Oslo", role="from"), entity("city", "Rome", role="to"))
    result = send(trip, "chitchat", text="nice weather")
    # Rasa adds the form's ignored_intents to every mapping's not_intent
    assert extracted(result) == []
    assert any(isinstance(e, ActionExecutionRejected) for e in result.events)
    assert result.tracker.slots["note"] is None


def test_a_rejected_form_s_question_is_not_answered_by_the_next_message(bot) -> None:
    # Rasa ActionExtractSlots._matches_mapping_conditions: while the active loop is
    # rejected, a conditioned mapping of the requested slot does not fill it
    processor = bot(DOMAIN, simple_rules(after_intent={"book": ["trip_form"]}))
    send(processor, "book", entity("city", "Oslo", role="from"),
         entity("city", "Rome", role="to"))
    rejected = send(processor, "chitchat", text="hm")  # no rule answers: the bot listens
    assert any(isinstance(e, ActionExecutionRejected) for e in rejected.events)
    assert rejected.tracker.slots["note"] is None
    result = send(processor, "inform", text="front row")
    assert ("note", "front row") not in extracted(result)


def _ask_count_before_note(dispatcher, tracker, domain) -> list[dict[str, Any]]:
    """validate_trip_form: asks `count` before `note` once the cities are known."""
    if (tracker.get_slot("destination") and tracker.get_slot("count") is None
            and tracker.get_slot("note") is None):
        return [{"event": "slot", "name": "requested_slot", "value": "count"}]
    return []


def _validated_trip(domain_from, bot) -> Any:
    """The trip bot with ``validate_trip_form`` in its domain's actions."""
    domain = domain_from(DOMAIN.replace("responses:", "actions: [validate_trip_form]\n"
                                        "responses:"))
    return bot(domain, simple_rules(**RULES))


def test_validation_action_can_change_the_order_of_questions(domain_from, bot,
                                                             register_plugin) -> None:
    register_plugin(actions_plugin({"validate_trip_form": _ask_count_before_note}),
                    "trip-order")
    processor = _validated_trip(domain_from, bot)
    send(processor, "book", entity("city", "Oslo", role="from"))
    result = send(processor, "inform", entity("city", "Rome", role="to"))
    assert result.tracker.requested_slot == "count"
    assert texts(result) == ["How many?"]
    result = send(processor, "inform", entity("count", 2))
    assert result.tracker.requested_slot == "note"
    assert texts(result) == ["Any note?"]


ASK_DOMAIN = """
version: "3.1"
intents: [start]
slots:
  a: {type: text, mappings: [{type: custom}]}
  b: {type: text, mappings: [{type: custom}]}
  c: {type: text, mappings: [{type: custom}]}
actions: [action_ask_f_a, action_ask_a, action_ask_b]
forms:
  f:
    required_slots: [%s]
responses:
  utter_ask_f_a: [{text: form-specific response for a}]
  utter_ask_a: [{text: response for a}]
  utter_ask_f_b: [{text: form-specific response for b}]
  utter_ask_c: [{text: response for c}]
"""


def _asker(action_name: str) -> ActionRun:
    """An ``action_ask_*`` action that says its own name."""
    def run(dispatcher, tracker, domain) -> list[dict[str, Any]]:
        dispatcher.utter_message(text=f"{action_name} runs")
        return []
    return run


ASK_ACTIONS = {name: _asker(name) for name in ("action_ask_f_a", "action_ask_a", "action_ask_b")}


@pytest.mark.parametrize(("slot", "question"), [
    ("a", "action_ask_f_a runs"),          # action_ask_<form>_<slot> before all
    ("b", "form-specific response for b"),  # utter_ask_<form>_<slot> before action_ask_<slot>
    ("c", "response for c"),                # utter_ask_<slot> last
])
def test_question_precedence_follows_rasa(bot, register_plugin, slot, question) -> None:
    register_plugin(actions_plugin(ASK_ACTIONS), f"askers-{slot}")
    processor = bot(ASK_DOMAIN % slot, simple_rules(after_intent={"start": ["f"]}))
    result = send(processor, "start")
    assert texts(result) == [question]
    assert result.tracker.requested_slot == slot
    assert any(isinstance(e, BotUttered) for e in result.events)


def test_activation_repeats_the_slot_events_of_the_message_as_rasa_does(trip) -> None:
    # Rasa FormAction.activate runs action_extract_slots again with the form active
    # and returns every SlotSet of that run, the ones of the message included
    result = send(trip, "book", entity("city", "Oslo", role="from"))
    assert extracted(result) == [("origin", "Oslo")]
    assert slot_events(_form_events(result)) == [
        ("origin", "Oslo"), ("channel", "web"), (REQUESTED_SLOT, "destination")]


def test_from_trigger_intent_stays_as_it_is_when_the_intent_comes_again_in_the_form(
        trip) -> None:
    # Rasa's extract_slot_value_from_predefined_mapping fills it again whenever a loop
    # runs, though its documentation promises only the activating message: the
    # documented behaviour is kept
    send(trip, "book")
    send(trip, "inform", entity("city", "Oslo", role="from"))
    result = send(trip, "book", entity("city", "Rome", role="to"))
    assert ("channel", "web") not in extracted(result)


CUSTOM_DOMAIN = """
version: "3.1"
intents: [inform]
slots:
  score:
    type: float
    mappings:
    - type: custom
      action: action_score
  tag:
    type: text
    mappings:
    - type: custom
actions: [action_score]
"""


def _score(dispatcher, tracker, domain) -> list[dict[str, Any]]:
    """action_score: says so, fills `score` and asks for action_listen next."""
    dispatcher.utter_message(text="scored")
    return [{"event": "slot", "name": "score", "value": 7},
            {"event": "followup", "name": "action_listen"}]


def test_a_custom_mapping_runs_its_action_on_every_message(bot, register_plugin) -> None:
    # Rasa ActionExtractSlots._execute_custom_action: the mapping's action runs in
    # action_extract_slots; its slot and bot events are kept, others dropped, and
    # the processor sends its messages; a custom mapping without action fills nothing
    register_plugin(actions_plugin({"action_score": _score}), "score")
    processor = bot(CUSTOM_DOMAIN, simple_rules(after_intent={}))
    result = send(processor, "inform", text="hello")
    assert extracted(result) == [("score", 7)]
    assert texts(result) == ["scored"]
    assert result.tracker.slots["tag"] is None


def _title_case_origin(dispatcher, tracker, domain) -> list[dict[str, Any]]:
    """validate_trip_form: writes `origin` with a capital letter."""
    origin = tracker.slots_to_validate().get("origin")
    if origin:
        return [{"event": "slot", "name": "origin", "value": origin.title()}]
    return []


def test_activation_puts_the_validation_events_before_the_other_extracted_slots(
        domain_from, bot, register_plugin) -> None:
    # Rasa FormAction.activate returns the validation's events, then the extracted
    # slot events the validation did not answer for
    register_plugin(actions_plugin({"validate_trip_form": _title_case_origin}),
                    "title-origin")
    processor = _validated_trip(domain_from, bot)
    result = send(processor, "book", entity("city", "oslo", role="from"))
    assert slot_events(_form_events(result)) == [
        ("origin", "Oslo"), ("channel", "web"), (REQUESTED_SLOT, "destination")]


def _own_extraction(dispatcher, tracker, domain) -> list[dict[str, Any]]:
    """A project's own action_extract_slots: tags the message with its text."""
    dispatcher.utter_message(text="extracting")
    return [{"event": "slot", "name": "tag", "value": tracker.latest_message.get("text")}]


def test_a_project_s_own_action_extract_slots_runs_instead_of_the_mappings(
        bot, register_plugin) -> None:
    # Rasa's processor and form activation take action_extract_slots through
    # action_for_name_or_text, where a project's own action overrides the default one:
    # its events (messages too) are applied, and the slot mappings are not
    register_plugin(actions_plugin({"action_score": _score,
                                    "action_extract_slots": _own_extraction}),
                    "own-extraction")
    domain = CUSTOM_DOMAIN.replace("actions: [action_score]",
                                   "actions: [action_score, action_extract_slots]")
    processor = bot(domain, simple_rules(after_intent={}))
    result = send(processor, "inform", text="hello")
    assert extracted(result) == [("tag", "hello")]
    assert texts(result) == ["extracting"]
    assert result.tracker.slots["score"] is None
