"""RegexFeaturizer with use_entity_values: annotated values as one lookup table per type."""

from __future__ import annotations

from pathlib import Path

from dialogflowlite.artifact import ComponentStorage
from dialogflowlite.components.base import NluContext
from dialogflowlite.components.nlu.entity_values import EntityValueLexicon
from dialogflowlite.components.nlu.regex_featurizer import RegexFeaturizer
from dialogflowlite.components.tokenizers.whitespace import WhitespaceTokenizer
from dialogflowlite.shared.message import Message
from dialogflowlite.shared.training_data import RegexPattern, TrainingData, parse_annotated_text

ROWS = [
    "add [rock classics](playlist) to my list",
    "play [Rock Classics](playlist)",
    "play [jazz brunch](playlist) now",
    "play songs by [adele](artist)",
    "put [adele](artist) on [rock classics](playlist)",
    "order [pizza](dish) please",
]


def training_data() -> TrainingData:
    examples = []
    for row in ROWS:
        text, entities = parse_annotated_text(row)
        examples.append(Message(text, intent="any", entities=entities))
    data = TrainingData(examples, regexes=[RegexPattern("number", r"\d+")])
    WhitespaceTokenizer().process_training_data(data)
    return data


def trained(**config) -> tuple[RegexFeaturizer, TrainingData]:
    data = training_data()
    featurizer = RegexFeaturizer({"use_entity_values": True, **config})
    featurizer.train(data, NluContext())
    return featurizer, data


def featurize(featurizer: RegexFeaturizer, text: str) -> dict:
    message = Message(text)
    WhitespaceTokenizer().process([message])
    featurizer.process([message])
    return message.features["regex"]


def column(features: dict, name: str) -> list[int]:
    index = features["names"].index(name)
    return [row[index] for row in features["token"]]


def test_every_entity_type_is_one_more_feature_after_the_patterns() -> None:
    featurizer, _ = trained()
    assert featurizer.names == ["number", "entity_values:artist", "entity_values:dish",
                                "entity_values:playlist"]
    features = featurize(featurizer, "add adele to rock classics 2")
    assert column(features, "entity_values:playlist") == [0, 0, 0, 1, 1, 0]
    assert column(features, "entity_values:artist") == [0, 1, 0, 0, 0, 0]
    assert column(features, "number") == [0, 0, 0, 0, 0, 1]
    assert features["sentence"] == [1, 1, 0, 1]
    # whole tokens only: part of a value, or a value inside a longer token, is no match
    assert column(featurize(featurizer, "rock music"), "entity_values:playlist") == [0, 0]
    assert featurize(featurizer, "adeles")["sentence"] == [0, 0, 0, 0]


def test_case_follows_the_featurizer_setting() -> None:
    sensitive, _ = trained()
    # "Rock Classics" and "rock classics" are two values, each annotated
    assert featurize(sensitive, "ROCK CLASSICS")["sentence"][3] == 0
    assert featurize(sensitive, "Rock Classics")["sentence"][3] == 1
    insensitive, _ = trained(case_sensitive=False)
    assert featurize(insensitive, "ROCK CLASSICS")["sentence"][3] == 1


def test_training_messages_are_not_marked_by_their_own_annotation() -> None:
    featurizer, data = trained(case_sensitive=False)
    featurizer.process_training_data(data)
    by_text = {m.text: m.features["regex"] for m in data.examples}
    # annotated three times: each example still sees the value elsewhere
    assert column(by_text["play Rock Classics"], "entity_values:playlist") == [0, 1, 1]
    # annotated once: only its own example knows it, which does not count there
    assert column(by_text["play jazz brunch now"], "entity_values:playlist") == [0, 0, 0, 0]
    assert column(by_text["order pizza please"], "entity_values:dish") == [0, 0, 0]
    # twice: each of the two sees the other
    assert column(by_text["play songs by adele"], "entity_values:artist") == [0, 0, 0, 1]
    # a new message is marked by every known value
    assert column(featurize(featurizer, "jazz brunch"), "entity_values:playlist") == [1, 1]


def test_the_values_are_saved_with_the_featurizer(tmp_path: Path) -> None:
    featurizer, _ = trained()
    storage = ComponentStorage(tmp_path)
    featurizer.persist(storage)
    loaded = RegexFeaturizer.load(featurizer.config, storage)
    assert loaded.names == featurizer.names
    text = "put adele on jazz brunch"
    assert featurize(loaded, text) == featurize(featurizer, text)
    assert isinstance(loaded.lexicon, EntityValueLexicon)


def test_off_by_default() -> None:
    featurizer = RegexFeaturizer()
    featurizer.train(training_data(), NluContext())
    assert featurizer.names == ["number"]
    assert featurizer.lexicon is None
