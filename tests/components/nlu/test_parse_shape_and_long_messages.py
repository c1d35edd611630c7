"""The parse result's entity shape (its optional keys) and what a message longer than
``max_length`` gives: a warning naming its length, and entities from all of it."""

from __future__ import annotations

import logging
import re
from pathlib import Path

import pytest
from tiny_encoder import parse

from dialogflowlite.artifact import ComponentStorage
from dialogflowlite.components.base import NluContext
from dialogflowlite.components.nlu.intent_shortcut import parse_intent_shortcut
from dialogflowlite.components.nlu.joint_transformer import JointTransformerClassifier
from dialogflowlite.components.nlu.synonyms import EntitySynonymMapper
from dialogflowlite.errors import ComponentConfigError, Position
from dialogflowlite.shared.message import Entity, Message

TINY = {
    "learning_rate": 3e-3,
    "batch_size": 8,
    "freeze_embeddings": False,
    "head_learning_rate_factor": 1.0,
    "device": "cpu",
}

LOGGER = "dialogflowlite.components.nlu.intent_slot_classifier"


# ---------------------------------------------------------------- processors


def test_an_entity_no_processor_changed_has_no_processors_key() -> None:
    mapper = EntitySynonymMapper()
    mapper.synonyms = {"nyc": "New York"}
    message = Message(
        "from Berlin to NYC",
        entities=[
            Entity("city", 5, 11, "Berlin", extractor="X"),
            Entity("city", 15, 18, "NYC", extractor="X"),
        ],
    )
    mapper.process([message])
    berlin, new_york = message.parse_result()["entities"]
    assert "processors" not in berlin
    assert new_york["value"] == "New York"
    assert new_york["processors"] == ["EntitySynonymMapper"]


def test_an_entity_without_processors_reads_back_with_none() -> None:
    # tracker events and Rasa's own parse results carry entities without the key
    written = Entity("city", 0, 6, "Berlin", extractor="X").to_dict()
    read = Entity.from_dict(written)
    assert read.processors == []
    assert read.to_dict() == written
    mapped = Entity("city", 0, 3, "New York", processors=["EntitySynonymMapper"])
    assert Entity.from_dict(mapped.to_dict()).processors == ["EntitySynonymMapper"]


def test_role_group_and_confidence_are_written_only_when_set() -> None:
    # as Rasa's extractors: role and group only when tagged, confidence_entity only
    # when the extractor gives one
    plain = Entity("city", 0, 6, "Berlin", extractor="RegexEntityExtractor").to_dict()
    assert plain == {
        "entity": "city", "start": 0, "end": 6, "value": "Berlin",
        "extractor": "RegexEntityExtractor",
    }
    tagged = Entity(
        "city", 0, 6, "Berlin", role="from", group="1", confidence=0.9, extractor="X"
    ).to_dict()
    assert (tagged["role"], tagged["group"], tagged["confidence_entity"]) == ("from", "1", 0.9)
    only_role = Entity("city", 0, 6, "Berlin", role="from", confidence=0.9).to_dict()
    assert only_role["role"] == "from" and "group" not in only_role


def test_an_entity_without_optional_keys_reads_back_with_none() -> None:
    read = Entity.from_dict({"entity": "city", "start": 0, "end": 6, "value": "Berlin"})
    assert (read.role, read.group, read.confidence, read.extractor) == (None,) * 4
    assert read.to_dict() == {"entity": "city", "start": 0, "end": 6, "value": "Berlin"}
    full = Entity("city", 0, 6, "Berlin", role="to", group="2", confidence=0.5, extractor="X")
    assert Entity.from_dict(full.to_dict()) == full


def test_an_extractors_own_keys_are_read_and_written_back() -> None:
    # a Duckling entity of Rasa's, as a tracker event holds it
    written = {
        "entity": "time", "start": 0, "end": 8, "value": "2024-05-02", "text": "tomorrow",
        "confidence": 1.0, "additional_info": {"grain": "day"},
        "extractor": "DucklingEntityExtractor",
    }
    read = Entity.from_dict(written)
    assert read.confidence is None  # `confidence` is not the taggers' confidence_entity
    assert read.extra == {"text": "tomorrow", "confidence": 1.0,
                          "additional_info": {"grain": "day"}}
    assert read.to_dict() == written
    # an extra key never replaces one of the entity's own
    clash = Entity("city", 0, 6, "Berlin", extra={"value": "x", "entity": "y"}).to_dict()
    assert (clash["entity"], clash["value"]) == ("city", "Berlin")


