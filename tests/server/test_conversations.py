"""The conversation routes of the HTTP API, in Rasa's shapes."""

from __future__ import annotations

import asyncio

import pytest
from serving_helpers import request

TRACKER_KEYS = {"sender_id", "slots", "latest_message", "latest_event_time", "followup_action",
                "paused", "events", "latest_input_channel", "active_loop", "latest_action",
                "latest_action_name"}


def _best(scores: list[dict]) -> str:
    """The action with the highest score of a ``/predict`` answer."""
    return max(scores, key=lambda score: score["score"])["action"]


async def _chat(app, sender: str, *texts: str) -> None:
    for text in texts:
        response = await request(app, "post", "/webhooks/rest/webhook",
                                 json={"sender": sender, "message": text})
        assert response.status == 200, response.text


def test_tracker_with_each_event_verbosity(make_app) -> None:
    app = make_app()

    async def main() -> None:
        await _chat(app, "alice", "/greet", '/choose{"colour": "red"}', "/restart", "/greet")
        state = (await request(app, "get", "/conversations/alice/tracker")).json
        assert set(state) == TRACKER_KEYS and state["sender_id"] == "alice"
        after_restart = [e["event"] for e in state["events"]]
        assert "restart" not in after_restart and after_restart.count("user") == 1
        everything = (await request(app, "get", "/conversations/alice/tracker",
                                    params={"include_events": "ALL"})).json["events"]
        assert [e["event"] for e in everything].count("user") == 4
        assert "restart" in [e["event"] for e in everything]
        applied = (await request(app, "get", "/conversations/alice/tracker",
                                 params={"include_events": "applied"})).json["events"]
        assert "restart" not in [e["event"] for e in applied]
        none = (await request(app, "get", "/conversations/alice/tracker",
                              params={"include_events": "NONE"})).json
        assert none["events"] is None and none["latest_message"]["text"] == "/greet"
        bad = await request(app, "get", "/conversations/alice/tracker",
                            params={"include_events": "SOME"})
        assert bad.status == 400 and bad.json["details"]["parameter"] == "include_events"

    asyncio.run(main())


def test_tracker_until_a_timestamp(make_app) -> None:
    app = make_app()

    async def main() -> None:
        await _chat(app, "bob", "/greet")
        events = (await request(app, "get", "/conversations/bob/tracker",
                                params={"include_events": "ALL"})).json["events"]
        first_user = next(e for e in events if e["event"] == "user")
        state = (await request(app, "get", "/conversations/bob/tracker",
                               params={"include_events": "ALL",
                                       "until": first_user["timestamp"]})).json
        assert state["events"][-1]["event"] == "user"
        bad = await request(app, "get", "/conversations/bob/tracker", params={"until": "noon"})
        assert bad.status == 400

    asyncio.run(main())


def test_unknown_conversation_is_an_empty_tracker_and_is_not_created(make_app, agent) -> None:
    app = make_app()
    state = asyncio.run(request(app, "get", "/conversations/nobody/tracker")).json
    assert state["events"] == [] and state["slots"]["colour"] is None
    assert "nobody" not in asyncio.run(agent.tracker_store.keys())


def test_append_and_replace_events(make_app, agent) -> None:
    app = make_app()

    async def main() -> None:
        one = await request(app, "post", "/conversations/carol/tracker/events",
                            json={"event": "slot", "name": "colour", "value": "green"})
        assert one.status == 200 and one.json["slots"]["colour"] == "green"
        many = await request(app, "post", "/conversations/carol/tracker/events",
                             params={"include_events": "ALL"},
                             json=[{"event": "action", "name": "action_listen"},
                                   {"event": "user", "text": "hi",
                                    "parse_data": {"intent": {"name": "greet",
                                                              "confidence": 1.0}}}])
        # the new conversation's session started before the first event, as in Rasa
        assert [e["event"] for e in many.json["events"]] == [
            "action", "session_started", "action", "slot", "action", "user"]
        stored = await agent.tracker_store.retrieve("carol")
        assert len(stored.events) == 6 and stored.latest_intent == "greet"
        replaced = await request(app, "put", "/conversations/carol/tracker/events",
                                 json=[{"event": "slot", "name": "colour", "value": "blue"}])
        assert replaced.json["slots"]["colour"] == "blue"
        stored = await agent.tracker_store.retrieve("carol")
        assert [e.type_name for e in stored.events] == ["slot"]

    asyncio.run(main())


