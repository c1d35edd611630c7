"""restrict_entities_to_intent: a message's tags come from its predicted intent's entities."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from dialogflowlite.artifact import ComponentStorage
from dialogflowlite.components.base import NluContext
from dialogflowlite.components.nlu.scratch_transformer import ScratchTransformerClassifier
from dialogflowlite.components.nlu.sequence_labels import LabelSet, predict_batch
from dialogflowlite.components.tokenizers.alignment import simple_tokens
from dialogflowlite.models.crf import bio_transition_mask
from dialogflowlite.models.intent_slot_heads import IntentSlotHeads, JointOutput, restrict_tags
from dialogflowlite.shared.message import Message

TAGS = ["O", "B-city", "I-city", "B-date", "I-date"]
INTENTS = ["book", "greet", "weather"]
#: book carries cities and dates, greet nothing, weather only dates
BY_INTENT = {"book": ["city", "date"], "greet": [], "weather": ["date"]}


def labels() -> LabelSet:
    return LabelSet(INTENTS, TAGS, BY_INTENT)


def test_training_examples_record_the_entities_of_each_intent() -> None:
    from tiny_encoder import toy_training_data

    found = LabelSet.from_examples(toy_training_data().examples, "test")
    assert found.entities_by_intent == {
        "book_flight": ["city", "date"],
        "goodbye": [],
        "greet": [],
        "weather": ["city", "date"],
    }
    again = LabelSet.from_json(found.to_json())
    assert again == found
    # models saved before the entities of each intent were recorded
    old = LabelSet.from_json({"intents": found.intents, "tags": found.tags})
    assert old.entities_by_intent is None and old.tags_by_intent() is None


def test_the_mask_allows_outside_and_the_intents_own_entities() -> None:
    rows = labels().tags_by_intent()
    assert rows == [
        [True, True, True, True, True],
        [True, False, False, False, False],
        [True, False, False, True, True],
    ]


def _output(intent: int) -> JointOutput:
    # two words, both scored as a city first, a date second
    tag_logits = torch.tensor([[[0.0, 5.0, 1.0, 3.0, 0.5], [0.0, 1.0, 5.0, 0.5, 3.0]]])
    intent_logits = torch.full((1, len(INTENTS)), -1.0)
    intent_logits[0, intent] = 2.0
    return JointOutput(intent_logits, tag_logits)


@pytest.mark.parametrize(
    ("intent", "expected"),
    [(0, [1, 2]), (1, [0, 0]), (2, [3, 4])],
    ids=["book keeps the city", "greet tags nothing", "weather falls back to the date"],
)
def test_restricted_tags_follow_the_predicted_intent(intent: int, expected: list[int]) -> None:
    mask = torch.tensor(labels().tags_by_intent())
    restricted = restrict_tags(_output(intent), mask)
    assert restricted.tag_logits.argmax(-1).tolist() == [expected]
    assert torch.equal(restricted.intent_logits, _output(intent).intent_logits)


@pytest.mark.parametrize("use_crf", [False, True], ids=["softmax", "crf"])
def test_predict_batch_decodes_among_the_allowed_tags(use_crf: bool) -> None:
    heads = IntentSlotHeads(4, len(INTENTS), len(TAGS), use_crf=use_crf,
                            allowed_transitions=bio_transition_mask(TAGS) if use_crf else None)
    mask = torch.tensor(labels().tags_by_intent())
    batch = {"word_mask": torch.tensor([[True, True]])}

    def forward(model, batch):
        return _output(2)

    _, free, _ = predict_batch(heads, batch, forward, 1, intents_wanted=True, tags_wanted=True)
    _, kept, confidences = predict_batch(heads, batch, forward, 1, intents_wanted=True,
                                         tags_wanted=True, tags_by_intent=mask)
    assert free == [[1, 2]]
    assert kept == [[3, 4]]
    assert all(0.0 < c.tag <= 1.0 and c.role is None for c in confidences[0])
    # without the intent there is nothing to restrict by
    _, unknown, _ = predict_batch(heads, batch, forward, 1, intents_wanted=False,
                                  tags_wanted=True, tags_by_intent=mask)
    assert unknown == [[1, 2]]


def _parse(component, texts: list[str]) -> list[Message]:
    messages = [Message(text=t, tokens=simple_tokens(t)) for t in texts]
    component.process(messages)
    return messages


def test_a_trained_classifier_keeps_the_restriction_after_loading(tmp_path: Path) -> None:
    from tiny_encoder import toy_training_data

    rows = [
        ("greet", "hello"), ("greet", "hi there"), ("greet", "good morning"), ("greet", "hey"),
        ("book", "book [paris](city) [today](date)"), ("book", "book [rome](city)"),
        ("book", "a flight to [london](city) [monday](date)"), ("book", "fly to [oslo](city)"),
        ("weather", "rain [today](date)"), ("weather", "weather [monday](date)"),
        ("weather", "is it sunny [tomorrow](date)"), ("weather", "forecast for [friday](date)"),
    ]
    config = {"epochs": 40, "hidden_size": 32, "num_heads": 2, "ff_size": 64,
              "learning_rate": 1e-2, "batch_size": 4, "device": "cpu",
              "restrict_entities_to_intent": True}
    component = ScratchTransformerClassifier(config)
    component.train(toy_training_data(rows), NluContext(progress=False, seed=3))
    storage = ComponentStorage(tmp_path)
    component.persist(storage)
    loaded = ScratchTransformerClassifier.load(component.config, storage)
    assert loaded.labels.entities_by_intent == BY_INTENT

    texts = ["book paris today", "hello paris", "weather in rome today", "hi monday",
             "fly to oslo", "rain in london tomorrow"]
    for message in _parse(loaded, texts):
        allowed = set(BY_INTENT[message.intent])
        assert {e.entity for e in message.entities} <= allowed, message.text
    booked = _parse(loaded, ["book paris today"])[0]
    assert booked.intent == "book"
    assert [(e.entity, e.value) for e in booked.entities] == [("city", "paris"),
                                                              ("date", "today")]


def test_the_windows_of_a_long_message_are_tagged_for_its_intent() -> None:
    from tiny_encoder import toy_training_data

    rows = [
        ("greet", "hello"), ("greet", "hi there"), ("greet", "good morning"), ("greet", "hey"),
        ("book", "book [paris](city) [today](date)"), ("book", "book [rome](city)"),
        ("weather", "rain [today](date)"), ("weather", "weather [monday](date)"),
    ]
    config = {"epochs": 30, "hidden_size": 32, "num_heads": 2, "ff_size": 64,
              "learning_rate": 1e-2, "batch_size": 4, "device": "cpu",
              "restrict_entities_to_intent": True}
    component = ScratchTransformerClassifier(config)
    component.train(toy_training_data(rows), NluContext(progress=False, seed=3))
    items = component._encode([Message("book paris today", tokens=simple_tokens(
        "book paris today"))], with_labels=False)
    greet = component.labels.intents.index("greet")
    # for the intent given, whatever the window itself looks like: greet allows no tag
    _, paths, _ = component._predict(items, intent=greet)
    assert paths == [[0, 0, 0]]
    # a message cut into passes of two words: the rest is tagged for "greet" too
    component.config["max_length"] = 2
    [message] = _parse(component, ["hello there book paris today"])
    assert message.intent == "greet"
    assert message.entities == []
