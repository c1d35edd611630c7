"""The message processor: the turn loop, hooks, locks, external events and limits."""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta, timezone

import pytest
from dialogue_doubles import FunctionPolicy, action_names, say, simple_rules, texts

from dialogflowlite import hookimpl
from dialogflowlite.dialogue.messages import IncomingMessage
from dialogflowlite.shared.domain import ACTION_LISTEN
from dialogflowlite.shared.events import (
    ActionExecuted,
    ConversationPaused,
    FollowupAction,
    SlotSet,
    UserUttered,
)

DOMAIN = """
version: "3.1"
intents: [greet, inform, remind, EXTERNAL_wake_up, loop, crash, pause, mail]
entities: [city]
slots:
  city:
    type: text
    mappings: [{type: from_entity, entity: city}]
responses:
  utter_greet:
  - text: "Hello {city}"
  utter_wake_up:
  - text: Wake up!
  utter_again:
  - text: again
actions: [action_remind, action_crash, action_pause, action_followup]
"""

RULES = {"greet": ["utter_greet"], "EXTERNAL_wake_up": ["utter_wake_up"],
         "remind": ["action_remind"], "crash": ["action_crash", "utter_greet"],
         "pause": ["action_pause"], "mail": ["utter_greet"]}


class Actions:
    """In-process custom actions for these tests."""

    @hookimpl
    def dfl_register_actions(self):
        class Remind:
            def name(self):
                return "action_remind"

            def run(self, dispatcher, tracker, domain):
                when = datetime.now(timezone.utc) + timedelta(seconds=0.2)
                dispatcher.utter_message(text="I will remind you.")
                return [{"event": "reminder", "intent": "EXTERNAL_wake_up",
                         "date_time": when.isoformat(), "name": "wake",
                         "kill_on_user_msg": False}]

        class Crash:
            def name(self):
                return "action_crash"

            def run(self, dispatcher, tracker, domain):
                raise RuntimeError("bug in the action")

        class Pause:
            def name(self):
                return "action_pause"

            def run(self, dispatcher, tracker, domain):
                return [{"event": "pause"}]

        class Followup:
            def name(self):
                return "action_followup"

            def run(self, dispatcher, tracker, domain):
                return [{"event": "followup", "name": "utter_again"}]

        return [Remind, Crash, Pause, Followup]


@pytest.fixture
def processor(bot, register_plugin):
    register_plugin(Actions(), "processor-actions")
    return bot(DOMAIN, simple_rules(RULES))


def test_a_turn_logs_user_actions_with_policy_and_listens(processor) -> None:
    result = say(processor, '/greet{"city": "Rome"}')
    assert texts(result) == ["Hello Rome"]
    assert result.replies == [{"recipient_id": "user", "text": "Hello Rome"}]
    actions = [e for e in result.events if isinstance(e, ActionExecuted)]
    assert [a.name for a in actions] == ["action_session_start", ACTION_LISTEN, "utter_greet",
                                         ACTION_LISTEN]
    assert (actions[2].policy, actions[2].confidence) == ("TestPolicy", 1.0)
    stored = asyncio.run(processor.tracker_store.retrieve("user"))
    assert stored.current_state() == result.tracker.current_state()


def test_a_message_is_stored_without_the_white_space_around_it(processor) -> None:
    """As Rasa's channels keep a message: the stored text, the parse data's text and
    the entities' offsets agree (the offsets counted in the stripped text, the event
    kept the text as received)."""
    result = say(processor, '  /greet{"city": "Rome"}\n')
    [user] = [e for e in result.events if isinstance(e, UserUttered)]
    assert user.text == user.parse_data["text"] == '/greet{"city": "Rome"}'
    [entity] = user.parse_data["entities"]
    assert user.text[entity["start"]:entity["end"]] == '{"city": "Rome"}'
    assert texts(result) == ["Hello Rome"]


def test_the_prediction_limit_stops_a_loop_and_listens(bot, caplog) -> None:
    policy = FunctionPolicy(lambda tracker, domain: "utter_again")
    processor = bot(DOMAIN, policy, max_predictions=4)
    with caplog.at_level(logging.ERROR):
        result = say(processor, "/loop")
    assert action_names(result)[-5:] == ["utter_again"] * 4 + [ACTION_LISTEN]
    assert result.events[-1].policy == "prediction_limit"
    assert policy.calls == 4
    assert "4 actions after one message without listening" in caplog.text


