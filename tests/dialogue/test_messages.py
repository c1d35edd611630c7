"""Bot messages and events, the custom-action dispatcher and tracker view, and domain JSON."""

from __future__ import annotations

import dataclasses
import json

import pytest

from dialogflowlite.dialogue.dispatcher import ActionTracker, CollectingDispatcher
from dialogflowlite.dialogue.domain_json import domain_from_dict, domain_to_dict
from dialogflowlite.dialogue.messages import (
    IncomingMessage,
    bot_message,
    bot_uttered,
    rest_replies,
)
from dialogflowlite.io.loader import load_project
from dialogflowlite.shared.domain import POSITION_FIELDS
from dialogflowlite.shared.events import SlotSet, UserUttered
from dialogflowlite.shared.tracker import DialogueStateTracker


def test_incoming_message_defaults() -> None:
    message = IncomingMessage("hi", "")
    assert message.sender_id == "default" and message.message_id
    assert message.stored_text == "hi"
    message.text_for_storage = "[masked]"
    assert message.stored_text == "[masked]"


def test_bot_messages_round_trip_through_events() -> None:
    message = {"text": "Pick one", "buttons": [{"title": "A", "payload": "/a"}],
               "image": "https://x/y.png", "custom": {"k": 1},
               "metadata": {"utter_action": "utter_pick"}, "extra": "kept"}
    event = bot_uttered(message)
    assert event.text == "Pick one"
    assert event.data["buttons"] == message["buttons"]
    assert event.data["attachment"] == "https://x/y.png"  # Rasa's image-as-attachment quirk
    assert event.metadata == {"utter_action": "utter_pick", "extra": "kept"}
    back = bot_message(event)
    assert "attachment" not in back
    assert back["metadata"]["utter_action"] == "utter_pick"
    replies = rest_replies("u1", back)
    assert replies == [{"recipient_id": "u1", "text": "Pick one",
                        "buttons": [{"title": "A", "payload": "/a"}]},
                       {"recipient_id": "u1", "custom": {"k": 1}},
                       {"recipient_id": "u1", "image": "https://x/y.png"}]


def test_dispatcher_collects_rasa_sdk_messages() -> None:
    dispatcher = CollectingDispatcher()
    dispatcher.utter_message(text="hi", buttons=[{"title": "x", "payload": "/x"}], mood="good")
    dispatcher.utter_message(response="utter_greet")
    dispatcher.utter_custom_json({"card": 1})
    first, second, third = dispatcher.messages
    assert first["text"] == "hi" and first["mood"] == "good" and first["custom"] == {}
    assert second["response"] == second["template"] == "utter_greet"
    assert third["custom"] == {"card": 1}


def test_action_tracker_answers_like_rasa_sdk() -> None:
    parse = {"intent": {"name": "nlu_fallback", "confidence": 0.2},
             "intent_ranking": [{"name": "nlu_fallback"}, {"name": "inform"}],
             "entities": [{"entity": "city", "value": "Rome", "role": "to"},
                          {"entity": "city", "value": "Oslo"}]}
    tracker = DialogueStateTracker("s", events=[
        UserUttered(text="x", parse_data=parse, input_channel="rest"),
        SlotSet(name="a", value=1), SlotSet(name="b", value=2), SlotSet(name="a", value=3)])
    view = ActionTracker.from_tracker(tracker)
    assert view.sender_id == "s" and view.get_slot("a") == 3
    assert list(view.get_latest_entity_values("city")) == ["Oslo"]
    assert list(view.get_latest_entity_values("city", entity_role="to")) == ["Rome"]
    assert view.get_intent_of_latest_message() == "inform"
    assert view.get_intent_of_latest_message(skip_fallback_intent=False) == "nlu_fallback"
    assert view.slots_to_validate() == {"a": 3, "b": 2}
    assert view.get_latest_input_channel() == "rest"
    assert view.get_last_event_for("user")["text"] == "x"
    view.add_slots([{"event": "slot", "name": "c", "value": 5}])
    assert view.get_slot("c") == 5 and tracker.get_slot("c") is None


def test_the_rest_of_rasa_sdks_tracker_and_dispatcher_is_there() -> None:
    from dialogflowlite.shared.events import ActionExecuted, Restarted, UserUtteranceReverted

    # actions that called these failed in-process with an AttributeError, and lost
    # all their events, while the same actions.py worked on an action server
    tracker = DialogueStateTracker("s", events=[
        UserUttered(text="old"), Restarted(), SlotSet(name="a", value=1),
        ActionExecuted(name="action_listen"), UserUttered(text="hi"),
        ActionExecuted(name="action_check"), ActionExecuted(name="action_listen"),
        UserUttered(text="oops"), UserUtteranceReverted()])
    view = ActionTracker.from_dict(ActionTracker.from_tracker(tracker).current_state())
    values = view.current_slot_values()
    assert values["a"] == 1
    values["a"] = 2  # a copy: the view keeps its own
    assert view.get_slot("a") == 1
    assert [e.get("text") or e.get("name") for e in view.applied_events()] == [
        "a", "action_listen", "hi", "action_check"]
    assert view.last_executed_action_has("action_check")
    assert not view.last_executed_action_has("action_check", skip=1)
    dispatcher = CollectingDispatcher()
    dispatcher.utter_button_message("pick", [{"title": "x", "payload": "/x"}])
    dispatcher.utter_attachment({"type": "file", "url": "u"})
    dispatcher.utter_elements({"title": "card"})
    dispatcher.utter_custom_message({"title": "card 2"})
    dispatcher.utter_template("utter_greet", view, name="Ann")
    dispatcher.utter_button_template("utter_greet", [{"title": "y", "payload": "/y"}], view)
    buttons, attachment, elements, custom, named, named_buttons = dispatcher.messages
    assert buttons["text"] == "pick" and buttons["buttons"][0]["title"] == "x"
    assert attachment["attachment"] == {"type": "file", "url": "u"}
    assert elements["elements"] == [{"title": "card"}]
    assert custom["elements"] == [{"title": "card 2"}]
    assert named["response"] == "utter_greet" and named["name"] == "Ann"
    assert named_buttons["response"] == "utter_greet" and named_buttons["buttons"]


