"""Every default action, alone and inside a conversation."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from dialogue_doubles import FakeResponder, FunctionPolicy, action_names, say, simple_rules, texts

from dialogflowlite.dialogue.actions import ActionContext, action_for_name
from dialogflowlite.dialogue.default_actions import DEFAULT_ACTION_CLASSES
from dialogflowlite.shared.domain import ACTION_LISTEN, DEFAULT_ACTIONS
from dialogflowlite.shared.events import (
    ActionExecuted,
    ActiveLoop,
    BotUttered,
    Restarted,
    SlotSet,
    UserUtteranceReverted,
    UserUttered,
)
from dialogflowlite.shared.tracker import DialogueStateTracker

DOMAIN = """
version: "3.1"
intents: [greet, inform, bye]
entities: [city]
slots:
  city:
    type: text
    mappings: [{type: from_entity, entity: city}]
responses:
  utter_greet:
  - text: Hello!
  utter_default:
  - text: Sorry, I did not get that.
  utter_restart:
  - text: Starting over.
  utter_back:
  - text: Going back.
  utter_ask_rephrase:
  - text: Please say it differently.
"""


def user(intent: str, text: str | None = None, ranking: list | None = None,
         **extra: Any) -> UserUttered:
    parse = {"intent": {"name": intent, "confidence": 0.4}, "entities": [],
             "intent_ranking": ranking or [{"name": intent, "confidence": 0.4}], **extra}
    return UserUttered(text=text or f"/{intent}", parse_data=parse)


@pytest.fixture
def domain(domain_from):
    return domain_from(DOMAIN)


def run(name: str, domain, *events, **metadata) -> list:
    tracker = DialogueStateTracker.for_domain("t", domain, events)
    context = ActionContext(domain, responder=FakeResponder(domain), metadata=metadata)
    return asyncio.run(action_for_name(name, context).run(tracker, context))


def test_every_default_action_has_an_implementation() -> None:
    assert set(DEFAULT_ACTION_CLASSES) == set(DEFAULT_ACTIONS)


def test_action_listen_does_nothing(domain) -> None:
    assert run("action_listen", domain) == []


def test_action_restart_says_utter_restart_and_restarts(domain) -> None:
    events = run("action_restart", domain, user("greet"))
    assert [type(e) for e in events] == [BotUttered, Restarted]
    assert events[0].text == "Starting over."


def test_restart_intent_restarts_the_conversation(bot, domain) -> None:
    processor = bot(domain, simple_rules({"greet": ["utter_greet"]}))
    say(processor, '/greet{"city": "Rome"}')
    result = say(processor, "/restart")
    assert texts(result) == ["Starting over."]
    # as in Rasa, the restart starts a new session, which then listens
    assert action_names(result) == ["action_restart", "action_session_start", ACTION_LISTEN]
    assert result.tracker.slots["city"] is None
    assert result.events[-1].policy is None or result.events[-1].name == ACTION_LISTEN


def test_action_default_fallback_reverts_the_user_message(domain) -> None:
    events = run("action_default_fallback", domain, user("greet"))
    assert [type(e) for e in events] == [BotUttered, UserUtteranceReverted]
    assert events[0].text == "Sorry, I did not get that."


def test_default_fallback_in_a_conversation_forgets_the_message(bot, domain) -> None:
    policy = simple_rules({"greet": ["utter_greet"], "inform": ["action_default_fallback"]})
    processor = bot(domain, policy)
    say(processor, "/greet")
    result = say(processor, '/inform{"city": "Rome"}')
    assert texts(result) == ["Sorry, I did not get that."]
    assert result.tracker.latest_intent == "greet"  # the misunderstood message is undone
    assert result.tracker.slots["city"] is None


def test_action_deactivate_loop(domain) -> None:
    events = run("action_deactivate_loop", domain, ActiveLoop(name="some_form"))
    assert events[0] == ActiveLoop(name=None, timestamp=events[0].timestamp)
    assert isinstance(events[1], SlotSet) and events[1].name == "requested_slot"
    assert events[1].value is None


def test_action_back_goes_back_two_user_turns(bot, domain) -> None:
    policy = simple_rules({"greet": ["utter_greet"], "inform": ["utter_greet"]})
    processor = bot(domain, policy)
    say(processor, "/greet")
    say(processor, '/inform{"city": "Oslo"}')
    result = say(processor, "/back")
    assert texts(result) == ["Going back."]
    assert sum(isinstance(e, UserUtteranceReverted) for e in result.events) == 2
    assert result.tracker.latest_intent == "greet"
    assert result.tracker.slots["city"] is None


def test_ask_affirmation_offers_the_runner_up_for_nlu_fallback(domain) -> None:
    message = user("nlu_fallback", "hm", ranking=[{"name": "nlu_fallback", "confidence": 0.6},
                                                  {"name": "greet", "confidence": 0.3}])
    events = run("action_default_ask_affirmation", domain, message)
    assert events[0].text == "Did you mean 'greet'?"
    assert events[0].data["buttons"] == [{"title": "Yes", "payload": "/greet"},
                                         {"title": "No", "payload": "/out_of_scope"}]


def test_ask_rephrase_sends_utter_ask_rephrase(domain) -> None:
    assert run("action_default_ask_rephrase", domain, user("greet"))[0].text == \
        "Please say it differently."


def test_unlikely_intent_and_listen_add_no_events(domain) -> None:
    assert run("action_unlikely_intent", domain, user("greet")) == []


def test_action_send_text_sends_the_given_message(domain) -> None:
    events = run("action_send_text", domain, message={"text": "Sent by the API"})
    assert events[0].text == "Sent by the API"
    assert run("action_send_text", domain)[0].text == ""


def test_action_extract_slots_as_an_action(domain) -> None:
    message = UserUttered(text="x", parse_data={"intent": {"name": "inform"},
                                                "entities": [{"entity": "city", "value": "Bonn"}]})
    events = run("action_extract_slots", domain, message)
    assert [(e.name, e.value) for e in events] == [("city", "Bonn")]


def test_action_generate_asks_the_responder(domain) -> None:
    class GeneratingResponder(FakeResponder):
        async def respond(self, action_name, tracker, channel=None):
            if action_name == "action_generate":
                return [{"text": "A generated reply.",
                         "metadata": {"generated": True, "score": -0.5}}]
            return await super().respond(action_name, tracker, channel)

    tracker = DialogueStateTracker.for_domain("t", domain, [user("greet")])
    context = ActionContext(domain, responder=GeneratingResponder(domain))
    events = asyncio.run(action_for_name("action_generate", context).run(tracker, context))
    assert events[0].text == "A generated reply."
    assert events[0].metadata["generated"] is True
    assert events[0].metadata["utter_action"] == "action_generate"


def test_a_custom_action_overrides_a_default_one(domain, register_plugin) -> None:
    from dialogflowlite import hookimpl

    class MyFallback:
        def name(self):
            return "action_default_fallback"

        def run(self, dispatcher, tracker, domain):
            dispatcher.utter_message(text="my own fallback")
            return []

    class Plugin:
        @hookimpl
        def dfl_register_actions(self):
            return [MyFallback]

    register_plugin(Plugin(), "own-fallback")
    events = run("action_default_fallback", domain, user("greet"))
    assert [e.text for e in events] == ["my own fallback"]


def _two_stage_policy(tracker, domain) -> str:
    from dialogue_doubles import _actions_since_user

    done = _actions_since_user(tracker)
    if tracker.active_loop_name:
        return ACTION_LISTEN if done else tracker.active_loop_name
    if done:
        if done[-1] == "action_two_stage_fallback":
            return {"greet": "utter_greet"}.get(tracker.latest_intent or "", ACTION_LISTEN)
        return ACTION_LISTEN
    if tracker.latest_intent == "nlu_fallback":
        return "action_two_stage_fallback"
    return {"greet": "utter_greet"}.get(tracker.latest_intent or "", ACTION_LISTEN)


def _fallback_message(processor, text: str = "gibberish"):
    parse = {"intent": {"name": "nlu_fallback", "confidence": 0.3}, "entities": [],
             "intent_ranking": [{"name": "nlu_fallback", "confidence": 0.3},
                                {"name": "greet", "confidence": 0.25}]}
    return say(processor, text, parse_data=parse)


def test_two_stage_fallback_affirm_rephrase_and_recover(bot, domain) -> None:
    processor = bot(domain, FunctionPolicy(_two_stage_policy))
    first = _fallback_message(processor)
    assert texts(first) == ["Did you mean 'greet'?"]
    assert first.tracker.active_loop_name == "action_two_stage_fallback"

    second = say(processor, "/out_of_scope")
    assert texts(second) == ["Please say it differently."]

    third = say(processor, "/greet")
    assert third.tracker.active_loop_name is None
    assert texts(third) == ["Hello!"]
    clarified = [e for e in third.events if isinstance(e, UserUttered)]
    assert clarified[-1].parse_data["intent"] == {"name": "greet", "confidence": 1.0}
    # the fallback turns are undone: only the clarified message is left
    remaining = [e.intent_name for e in third.tracker.applied_events()
                 if isinstance(e, UserUttered)]
    assert remaining == ["greet"]


def test_two_stage_fallback_gives_up_after_two_misses(bot, domain) -> None:
    processor = bot(domain, FunctionPolicy(_two_stage_policy))
    _fallback_message(processor)
    result = _fallback_message(processor, "more gibberish")
    assert texts(result) == ["Sorry, I did not get that."]
    assert result.tracker.active_loop_name is None
    assert not any(isinstance(e, UserUttered) for e in result.tracker.applied_events())


def test_two_stage_fallback_runs_the_projects_own_steps(bot, domain, register_plugin) -> None:
    from dialogflowlite import hookimpl

    def own(action_name: str, text: str) -> type:
        def run(self, dispatcher, tracker, domain):
            dispatcher.utter_message(text=text)
            return []

        return type("Own", (), {"name": lambda self: action_name, "run": run})

    class Plugin:
        @hookimpl
        def dfl_register_actions(self):
            return [own("action_default_ask_affirmation", "Did you want to say hello?"),
                    own("action_default_ask_rephrase", "Try other words?"),
                    own("action_default_fallback", "Let me get a person.")]

    register_plugin(Plugin(), "own-steps")
    processor = bot(domain, FunctionPolicy(_two_stage_policy))
    # the built-in steps ran inside the fallback, whatever the project gave
    assert texts(_fallback_message(processor)) == ["Did you want to say hello?"]
    assert texts(say(processor, "/out_of_scope")) == ["Try other words?"]
    assert texts(_fallback_message(processor, "more")) == ["Did you want to say hello?"]
    assert texts(say(processor, "/out_of_scope")) == ["Let me get a person."]


def _user_intents(events) -> list[str | None]:
    return [e.intent_name for e in events if isinstance(e, UserUttered)]


def test_two_stage_fallback_keeps_the_turns_before_it(bot, domain) -> None:
    from dialogflowlite.components.policies.states import featurised_events

    processor = bot(domain, FunctionPolicy(_two_stage_policy))
    say(processor, "/greet")
    _fallback_message(processor)
    say(processor, "/out_of_scope")
    result = say(processor, "/greet")
    assert texts(result) == ["Hello!"]
    # one rewind undoes the message that started the fallback (its later turns were
    # collapsed into its first run), for the tracker and the policies alike
    assert _user_intents(result.tracker.applied_events()) == ["greet", "greet"]
    assert _user_intents(featurised_events(result.tracker.events)) == ["greet", "greet"]
    rewinds = [e for e in result.events if isinstance(e, UserUtteranceReverted)]
    assert len(rewinds) == 1


def test_two_stage_fallback_giving_up_keeps_the_turns_before_it(bot, domain) -> None:
    from dialogflowlite.components.policies.states import featurised_events

    processor = bot(domain, FunctionPolicy(_two_stage_policy))
    say(processor, "/greet")
    _fallback_message(processor)
    result = _fallback_message(processor, "more gibberish")
    assert texts(result) == ["Sorry, I did not get that."]
    assert _user_intents(result.tracker.applied_events()) == ["greet"]
    assert _user_intents(featurised_events(result.tracker.events)) == ["greet"]
    assert "utter_greet" in [e.name for e in featurised_events(result.tracker.events)
                             if isinstance(e, ActionExecuted)]


def test_revert_fallback_events_after_an_affirmation(domain) -> None:
    events = [
        ActionExecuted(name=ACTION_LISTEN), user("nlu_fallback", "gibberish"),
        ActionExecuted(name="action_default_ask_affirmation"),
        BotUttered(text="Did you mean 'greet'?"),
        ActionExecuted(name=ACTION_LISTEN), user("greet"),
    ]
    reverted = run("action_revert_fallback_events", domain, *events)
    tracker = DialogueStateTracker.for_domain("t", domain, events + reverted)
    user_turns = [e for e in tracker.applied_events() if isinstance(e, UserUttered)]
    assert [e.intent_name for e in user_turns] == ["greet"]
    assert user_turns[0].parse_data["intent"]["confidence"] == 1.0
    assert run("action_revert_fallback_events", domain, user("greet")) == []
