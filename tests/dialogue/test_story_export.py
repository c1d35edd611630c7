"""Conversations written back as YAML stories (``GET /story``, interactive learning)."""

from __future__ import annotations

from typing import Any

import pytest

from dialogflowlite.dialogue.interactive_export import export_texts
from dialogflowlite.dialogue.story_export import conversation_story, story_intent
from dialogflowlite.io.yaml import read_yaml, to_plain
from dialogflowlite.shared.events import ActionExecuted, UserUttered


def _selector(key: str | None, under: str = "default") -> dict[str, Any]:
    """A parse's ``response_selector`` entry whose answer is ``key``."""
    return {"all_retrieval_intents": ["faq"],
            under: {"response": {"intent_response_key": key, "confidence": 0.9,
                                 "utter_action": f"utter_{key}"},
                    "ranking": [{"intent_response_key": key, "confidence": 0.9}]}}


def _user(text: str, intent: str, selector: dict[str, Any] | None = None,
          **intent_fields: Any) -> UserUttered:
    parse: dict[str, Any] = {"text": text, "intent": {"name": intent, "confidence": 0.9,
                                                      **intent_fields},
                             "entities": []}
    if selector is not None:
        parse["response_selector"] = selector
    return UserUttered(text=text, parse_data=parse)


@pytest.mark.parametrize("under", ["default", "faq"])
def test_a_live_retrieval_intent_is_written_with_the_selected_response_key(under: str) -> None:
    event = _user("when are you open", "faq", _selector("faq/ask_hours", under))
    assert story_intent(event) == "faq/ask_hours"


def test_an_intent_the_selector_did_not_answer_for_keeps_its_name() -> None:
    # the `default` selector answers every message; its key is not the greeting's
    assert story_intent(_user("hello", "greet", _selector("faq/ask_hours"))) == "greet"
    assert story_intent(_user("when", "faq", _selector(None))) == "faq"
    assert story_intent(_user("when", "faq")) == "faq"


def test_a_full_name_the_event_carries_comes_first() -> None:
    event = _user("when", "faq", _selector("faq/ask_price"),
                  full_retrieval_intent_name="faq/ask_hours")
    assert story_intent(event) == "faq/ask_hours"


def test_the_conversation_story_names_the_retrieval_intent_in_full() -> None:
    events = [ActionExecuted(name="action_listen"),
              _user("when are you open", "faq", _selector("faq/ask_hours")),
              ActionExecuted(name="utter_faq")]
    steps = to_plain(read_yaml(conversation_story("ann", events)))["stories"][0]["steps"]
    assert steps == [{"intent": "faq/ask_hours", "user": "when are you open"},
                     {"action": "utter_faq"}]


def test_interactive_stories_name_the_retrieval_intent_in_full() -> None:
    events = [ActionExecuted(name="action_listen"),
              _user("when are you open", "faq", _selector("faq/ask_hours")),
              ActionExecuted(name="utter_faq")]
    text = export_texts([events])
    stories = to_plain(read_yaml(text.split("# NLU examples")[0]))["stories"]
    assert stories[0]["steps"] == [{"intent": "faq/ask_hours"}, {"action": "utter_faq"}]
    # the NLU example in full too: the session showed the selector's choice and the user
    # confirmed it, and only the full name teaches the response selector
    assert '- intent: "faq/ask_hours"\n  examples: |\n    - when are you open' in text


def test_a_conversation_without_steps_is_a_story_with_an_empty_list_the_reader_takes() -> None:
    from dialogflowlite.evaluation.stories import stories_from_yaml
    from dialogflowlite.shared.events import SessionStarted

    text = conversation_story("ann", [ActionExecuted(name="action_session_start"),
                                      SessionStarted()])
    assert to_plain(read_yaml(text))["stories"][0]["steps"] == []
    assert stories_from_yaml(text)[0].steps == []
