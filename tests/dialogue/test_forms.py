"""Forms: activation, asking, validation, rejection, interruptions and deactivation."""

from __future__ import annotations

import pytest
from dialogue_doubles import FunctionPolicy, action_names, say, simple_rules, texts

from dialogflowlite import hookimpl
from dialogflowlite.shared.domain import ACTION_LISTEN
from dialogflowlite.shared.events import ActionExecutionRejected, ActiveLoop, SlotSet

DOMAIN = """
version: "3.1"
intents: [greet, book, inform, chitchat, stop, affirm, deny]
entities: [city, count]
slots:
  city:
    type: text
    mappings:
    - type: from_entity
      entity: city
    - type: from_text
      not_intent: [chitchat, stop, affirm, deny, book]
      conditions:
      - active_loop: trip_form
        requested_slot: city
  count:
    type: float
    mappings:
    - type: from_entity
      entity: count
forms:
  trip_form:
    ignored_intents: [chitchat]
    required_slots: [city, count]
responses:
  utter_ask_city:
  - text: Where to?
  utter_ask_count:
  - text: How many?
  utter_ask_trip_form_count:
  - text: How many travellers?
  utter_done:
  - text: "Booked {count} to {city}"
  utter_chitchat:
  - text: Nice chat.
  utter_ask_continue:
  - text: Do you want to go on?
  utter_cancelled:
  - text: Cancelled.
  utter_bad_city:
  - text: We do not fly to {city}.
"""

RULES = dict(after_intent={"book": ["trip_form"], "greet": ["utter_chitchat"]},
             after_loop_done={"trip_form": ["utter_done"]},
             on_rejection={"chitchat": ["utter_chitchat"]})


@pytest.fixture
def trip(bot):
    return bot(DOMAIN, simple_rules(**RULES))


def test_happy_path_asks_each_slot_and_deactivates(trip) -> None:
    first = say(trip, "/book")
    assert texts(first) == ["Where to?"]
    assert any(isinstance(e, ActiveLoop) and e.name == "trip_form" for e in first.events)
    assert first.tracker.requested_slot == "city"

    second = say(trip, '/inform{"city": "Rome"}')
    assert texts(second) == ["How many travellers?"]  # utter_ask_<form>_<slot> comes first
    assert second.tracker.requested_slot == "count"

    third = say(trip, '/inform{"count": 2}')
    assert texts(third) == ["Booked 2 to Rome"]  # the value as set, as in Rasa
    assert action_names(third) == ["trip_form", "utter_done", ACTION_LISTEN]
    assert third.tracker.active_loop_name is None
    assert third.tracker.requested_slot is None
    assert third.tracker.slots["count"] == 2.0


def test_slots_filled_before_activation_are_not_asked(trip) -> None:
    result = say(trip, '/book{"city": "Oslo"}')
    assert texts(result) == ["How many travellers?"]
    assert result.tracker.slots["city"] == "Oslo"


def test_free_text_fills_the_requested_slot(trip) -> None:
    say(trip, "/book")
    result = say(trip, "somewhere warm")
    assert result.tracker.slots["city"] == "somewhere warm"
    assert texts(result) == ["How many travellers?"]


def test_unfillable_message_rejects_the_form_and_a_rule_answers(trip) -> None:
    say(trip, "/book")
    result = say(trip, "/chitchat")
    rejected = [e for e in result.events if isinstance(e, ActionExecutionRejected)]
    assert [e.name for e in rejected] == ["trip_form"]
    assert texts(result) == ["Nice chat.", "Where to?"]
    assert action_names(result) == ["utter_chitchat", "trip_form", ACTION_LISTEN]
    # the ignored intent filled nothing, and the form goes on afterwards
    assert result.tracker.slots["city"] is None
    assert result.tracker.active_loop_name == "trip_form"
    assert texts(say(trip, '/inform{"city": "Rome"}')) == ["How many travellers?"]


def test_rejected_form_without_a_rule_just_listens(bot) -> None:
    processor = bot(DOMAIN, simple_rules(**RULES))
    say(processor, "/book")
    result = say(processor, "/affirm")
    assert texts(result) == []
    assert action_names(result) == [ACTION_LISTEN]
    assert result.tracker.active_loop_name == "trip_form"


