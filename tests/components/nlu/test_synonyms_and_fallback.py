from __future__ import annotations

import json
from pathlib import Path

import pytest

from dialogflowlite.artifact import ComponentStorage
from dialogflowlite.components.base import NluContext
from dialogflowlite.components.nlu.fallback import FallbackClassifier
from dialogflowlite.components.nlu.synonyms import EntitySynonymMapper
from dialogflowlite.errors import ComponentConfigError
from dialogflowlite.io.json_nlu_reader import read_json_nlu
from dialogflowlite.io.problems import ProblemLog
from dialogflowlite.shared.message import Entity, IntentPrediction, Message
from dialogflowlite.shared.training_data import Synonym, TrainingData, parse_annotated_text


def test_synonyms_map_values_and_record_the_processor(tmp_path: Path) -> None:
    plain, entities = parse_annotated_text("fly to [NYC](city:New York)")
    data = TrainingData(
        [Message(plain, intent="fly", entities=entities)],
        synonyms=[Synonym("credit", ["credit card", "Visa"])],
    )
    mapper = EntitySynonymMapper()
    mapper.train(data, NluContext())
    message = Message(
        "x",
        entities=[
            Entity("city", 0, 3, "nyc", role="to", group="1", extractor="X", confidence=0.8),
            Entity("card", 4, 8, "VISA"),
            Entity("card", 9, 12, "debit"),
            Entity("city", 13, 21, "new YORK"),
            Entity("city", 22, 30, "New York"),
            Entity("amount", 31, 33, 12),
        ],
    )
    mapper.process([message])
    assert [(e.value, e.processors) for e in message.entities] == [
        ("New York", ["EntitySynonymMapper"]),
        ("credit", ["EntitySynonymMapper"]),
        ("debit", []),
        # a value is its own variant in any letter case (Rasa 3.6+), and a match is
        # recorded also where the value was canonical already, as Rasa records it
        ("New York", ["EntitySynonymMapper"]),
        ("New York", ["EntitySynonymMapper"]),
        (12, []),
    ]
    first = message.entities[0]
    assert (first.role, first.group, first.extractor, first.confidence, first.start) == (
        "to",
        "1",
        "X",
        0.8,
        0,
    )
    storage = ComponentStorage(tmp_path / "syn")
    mapper.persist(storage)
    loaded = EntitySynonymMapper.load(mapper.config, storage)
    assert loaded.synonyms == {"nyc": "New York", "credit card": "credit", "visa": "credit",
                               "credit": "credit", "new york": "New York"}


def test_a_value_listed_as_its_own_variant_keeps_the_earlier_synonym() -> None:
    data = TrainingData(
        [Message("to nyc", intent="fly", entities=[Entity("city", 3, 6, "nyc")])],
        synonyms=[Synonym("New York", ["nyc"]), Synonym("NYC", ["NYC"])],
    )
    mapper = EntitySynonymMapper()
    mapper.train(data, NluContext())
    # Rasa's mapper skips `NYC` under `NYC` (and the annotation of `nyc` as itself)
    # before it ignores case, so neither overrides `nyc` -> New York; nor does the
    # value's own variant, added only where no variant maps
    assert mapper.synonyms == {"nyc": "New York", "new york": "New York"}
    message = Message("x", entities=[Entity("city", 0, 3, "NYC")])
    mapper.process([message])
    assert message.entities[0].value == "New York"