def test_an_entity_written_in_the_message_names_rasas_regex_message_handler() -> None:
    # Rasa 3's agent.parse_message of '/greet{"name": ...}' gives entity, value, start,
    # end and "extractor": "RegexMessageHandler"
    message = parse_intent_shortcut('/book{"city": "Rome"}')
    assert message is not None
    [entity] = message.parse_result()["entities"]
    assert entity == {"entity": "city", "value": "Rome", "start": 5, "end": 21,
                      "extractor": "RegexMessageHandler"}


# ---------------------------------------------------------------- long messages


@pytest.fixture(scope="module")
def trained(tiny_model: Path) -> JointTransformerClassifier:
    from tiny_encoder import toy_training_data

    component = JointTransformerClassifier({"model": str(tiny_model), "epochs": 40, **TINY})
    component.train(toy_training_data(), NluContext(progress=False, seed=3))
    return component


def test_a_cut_message_warns_with_its_length_and_keeps_late_entities(
    trained: JointTransformerClassifier, caplog: pytest.LogCaptureFixture
) -> None:
    text = "book a flight to paris please please please from london to rome"
    trained.config["max_length"] = 8  # six word pieces a pass
    try:
        with caplog.at_level(logging.WARNING, logger=LOGGER):
            [message] = parse(trained, [text])
    finally:
        trained.config["max_length"] = JointTransformerClassifier.defaults["max_length"]
    warnings = [r.getMessage() for r in caplog.records if "max_length" in r.getMessage()]
    assert len(warnings) == 1, warnings  # once per message, not once per window
    assert "a message of 12 words is longer than max_length (8 word pieces)" in warnings[0]
    assert "its first 6 words only" in warnings[0]
    rome = text.index("rome")
    assert ("city", rome, rome + 4) in {(e.entity, e.start, e.end) for e in message.entities}


def test_a_message_that_fits_gives_no_warning(
    trained: JointTransformerClassifier, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        parse(trained, ["book a flight from london to rome", "hello"])
    assert not [r for r in caplog.records if "max_length" in r.getMessage()]


def test_training_warns_once_about_cut_examples(
    tiny_model: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from tiny_encoder import toy_training_data

    data = toy_training_data()
    for line, message in enumerate(data.examples, start=1):
        message.position = Position.of("data/nlu.yml", line)
    # four word pieces a pass: one a word in the tiny vocabulary
    long_lines = {m.position.line: len(m.tokens) for m in data.examples if len(m.tokens) > 4}
    component = JointTransformerClassifier(
        {"model": str(tiny_model), "epochs": 1, "max_length": 6, **TINY}
    )
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        component.train(data, NluContext(progress=False, seed=3))
    warnings = [r.getMessage() for r in caplog.records if "max_length" in r.getMessage()]
    assert len(warnings) == 1, warnings
    found = re.search(
        r": (\d+) training example\(s\) \(the first at data/nlu.yml:(\d+)\) are "
        r"longer than max_length \(6 word pieces; the longest has (\d+) words\)",
        warnings[0],
    )
    assert found, warnings[0]
    count, line, longest = map(int, found.groups())
    # the held-out part is not counted, so at most every long example
    assert 0 < count <= len(long_lines)
    assert line in long_lines
    assert long_lines[line] <= longest <= max(long_lines.values())


def test_max_length_past_the_encoders_positions_is_refused(tiny_model: Path) -> None:
    from tiny_encoder import toy_training_data

    component = JointTransformerClassifier(
        {"model": str(tiny_model), "epochs": 1, "max_length": 200, **TINY}
    )
    # the tiny encoder has 128 positions: a 200-piece pass would fail at parse time
    with pytest.raises(ComponentConfigError, match="max_length 200 is more than the 128") as info:
        component.train(toy_training_data(), NluContext(progress=False, seed=3))
    assert "set max_length to 128 or less" in str(info.value.hint)


@pytest.mark.parametrize("fast_inference", [True, False])
def test_a_stored_model_reads_no_more_than_its_encoders_positions(
    tmp_path: Path,
    trained: JointTransformerClassifier,
    fast_inference: bool,
    caplog: pytest.LogCaptureFixture,
) -> None:
    storage = ComponentStorage(tmp_path / "stored")
    trained.persist(storage)
    config = {**trained.config, "max_length": 2000, "fast_inference": fast_inference}
    with caplog.at_level(logging.WARNING):
        loaded = JointTransformerClassifier.load(config, storage)
    assert "max_length 2000 is more than the 128 word pieces" in caplog.text
    text = "book a flight to paris " + "please " * 300 + "from london to rome"
    [message] = parse(loaded, [text])
    assert message.intent == "book_flight"
    rome = text.index("rome")
    assert ("city", rome, rome + 4) in {(e.entity, e.start, e.end) for e in message.entities}
