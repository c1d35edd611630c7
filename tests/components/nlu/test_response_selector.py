"""ResponseSelector: retrieval intents, Rasa's output shape, both encoders, round trips."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from tiny_encoder import parse

from dialogflowlite.artifact import ComponentStorage
from dialogflowlite.components.base import NluContext
from dialogflowlite.components.nlu.response_selector import ResponseSelector
from dialogflowlite.components.tokenizers.alignment import simple_tokens
from dialogflowlite.shared.domain import Domain, ResponseDef
from dialogflowlite.shared.message import Message
from dialogflowlite.shared.training_data import TrainingData

ROWS = [
    ("faq/ask_price", "how much does it cost"),
    ("faq/ask_price", "what is the price"),
    ("faq/ask_price", "how much is a ticket"),
    ("faq/ask_price", "price please"),
    ("faq/ask_hours", "when are you open"),
    ("faq/ask_hours", "what are your opening hours"),
    ("faq/ask_hours", "are you open on monday"),
    ("faq/ask_hours", "when do you close"),
    ("chitchat/ask_name", "what is your name"),
    ("chitchat/ask_name", "who are you"),
    ("chitchat/ask_name", "tell me your name"),
    ("greet", "hello"),
    ("greet", "hi there"),
]
DOMAIN = Domain(
    responses={
        "utter_faq/ask_price": ResponseDef(
            "utter_faq/ask_price", [{"text": "A ticket costs 5 euros."}]
        ),
        "utter_faq/ask_hours": ResponseDef(
            "utter_faq/ask_hours", [{"text": "From 9 to 5."}, {"text": "9am to 5pm."}]
        ),
    }
)
SMALL = {
    "epochs": 60,
    "hidden_size": 32,
    "num_heads": 2,
    "ff_size": 64,
    "head_size": 32,
    "learning_rate": 1e-2,
    "batch_size": 8,
    "device": "cpu",
}


@pytest.fixture(scope="module")
def data() -> TrainingData:
    return TrainingData(
        examples=[Message(text=t, intent=i, tokens=simple_tokens(t)) for i, t in ROWS]
    )


@pytest.fixture(scope="module")
def scratch(data: TrainingData) -> ResponseSelector:
    component = ResponseSelector(SMALL)
    component.train(data, NluContext(progress=False, domain=DOMAIN))
    return component


def test_output_has_rasas_shape(scratch: ResponseSelector) -> None:
    [message] = parse(scratch, ["how much does it cost"])
    selector = message.parse_result()["response_selector"]
    assert selector["all_retrieval_intents"] == ["chitchat", "faq"]
    response = selector["default"]["response"]
    assert response == {
        "responses": [{"text": "A ticket costs 5 euros."}],
        "confidence": pytest.approx(response["confidence"]),
        "intent_response_key": "faq/ask_price",
        "utter_action": "utter_faq/ask_price",
        "template_name": "utter_faq/ask_price",
    }
    ranking = selector["default"]["ranking"]
    assert [set(r) for r in ranking] == [{"confidence", "intent_response_key"}] * 3
    assert ranking[0]["confidence"] == response["confidence"]
    assert sum(r["confidence"] for r in ranking) == pytest.approx(1.0)


def test_learns_every_key_and_responses_may_be_missing(scratch, data) -> None:
    retrieval = [m for m in data.examples if "/" in (m.intent or "")]
    messages = parse(scratch, [m.text for m in retrieval])
    keys = [m.response_selector["default"]["response"]["intent_response_key"] for m in messages]
    assert keys == [m.intent for m in retrieval]
    name = parse(scratch, ["what is your name"])[0].response_selector["default"]["response"]
    assert name["intent_response_key"] == "chitchat/ask_name"
    assert name["responses"] is None  # the domain has no utter_chitchat/ask_name


def test_one_retrieval_intent_under_its_own_key(data: TrainingData) -> None:
    component = ResponseSelector({**SMALL, "retrieval_intent": "faq", "ranking_length": 1})
    component.train(data, NluContext(progress=False, domain=DOMAIN))
    assert component.keys == ["faq/ask_hours", "faq/ask_price"]
    message = Message(text="when are you open", tokens=simple_tokens("when are you open"))
    message.response_selector = {"all_retrieval_intents": ["chitchat"], "chitchat": {"x": 1}}
    component.process([message])
    selector = message.response_selector
    assert selector["all_retrieval_intents"] == ["chitchat", "faq"]
    assert selector["chitchat"] == {"x": 1}
    assert selector["faq"]["response"]["intent_response_key"] == "faq/ask_hours"
    assert len(selector["faq"]["ranking"]) == 1


def test_a_selector_of_one_intent_lists_every_retrieval_intent_as_rasa_does(
        tmp_path: Path, data: TrainingData) -> None:
    component = ResponseSelector({**SMALL, "retrieval_intent": "faq"})
    component.train(data, NluContext(progress=False, domain=DOMAIN))
    storage = ComponentStorage(tmp_path / "stored")
    component.persist(storage)
    for selector in (component, ResponseSelector.load(component.config, storage)):
        message = Message(text="when are you open", tokens=simple_tokens("when are you open"))
        selector.process([message])
        # it listed only faq, the one it learnt; chitchat is a retrieval intent too
        assert message.response_selector["all_retrieval_intents"] == ["chitchat", "faq"]
        assert selector.retrieval_intents == ["faq"]


def test_a_retrieval_intent_the_data_lacks_is_a_warning_naming_the_close_one(
        data: TrainingData, caplog: pytest.LogCaptureFixture) -> None:
    component = ResponseSelector({**SMALL, "retrieval_intent": "faqs"})
    with caplog.at_level("WARNING"):
        component.train(data, NluContext(progress=False, domain=DOMAIN))
    assert component.keys == []
    assert ("setting 'retrieval_intent' is 'faqs', but the data's retrieval intents are "
            "chitchat, faq; this selector learns nothing and answers no message "
            "(did you mean 'faq'?)") in caplog.text
    # a project without retrieval intents at all is not warned about
    caplog.clear()
    plain = TrainingData(examples=[Message(text="hi", intent="greet")])
    with caplog.at_level("WARNING"):
        ResponseSelector({**SMALL, "retrieval_intent": "faq"}).train(
            plain, NluContext(progress=False))
    assert "retrieval_intent" not in caplog.text


def test_skip_other_intents_selects_only_for_retrieval_intents(data: TrainingData) -> None:
    component = ResponseSelector({**SMALL, "skip_other_intents": True})
    component.train(data, NluContext(progress=False, domain=DOMAIN))
    seen: list[int] = []
    forward = component.model.forward

    def counting(**inputs):
        scores = forward(**inputs)
        seen.append(scores.shape[0])
        return scores

    component.model.forward = counting
    texts = ["how much does it cost", "hello", "what is your name", "when are you open"]
    messages = [Message(text=t, tokens=simple_tokens(t)) for t in texts]
    for message, intent in zip(messages, ["faq", "greet", "chitchat", None], strict=True):
        message.intent = intent
    component.process(messages)
    assert seen == [3]  # one batch: the greeting never reached the model
    price, greeting, name, hours = (m.response_selector for m in messages)
    assert price["default"]["response"]["intent_response_key"] == "faq/ask_price"
    assert name["default"]["response"]["intent_response_key"] == "chitchat/ask_name"
    # no intent predicted yet (no classifier before the selector): it selects
    assert hours["default"]["response"]["intent_response_key"] == "faq/ask_hours"
    assert greeting["all_retrieval_intents"] == ["chitchat", "faq"]
    assert greeting["default"]["response"]["intent_response_key"] is None
    assert greeting["default"]["ranking"] == []


def test_a_message_without_words_gets_no_selection(scratch: ResponseSelector) -> None:
    # as in Rasa: nothing to select for, so the empty selection (not an answer made up)
    empty, blank, price = parse(scratch, ["", " \t", "how much does it cost"])
    for message in (empty, blank):
        response = message.response_selector["default"]["response"]
        assert response["intent_response_key"] is None
        assert response["utter_action"] == "utter_None"
        assert message.response_selector["default"]["ranking"] == []
        assert message.response_selector["all_retrieval_intents"] == ["chitchat", "faq"]
    assert price.response_selector["default"]["response"]["intent_response_key"] == (
        "faq/ask_price"
    )


def test_without_retrieval_intents_it_reports_nothing_selected(tmp_path: Path) -> None:
    plain = TrainingData(examples=[Message(text="hi", intent="greet")])
    component = ResponseSelector(SMALL)
    component.train(plain, NluContext(progress=False))
    [message] = parse(component, ["hello"])
    assert message.response_selector["default"]["response"]["utter_action"] == "utter_None"
    storage = ComponentStorage(tmp_path / "stored")
    component.persist(storage)
    loaded = ResponseSelector.load(component.config, storage)
    assert parse(loaded, ["hello"])[0].response_selector == message.response_selector


def test_scratch_round_trip(tmp_path: Path, scratch: ResponseSelector) -> None:
    storage = ComponentStorage(tmp_path / "stored")
    scratch.persist(storage)
    loaded = ResponseSelector.load(scratch.config, storage)
    texts = ["how much is it", "open on sunday?", "your name?"]
    assert [m.response_selector for m in parse(loaded, texts)] == [
        m.response_selector for m in parse(scratch, texts)
    ]


def test_scratch_quantized_load_selects_the_same_answers(
    tmp_path: Path, scratch: ResponseSelector
) -> None:
    # `run --quantize` loads every NLU model with int8 weights, the scratch encoder included.
    storage = ComponentStorage(tmp_path / "stored")
    scratch.persist(storage)
    quantized = ResponseSelector.load(scratch.config, storage, quantize=True)
    texts = ["how much is it", "open on sunday?", "your name?"]
    keys = [
        m.response_selector["default"]["response"]["intent_response_key"]
        for m in parse(quantized, texts)
    ]
    assert keys == [
        m.response_selector["default"]["response"]["intent_response_key"]
        for m in parse(scratch, texts)
    ]


@pytest.mark.parametrize("fine_tune", [False, True])
def test_pretrained_encoder(tmp_path: Path, tiny_model: Path, data, fine_tune: bool) -> None:
    config = {
        "model": str(tiny_model),
        "fine_tune": fine_tune,
        "epochs": 80,
        "learning_rate": 1e-2 if not fine_tune else 3e-3,
        "head_size": 64,
        "device": "cpu",
    }
    component = ResponseSelector(config)
    component.train(data, NluContext(progress=False, domain=DOMAIN))
    retrieval = [m for m in data.examples if "/" in (m.intent or "")]
    messages = parse(component, [m.text for m in retrieval])
    keys = [m.response_selector["default"]["response"]["intent_response_key"] for m in messages]
    assert sum(k == m.intent for k, m in zip(keys, retrieval, strict=True)) >= len(retrieval) - 1
    storage = ComponentStorage(tmp_path / "stored")
    component.persist(storage)
    loaded = ResponseSelector.load(component.config, storage)
    again = [m.response_selector for m in parse(loaded, [m.text for m in retrieval])]
    assert again == [m.response_selector for m in messages]
    quantized = ResponseSelector.load(component.config, storage, quantize=True)
    assert parse(quantized, ["what is the price"])[0].response_selector["default"]["ranking"]


@pytest.fixture(scope="module")
def stored_pretrained(tmp_path_factory: pytest.TempPathFactory, tiny_model: Path,
                      data: TrainingData) -> tuple[ResponseSelector, ComponentStorage]:
    component = ResponseSelector({"model": str(tiny_model), "epochs": 40, "head_size": 32,
                                  "learning_rate": 1e-2, "device": "cpu"})
    component.train(data, NluContext(progress=False, domain=DOMAIN))
    storage = ComponentStorage(tmp_path_factory.mktemp("selector"))
    component.persist(storage)
    return component, storage


def test_a_local_bert_folder_trains_through_the_lean_encoder(stored_pretrained) -> None:
    from dialogflowlite.models.fast_bert import LeanBert

    component, _ = stored_pretrained
    assert isinstance(component.model.encoder, LeanBert)


def test_pieces_are_the_tokenizers_own_and_cut_at_max_length(tiny_model: Path) -> None:
    from transformers import AutoTokenizer

    component = ResponseSelector({"model": str(tiny_model), "max_length": 6})
    component.tokenizer = AutoTokenizer.from_pretrained(str(tiny_model))
    texts = ["what is the price", "how much does it cost to open on monday"]
    items = component._items([Message(text=t) for t in texts], with_labels=False)
    expected = component.tokenizer(texts, truncation=True, max_length=6)["input_ids"]
    assert [item.input_ids for item in items] == expected
    assert len(items[1].input_ids) == 6
    assert items[1].input_ids[-1] == component.tokenizer.sep_token_id


def test_loaded_for_parsing_it_runs_the_fast_encoder_and_selects_the_same(
    stored_pretrained, data: TrainingData
) -> None:
    from dialogflowlite.models.fast_bert import FastBertEncoder

    component, storage = stored_pretrained
    texts = [m.text for m in data.examples]
    fast = ResponseSelector.load(component.config, storage)
    plain = ResponseSelector.load({**component.config, "fast_inference": False}, storage)
    assert isinstance(fast.model.encoder, FastBertEncoder)
    assert not isinstance(plain.model.encoder, FastBertEncoder)
    for trained, a, b in zip(parse(component, texts), parse(fast, texts), parse(plain, texts),
                             strict=True):
        expected = trained.response_selector["default"]["response"]
        for other in (a, b):
            got = other.response_selector["default"]["response"]
            assert got["intent_response_key"] == expected["intent_response_key"]
            assert got["confidence"] == pytest.approx(expected["confidence"], abs=1e-5)


def test_a_selector_loaded_for_parsing_cannot_be_saved_again(stored_pretrained,
                                                             tmp_path: Path) -> None:
    from dialogflowlite.errors import TrainingError

    component, storage = stored_pretrained
    loaded = ResponseSelector.load(component.config, storage)
    with pytest.raises(TrainingError, match="cannot be saved again"):
        loaded.persist(ComponentStorage(tmp_path / "again"))


def test_training_from_a_folder_and_parsing_do_not_import_transformers(
    tiny_model: Path, tmp_path: Path
) -> None:
    # A project whose selector reads a local BERT folder trains and serves
    # without `transformers`: both start seconds sooner and hold less.
    script = textwrap.dedent(
        """
        import json, sys
        from dialogflowlite.artifact import ComponentStorage
        from dialogflowlite.components.base import NluContext
        from dialogflowlite.components.nlu.response_selector import ResponseSelector
        from dialogflowlite.components.tokenizers.alignment import simple_tokens
        from dialogflowlite.shared.message import Message
        from dialogflowlite.shared.training_data import TrainingData

        config, folder = json.loads(sys.argv[1]), sys.argv[2]
        rows = [("faq/ask_price", "what is the price"), ("faq/ask_price", "how much is it"),
                ("faq/ask_hours", "when are you open"), ("faq/ask_hours", "opening hours")]
        data = TrainingData(examples=[Message(text=t, intent=i, tokens=simple_tokens(t))
                                      for i, t in rows])
        component = ResponseSelector(config)
        component.train(data, NluContext(progress=False))
        component.persist(ComponentStorage(folder))
        loaded = ResponseSelector.load(config, ComponentStorage(folder))
        message = Message(text="what is the price", tokens=simple_tokens("what is the price"))
        loaded.process([message])
        print(message.response_selector["default"]["response"]["intent_response_key"])
        print(sorted(m for m in sys.modules if m.split(".")[0] == "transformers"))
        """
    )
    config = {"model": str(tiny_model), "epochs": 60, "head_size": 32, "learning_rate": 1e-2,
              "device": "cpu"}
    result = subprocess.run(
        [sys.executable, "-c", script, json.dumps(config), str(tmp_path / "stored")],
        capture_output=True, text=True, check=True,
    )
    key, modules = result.stdout.strip().splitlines()[-2:]
    assert key == "faq/ask_price"
    assert modules == "[]"


def test_loaded_beside_a_classifier_on_the_same_encoder_it_holds_the_frozen_weights_once(
    stored_pretrained, tiny_model: Path, data: TrainingData, tmp_path: Path, monkeypatch
) -> None:
    from dialogflowlite.components.nlu.joint_transformer import JointTransformerClassifier
    from dialogflowlite.models import weight_sharing

    monkeypatch.setattr(weight_sharing, "MIN_SHARED_BYTES", 0)  # the tiny encoder is small
    selector, selector_storage = stored_pretrained
    classifier = JointTransformerClassifier({"model": str(tiny_model), "epochs": 3,
                                             "freeze_embeddings": True, "device": "cpu"})
    classifier.train(data, NluContext(progress=False, seed=3))
    classifier_storage = ComponentStorage(tmp_path / "classifier")
    classifier.persist(classifier_storage)

    loaded_classifier = JointTransformerClassifier.load(classifier.config, classifier_storage)
    loaded_selector = ResponseSelector.load(selector.config, selector_storage)
    table = loaded_selector.model.encoder.word_embeddings.weight
    assert table is loaded_classifier.model.encoder.word_embeddings.weight
    # the classifier fine-tuned its layers: those stay its own
    assert (loaded_selector.model.encoder.layers[1].qkv.weight
            is not loaded_classifier.model.encoder.layers[1].qkv.weight)
    texts = [m.text for m in data.examples]
    alone = ResponseSelector.load({**selector.config, "fast_inference": False}, selector_storage)
    for shared, own in zip(parse(loaded_selector, texts), parse(alone, texts), strict=True):
        got, expected = (m.response_selector["default"]["response"] for m in (shared, own))
        assert got["intent_response_key"] == expected["intent_response_key"]
        assert got["confidence"] == pytest.approx(expected["confidence"], abs=1e-5)


# ---------------------------------------------------------------- long messages

LONG = "how much does it cost " + "please " * 700


def test_max_length_past_the_encoders_positions_is_refused(tiny_model: Path, data) -> None:
    from dialogflowlite.errors import ComponentConfigError

    component = ResponseSelector({"model": str(tiny_model), "epochs": 1, "max_length": 200,
                                  "device": "cpu"})
    # the tiny encoder has 128 positions: a 200-piece pass would fail parsing a long message
    with pytest.raises(ComponentConfigError, match="max_length 200 is more than the 128") as info:
        component.train(data, NluContext(progress=False, domain=DOMAIN))
    assert "set max_length to 128 or less" in str(info.value.hint)


@pytest.mark.parametrize("fast_inference", [True, False])
def test_a_stored_selector_reads_no_more_than_its_encoders_positions(
    stored_pretrained, fast_inference: bool, caplog: pytest.LogCaptureFixture
) -> None:
    component, storage = stored_pretrained
    config = {**component.config, "max_length": 2000, "fast_inference": fast_inference}
    with caplog.at_level("WARNING"):
        loaded = ResponseSelector.load(config, storage)
    assert "max_length 2000 is more than the 128 word pieces" in caplog.text
    assert loaded.config["max_length"] == 128
    [message] = parse(loaded, [LONG])
    assert message.response_selector["default"]["response"]["intent_response_key"] in (
        component.keys
    )


def test_the_scratch_encoder_reads_a_message_past_max_length(scratch: ResponseSelector) -> None:
    # its positions are max_length + 1 (the CLS): the words after max_length are not read
    [message] = parse(scratch, [LONG])
    assert message.response_selector["default"]["response"]["intent_response_key"] in (
        scratch.keys
    )
