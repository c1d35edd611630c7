"""A parse result's entities as Rasa's trained extractors give them: the confidences of
an entity of several words, the order of its keys, and the emulated services' shapes."""

from __future__ import annotations

import pytest

from dialogflowlite.components.nlu.sequence_labels import (
    LabelSet,
    TagConfidence,
    write_prediction,
)
from dialogflowlite.components.nlu.synonyms import EntitySynonymMapper
from dialogflowlite.components.tokenizers.alignment import entities_from_bio, simple_tokens
from dialogflowlite.server.routes.emulation import to_dialogflow, to_luis, to_wit
from dialogflowlite.shared.message import Entity, Message

TAGS = ["O", "B-city#role=to#group=1", "I-city#role=to#group=1", "B-city", "I-city"]


def test_an_entity_of_several_words_has_the_lowest_confidence_of_its_words() -> None:
    # Rasa's extractors keep the lower value as each word joins the entity
    text = "fly to new york city"
    [entity] = entities_from_bio(
        text, simple_tokens(text), ["O", "O", "B-city#role=to#group=1",
                                    "I-city#role=to#group=1", "I-city#role=to#group=1"],
        [0.9, 0.9, 0.8, 0.3, 0.7], role_confidences=[0.1, 0.1, 0.4, 0.9, 0.6],
        group_confidences=[0.1, 0.1, 0.9, 0.8, 0.5])
    assert entity.value == "new york city"
    assert entity.confidence == pytest.approx(0.3)
    assert entity.role_confidence == pytest.approx(0.4)
    assert entity.group_confidence == pytest.approx(0.5)


def test_a_tagger_s_prediction_keeps_the_lowest_word_confidences() -> None:
    text = "to new york"
    tokens = simple_tokens(text)
    message = Message(text=text, tokens=tokens)
    write_prediction(message, LabelSet(["book"], TAGS), None, tokens, [0, 1, 2],
                     [TagConfidence(0.9, 0.9, 0.9), TagConfidence(0.6, 0.95, 0.5),
                      TagConfidence(0.8, 0.7, 0.99)], "JointTransformerClassifier")
    [entity] = message.entities
    assert (entity.confidence, entity.role_confidence, entity.group_confidence) == (
        pytest.approx(0.6), pytest.approx(0.7), pytest.approx(0.5))


def test_a_tagged_entity_has_the_keys_in_rasa_s_order() -> None:
    # DIETClassifier: type, offsets, confidence, role and group with theirs, then the
    # value and the extractor; EntitySynonymMapper adds `processors` last
    text = "to nyc"
    tokens = simple_tokens(text)
    message = Message(text=text, tokens=tokens)
    write_prediction(message, LabelSet(["book"], TAGS), None, tokens, [0, 1],
                     [TagConfidence(0.9, 0.9, 0.9), TagConfidence(0.8, 0.85, 0.7)],
                     "DIETClassifier")
    mapper = EntitySynonymMapper()
    mapper.synonyms = {"nyc": "New York"}
    mapper.process([message])
    [entity] = message.parse_result()["entities"]
    assert list(entity) == ["entity", "start", "end", "confidence_entity", "role",
                            "confidence_role", "group", "confidence_group", "value",
                            "extractor", "processors"]
    assert entity["value"] == "New York"


def test_an_entity_without_confidence_reads_as_rasa_s_regex_match() -> None:
    entity = Entity("zipcode", 3, 8, "10115", extractor="RegexEntityExtractor")
    assert list(entity.to_dict()) == ["entity", "start", "end", "value", "extractor"]
    # an annotation of the training data: no extractor
    assert list(Entity("city", 5, 9, "Oslo", role="to").to_dict()) == [
        "entity", "start", "end", "role", "value"]


PARSED = {
    "text": "from Berlin to NYC",
    "intent": {"name": "book", "confidence": 0.9},
    "entities": [
        {"entity": "city", "start": 5, "end": 11, "confidence_entity": 0.8, "role": "from",
         "confidence_role": 0.7, "value": "Berlin", "extractor": "DIETClassifier"},
        {"entity": "city", "start": 15, "end": 18, "confidence_entity": 0.6, "role": "to",
         "confidence_role": 0.5, "value": "New York", "extractor": "DIETClassifier",
         "processors": ["EntitySynonymMapper"]},
    ],
    "intent_ranking": [{"name": "book", "confidence": 0.9}],
}


def test_emulated_answers_carry_roles_where_the_service_has_a_field_for_them() -> None:
    # wit.ai keys entities by `name:role` and gives the role; it has no role confidence
    wit = to_wit(PARSED)["entities"]
    assert list(wit) == ["city:from", "city:to"]
    assert [(e["role"], e["confidence"], e["body"]) for e in wit["city:to"]] == [
        ("to", 0.6, "NYC")]
    # LUIS v3 names an entity by its role and gives the role in `$instance`
    luis = to_luis(PARSED)["prediction"]["entities"]
    assert luis["from"] == ["Berlin"] and luis["to"] == ["New York"]
    assert [(i["role"], i["type"], i["score"]) for i in luis["$instance"]["to"]] == [
        ("to", "city", 0.6)]
    # Dialogflow's parameters are values by entity type, with no place for a role
    assert to_dialogflow(PARSED)["queryResult"]["parameters"] == {
        "city": ["Berlin", "New York"]}