def _stop_policy(tracker, domain) -> str:
    """Stories: stop -> ask to continue; deny -> deactivate; affirm -> back to the form."""
    from dialogue_doubles import _actions_since_user, was_rejected

    done = _actions_since_user(tracker)
    intent = tracker.latest_intent
    if was_rejected(tracker):
        return "utter_ask_continue" if intent == "stop" else ACTION_LISTEN
    if intent == "book" and not done:
        return "trip_form"
    if intent == "deny" and not done:
        return "action_deactivate_loop"
    if done == ["action_deactivate_loop"]:
        return "utter_cancelled"
    if tracker.active_loop_name and not done:
        return tracker.active_loop_name
    return ACTION_LISTEN


def test_stop_then_deny_deactivates_the_loop(bot) -> None:
    processor = bot(DOMAIN, FunctionPolicy(_stop_policy))
    say(processor, "/book")
    assert texts(say(processor, "/stop")) == ["Do you want to go on?"]
    result = say(processor, "/deny")
    assert texts(result) == ["Cancelled."]
    loops = [e.name for e in result.events if isinstance(e, ActiveLoop)]
    assert loops == [None]
    assert result.tracker.active_loop_name is None
    assert result.tracker.requested_slot is None


def test_affirm_after_an_interruption_goes_back_to_asking(bot) -> None:
    processor = bot(DOMAIN, FunctionPolicy(_stop_policy))
    say(processor, "/book")
    say(processor, "/stop")
    result = say(processor, "/affirm")
    # after an interruption the form does not try to read a slot from "affirm"
    assert not any(isinstance(e, ActionExecutionRejected) for e in result.events)
    assert texts(result) == ["Where to?"]
    assert result.tracker.active_loop_name == "trip_form"


class TripValidation:
    """An in-process validate_trip_form, written like a rasa-sdk FormValidationAction."""

    def __init__(self) -> None:
        self.seen: list[dict] = []

    @hookimpl
    def dfl_register_actions(self):
        outer = self

        class ValidateTripForm:
            def name(self) -> str:
                return "validate_trip_form"

            def run(self, dispatcher, tracker, domain):
                candidates = tracker.slots_to_validate()
                outer.seen.append({"candidates": candidates,
                                   "requested": tracker.get_slot("requested_slot"),
                                   "form_slots": domain["forms"]["trip_form"]["required_slots"]})
                events = []
                if candidates.get("city") == "Atlantis":
                    dispatcher.utter_message(response="utter_bad_city")
                    events.append({"event": "slot", "name": "city", "value": None})
                elif "city" in candidates:
                    events.append({"event": "slot", "name": "city",
                                   "value": candidates["city"].title()})
                if candidates.get("count") == 0:
                    return [{"event": "action_execution_rejected", "name": "trip_form"}]
                if candidates.get("count") == 99:
                    events.append({"event": "slot", "name": "requested_slot", "value": None})
                return events

        return [ValidateTripForm]


def test_validation_action_checks_and_corrects_values(trip, register_plugin) -> None:
    validation = TripValidation()
    register_plugin(validation, "trip-validation")
    say(trip, "/book")
    result = say(trip, '/inform{"city": "rome"}')
    assert result.tracker.slots["city"] == "Rome"
    assert validation.seen[-1] == {"candidates": {"city": "rome"}, "requested": "city",
                                   "form_slots": ["city", "count"]}
    assert texts(result) == ["How many travellers?"]


def test_validation_action_refusing_a_value_asks_again(trip, register_plugin) -> None:
    register_plugin(TripValidation(), "trip-validation")
    say(trip, "/book")
    result = say(trip, '/inform{"city": "Atlantis"}')
    assert texts(result) == ["We do not fly to Atlantis.", "Where to?"]
    assert result.tracker.slots["city"] is None
    assert result.tracker.requested_slot == "city"


