"""Rasa's ``confidence_role`` and ``confidence_group`` in a parse result's entities."""

from __future__ import annotations

import pytest
import torch

from dialogflowlite.components.nlu.sequence_labels import (
    LabelSet,
    TagConfidence,
    predict_batch,
    write_prediction,
)
from dialogflowlite.components.tokenizers.alignment import entities_from_bio, simple_tokens
from dialogflowlite.models.crf import bio_transition_mask
from dialogflowlite.models.intent_slot_heads import IntentSlotHeads, JointOutput
from dialogflowlite.shared.message import Entity, Message

TAGS = [
    "O",
    "B-city#role=from",
    "I-city#role=from",
    "B-city#role=to",
    "I-city#role=to",
    "B-airport#role=from#group=1",
    "B-size#group=1",
]


def labels() -> LabelSet:
    return LabelSet(["book"], TAGS)


def test_tags_sharing_a_role_or_group_share_a_class() -> None:
    roles, groups = labels().role_and_group_classes()
    # O and the size have no role; both froms (city and airport) are one class
    assert roles == [0, 1, 1, 2, 2, 1, 0]
    assert groups == [0, 0, 0, 0, 0, 1, 1]
    # a model without roles and groups has nothing to sum
    assert LabelSet(["book"], ["O", "B-city", "I-city"]).role_and_group_classes() is None


def _predict(tag_logits: torch.Tensor, use_crf: bool) -> tuple[list[int], list[TagConfidence]]:
    heads = IntentSlotHeads(4, 1, len(TAGS), use_crf=use_crf,
                            allowed_transitions=bio_transition_mask(TAGS) if use_crf else None)
    batch = {"word_mask": torch.ones(tag_logits.shape[:2], dtype=torch.bool)}

    def forward(model, batch):
        return JointOutput(torch.zeros(1, 1), tag_logits)

    classes = torch.tensor(labels().role_and_group_classes())
    _, paths, confidences = predict_batch(heads, batch, forward, 1, intents_wanted=True,
                                          tags_wanted=True, tag_classes=classes)
    return paths[0], confidences[0]


@pytest.mark.parametrize("use_crf", [False, True], ids=["softmax", "crf"])
def test_role_and_group_confidences_sum_the_tags_that_share_them(use_crf: bool) -> None:
    logits = torch.tensor([[[0.0, 3.0, 1.0, 2.0, 0.5, 1.5, 0.2],
                            [0.1, 0.0, 0.3, 1.0, 0.2, 2.5, 2.4]]])
    probs = logits.softmax(-1)[0]
    roles, groups = labels().role_and_group_classes()
    path, confidences = _predict(logits, use_crf)
    assert len(path) == len(confidences) == 2
    for word, (tag, confidence) in enumerate(zip(path, confidences, strict=True)):
        same_role = [t for t in range(len(TAGS)) if roles[t] == roles[tag]]
        same_group = [t for t in range(len(TAGS)) if groups[t] == groups[tag]]
        assert confidence.tag == pytest.approx(probs[word, tag].item())
        assert confidence.role == pytest.approx(probs[word, same_role].sum().item())
        assert confidence.group == pytest.approx(probs[word, same_group].sum().item())
    if not use_crf:
        assert path == [1, 5]
        # B-city#role=from: its role counts both city "from" tags and the airport
        assert confidences[0].role == pytest.approx(probs[0, [1, 2, 5]].sum().item())
        # B-airport#role=from#group=1: group 1 is the airport and the size
        assert confidences[1].group == pytest.approx(probs[1, [5, 6]].sum().item())
        assert confidences[1].tag < confidences[1].group < 1.0


def test_parse_result_gives_role_and_group_confidences_in_rasas_key_order() -> None:
    text = "from new york at airport one"
    tokens = simple_tokens(text)
    path = [0, 1, 2, 0, 5, 0]
    confidences = [
        TagConfidence(0.9, 0.1, 0.8),
        TagConfidence(0.6, 0.7, 0.9),
        TagConfidence(0.4, 0.5, 0.9),
        TagConfidence(0.9, 0.2, 0.9),
        TagConfidence(0.5, 0.8, 0.6),
        TagConfidence(0.9, 0.3, 0.7),
    ]
    message = Message(text=text, tokens=tokens)
    write_prediction(message, labels(), None, tokens, path, confidences, "X")
    city, airport = (entity.to_dict() for entity in message.entities)
    assert list(city) == ["entity", "start", "end", "confidence_entity", "role",
                          "confidence_role", "value", "extractor"]
    # the lowest of the span's words, as Rasa's extractors give it
    assert city["confidence_role"] == pytest.approx(0.5)
    assert city["confidence_entity"] == pytest.approx(0.4)
    assert list(airport)[3:8] == ["confidence_entity", "role", "confidence_role", "group",
                                  "confidence_group"]
    assert (airport["role"], airport["confidence_role"]) == ("from", 0.8)
    assert (airport["group"], airport["confidence_group"]) == ("1", 0.6)


def test_no_role_or_group_confidence_without_a_role_or_group() -> None:
    text = "a large pizza"
    tokens = simple_tokens(text)
    # a model with roles and groups, and an entity that has only a group
    message = Message(text=text, tokens=tokens)
    write_prediction(message, labels(), None, tokens, [0, 6, 0],
                     [TagConfidence(0.9, 0.9, 0.9)] * 3, "X")
    [size] = [entity.to_dict() for entity in message.entities]
    assert "role" not in size and "confidence_role" not in size
    assert size["confidence_group"] == 0.9
    # without confidences (entities written in the message) there are none to give
    [plain] = entities_from_bio(text, tokens, ["O", "B-size#group=1", "O"])
    assert "confidence_group" not in plain.to_dict() and plain.to_dict()["group"] == "1"


def test_role_and_group_confidences_are_the_lowest_over_the_span() -> None:
    text = "fly to new york"
    [entity] = entities_from_bio(text, simple_tokens(text),
                                 ["O", "O", "B-city#role=to", "I-city#role=to"],
                                 [0.9, 0.9, 0.6, 0.8], role_confidences=[0.1, 0.1, 0.7, 0.9],
                                 group_confidences=[0.5, 0.5, 0.5, 0.5])
    assert entity.role_confidence == pytest.approx(0.7)
    assert entity.confidence == pytest.approx(0.6)
    assert entity.group_confidence is None


def test_entities_read_back_keep_their_role_and_group_confidences() -> None:
    # as a Rasa parse result (or a tracker's user event) holds them
    data = {"entity": "city", "start": 5, "end": 13, "confidence_entity": 0.7, "role": "to",
            "confidence_role": 0.9, "group": "2", "confidence_group": 0.8, "value": "new york",
            "extractor": "DIETClassifier"}
    entity = Entity.from_dict(data)
    assert (entity.role_confidence, entity.group_confidence) == (0.9, 0.8)
    assert entity.extra == {}
    assert entity.to_dict() == data
    # written back in the order Rasa's DIETClassifier writes it
    assert list(entity.to_dict()) == list(data)