@pytest.mark.parametrize("project", ["formbot", "initial_project_3x", "financial_demo",
                                     "rules", "reminderbot", "responseselectorbot"])
def test_domain_json_round_trips(rasa_projects, project) -> None:
    def plain(value):
        if dataclasses.is_dataclass(value):
            return {f.name: plain(getattr(value, f.name)) for f in dataclasses.fields(value)
                    if f.name not in (*POSITION_FIELDS, "version")}
        if isinstance(value, dict):
            return {k: plain(v) for k, v in value.items()}
        if isinstance(value, list):
            return [plain(v) for v in value]
        return value

    domain = load_project(rasa_projects / project, strict=False).domain
    data = json.loads(json.dumps(domain_to_dict(domain)))
    assert plain(domain_from_dict(data)) == plain(domain)
    assert set(data) >= {"intents", "entities", "slots", "responses", "actions", "forms",
                         "session_config", "config"}


def test_a_custom_actions_keyword_arguments_fill_the_named_response(tmp_path) -> None:
    import asyncio

    from dialogflowlite.components.generation.responder import Responder
    from dialogflowlite.dialogue.actions import ActionContext, response_messages

    (tmp_path / "domain.yml").write_text(
        'version: "3.1"\nslots:\n  city: {type: text, mappings: [{type: custom}]}\n'
        'responses:\n  utter_hello:\n  - text: "Hello {name} from {city}!"\n',
        encoding="utf-8")
    domain = load_project(tmp_path, strict=True).domain
    tracker = DialogueStateTracker("s", events=[SlotSet(name="city", value="Oslo")])
    dispatcher = CollectingDispatcher()
    dispatcher.utter_message(response="utter_hello", name="Ann")
    dispatcher.utter_message(text="plain", mood="good")
    context = ActionContext(domain, responder=Responder(domain))
    named, plain = asyncio.run(response_messages(dispatcher.messages, tracker, context))
    # the argument fills {name}, the slot fills {city}; as in Rasa the argument also
    # travels with the message, into its bot event's metadata
    assert named["text"] == "Hello Ann from Oslo!"
    assert bot_uttered(named).metadata == {"utter_action": "utter_hello", "name": "Ann"}
    # without a named response, extra keys travel with the message as before
    assert plain["text"] == "plain" and plain["mood"] == "good"


def test_send_domain_is_read_and_kept_in_the_domain_json(write_project) -> None:
    root = write_project(domain="""
        version: "3.1"
        intents: [greet]
        actions:
        - action_plain
        - action_needs_domain: {send_domain: true}
        - action_quoted: {send_domain: "no"}
        """)
    project = load_project(root, strict=False)
    domain = project.domain
    assert domain.custom_actions == ["action_plain", "action_needs_domain", "action_quoted"]
    assert domain.send_domain_actions == {"action_needs_domain"}
    warned = [p.message for p in project.problems if "send_domain" in p.message]
    assert warned == ["send_domain of action 'action_quoted' is the text 'no', read as false"]
    data = domain_to_dict(domain)
    assert data["actions"] == ["action_plain", {"action_needs_domain": {"send_domain": True}},
                               "action_quoted"]
    assert domain_from_dict(data).send_domain_actions == {"action_needs_domain"}


@pytest.mark.parametrize(("action", "why"), [
    ("utter_bye", "the domain has no response of that name"),
    ("utter_phone_only", "none of its variations fits this conversation")])
def test_a_response_that_gives_nothing_says_why_in_the_log(tmp_path, caplog, action: str,
                                                           why: str) -> None:
    import asyncio

    from dialogflowlite.components.generation.responder import Responder
    from dialogflowlite.dialogue.actions import ActionContext, ResponseAction

    (tmp_path / "domain.yml").write_text(
        'version: "3.1"\nresponses:\n  utter_phone_only:\n  - text: "Call us"\n'
        '    channel: twilio\n', encoding="utf-8")
    domain = load_project(tmp_path, strict=True).domain
    context = ActionContext(domain, responder=Responder(domain), channel="rest")
    events = asyncio.run(ResponseAction(action).run(DialogueStateTracker("s7"), context))
    assert events == []
    assert f"conversation 's7': no response could be made for '{action}': {why}" in caplog.text