def test_validation_action_can_reject_the_form(trip, register_plugin) -> None:
    register_plugin(TripValidation(), "trip-validation")
    say(trip, '/book{"city": "Rome"}')
    result = say(trip, '/inform{"count": 0}')
    assert any(isinstance(e, ActionExecutionRejected) for e in result.events)
    assert result.tracker.active_loop_name == "trip_form"


def test_validation_action_can_end_the_form_early(trip, register_plugin) -> None:
    register_plugin(TripValidation(), "trip-validation")
    say(trip, '/book{"city": "Rome"}')
    result = say(trip, '/inform{"count": 99}')
    assert result.tracker.active_loop_name is None
    assert texts(result) == ["Booked 99 to Rome"]


def test_prefilled_slots_are_validated_on_activation(trip, register_plugin) -> None:
    validation = TripValidation()
    register_plugin(validation, "trip-validation")
    result = say(trip, '/book{"city": "oslo"}')
    assert result.tracker.slots["city"] == "Oslo"
    assert validation.seen[0]["candidates"] == {"city": "oslo"}


def test_a_custom_ask_action_asks_for_its_slot(trip, register_plugin) -> None:
    class AskCity:
        def name(self):
            return "action_ask_city"

        def run(self, dispatcher, tracker, domain):
            rome = {"title": "Rome", "payload": '/inform{"city":"Rome"}'}
            dispatcher.utter_message(text="Which city, please?", buttons=[rome])
            return []

    class Plugin:
        @hookimpl
        def dfl_register_actions(self):
            return [AskCity()]

    register_plugin(Plugin(), "ask-city")
    result = say(trip, "/book")
    assert texts(result) == ["Which city, please?"]
    assert result.replies[0]["buttons"][0]["title"] == "Rome"
    assert result.tracker.requested_slot == "city"


def test_form_events_record_requested_slot_before_the_question(trip) -> None:
    result = say(trip, "/book")
    kinds = [(type(e).__name__, getattr(e, "name", None)) for e in result.events
             if type(e).__name__ in ("ActiveLoop", "SlotSet", "BotUttered")]
    assert kinds == [("ActiveLoop", "trip_form"), ("SlotSet", "requested_slot"),
                     ("BotUttered", None)]
    assert next(e for e in result.events if isinstance(e, SlotSet)).value == "city"


# Mappings that hold only while the form runs, as Rasa 3 writes a 2.0 form's mappings.
IN_FORM_DOMAIN = DOMAIN.replace("""    - type: from_entity
      entity: city
    - type: from_text""", """    - type: from_entity
      entity: city
      conditions:
      - active_loop: trip_form
    - type: from_text""")


@pytest.fixture
def in_form_trip(bot):
    return bot(IN_FORM_DOMAIN, simple_rules(**RULES))


def test_the_message_that_starts_the_form_fills_slots_mapped_only_in_the_form(
    in_form_trip,
) -> None:
    # outside the form the mapping does not apply...
    assert say(in_form_trip, '/greet{"city": "Rome"}').tracker.slots["city"] is None
    # ...but the message that starts the form fills it, so the form asks for the next slot
    result = say(in_form_trip, '/book{"city": "Rome"}')
    assert result.tracker.slots["city"] == "Rome"
    assert texts(result) == ["How many travellers?"]
    assert result.tracker.requested_slot == "count"


def test_a_slot_filled_at_activation_goes_through_the_validation_action(
    in_form_trip, register_plugin,
) -> None:
    validation = TripValidation()
    register_plugin(validation, "trip-validation")
    result = say(in_form_trip, '/book{"city": "Atlantis"}')
    assert validation.seen[0]["candidates"] == {"city": "Atlantis"}
    assert texts(result) == ["We do not fly to Atlantis.", "Where to?"]
    assert result.tracker.slots["city"] is None
    assert result.tracker.requested_slot == "city"


def test_activation_fills_nothing_from_mappings_that_wait_for_their_question(
    in_form_trip,
) -> None:
    # the from_text mapping holds only once the form asked for city
    result = say(in_form_trip, "/inform")
    assert result.tracker.slots["city"] is None
    started = say(in_form_trip, "/book")
    assert started.tracker.slots["city"] is None
    assert texts(started) == ["Where to?"]


