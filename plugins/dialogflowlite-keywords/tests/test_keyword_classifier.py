"""The keyword classifier on its own: training, matching, ambiguity, persistence."""

from __future__ import annotations

import logging

import pytest
from dialogflowlite_keywords.classifier import KeywordIntentClassifier, keyword_of

from dialogflowlite.artifact import ComponentStorage
from dialogflowlite.components.base import NluContext
from dialogflowlite.errors import ComponentConfigError
from dialogflowlite.shared.message import IntentPrediction, Message
from dialogflowlite.shared.training_data import TrainingData


def _data(*pairs: tuple[str, str]) -> TrainingData:
    return TrainingData([Message(text, intent=intent) for text, intent in pairs])


def _trained(*pairs: tuple[str, str], **config) -> KeywordIntentClassifier:
    component = KeywordIntentClassifier(config)
    component.train(_data(*pairs), NluContext())
    return component


def _intent(component: KeywordIntentClassifier, text: str) -> tuple[str | None, float | None]:
    message = Message(text)
    component.process([message])
    return message.intent, message.confidence


def test_defaults_and_unknown_settings() -> None:
    assert KeywordIntentClassifier().config == {"case_sensitive": False}
    with pytest.raises(ComponentConfigError, match="case_sensitive"):
        KeywordIntentClassifier({"case_sensitve": True})


def test_keyword_drops_surrounding_punctuation_and_extra_spaces() -> None:
    assert keyword_of("  are you a   bot? ") == "are you a bot"
    assert keyword_of("¿qué?") == "qué"
    assert keyword_of("!!!") == ""


def test_an_example_found_as_whole_words_gives_its_intent() -> None:
    component = _trained(("hello", "greet"), ("are you a bot?", "bot_challenge"))
    assert _intent(component, "well hello there") == ("greet", 1.0)
    assert _intent(component, "wait, are you a bot") == ("bot_challenge", 1.0)
    # Not inside a longer word, and not across a different word order.
    assert _intent(component, "othello is a play") == (None, None)
    assert _intent(component, "a bot are you") == (None, None)


def test_matching_ignores_case_unless_case_sensitive() -> None:
    pairs = (("Book a table", "book_table"),)
    assert _intent(_trained(*pairs), "please BOOK A TABLE")[0] == "book_table"
    strict = _trained(*pairs, case_sensitive=True)
    assert _intent(strict, "please book a table")[0] is None
    assert _intent(strict, "please Book a table")[0] == "book_table"


def test_the_longest_matching_keyword_decides() -> None:
    component = _trained(("table", "book_table"), ("cancel the table", "stop"))
    assert _intent(component, "please cancel the table now")[0] == "stop"
    assert _intent(component, "a table for two")[0] == "book_table"


def test_a_keyword_under_two_intents_is_dropped_with_a_warning(caplog) -> None:
    with caplog.at_level(logging.WARNING):
        component = _trained(("ok", "affirm"), ("OK", "thanks"), ("yes", "affirm"))
    assert "keyword 'ok'" in caplog.text and "affirm, thanks" in caplog.text
    assert component.keywords == {"yes": "affirm"}
    assert _intent(component, "ok")[0] is None


def test_retrieval_intents_give_their_base_intent() -> None:
    component = _trained(("when are you open", "faq/ask_hours"))
    assert _intent(component, "When are you open?")[0] == "faq"


def test_messages_without_a_keyword_keep_what_they_had() -> None:
    component = _trained(("hello", "greet"))
    earlier = Message("book me a table")
    earlier.set_intent([IntentPrediction("book_table", 0.8), IntentPrediction("greet", 0.1)])
    hit = Message("hello")
    hit.set_intent([IntentPrediction("goodbye", 0.6), IntentPrediction("greet", 0.3)])
    component.process([earlier, hit])
    assert (earlier.intent, earlier.confidence) == ("book_table", 0.8)
    assert len(earlier.intent_ranking) == 2
    assert (hit.intent, hit.confidence) == ("greet", 1.0)
    assert [p.name for p in hit.intent_ranking] == ["greet"]
    assert hit.features["KeywordIntentClassifier"] == {"keyword": "hello"}


def test_persist_and_load_round_trip(tmp_path) -> None:
    component = _trained(("Hello", "greet"), ("bye", "goodbye"), case_sensitive=True)
    storage = ComponentStorage(tmp_path / "keywords")
    component.persist(storage)
    assert (tmp_path / "keywords" / "keywords.json").is_file()
    loaded = KeywordIntentClassifier.load(component.config, storage)
    assert loaded.keywords == {"Hello": "greet", "bye": "goodbye"}
    assert _intent(loaded, "Hello you")[0] == "greet"
    assert _intent(loaded, "hello you")[0] is None