def test_a_conversation_begun_with_events_answers_its_first_message(make_app, agent) -> None:
    app = make_app()

    async def main() -> None:
        await request(app, "post", "/conversations/fay/tracker/events",
                      json={"event": "slot", "name": "colour", "value": "green"})
        replies = await request(app, "post", "/webhooks/rest/webhook",
                                json={"sender": "fay", "message": "/greet"})
        assert replies.status == 200 and replies.json != []
        stored = await agent.tracker_store.retrieve("fay")
        assert [e.type_name for e in stored.events[:4]] == [
            "action", "session_started", "action", "slot"]
        assert stored.get_slot("colour") == "green"
        # events that start a session themselves get no second one
        own = [{"event": "action", "name": "action_session_start"},
               {"event": "session_started"}, {"event": "action", "name": "action_listen"}]
        await request(app, "post", "/conversations/gus/tracker/events", json=own)
        stored = await agent.tracker_store.retrieve("gus")
        assert [e.type_name for e in stored.events] == ["action", "session_started", "action"]

    asyncio.run(main())


@pytest.mark.parametrize("body", [
    {"event": "no_such_event"},
    [{"event": "slot", "name": "a"}, "not an event"],
    {"name": "colour"},
    # events that would mean nothing: no slot, no action, a name that is no string
    {"event": "slot", "value": "red"},
    [{"event": "action_listen"}, {"event": "action"}],
    {"event": "followup", "name": ""},
    {"event": "slot", "name": 5, "value": "red"},
])
def test_events_that_cannot_be_read_are_400(make_app, agent, body) -> None:
    app = make_app()
    response = asyncio.run(request(app, "post", "/conversations/dave/tracker/events", json=body))
    assert response.status == 400 and response.json["reason"] == "BadRequest"
    assert "dave" not in asyncio.run(agent.tracker_store.keys())  # nothing was stored
    put = asyncio.run(request(app, "put", "/conversations/dave/tracker/events",
                              json={"event": "slot"}))
    assert put.status == 400 and "array" in put.json["message"]


def test_messages_then_predict_then_the_bot_answers(make_app, agent) -> None:
    app = make_app()

    async def main() -> None:
        logged = await request(app, "post", "/conversations/erin/messages",
                               json={"text": "/ask_choice", "sender": "user"})
        assert logged.status == 200
        events = [e["event"] for e in logged.json["events"]]
        # A new conversation starts its session before the message, as for chat messages.
        assert events[:3] == ["action", "session_started", "action"] and events[-1] == "user"
        assert logged.json["latest_message"]["intent"]["name"] == "ask_choice"
        predicted = (await request(app, "post", "/conversations/erin/predict")).json
        # as Rasa answers this route: one score per action of the domain, the best first
        # (ties by name)
        scores = predicted["scores"]
        assert sorted(s["action"] for s in scores) == sorted(agent.domain.action_names)
        assert scores == sorted(scores, key=lambda s: (-s["score"], s["action"]))
        assert scores[0]["action"] == "utter_choice" and scores[0]["score"] > scores[1]["score"]
        assert predicted["policy"] and predicted["tracker"]["sender_id"] == "erin"
        # Predicting changes nothing.
        stored = await agent.tracker_store.retrieve("erin")
        assert [e.type_name for e in stored.events] == events
        wrong = await request(app, "post", "/conversations/erin/messages",
                              json={"text": "hi", "sender": "bot"})
        assert wrong.status == 400 and wrong.json["details"]["parameter"] == "sender"

    asyncio.run(main())