TRIGGER_DOMAIN = DOMAIN.replace("""forms:
  trip_form:""", """  booked_by:
    type: text
    influence_conversation: false
    mappings:
    - type: from_trigger_intent
      intent: book
      value: user
      conditions:
      - active_loop: trip_form
forms:
  trip_form:""")


def test_the_message_that_starts_a_form_fills_from_trigger_intent_slots(bot) -> None:
    started = say(bot(TRIGGER_DOMAIN, simple_rules(**RULES)), "/book")
    # not one of the form's required slots, yet filled as the form starts
    assert started.tracker.slots["booked_by"] == "user"
    assert texts(started) == ["Where to?"]


def test_a_trigger_intent_that_starts_no_form_fills_nothing(bot) -> None:
    answered = bot(TRIGGER_DOMAIN, simple_rules({"book": ["utter_chitchat"]}))
    assert say(answered, "/book").tracker.slots["booked_by"] is None


class DynamicSlots:
    """A validate_<form> whose own required_slots differ from the domain's, written like
    rasa-sdk's FormValidationAction: it names the next slot itself."""

    def __init__(self, form: str, slots: list[str]) -> None:
        self.form, self.slots = form, slots
        self.calls = 0

    @hookimpl
    def dfl_register_actions(self):
        outer = self

        class ValidateDynamicForm:
            def name(self) -> str:
                return f"validate_{outer.form}"

            def run(self, dispatcher, tracker, domain):
                outer.calls += 1
                missing = [s for s in outer.slots if tracker.get_slot(s) is None]
                return [{"event": "slot", "name": "requested_slot",
                         "value": missing[0] if missing else None}]

        return [ValidateDynamicForm]


DYNAMIC_DOMAIN = DOMAIN.replace("""forms:
  trip_form:""", """forms:
  dynamic_form:
    required_slots: [count]
  trip_form:""").replace("intents: [", "intents: [plan, ")


def test_a_dynamic_form_asks_the_slot_its_validation_action_names_from_the_start(
        bot, register_plugin) -> None:
    slots = DynamicSlots("dynamic_form", ["city", "count"])
    register_plugin(slots, "dynamic-slots")
    planner = bot(DYNAMIC_DOMAIN, simple_rules({"plan": ["dynamic_form"]}))
    started = say(planner, "/plan")
    # the action's own first slot, not the domain's
    assert started.tracker.requested_slot == "city"
    assert texts(started) == ["Where to?"]
    assert slots.calls == 1
    answered = say(planner, '/inform{"city": "Rome"}')
    assert answered.tracker.requested_slot == "count"
    assert texts(answered) == ["How many?"]


def test_a_loop_interrupted_before_the_form_runs_turns_validation_off(domain_from) -> None:
    import asyncio

    from dialogflowlite.dialogue.actions import ActionContext, ActionRejected
    from dialogflowlite.dialogue.custom_actions import CustomActionExecutor
    from dialogflowlite.dialogue.forms import FormAction
    from dialogflowlite.shared.events import ActionExecuted, LoopInterrupted, UserUttered
    from dialogflowlite.shared.tracker import DialogueStateTracker

    domain = domain_from(DOMAIN)
    context = ActionContext(domain, CustomActionExecutor())
    chitchat = UserUttered(text="nice weather",
                           parse_data={"intent": {"name": "chitchat", "confidence": 1.0},
                                       "entities": []})
    before = [ActiveLoop(name="trip_form"), SlotSet(name="requested_slot", value="city"),
              ActionExecuted(name=ACTION_LISTEN), chitchat]
    form = FormAction("trip_form")

    validated = DialogueStateTracker.for_domain("t", domain, before)
    with pytest.raises(ActionRejected) as caught:
        asyncio.run(form.do(validated, context, []))
    assert "could not fill slot 'city'" in str(caught.value)

    not_validated = DialogueStateTracker.for_domain(
        "t", domain, [*before, LoopInterrupted(is_interrupted=True)])
    events = asyncio.run(form.do(not_validated, context, []))
    assert not any(isinstance(e, ActionExecutionRejected) for e in events)
    assert "city" not in {e.name for e in events if isinstance(e, SlotSet) and e.value}