def test_lifecycle_hooks_see_the_right_data(bot, register_plugin) -> None:
    seen: dict[str, list] = {"received": [], "stored": [], "outgoing": []}

    class Masking:
        @hookimpl
        def dfl_message_received(self, message):
            seen["received"].append((message.text, message.sender_id, message.channel))
            message.text_for_storage = message.text.replace("a@b.c", "[EMAIL]")

        @hookimpl
        def dfl_before_events_stored(self, sender_id, events):
            seen["stored"].append((sender_id, [e["event"] for e in events]))
            for event in events:
                if event["event"] == "bot":
                    event["text"] = event["text"].upper()

        @hookimpl
        def dfl_replies_outgoing(self, sender_id, replies):
            seen["outgoing"].append((sender_id, [dict(r) for r in replies]))
            replies.append({"recipient_id": sender_id, "text": "P.S. added by a plugin"})

    register_plugin(Masking(), "masking-test")
    processor = bot(DOMAIN, simple_rules(RULES))
    result = say(processor, '/mail{"city": "a@b.c"}', sender="eve", channel="rest")

    assert seen["received"] == [('/mail{"city": "a@b.c"}', "eve", "rest")]
    sender, kinds = seen["stored"][0]
    assert sender == "eve" and kinds[:3] == ["action", "session_started", "action"]
    assert "user" in kinds and "bot" in kinds
    assert seen["outgoing"] == [("eve", [{"recipient_id": "eve", "text": "Hello a@b.c"}])]
    assert [r["text"] for r in result.replies] == ["Hello a@b.c", "P.S. added by a plugin"]
    user = next(e for e in result.tracker.events if isinstance(e, UserUttered))
    masked = '/mail{"city": "[EMAIL]"}'
    assert user.text == masked and user.parse_data["text"] == masked
    assert user.entities[0]["value"] == "a@b.c"  # NLU read the original text
    stored = asyncio.run(processor.tracker_store.retrieve("eve"))
    assert stored.latest_bot_utterance.text == "HELLO A@B.C"
    assert stored.latest_message.text == masked


def test_a_failing_action_is_logged_and_the_turn_goes_on(processor, caplog) -> None:
    with caplog.at_level(logging.ERROR):
        result = say(processor, "/crash")
    assert "bug in the action" in caplog.text and "action_crash" in caplog.text
    assert action_names(result)[-3:] == ["action_crash", "utter_greet", ACTION_LISTEN]


def test_an_unknown_predicted_action_makes_the_bot_listen(bot, caplog) -> None:
    processor = bot(DOMAIN, FunctionPolicy(lambda t, d: "action_nobody_wrote"))
    with caplog.at_level(logging.ERROR):
        result = say(processor, "/greet")
    assert action_names(result)[-1] == ACTION_LISTEN
    assert "no action named 'action_nobody_wrote'" in caplog.text


def test_a_paused_conversation_gets_no_replies_until_restart(processor) -> None:
    paused = say(processor, "/pause")
    assert action_names(paused)[-2:] == ["action_pause", ACTION_LISTEN]
    assert paused.events[-1].policy == "conversation_paused"
    result = say(processor, "/greet")
    assert result.replies == [] and result.tracker.paused
    assert action_names(result) == []
    assert any(isinstance(e, UserUttered) for e in result.events)  # still logged
    restarted = say(processor, "/restart")
    assert action_names(restarted) == ["action_restart", "action_session_start", ACTION_LISTEN]
    assert not restarted.tracker.paused
    assert texts(say(processor, "/greet")) == ["Hello None"]


def test_a_followup_action_runs_next(bot, register_plugin) -> None:
    register_plugin(Actions(), "processor-actions")
    policy = simple_rules({"greet": ["action_followup"]})
    processor = bot(DOMAIN, policy)
    result = say(processor, "/greet")
    assert action_names(result)[-3:] == ["action_followup", "utter_again", ACTION_LISTEN]
    followed = [e for e in result.events if isinstance(e, ActionExecuted)][-2]
    assert followed.policy == "followup_action"
    assert any(isinstance(e, FollowupAction) for e in result.events)


