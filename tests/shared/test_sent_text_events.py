"""A story's bot: text sent as itself is logged as Rasa logs its end-to-end
response (``action_text``, ``"name": null``), before and after the store."""

from __future__ import annotations

from dialogflowlite.dialogue.story_export import conversation_story
from dialogflowlite.shared.events import ActionExecuted, UserUttered, event_from_dict
from dialogflowlite.shared.tracker import DialogueStateTracker


def _sent_text() -> ActionExecuted:
    return ActionExecuted(name="", action_text="Hi there!")


def test_a_sent_text_reads_back_with_a_null_name() -> None:
    stored = _sent_text().as_dict()
    assert stored["name"] is None and stored["action_text"] == "Hi there!"
    again = event_from_dict(stored)
    assert isinstance(again, ActionExecuted) and again.action_text == "Hi there!"
    assert again.as_dict()["name"] is None


def test_two_sent_texts_are_the_same_event_only_with_the_same_text() -> None:
    assert _sent_text().same_as(ActionExecuted(name="", action_text="Hi there!"))
    assert not _sent_text().same_as(ActionExecuted(name="", action_text="Bye!"))
    assert ActionExecuted(name="utter_greet").same_as(ActionExecuted(name="utter_greet"))


def test_the_latest_action_of_a_sent_text_has_no_action_name() -> None:
    tracker = DialogueStateTracker("u1")
    tracker.update(UserUttered(text="hello", parse_data={"intent": {"name": "greet"}}))
    tracker.update(event_from_dict(_sent_text().as_dict()))
    assert tracker.latest_action == {"action_text": "Hi there!"}


def test_a_reloaded_sent_text_is_exported_as_a_bot_step() -> None:
    events = [UserUttered(text="hello", parse_data={"intent": {"name": "greet"}}),
              event_from_dict(_sent_text().as_dict())]
    assert '- bot: "Hi there!"' in conversation_story("u1", events)