def test_messages_answers_the_conversation_as_its_turn_stored_it(make_app, agent) -> None:
    from dialogflowlite.shared.events import SlotSet

    app = make_app()
    processor = agent.processor
    handle = processor.handle_message

    async def then_another_turn(message, **kwargs):
        result = await handle(message, **kwargs)
        # a turn of the same conversation that ran as soon as the lock was free
        later = await agent.tracker_store.retrieve(message.sender_id)
        later.update(SlotSet(name="colour", value="blue"))
        await agent.tracker_store.save(later)
        return result

    processor.handle_message = then_another_turn
    response = asyncio.run(request(app, "post", "/conversations/hal/messages",
                                   json={"text": "/greet", "sender": "user"}))
    assert response.status == 200
    assert response.json["events"][-1]["event"] == "user"
    assert response.json["slots"]["colour"] is None


def test_messages_with_a_parse_result_skip_nlu(make_app) -> None:
    app = make_app()
    parse = {"intent": {"name": "goodbye", "confidence": 0.8}, "entities": []}
    response = asyncio.run(request(app, "post", "/conversations/fay/messages",
                                   json={"text": "see ya", "sender": "user",
                                         "parse_data": parse}))
    assert response.json["latest_message"]["intent"]["name"] == "goodbye"
    assert response.json["latest_message"]["text"] == "see ya"


def test_trigger_intent(make_app) -> None:
    app = make_app()

    async def main() -> None:
        response = await request(app, "post", "/conversations/gil/trigger_intent",
                                 json={"name": "choose", "entities": {"colour": "red"}})
        assert response.status == 200
        assert response.json["messages"] == [{"recipient_id": "gil", "text": "You chose red."}]
        assert response.json["tracker"]["slots"]["colour"] == "red"
        unknown = await request(app, "post", "/conversations/gil/trigger_intent",
                                json={"name": "dance"})
        assert unknown.status == 404 and "dance" in unknown.json["message"]
        wrong = await request(app, "post", "/conversations/gil/trigger_intent",
                              json={"name": "choose", "entities": "red"})
        assert wrong.status == 400 and wrong.json["details"]["parameter"] == "entities"
        # items without a text `entity` were dropped and the intent triggered (200)
        for items in ([1, 2], [{"value": "red"}]):
            dropped = await request(app, "post", "/conversations/hal/trigger_intent",
                                    json={"name": "choose", "entities": items})
            assert dropped.status == 400 and "each with a text 'entity'" in \
                dropped.json["message"]
        assert "hal" not in await app.ctx.agent.tracker_store.keys()

    asyncio.run(main())


@pytest.mark.parametrize(("parse_data", "problem"), [
    ({"intent": "greet"}, "parse_data.intent must be an object"),
    ({"intent": {"name": 5}}, "parse_data.intent.name must be text"),
    ({"entities": "city"}, "parse_data.entities must be a list of objects"),
    ({"entities": [{"value": "Rome"}]}, "needs a text 'entity'"),
])
def test_a_message_with_a_malformed_parse_result_is_400_and_not_stored(
        make_app, agent, parse_data, problem) -> None:
    app = make_app()
    response = asyncio.run(request(app, "post", "/conversations/ivy/messages",
                                   json={"text": "hi", "sender": "user",
                                         "parse_data": parse_data}))
    assert response.status == 400 and problem in response.json["message"]
    assert response.json["details"]["parameter"] == "parse_data"
    assert "ivy" not in asyncio.run(agent.tracker_store.keys())