def test_trigger_intent_acts_like_an_invisible_message(processor) -> None:
    say(processor, '/greet{"city": "Oslo"}')
    result = asyncio.run(processor.trigger_intent("user", "EXTERNAL_wake_up",
                                                  {"city": "Bergen"}))
    user = next(e for e in result.events if isinstance(e, UserUttered))
    assert user.text == "EXTERNAL: EXTERNAL_wake_up"
    assert user.metadata["is_external"] is True
    assert result.tracker.slots["city"] == "Bergen"
    assert texts(result) == ["Wake up!"]


def test_reminders_trigger_their_intent_later(processor) -> None:
    async def main():
        first = await processor.handle_message(IncomingMessage("/remind", "tim"))
        assert [m["text"] for m in first.messages] == ["I will remind you."]
        assert [r.name for r in processor.reminders.pending("tim")] == ["wake"]
        await asyncio.sleep(0.6)
        tracker = await processor.get_tracker("tim")
        await processor.close()
        return tracker

    tracker = asyncio.run(main())
    assert tracker.latest_bot_utterance.text == "Wake up!"
    assert tracker.latest_message.text == "EXTERNAL: EXTERNAL_wake_up"


def test_predict_next_scores_without_running(processor) -> None:
    say(processor, "/greet")
    asyncio.run(processor.append_events("user", [
        ActionExecuted(name=ACTION_LISTEN),
        UserUttered(text="/greet", parse_data={"intent": {"name": "greet", "confidence": 1.0},
                                               "entities": []})]))
    before = len(asyncio.run(processor.get_tracker("user")).events)
    prediction = asyncio.run(processor.predict_next("user"))
    # one score per domain action, in the domain's order (Rasa's shape)
    assert [s["action"] for s in prediction["scores"]] == processor.domain.action_names
    assert max(prediction["scores"], key=lambda s: s["score"]) == {"action": "utter_greet",
                                                                   "score": 1.0}
    assert prediction["policy"] == "TestPolicy"
    assert prediction["tracker"]["sender_id"] == "user"
    assert len(asyncio.run(processor.get_tracker("user")).events) == before


def test_execute_action_runs_one_action(processor) -> None:
    result = asyncio.run(processor.execute_action("ann", "utter_greet", policy="api",
                                                  confidence=0.5))
    assert texts(result) == ["Hello None"]
    executed = [e for e in result.events if isinstance(e, ActionExecuted)]
    assert (executed[-1].name, executed[-1].policy) == ("utter_greet", "api")


def test_append_and_replace_events(processor) -> None:
    tracker = asyncio.run(processor.append_events("zed", [SlotSet(name="city", value="Kyiv")]))
    assert tracker.slots["city"] == "Kyiv"
    assert asyncio.run(processor.get_tracker("zed")).slots["city"] == "Kyiv"
    replaced = asyncio.run(processor.replace_events("zed", [ConversationPaused()]))
    assert replaced.paused and replaced.slots["city"] is None
    assert len(asyncio.run(processor.get_tracker("zed")).events) == 1


def test_messages_of_one_sender_are_processed_in_order(bot) -> None:
    class SlowResponder:
        async def respond(self, name, tracker, channel=None):
            await asyncio.sleep(0.02)
            return [{"text": tracker.latest_message.text}]

    processor = bot(DOMAIN, simple_rules({"greet": ["utter_greet"]}))
    processor.responder = SlowResponder()

    async def main():
        messages = [IncomingMessage(f"/greet{{\"city\": \"c{i}\"}}", "same") for i in range(5)]
        await asyncio.gather(*(processor.handle_message(m) for m in messages))
        return await processor.get_tracker("same")

    tracker = asyncio.run(main())
    users = [e.text for e in tracker.events if isinstance(e, UserUttered)]
    assert users == [f'/greet{{"city": "c{i}"}}' for i in range(5)]
    bots = [e.text for e in tracker.events if e.type_name == "bot"]
    assert bots == users  # every answer right after its own message


def test_without_policies_messages_are_only_logged(bot) -> None:
    processor = bot(DOMAIN, None)
    result = say(processor, "/greet")
    assert result.replies == []
    assert result.tracker.latest_intent == "greet"
    assert asyncio.run(processor.predict_next("user")) is None