def test_an_annotated_value_that_is_a_number_is_read_as_its_text(tmp_path: Path) -> None:
    nlu = tmp_path / "nlu.json"
    nlu.write_text(json.dumps({"rasa_nlu_data": {"common_examples": [
        {"text": "book for two", "intent": "book",
         "entities": [{"start": 9, "end": 12, "value": 2, "entity": "people"}]},
        {"text": "book for 3", "intent": "book",
         "entities": [{"start": 9, "end": 10, "value": 3, "entity": "people"}]},
        {"text": "book for some", "intent": "book",
         "entities": [{"start": 9, "end": 13, "value": None, "entity": "people"}]},
    ]}}), encoding="utf-8")
    mapper = EntitySynonymMapper()
    mapper.train(read_json_nlu(nlu, ProblemLog()), NluContext())
    # as Rasa's mapper, which trains on str(value): `3` on "3" is no synonym but its
    # own variant, and no value gives none
    assert mapper.synonyms == {"two": "2", "2": "2", "3": "3"}
    message = Message("x", entities=[Entity("people", 0, 3, "Two")])
    mapper.process([message])
    assert (message.entities[0].value, message.entities[0].processors) == (
        "2", ["EntitySynonymMapper"])


def test_a_value_maps_its_other_letter_cases_unless_a_variant_claims_them() -> None:
    """As Rasa 3.6+'s mapper: every trained value (annotated or a synonym's) maps its
    lower-cased spelling to itself, where no variant maps that spelling and no earlier
    value took it; a variant maps that spelling wherever it stands in the files."""
    annotated = [parse_annotated_text(text) for text in (
        "from [Berlin](city)", "to [BERLIN](city)", "to [paris](city:Paris)",
        "by [ICE](train:InterCity Express)")]
    data = TrainingData(
        [Message(text, intent="go", entities=entities) for text, entities in annotated],
        synonyms=[Synonym("ice", ["Eis"]), Synonym("Paris", ["Paname"])])
    mapper = EntitySynonymMapper()
    mapper.train(data, NluContext())
    assert mapper.synonyms == {
        "eis": "ice", "paname": "Paris", "paris": "Paris", "ice": "InterCity Express",
        "berlin": "Berlin", "intercity express": "InterCity Express"}
    message = Message("x", entities=[Entity("city", 0, 6, "BerLin"),
                                     Entity("train", 7, 10, "Ice"),
                                     Entity("city", 11, 17, "Madrid")])
    mapper.process([message])
    assert [(e.value, e.processors) for e in message.entities] == [
        ("Berlin", ["EntitySynonymMapper"]), ("InterCity Express", ["EntitySynonymMapper"]),
        ("Madrid", [])]


def test_a_value_spelt_exactly_keeps_it_over_a_variant_with_other_accent_marks() -> None:
    """``café`` with a combining accent is a variant of Coffee House, and ``Café`` (a
    composed é) an annotated value. As in Rasa, whose lookup is exact in all but
    letter case, each spelling maps to its own value; only a spelling that neither
    holds exactly is matched by its composed form."""
    data = TrainingData(
        [Message("meet at Caf\u00e9", intent="meet",
                 entities=[Entity("place", 8, 12, "Caf\u00e9")])],
        synonyms=[Synonym("Coffee House", ["cafe\u0301"]), Synonym("Cr\u00e8me", ["cr\u00e8me"])])
    mapper = EntitySynonymMapper()
    mapper.train(data, NluContext())
    message = Message("x", entities=[Entity("place", 0, 5, "cafe\u0301"),
                                     Entity("place", 6, 10, "CAF\u00c9"),
                                     Entity("place", 11, 17, "CRE\u0300ME")])
    mapper.process([message])
    assert [e.value for e in message.entities] == ["Coffee House", "Caf\u00e9", "Cr\u00e8me"]


def predicted(*ranking: tuple[str, float]) -> Message:
    message = Message("text")
    message.set_intent([IntentPrediction(n, c) for n, c in ranking])
    return message


def run(config: dict, message: Message) -> Message:
    FallbackClassifier(config).process([message])
    return message


def test_fallback_below_threshold_keeps_the_ranking() -> None:
    message = run(
        {"threshold": 0.5, "ambiguity_threshold": 0.0},
        predicted(("greet", 0.45), ("bye", 0.3), ("ask", 0.25)),
    )
    assert (message.intent, message.confidence) == ("nlu_fallback", 0.5)
    assert [(p.name, p.confidence) for p in message.intent_ranking] == [
        ("nlu_fallback", 0.5),
        ("greet", 0.45),
        ("bye", 0.3),
        ("ask", 0.25),
    ]
    assert message.parse_result()["intent"] == {"name": "nlu_fallback", "confidence": 0.5}