def test_execute_runs_one_action_and_predicts_nothing_after_it(make_app) -> None:
    app = make_app()

    async def main() -> None:
        response = await request(app, "post", "/conversations/hal/execute",
                                 params={"include_events": "ALL"},
                                 json={"name": "utter_choice", "policy": "script",
                                       "confidence": 1})
        assert response.status == 200
        [message] = response.json["messages"]
        assert message["recipient_id"] == "hal" and message["text"]
        events = response.json["tracker"]["events"]
        # the session starts, the action runs, and nothing runs after it
        assert events[-2]["event"] == "action" and events[-2]["name"] == "utter_choice"
        assert events[-2]["policy"] == "script" and events[-1]["event"] == "bot"
        unknown = await request(app, "post", "/conversations/hal/execute",
                                json={"name": "utter_nothing"})
        assert unknown.status == 404 and "utter_nothing" in unknown.json["message"]
        missing = await request(app, "post", "/conversations/hal/execute", json={})
        assert missing.status == 400 and missing.json["details"]["parameter"] == "name"

    asyncio.run(main())


def test_story_of_a_conversation(make_app) -> None:
    from dialogflowlite.io.yaml import read_yaml, to_plain

    app = make_app()

    async def main() -> None:
        await _chat(app, "hal", "/greet", "/ask_choice", '/choose{"colour": "blue"}')
        response = await request(app, "get", "/conversations/hal/story")
        assert response.status == 200
        story = to_plain(read_yaml(response.text))
        steps = story["stories"][0]["steps"]
        assert {"intent": "greet"} in steps and {"action": "utter_greet"} in steps
        assert {"slot_was_set": [{"colour": "blue"}]} in steps
        assert steps.index({"action": "utter_choice"}) < steps.index({"action": "utter_chosen"})

    asyncio.run(main())


@pytest.mark.parametrize("encoded", ["line%0Abreak", "%20leading-space", "x" * 256])
def test_invalid_conversation_ids_are_400(make_app, encoded) -> None:
    app = make_app()
    response = asyncio.run(request(app, "get", f"/conversations/{encoded}/tracker"))
    assert response.status == 400 and response.json["details"] == {
        "parameter": "conversation_id", "in": "path"}


@pytest.mark.parametrize(("sender", "encoded"), [
    ("müller", "m%C3%BCller"),
    ("tag#1", "tag%231"),
    ("user@example.com", "user%40example.com"),
    ("a+b=c~d!e", "a%2Bb%3Dc~d%21e"),
    # as in Rasa, ids with spaces and slashes (a Direct Line user's name, a path-like id)
    ("Jane Doe", "Jane%20Doe"),
    ("team/ann", "team%2Fann"),
    ("x/../y", "x%2F..%2Fy"),
])
def test_percent_encoded_conversation_ids_reach_the_conversation(make_app, agent, sender,
                                                                 encoded) -> None:
    # what JavaScript's encodeURIComponent makes of ids the REST channel accepts
    app = make_app()

    async def main() -> None:
        await _chat(app, sender, "/greet")
        found = await request(app, "get", f"/conversations/{encoded}/tracker")
        assert found.status == 200, found.text
        assert found.json["sender_id"] == sender and found.json["events"]
        story = await request(app, "get", f"/conversations/{encoded}/story")
        assert story.status == 200 and "utter_greet" in story.text
        logged = await request(app, "post", f"/conversations/{encoded}/messages",
                               json={"text": "/goodbye", "sender": "user"})
        assert logged.status == 200 and logged.json["sender_id"] == sender
        assert await agent.tracker_store.keys() == [sender]

    asyncio.run(main())


def test_every_conversation_route_decodes_its_id(make_app) -> None:
    # Sanic decodes the shared id segment only when all of these routes ask for it
    routes = [route for route in make_app().router.routes
              if route.path.startswith("conversations/")]
    assert len(routes) >= 8 and all(route.unquote for route in routes)


def test_ids_that_need_no_encoding_still_work_unencoded(make_app) -> None:
    app = make_app()

    async def main() -> None:
        await _chat(app, "user@example.com", "/greet")
        found = await request(app, "get", "/conversations/user@example.com/tracker")
        assert found.status == 200 and found.json["sender_id"] == "user@example.com"

    asyncio.run(main())