def test_parse_gives_rasa_parse_results(processor) -> None:
    parsed = asyncio.run(processor.parse('/inform{"city": "Rome"}'))
    assert parsed["intent"] == {"name": "inform", "confidence": 1.0}
    assert parsed["entities"][0]["value"] == "Rome"
    plain = asyncio.run(processor.parse("no model here"))
    assert plain["intent"]["name"] is None


def test_a_reply_sink_gets_each_actions_replies_as_the_action_ends(bot) -> None:
    processor = bot(DOMAIN, simple_rules({"greet": ["utter_greet", "utter_again"]}))
    batches: list[list[str]] = []

    async def sink(replies):
        batches.append([r["text"] for r in replies])

    message = IncomingMessage('/greet{"city": "Oslo"}', "ann", reply_sink=sink)
    result = asyncio.run(processor.handle_message(message))

    assert batches == [["Hello Oslo"], ["again"]]
    assert [r["text"] for r in result.replies] == ["Hello Oslo", "again"]
    assert texts(result) == ["Hello Oslo", "again"]


def test_a_failing_reply_sink_loses_nothing_of_the_turn(bot, caplog) -> None:
    processor = bot(DOMAIN, simple_rules({"greet": ["utter_greet", "utter_again"]}))
    calls: list[int] = []

    async def gone(replies):
        calls.append(len(replies))
        raise ConnectionResetError("client went away")

    message = IncomingMessage('/greet{"city": "Rome"}', "bo", reply_sink=gone)
    with caplog.at_level(logging.WARNING):
        result = asyncio.run(processor.handle_message(message))

    assert calls == [1]  # nothing more is sent to a sink that failed
    assert texts(result) == ["Hello Rome", "again"]
    assert "could not be sent as they came" in caplog.text
    stored = asyncio.run(processor.tracker_store.retrieve("bo"))
    assert [e.name for e in stored.events if isinstance(e, ActionExecuted)][-3:] == [
        "utter_greet", "utter_again", ACTION_LISTEN]


def test_an_action_a_rule_alone_chose_is_logged_as_a_hidden_rule_turn(bot) -> None:
    from dataclasses import dataclass

    @dataclass
    class RuleOnly:
        action_name: str
        confidence: float = 1.0
        policy_name: str = "RulePolicy"
        hide_rule_turn: bool = True

    class Policy:
        def predict_next_action(self, tracker, domain):
            greeted = any(isinstance(e, ActionExecuted) and e.name == "utter_greet"
                          for e in tracker.events)
            # the rule's action is hidden; the listen after it is not
            return RuleOnly("utter_greet") if not greeted else RuleOnly(ACTION_LISTEN, 1.0,
                                                                        "RulePolicy", False)

    processor = bot(DOMAIN, Policy())
    result = say(processor, "/greet")
    logged = {e.name: e.hide_rule_turn for e in result.events if isinstance(e, ActionExecuted)}
    assert logged["utter_greet"] is True and logged[ACTION_LISTEN] is False
    stored = asyncio.run(processor.tracker_store.retrieve("user"))
    assert [e.hide_rule_turn for e in stored.events if isinstance(e, ActionExecuted)
            and e.name == "utter_greet"] == [True]


def test_a_triggered_intent_without_an_output_channel_sends_no_channel_s_variation(
        domain_from) -> None:
    from dialogflowlite.components.generation.responder import Responder
    from dialogflowlite.dialogue.custom_actions import CustomActionExecutor
    from dialogflowlite.dialogue.processor import MessageProcessor

    domain = domain_from("""
        version: "3.1"
        intents: [greet, remind]
        responses:
          utter_hi:
          - text: "Hi on Slack"
            channel: slack
          - text: "Hi"
        """)
    processor = MessageProcessor(domain, policies=simple_rules({"greet": ["utter_hi"],
                                                                "remind": ["utter_hi"]}),
                                 responder=Responder(domain), executor=CustomActionExecutor())
    assert texts(say(processor, "/greet", "sam", channel="slack")) == ["Hi on Slack"]

    def triggered(channel: str | None) -> list[str]:
        result = asyncio.run(processor.trigger_intent("sam", "remind", channel=channel))
        return texts(result)

    # the replies go back to the API caller: as Rasa's collecting channel (and execute)
    # gets them, not in the variation of the channel the user last wrote on
    assert triggered(None) == ["Hi"]
    assert triggered("slack") == ["Hi on Slack"]