def test_confident_and_clear_predictions_pass() -> None:
    message = run(
        {"threshold": 0.5, "ambiguity_threshold": 0.1}, predicted(("greet", 0.6), ("bye", 0.4))
    )
    assert (message.intent, message.confidence) == ("greet", 0.6)
    # exactly at the threshold, and a gap of exactly the ambiguity threshold, are accepted
    message = run(
        {"threshold": 0.6, "ambiguity_threshold": 0.2}, predicted(("greet", 0.6), ("bye", 0.4))
    )
    assert message.intent == "greet"


def test_ambiguous_prediction_falls_back() -> None:
    message = run(
        {"threshold": 0.3, "ambiguity_threshold": 0.1},
        predicted(("greet", 0.52), ("bye", 0.45), ("x", 0.03)),
    )
    assert (message.intent, message.confidence) == ("nlu_fallback", 0.3)
    assert [p.name for p in message.intent_ranking] == ["nlu_fallback", "greet", "bye", "x"]
    # a single-intent ranking is never ambiguous
    message = run({"threshold": 0.3, "ambiguity_threshold": 0.5}, predicted(("greet", 0.9)))
    assert message.intent == "greet"


def test_no_intent_at_all_falls_back() -> None:
    message = run({}, Message("nobody classified me"))
    assert (message.intent, message.confidence) == ("nlu_fallback", 0.3)
    assert [(p.name, p.confidence) for p in message.intent_ranking] == [("nlu_fallback", 0.3)]


def predicted_for(text: str, *ranking: tuple[str, float]) -> Message:
    message = Message(text)
    message.set_intent([IntentPrediction(n, c) for n, c in ranking])
    return message


def test_a_message_with_no_letter_or_digit_falls_back(tmp_path: Path) -> None:
    # classifiers answer "?" confidently with some intent; there is nothing to go by
    for text in ("?", " ... ", "", "👍"):
        message = run({}, predicted_for(text, ("affirm", 0.97), ("deny", 0.02)))
        assert message.intent == "nlu_fallback", text
        assert [p.name for p in message.intent_ranking] == ["nlu_fallback", "affirm", "deny"]
    # a letter or digit of any script is something to classify
    for text in ("ok?", "7", "你好", "ça"):
        assert run({}, predicted_for(text, ("affirm", 0.97))).intent == "affirm", text
    # unless the project teaches an intent for that very text
    fallback = FallbackClassifier({})
    fallback.train(TrainingData(examples=[Message("👍", intent="affirm"),
                                          Message("yes", intent="affirm")]), NluContext())
    assert fallback.contentless_examples == {"👍"}
    storage = ComponentStorage(tmp_path / "fallback")
    fallback.persist(storage)
    loaded = FallbackClassifier.load({}, storage)
    messages = [predicted_for(" 👍", ("affirm", 0.9)), predicted_for("👎", ("affirm", 0.9))]
    loaded.process(messages)
    assert [m.intent for m in messages] == ["affirm", "nlu_fallback"]
    # a model saved before the examples were kept still loads, with none
    old = FallbackClassifier.load({}, ComponentStorage(tmp_path / "old"))
    assert old.contentless_examples == set()


@pytest.mark.parametrize(("config", "error"), [
    ({"threshold": 1.5}, "between 0 and 1"),
    ({"ambiguity_threshold": "high"}, "'ambiguity_threshold' must be a number, not 'high'"),
    ({"threshold": True}, "'threshold' must be a number, not True"),
    ({"unknown_words": "maybe"}, "'unknown_words' must be true or false, not 'maybe'"),
])
def test_bad_thresholds_are_config_errors(config: dict, error: str) -> None:
    with pytest.raises(ComponentConfigError, match=error):
        FallbackClassifier(config)