def test_an_encoded_slash_stays_part_of_the_id(make_app, agent) -> None:
    app = make_app()

    async def main() -> None:
        await _chat(app, "a", "/greet")
        response = await request(app, "get", "/conversations/a%2Fb/tracker")
        assert response.status == 200 and response.json["sender_id"] == "a/b"
        assert response.json["events"] == []  # not conversation "a"
        assert await agent.tracker_store.keys() == ["a"]

    asyncio.run(main())


def test_model_predict_reads_the_events_it_is_given_and_stores_nothing(make_app, agent) -> None:
    app = make_app()
    events = [
        {"event": "action", "name": "action_listen"},
        {"event": "user", "text": "/ask_choice",
         "parse_data": {"intent": {"name": "ask_choice", "confidence": 1.0}, "entities": []}},
    ]

    async def main():
        predicted = await request(app, "post", "/model/predict", json=events)
        after_reply = await request(app, "post", "/model/predict", json=[
            *events, {"event": "action", "name": "utter_choice"}])
        bad = await request(app, "post", "/model/predict", json=[{"event": "nonsense"}])
        return predicted, after_reply, bad, await agent.tracker_store.keys()

    predicted, after_reply, bad, stored = asyncio.run(main())
    assert predicted.status == 200
    assert _best(predicted.json["scores"]) == "utter_choice"
    assert predicted.json["policy"]
    assert [e["event"] for e in predicted.json["tracker"]["events"]] == ["action", "user"]
    assert _best(after_reply.json["scores"]) == "action_listen"
    for answer in (predicted, after_reply):
        assert [s["action"] for s in answer.json["scores"]] == agent.domain.action_names
    assert bad.status == 400 and "event 0" in bad.json["message"]
    assert stored == []


@pytest.mark.parametrize(("event", "field"), [
    ({"event": "active_loop", "name": 5}, "'name'"),
    ({"event": "user", "text": 123, "parse_data": {"intent": {"name": "greet"}}}, "'text'"),
    ({"event": "action", "name": "utter_greet", "confidence": "high"}, "'confidence'"),
    ({"event": "reminder", "intent": "EXTERNAL_x", "date_time": "not a date"}, "'date_time'"),
    ({"event": "bot", "text": "hi", "metadata": [["a", "b"]]}, "'metadata'"),
])
def test_an_event_with_a_field_of_the_wrong_type_is_400_naming_event_and_field(
        make_app, agent, event, field) -> None:
    app = make_app()

    async def main() -> None:
        for method in ("post", "put"):
            response = await request(app, method, "/conversations/kim/tracker/events",
                                     json=[{"event": "action", "name": "action_listen"}, event])
            assert response.status == 400, response.text
            message = response.json["message"]
            assert message.startswith("event 1 cannot be read") and field in message
        assert "kim" not in await agent.tracker_store.keys()
        # the conversation stays usable: a stored loop named 5 made every message a 500
        await _chat(app, "kim", "/greet")
        assert (await request(app, "get", "/conversations/kim/story")).status == 200
        assert (await request(app, "post", "/conversations/kim/predict")).status == 200

    asyncio.run(main())


def test_an_event_without_a_type_says_the_event_field_is_missing_and_lists_types(
        make_app) -> None:
    app = make_app()
    response = asyncio.run(request(app, "post", "/conversations/lee/tracker/events",
                                   json={"name": "x"}))
    assert response.status == 400
    message = response.json["message"]
    assert "the event cannot be read: it has no 'event' field" in message
    assert "use one of " in message and "active_loop" in message


@pytest.mark.parametrize("message_id", [{"x": 1}, True, ["m1"], 1.5])
def test_a_message_id_that_is_no_text_is_400(make_app, agent, message_id) -> None:
    app = make_app()
    response = asyncio.run(request(app, "post", "/conversations/mo/messages",
                                   json={"text": "/greet", "sender": "user",
                                         "message_id": message_id}))
    assert response.status == 400 and response.json["details"]["parameter"] == "message_id"
    assert "mo" not in asyncio.run(agent.tracker_store.keys())


