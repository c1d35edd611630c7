from __future__ import annotations

from pathlib import Path

import pytest

from dialogflowlite.artifact import ComponentStorage
from dialogflowlite.components.base import NluContext
from dialogflowlite.components.nlu.regex_entity_extractor import RegexEntityExtractor
from dialogflowlite.components.nlu.regex_featurizer import RegexFeaturizer
from dialogflowlite.components.tokenizers.whitespace import WhitespaceTokenizer
from dialogflowlite.errors import Position, ProjectError
from dialogflowlite.shared.message import Message
from dialogflowlite.shared.training_data import (
    LookupTable,
    RegexPattern,
    TrainingData,
    parse_annotated_text,
)


def data() -> TrainingData:
    examples = []
    for text in ["my zip is [12345](zipcode)", "I live in [Berlin](city)", "hi"]:
        plain, entities = parse_annotated_text(text)
        examples.append(Message(plain, intent="inform", entities=entities))
    return TrainingData(
        examples,
        regexes=[RegexPattern("zipcode", r"\b\d{5}\b"), RegexPattern("greet", r"\bh(i|ello)\b")],
        lookups=[LookupTable("city", ["Berlin", "New York", "Sankt Pölten", "北京"])],
    )


def featurize(featurizer: RegexFeaturizer, text: str) -> dict:
    message = Message(text)
    WhitespaceTokenizer().process([message])
    featurizer.process([message])
    return message.features["regex"]


def test_token_and_sentence_features() -> None:
    featurizer = RegexFeaturizer()
    featurizer.train(data(), NluContext())
    assert featurizer.names == ["zipcode", "greet", "city"]
    features = featurize(featurizer, "hello, zip 12345 in New York")
    assert features["names"] == ["zipcode", "greet", "city"]
    assert features["sentence"] == [1, 1, 1]
    # tokens: hello , zip 12345 in New York
    assert features["token"] == [
        [0, 1, 0],
        [0, 0, 0],
        [0, 0, 0],
        [1, 0, 0],
        [0, 0, 0],
        [0, 0, 1],
        [0, 0, 1],
    ]
    assert featurize(featurizer, "nothing here") == {
        "names": ["zipcode", "greet", "city"],
        "token": [[0, 0, 0], [0, 0, 0]],
        "sentence": [0, 0, 0],
    }


def test_case_sensitivity_and_word_boundaries() -> None:
    sensitive = RegexFeaturizer()
    sensitive.train(data(), NluContext())
    assert featurize(sensitive, "new york")["sentence"] == [0, 0, 0]
    insensitive = RegexFeaturizer({"case_sensitive": False})
    insensitive.train(data(), NluContext())
    assert featurize(insensitive, "new york")["sentence"] == [0, 0, 1]
    # a lookup element inside a longer word is no match, unless boundaries are off
    assert featurize(insensitive, "Berlinale")["sentence"] == [0, 0, 0]
    loose = RegexFeaturizer({"use_word_boundaries": False})
    loose.train(data(), NluContext())
    assert featurize(loose, "Berlinale")["sentence"] == [0, 0, 1]
    # text without spaces still matches lookup elements in that script
    features = featurize(sensitive, "我想去北京玩")
    assert features["sentence"] == [0, 0, 1]
    assert [row[2] for row in features["token"]] == [0, 0, 0, 1, 1, 0]


def test_sources_can_be_switched_off() -> None:
    featurizer = RegexFeaturizer({"use_lookup_tables": False})
    featurizer.train(data(), NluContext())
    assert featurizer.names == ["zipcode", "greet"]
    featurizer = RegexFeaturizer({"use_regexes": False})
    featurizer.train(data(), NluContext())
    assert featurizer.names == ["city"]


def test_training_examples_get_features_and_persist_round_trip(tmp_path: Path) -> None:
    training = data()
    WhitespaceTokenizer().process_training_data(training)
    featurizer = RegexFeaturizer()
    featurizer.train(training, NluContext())
    featurizer.process_training_data(training)
    assert training.examples[0].features["regex"]["sentence"] == [1, 0, 0]
    storage = ComponentStorage(tmp_path / "regex")
    featurizer.persist(storage)
    loaded = RegexFeaturizer.load(featurizer.config, storage)
    text = "hi from Sankt Pölten 12345"
    assert featurize(loaded, text) == featurize(featurizer, text)


def test_bad_regex_names_its_line() -> None:
    broken = TrainingData(regexes=[RegexPattern("x", "(", Position("data/nlu.yml", 7, 9))])
    with pytest.raises(ProjectError) as info:
        RegexFeaturizer().train(broken, NluContext())
    assert str(info.value.position) == "data/nlu.yml:7:9"


def test_regex_entity_extractor(tmp_path: Path) -> None:
    extractor = RegexEntityExtractor()
    extractor.train(data(), NluContext())
    message = Message("zip 12345 and 54321, from new york or Berlinale")
    extractor.process([message])
    found = [
        (e.entity, e.start, e.end, e.value, e.extractor, e.confidence) for e in message.entities
    ]
    # "greet" names no entity, so it extracts nothing; case is ignored by default
    assert found == [
        ("zipcode", 4, 9, "12345", "RegexEntityExtractor", 1.0),
        ("zipcode", 14, 19, "54321", "RegexEntityExtractor", 1.0),
        ("city", 26, 34, "new york", "RegexEntityExtractor", 1.0),
    ]
    storage = ComponentStorage(tmp_path / "rx")
    extractor.persist(storage)
    again = Message(message.text)
    RegexEntityExtractor.load(extractor.config, storage).process([again])
    assert [(e.entity, e.start, e.end) for e in again.entities] == [f[:3] for f in found]


def test_regex_entity_extractor_keeps_the_longest_overlapping_match() -> None:
    training = TrainingData(
        [
            Message(
                "in New York City",
                intent="x",
                entities=parse_annotated_text("in [New York City](city)")[1],
            )
        ],
        lookups=[LookupTable("city", ["New York", "York City", "New York City"])],
    )
    extractor = RegexEntityExtractor()
    extractor.train(training, NluContext())
    message = Message("from New York City to York City")
    extractor.process([message])
    assert [e.value for e in message.entities] == ["New York City", "York City"]


def test_regex_entity_extractor_warns_without_matching_names(caplog) -> None:
    extractor = RegexEntityExtractor()
    with caplog.at_level("WARNING"):
        extractor.train(TrainingData(regexes=[RegexPattern("zip", r"\d+")]), NluContext())
    assert "extract nothing" in caplog.text