def test_unknown_words_says_once_when_no_classifier_counted_them(caplog) -> None:
    fallback = FallbackClassifier({"unknown_words": True})
    with caplog.at_level("WARNING"):
        fallback.process([predicted_for("qwerty", ("affirm", 0.9))])
        fallback.process([predicted_for("qwerty", ("affirm", 0.9))])
    assert [r.message.count("retrain with `dialogflowlite train --force`")
            for r in caplog.records] == [1]
    counted = predicted_for("qwerty", ("affirm", 0.9))
    counted.features["known_words"] = {"known": 0, "words": 1}
    FallbackClassifier({"unknown_words": True}).process([counted])
    assert counted.intent == "nlu_fallback"


@pytest.mark.parametrize("broken", [float("nan"), float("inf")])
def test_a_confidence_that_is_no_number_falls_back(broken: float) -> None:
    import json
    import math

    message = Message("hello")
    message.intent, message.confidence = "greet", broken
    message.intent_ranking = [IntentPrediction("greet", broken), IntentPrediction("bye", 0.2)]
    run({"threshold": 0.3, "ambiguity_threshold": 0.1}, message)
    assert (message.intent, message.confidence) == ("nlu_fallback", 0.3)
    assert [(p.name, p.confidence) for p in message.intent_ranking] == [
        ("nlu_fallback", 0.3), ("greet", 0.0), ("bye", 0.2)
    ]
    # the parse result is valid JSON: no NaN or Infinity in it
    json.dumps(message.parse_result(), allow_nan=False)
    # a NaN second intent makes the gap to it no number either
    message = Message("hello")
    message.set_intent([IntentPrediction("greet", 0.9), IntentPrediction("bye", math.nan)])
    message.intent_ranking = [IntentPrediction("greet", 0.9), IntentPrediction("bye", math.nan)]
    run({"threshold": 0.3, "ambiguity_threshold": 0.1}, message)
    assert message.intent == "nlu_fallback"


def test_a_variant_with_decomposed_accents_is_still_the_variant(tmp_path: Path) -> None:
    data = TrainingData(
        [Message("hi", intent="greet")],
        synonyms=[Synonym("Munich", ["München"]), Synonym("coffee", ["Cafe\u0301 noir"])],
    )
    mapper = EntitySynonymMapper()
    mapper.train(data, NluContext())
    message = Message(
        "x",
        entities=[
            Entity("city", 0, 8, "Mu\u0308nchen"),  # a combining diaeresis, as pasted
            Entity("drink", 9, 19, "CAFÉ NOIR"),  # composed, in capitals
        ],
    )
    mapper.process([message])
    assert [(e.value, e.processors) for e in message.entities] == [
        ("Munich", ["EntitySynonymMapper"]),
        ("coffee", ["EntitySynonymMapper"]),
    ]
    storage = ComponentStorage(tmp_path / "syn")
    mapper.persist(storage)
    loaded = EntitySynonymMapper.load(mapper.config, storage)
    again = Message("x", entities=[Entity("city", 0, 8, "mu\u0308nchen")])
    loaded.process([again])
    assert again.entities[0].value == "Munich"


def test_a_variant_with_an_invisible_mark_or_full_width_letters_is_still_the_variant() -> None:
    data = TrainingData([Message("hi", intent="greet")],
                        synonyms=[Synonym("Düsseldorf", ["Dusseldorf"]),
                                  Synonym("pizza", ["🍕"]), Synonym("order", ["DD"])])
    mapper = EntitySynonymMapper()
    mapper.train(data, NluContext())
    message = Message("x", entities=[
        Entity("city", 0, 1, "Dussel\u00addorf"),  # a soft hyphen pasted from a document
        Entity("food", 0, 1, "🍕\ufe0f"),  # the emoji variation selector keyboards add
        Entity("code", 0, 1, "ＤＤ"),  # full-width, from a Chinese input method
    ])
    mapper.process([message])
    assert [e.value for e in message.entities] == ["Düsseldorf", "pizza", "order"]
