"""ScratchTransformerClassifier: no pretrained weights, small configs, toy data."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from tiny_encoder import assert_cities_past_one_pass_are_tagged, parse, with_entity_regex_features

from dialogflowlite.artifact import ComponentStorage
from dialogflowlite.components.base import NluContext
from dialogflowlite.components.nlu.scratch_transformer import ScratchTransformerClassifier
from dialogflowlite.components.nlu.sequence_labels import LabelSet, write_prediction
from dialogflowlite.components.nlu.word_features import WordNgramVocabulary, char_ngrams
from dialogflowlite.components.tokenizers.alignment import CommaSplitting, simple_tokens
from dialogflowlite.errors import ComponentConfigError
from dialogflowlite.shared.message import Message
from dialogflowlite.shared.training_data import TrainingData, parse_annotated_text

SMALL = {
    "epochs": 60,
    "hidden_size": 32,
    "num_heads": 2,
    "ff_size": 64,
    "learning_rate": 1e-2,
    "batch_size": 8,
    "device": "cpu",
}


@pytest.fixture(scope="module")
def toy() -> TrainingData:
    from tiny_encoder import toy_training_data

    return toy_training_data()


def train(data: TrainingData, **config) -> ScratchTransformerClassifier:
    component = ScratchTransformerClassifier({**SMALL, **config})
    component.train(data, NluContext(progress=False, seed=5))
    return component


@pytest.fixture(scope="module")
def trained(toy: TrainingData) -> ScratchTransformerClassifier:
    return train(toy)


def test_char_ngrams_mark_word_edges() -> None:
    assert char_ngrams("ab", 1, 2) == ["<", "a", "b", ">", "<a", "ab", "b>"]
    vocabulary = WordNgramVocabulary(ngram_min=2, ngram_max=3).build([["Paris", "rome"]])
    assert vocabulary.word_id("paris") == vocabulary.word_id("PARIS") > 1
    # the spelling of a word does not make another one: decomposed accents, full-width
    # letters, a soft hyphen (the classifier read such words as unknown)
    accents = WordNgramVocabulary().build([["café", "Ｂｅｒｌｉｎ"]])
    assert accents.word_id("cafe\u0301") == accents.word_id("café") > 1
    assert accents.word_id("berlin") == accents.word_id("Ber\u00adlin") == \
        accents.word_id("Ｂｅｒｌｉｎ") > 1
    assert vocabulary.word_id("madrid") == 1
    # an unseen word still shares n-grams with a known one
    assert set(vocabulary.ngram_ids("parisian")) & set(vocabulary.ngram_ids("paris"))
    assert vocabulary.ngram_ids("xyz") == [1]
    again = WordNgramVocabulary.from_json(vocabulary.to_json())
    assert again.words == vocabulary.words and again.ngrams == vocabulary.ngrams


def test_a_vocabulary_saved_before_words_had_one_form_finds_them_and_keeps_its_ids() -> None:
    # saved by an earlier version: words lower-cased only, full width and decomposed
    saved = WordNgramVocabulary(ngram_min=2, ngram_max=3).to_json()
    saved["words"] += ["ｉｐｈｏｎｅ", "cafe\u0301"]
    saved["ngrams"] += ["<ｉ", "ｉｐ"]
    loaded = WordNgramVocabulary.from_json(saved)
    # the text it was trained on was unknown once looked up in the new form
    assert loaded.word_id("ｉｐｈｏｎｅ") == loaded.word_id("iphone") == 2
    assert loaded.word_id("café") == 3
    assert set(loaded.ngram_ids("ip")) == {saved["ngrams"].index("<ｉ"),
                                           saved["ngrams"].index("ｉｐ")}
    # the ids index the trained embeddings: saving again keeps them as they were
    assert WordNgramVocabulary.from_json(loaded.to_json()).to_json() == saved


def test_learns_the_toy_data_completely(trained, toy: TrainingData) -> None:
    messages = parse(trained, [m.text for m in toy.examples])
    for gold, predicted in zip(toy.examples, messages, strict=True):
        assert predicted.intent == gold.intent, gold.text
        assert [(e.entity, e.start, e.end) for e in predicted.entities] == [
            (e.entity, e.start, e.end) for e in gold.entities
        ], gold.text
    assert all(e.extractor == "ScratchTransformerClassifier" for m in messages for e in m.entities)
    assert len(messages[0].intent_ranking) == 4


def test_any_script_works(toy: TrainingData) -> None:
    rows = [
        ("weather", "[北京](city)天气"),
        ("weather", "[上海](city)天气"),
        ("travel", "我想去[北京](city)"),
        ("travel", "我想去[上海](city)"),
    ]
    examples = []
    for intent, annotated in rows:
        text, entities = parse_annotated_text(annotated)
        examples.append(Message(text=text, intent=intent, entities=entities))
    component = train(TrainingData(examples=examples), epochs=80)
    [message] = parse(component, ["我想去北京"])
    assert message.intent == "travel"
    assert [(e.entity, e.value) for e in message.entities] == [("city", "北京")]


def test_same_seed_gives_identical_weights(toy: TrainingData) -> None:
    first = train(toy, epochs=3).model.state_dict()
    second = train(toy, epochs=3).model.state_dict()
    assert all(torch.equal(first[k], second[k]) for k in first)


def test_round_trip(tmp_path: Path, trained) -> None:
    storage = ComponentStorage(tmp_path / "stored")
    trained.persist(storage)
    assert {p.name for p in storage.root.iterdir()} == {
        "model.safetensors",
        "labels.json",
        "vocabulary.json",
    }
    loaded = ScratchTransformerClassifier.load(trained.config, storage)
    texts = ["hi there", "book a flight to lisbon tomorrow", "will it rain in paris"]
    a, b = parse(trained, texts), parse(loaded, texts)
    for x, y in zip(a, b, strict=True):
        assert x.intent == y.intent
        assert [p.confidence for p in x.intent_ranking] == pytest.approx(
            [p.confidence for p in y.intent_ranking], abs=1e-6
        )
        assert [(e.start, e.end, e.entity) for e in x.entities] == [
            (e.start, e.end, e.entity) for e in y.entities
        ]
        # without a pretrained tokenizer, only the training words (and numbers) are known
        assert x.features["known_words"] == y.features["known_words"]
    assert loaded.training_words == trained.training_words and "paris" in loaded.training_words
    [message] = parse(loaded, ["hi lisbon 7"])
    assert message.features["known_words"] == {"known": 2, "words": 3}


def test_without_crf_and_with_regex_features(toy: TrainingData) -> None:
    examples = with_entity_regex_features(toy, ["city"])
    component = train(TrainingData(examples=examples), use_crf=False)
    assert component.model.heads.crf is None
    assert component.model.config.num_token_features == 1
    [message] = parse(component, ["book a flight to paris"])
    assert message.intent == "book_flight"


def test_bilou_tags_without_crf(toy: TrainingData) -> None:
    component = train(toy, use_crf=False, tag_scheme="bilou")
    [message] = parse(component, ["book a flight to new york"])
    assert message.intent == "book_flight"
    assert [(e.entity, e.value) for e in message.entities] == [("city", "new york")]


def test_bad_config() -> None:
    with pytest.raises(ComponentConfigError, match="tag_scheme"):
        ScratchTransformerClassifier({"tag_scheme": "BIO"})
    with pytest.raises(ComponentConfigError, match="num_heads"):
        ScratchTransformerClassifier({"hidden_size": 30, "num_heads": 4})
    with pytest.raises(ComponentConfigError, match="ngram_min"):
        ScratchTransformerClassifier({"ngram_min": 5, "ngram_max": 3})
    with pytest.raises(ComponentConfigError, match="conv_kernel"):
        ScratchTransformerClassifier({"conv_kernel": 2})
    for bad in ("maybe", {"address": "no"}, None, ["address"]):
        with pytest.raises(ComponentConfigError, match="split_entities_by_comma"):
            ScratchTransformerClassifier({"split_entities_by_comma": bad})


def test_split_entities_by_comma_reaches_the_entity_decoding() -> None:
    # Rasa's setting: a bool for every type, or some types with the others split
    assert ScratchTransformerClassifier({})._comma_splitting == CommaSplitting(True)
    per_type = ScratchTransformerClassifier({"split_entities_by_comma": {"address": False}})
    assert per_type._comma_splitting == CommaSplitting(True, {"address": False})
    text = "to Berlin, Germany"
    tokens = simple_tokens(text)
    labels = LabelSet(["inform"], ["O", "B-address", "I-address"])
    for splitting, values in ((per_type._comma_splitting, ["Berlin, Germany"]),
                              (CommaSplitting(True), ["Berlin", "Germany"])):
        message = Message(text, tokens=tokens)
        write_prediction(message, labels, None, tokens, [0, 1, 2, 2], None, "X",
                         comma_splitting=splitting)
        assert [e.value for e in message.entities] == values
    with pytest.raises(ComponentConfigError, match="epochs"):
        ScratchTransformerClassifier({"epochs": 0})


def test_words_beyond_max_length_are_tagged_in_further_passes(trained) -> None:
    # 159 words: past the 128 of one pass, so the cities at the end were lost
    assert_cities_past_one_pass_are_tagged(trained, pleases=150)


def test_a_window_keeps_offsets_and_regex_features() -> None:
    from dialogflowlite.components.nlu.intent_slot_classifier import message_window

    text = "fly to new york now"
    message = Message(text=text, tokens=simple_tokens(text))
    message.features["regex"] = {"names": ["city"], "token": [[0], [0], [1], [1], [0]],
                                 "sentence": [1]}
    window = message_window(message, message.tokens, 2)
    assert window.text == "new york now"
    assert [(t.text, t.start, t.end) for t in window.tokens] == [
        ("new", 0, 3), ("york", 4, 8), ("now", 9, 12)
    ]
    assert window.features["regex"]["token"] == [[1], [1], [0]]
    assert window.features["regex"]["sentence"] == [1]


def test_a_message_without_words_gets_no_prediction(trained) -> None:
    # a zero-width space is no white space to a regex's `\s`: it was read as a word, and
    # classified (the docs promise such a message no prediction)
    messages = parse(trained, ["", " \t\n", "\u200b", "\u200b\u2060 \u200d",
                               "book a flight to rome"])
    for message in messages[:4]:
        assert (message.intent, message.intent_ranking, message.entities) == (None, [], [])
    assert messages[4].intent == "book_flight"
