"""ResponseSelector: retrieval intents, Rasa's output shape, both encoders, round trips."""

from __future__ import annotations

from pathlib import Path

import pytest

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


def parse(component: ResponseSelector, texts: list[str]) -> list[Message]:
    messages = [Message(text=t, tokens=simple_tokens(t)) for t in texts]
    component.process(messages)
    return messages


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


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from tiny_encoder import build_tiny_encoder

    return build_tiny_encoder(tmp_path_factory.mktemp("encoder") / "tiny-bert")


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