def test_a_numeric_message_id_is_taken_as_text(make_app) -> None:
    app = make_app()
    response = asyncio.run(request(app, "post", "/conversations/mo/messages",
                                   json={"text": "/greet", "sender": "user", "message_id": 7}))
    assert response.status == 200 and response.json["latest_message"]["message_id"] == "7"


def test_a_slot_event_for_an_undeclared_slot_is_kept_but_sets_nothing(make_app) -> None:
    app = make_app()
    response = asyncio.run(request(app, "post", "/conversations/ned/tracker/events",
                                   params={"include_events": "ALL"},
                                   json=[{"event": "slot", "name": "shoe_size", "value": 44},
                                         {"event": "slot", "name": "colour", "value": "red"}]))
    assert response.status == 200
    assert "shoe_size" not in response.json["slots"]
    assert response.json["slots"]["colour"] == "red"
    assert [e["name"] for e in response.json["events"]
            if e["event"] == "slot"] == ["shoe_size", "colour"]


# ------------------------------------------------------------------ output_channel


def test_an_output_channel_that_is_not_enabled_is_400_and_runs_nothing(make_app, agent) -> None:
    app = make_app()

    async def main() -> None:
        for path, body in (("/trigger_intent", {"name": "greet"}),
                           ("/execute", {"name": "utter_greet"})):
            response = await request(app, "post", f"/conversations/kim{path}", json=body,
                                     params={"output_channel": "telegram"})
            assert response.status == 400, path
            assert response.json["details"] == {"parameter": "output_channel", "in": "query"}
            # it names the channels that are there (rest and websocket by default)
            assert "'telegram'" in response.json["message"]
            assert "rest, websocket" in response.json["message"]
        appended = await request(app, "post", "/conversations/kim/tracker/events",
                                 json=[{"event": "bot", "text": "hi"}],
                                 params={"execute_side_effects": "true",
                                         "output_channel": "telegram"})
        assert appended.status == 400
        assert "kim" not in await agent.tracker_store.keys()

    asyncio.run(main())


def test_a_channel_that_cannot_send_unasked_leaves_the_messages_in_the_answer(make_app) -> None:
    app = make_app()

    async def main() -> None:
        # the REST channel only answers requests; `latest` on a new conversation finds no
        # user message: both fall back to answering the messages, as in Rasa
        for sender, channel in (("lee", "rest"), ("mo", "latest")):
            response = await request(app, "post", f"/conversations/{sender}/trigger_intent",
                                     json={"name": "greet"},
                                     params={"output_channel": channel})
            assert response.status == 200
            assert response.json["messages"] == [{"recipient_id": sender,
                                                  "text": "Hello! How can I help?"}]

    asyncio.run(main())


def test_execute_side_effects_schedules_and_cancels_appended_reminders(make_app, agent) -> None:
    app = make_app()
    reminder = {"event": "reminder", "intent": "greet", "name": "nudge",
                "date_time": "2999-01-01T09:00:00+00:00", "kill_on_user_msg": False}
    pending = agent.processor.reminders.pending

    async def append(events: list[dict], **params: str) -> None:
        response = await request(app, "post", "/conversations/ned/tracker/events",
                                 json=events, params=params)
        assert response.status == 200, response.text

    async def main() -> None:
        await append([reminder])
        assert pending("ned") == []
        await append([reminder], execute_side_effects="true")
        assert [r.name for r in pending("ned")] == ["nudge"]
        await append([{"event": "cancel_reminder", "name": "nudge"}],
                     execute_side_effects="true")
        assert pending("ned") == []
        await agent.processor.reminders.close()

    asyncio.run(main())


def test_execute_side_effects_must_be_true_or_false(make_app) -> None:
    response = asyncio.run(request(make_app(), "post", "/conversations/ola/tracker/events",
                                   json=[], params={"execute_side_effects": "maybe"}))
    assert response.status == 400
    assert response.json["details"]["parameter"] == "execute_side_effects"
