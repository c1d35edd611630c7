"""JointTransformerClassifier with a tiny BERT in a temporary folder as ``model:``."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch
from tiny_encoder import assert_cities_past_one_pass_are_tagged, parse, with_entity_regex_features

from dialogflowlite.artifact import ComponentStorage
from dialogflowlite.components.base import NluContext
from dialogflowlite.components.nlu.joint_transformer import JointTransformerClassifier
from dialogflowlite.components.tokenizers.alignment import simple_tokens
from dialogflowlite.errors import ComponentConfigError, ModelSourceError, TrainingError
from dialogflowlite.shared.message import Message
from dialogflowlite.shared.training_data import TrainingData, parse_annotated_text

TINY = {
    "epochs": 40,
    "learning_rate": 3e-3,
    "batch_size": 8,
    "freeze_embeddings": False,
    "head_learning_rate_factor": 1.0,
    "device": "cpu",
}


@pytest.fixture(scope="module")
def toy():
    from tiny_encoder import toy_training_data

    return toy_training_data()


def train(model_dir: Path, data: TrainingData, **config) -> JointTransformerClassifier:
    component = JointTransformerClassifier({"model": str(model_dir), **TINY, **config})
    component.train(data, NluContext(progress=False, seed=3))
    return component


def assert_same_predictions(first: list[Message], second: list[Message]) -> None:
    for a, b in zip(first, second, strict=True):
        assert a.intent == b.intent
        assert [p.name for p in a.intent_ranking] == [p.name for p in b.intent_ranking]
        assert [p.confidence for p in a.intent_ranking] == pytest.approx(
            [p.confidence for p in b.intent_ranking], abs=1e-5
        )
        assert [(e.entity, e.start, e.end, e.value) for e in a.entities] == [
            (e.entity, e.start, e.end, e.value) for e in b.entities
        ]
        assert [e.confidence for e in a.entities] == pytest.approx(
            [e.confidence for e in b.entities], abs=1e-5
        )


@pytest.fixture(scope="module")
def trained(tiny_model: Path, toy) -> JointTransformerClassifier:
    return train(tiny_model, toy)


def test_learns_the_toy_data_completely(trained: JointTransformerClassifier, toy) -> None:
    messages = parse(trained, [m.text for m in toy.examples])
    for gold, predicted in zip(toy.examples, messages, strict=True):
        assert predicted.intent == gold.intent
        assert [(e.entity, e.start, e.end, e.value) for e in predicted.entities] == [
            (e.entity, e.start, e.end, e.value) for e in gold.entities
        ]
        assert all(e.extractor == "JointTransformerClassifier" for e in predicted.entities)
        assert all(0 < e.confidence <= 1 for e in predicted.entities)
    ranking = messages[0].intent_ranking
    assert len(ranking) == 4 and sum(p.confidence for p in ranking) == pytest.approx(1.0)
    assert messages[0].confidence == ranking[0].confidence


def test_parse_result_has_rasas_shape(trained: JointTransformerClassifier) -> None:
    [message] = parse(trained, ["book a flight to paris"])
    result = message.parse_result()
    assert result["intent"]["name"] == "book_flight"
    [entity] = result["entities"]
    assert entity["confidence_entity"] > 0.5
    assert entity["extractor"] == "JointTransformerClassifier"
    assert {"entity", "start", "end", "value"} <= set(entity)
    # the training data has no roles or groups, so (as in Rasa) neither key is there
    assert "role" not in entity and "group" not in entity
    # no processor changed it, so (as in Rasa) it has no ``processors`` key
    assert "processors" not in entity


def test_batched_and_single_predictions_agree(trained: JointTransformerClassifier) -> None:
    texts = [
        "hello",
        "weather in new york today",
        "book a flight from london to rome",
        "see you later",
    ]
    batched = parse(trained, texts)
    single = [parse(trained, [t])[0] for t in texts]
    assert [m.intent for m in batched] == [m.intent for m in single]
    for a, b in zip(batched, single, strict=True):
        assert [p.confidence for p in a.intent_ranking] == pytest.approx(
            [p.confidence for p in b.intent_ranking], abs=1e-5
        )
        assert [(e.start, e.end) for e in a.entities] == [(e.start, e.end) for e in b.entities]


def test_same_seed_gives_identical_weights(tiny_model: Path, toy) -> None:
    first = train(tiny_model, toy, epochs=3).model.state_dict()
    second = train(tiny_model, toy, epochs=3).model.state_dict()
    assert first.keys() == second.keys()
    assert all(torch.equal(first[k], second[k]) for k in first)
    other = JointTransformerClassifier(
        {"model": str(tiny_model), **TINY, "epochs": 3, "random_seed": 99}
    )
    other.train(toy, NluContext(progress=False, seed=3))
    assert not all(torch.equal(first[k], v) for k, v in other.model.state_dict().items())


@pytest.mark.parametrize("fast_training", [True, False])
def test_round_trip_without_the_original_folder(
    tmp_path: Path, tiny_model: Path, toy, fast_training: bool
) -> None:
    source = tmp_path / "copy-of-model"
    shutil.copytree(tiny_model, source)
    component = train(source, toy, epochs=15, fast_training=fast_training)
    # trained through LeanBert's pass, or through the transformers model's own
    assert type(component.model.encoder).__name__ == ("LeanBert" if fast_training
                                                       else "BertModel")
    storage = ComponentStorage(tmp_path / "stored")
    component.persist(storage)
    shutil.rmtree(source)
    files = {p.name for p in storage.root.rglob("*") if p.is_file()}
    assert "model.safetensors" in files and "labels.json" in files
    assert all(
        p.suffix in {".json", ".safetensors", ".txt"}
        for p in storage.root.rglob("*")
        if p.is_file()
    )

    texts = ["hi", "fly me to rome tomorrow", "what is the weather in paris", "bye"]
    loaded = JointTransformerClassifier.load(component.config, storage)
    assert type(loaded.model.encoder).__name__ == "FastBertEncoder"
    assert_same_predictions(parse(loaded, texts), parse(component, texts))
    # the plain transformers forward gives the same too
    plain = JointTransformerClassifier.load({**component.config, "fast_inference": False}, storage)
    assert type(plain.model.encoder).__name__ == "BertModel"
    assert_same_predictions(parse(plain, texts), parse(component, texts))
    with pytest.raises(TrainingError, match="cannot be saved again"):
        loaded.persist(ComponentStorage(tmp_path / "again"))


def test_loading_for_parsing_does_not_import_transformers(
    tmp_path: Path, trained: JointTransformerClassifier
) -> None:
    # A server loads the model without `transformers`: it starts sooner and holds less.
    storage = ComponentStorage(tmp_path / "stored")
    trained.persist(storage)
    script = textwrap.dedent(
        """
        import json, sys
        from dialogflowlite.artifact import ComponentStorage
        from dialogflowlite.components.nlu.joint_transformer import JointTransformerClassifier
        from dialogflowlite.components.tokenizers.alignment import simple_tokens
        from dialogflowlite.shared.message import Message

        config, folder = json.loads(sys.argv[1]), sys.argv[2]
        loaded = JointTransformerClassifier.load(config, ComponentStorage(folder))
        text = "book a flight to paris"
        message = Message(text=text, tokens=simple_tokens(text))
        loaded.process([message])
        print(message.intent)
        print(sorted(m for m in sys.modules if m.split(".")[0] == "transformers"))
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script, json.dumps(trained.config), str(storage.root)],
        capture_output=True, text=True, check=True,
    )
    intent, modules = result.stdout.strip().splitlines()[-2:]
    assert intent == "book_flight"
    assert modules == "[]"


def test_quantized_load_predicts(tmp_path: Path, trained: JointTransformerClassifier) -> None:
    storage = ComponentStorage(tmp_path / "stored")
    trained.persist(storage)
    loaded = JointTransformerClassifier.load(trained.config, storage, quantize=True)
    linear_types = {type(m).__name__ for m in loaded.model.modules()}
    assert not any(
        isinstance(m, torch.nn.Linear) and type(m) is torch.nn.Linear
        for m in loaded.model.modules()
    ), linear_types
    texts = ["hello", "book a flight to paris", "will it rain in london tomorrow"]
    assert [m.intent for m in parse(loaded, texts)] == ["greet", "book_flight", "weather"]
    # the config switch does the same
    again = JointTransformerClassifier.load({**trained.config, "quantize": True}, storage)
    assert [m.intent for m in parse(again, texts)] == ["greet", "book_flight", "weather"]


def test_crf_variant_learns_entities(tiny_model: Path, toy) -> None:
    component = train(tiny_model, toy, use_crf=True)
    assert component.model.crf is not None
    [message] = parse(component, ["i want to fly to new york tomorrow"])
    assert [(e.entity, e.value) for e in message.entities] == [
        ("city", "new york"),
        ("date", "tomorrow"),
    ]


def test_bilou_tags_learn_entities_and_reload(tmp_path: Path, tiny_model: Path, toy) -> None:
    component = train(tiny_model, toy, use_crf=True, tag_scheme="bilou")
    assert {t[:2] for t in component.labels.tags} == {"O", "B-", "I-", "L-", "U-"}
    texts = ["i want to fly to new york tomorrow", "will it rain in paris"]
    [flight, weather] = parse(component, texts)
    assert [(e.entity, e.value) for e in flight.entities] == [
        ("city", "new york"),
        ("date", "tomorrow"),
    ]
    assert [(e.entity, e.value) for e in weather.entities] == [("city", "paris")]
    storage = ComponentStorage(tmp_path / "stored")
    component.persist(storage)
    loaded = JointTransformerClassifier.load(component.config, storage)
    assert loaded.labels.scheme == "bilou"
    assert_same_predictions(parse(loaded, texts), parse(component, texts))


def test_roles_groups_and_retrieval_intents(tiny_model: Path) -> None:
    rows = [
        (
            "travel",
            'from [paris]{"entity": "city", "role": "from"} to '
            '[rome]{"entity": "city", "role": "to"}',
        ),
        (
            "travel",
            'from [london]{"entity": "city", "role": "from"} to '
            '[tokyo]{"entity": "city", "role": "to"}',
        ),
        (
            "travel",
            'to [rome]{"entity": "city", "role": "to"} from '
            '[paris]{"entity": "city", "role": "from"}',
        ),
        ("faq/ask_weather", "what is the weather like"),
        ("faq/ask_rain", "will it rain"),
        ("faq/ask_weather", "weather today"),
    ]
    examples = []
    for intent, annotated in rows:
        text, entities = parse_annotated_text(annotated)
        examples.append(
            Message(text=text, intent=intent, entities=entities, tokens=simple_tokens(text))
        )
    component = train(tiny_model, TrainingData(examples=examples), epochs=60)
    assert component.labels.intents == ["faq", "travel"]
    # each city keeps one role in the examples: a model this tiny learns roles
    # from the words themselves (from the words around them it did not, for
    # any of eight seeds), which is enough to check that roles are trained
    # and given back
    first, second = parse(component, ["from london to rome", "will it rain"])
    assert [(e.value, e.role) for e in first.entities] == [("london", "from"), ("rome", "to")]
    for entity in first.entities:
        # Rasa's confidence_role next to the role; the role's probability sums the
        # tags that carry it, so it is at least the tag's; no group, no confidence_group
        result = entity.to_dict()
        assert list(result)[3:] == ["confidence_entity", "role", "confidence_role", "value",
                                    "extractor"]
        assert result["confidence_entity"] <= result["confidence_role"] + 1e-6
        assert result["confidence_role"] <= 1.0 + 1e-6
    assert second.intent == "faq"


def test_regex_features_are_used_and_matched_by_name(tiny_model: Path, toy) -> None:
    data = TrainingData(examples=with_entity_regex_features(toy, ["city_lookup", "digits"]))
    component = train(tiny_model, data, epochs=20)
    assert component.regex_names == ["city_lookup", "digits"]
    assert component.model.config.num_token_features == 2
    text = "book a flight to paris"
    tokens = simple_tokens(text)
    reordered = Message(
        text=text,
        tokens=tokens,
        features={
            "regex": {
                "names": ["digits", "city_lookup"],
                "token": [[0.0, float(t.text == "paris")] for t in tokens],
                "sentence": [0.0, 1.0],
            }
        },
    )
    component.process([reordered])
    assert reordered.intent == "book_flight"
    plain = parse(component, [text])[0]  # no features at all still works
    assert plain.intent == "book_flight"


def test_intent_only_when_entity_recognition_is_off(tiny_model: Path, toy) -> None:
    component = train(tiny_model, toy, epochs=20, entity_recognition=False)
    [message] = parse(component, ["book a flight to paris"])
    assert message.intent == "book_flight" and message.entities == []


def test_lora_trains_adapters_and_saves_plain_weights(
    tmp_path: Path, tiny_model: Path, toy
) -> None:
    pytest.importorskip("peft")
    component = train(
        tiny_model,
        toy,
        epochs=30,
        learning_rate=1e-2,
        lora={"r": 4, "alpha": 8, "dropout": 0.0, "target_modules": ["query", "value"]},
    )
    assert not any("lora" in k for k in component.model.state_dict())
    storage = ComponentStorage(tmp_path / "stored")
    component.persist(storage)
    loaded = JointTransformerClassifier.load(component.config, storage)
    texts = ["hello", "book a flight to paris"]
    assert_same_predictions(parse(loaded, texts), parse(component, texts))


def test_early_stopping_on_held_out_data(tiny_model: Path, toy) -> None:
    component = JointTransformerClassifier(
        {"model": str(tiny_model), **TINY, "epochs": 30, "patience": 2}
    )
    component.fit(toy, NluContext(progress=False), held_out=toy)
    result = component.fit_result
    assert result.best_score is not None and len(result.history) >= 1
    assert result.stopped_early or result.epochs == 30


def test_messages_without_tokens_and_empty_batches(trained: JointTransformerClassifier) -> None:
    trained.process([])
    message = Message(text="book a flight to rome")
    trained.process([message])
    assert message.intent == "book_flight"
    assert [e.value for e in message.entities] == ["rome"]


def test_bad_config_and_missing_model(tmp_path: Path, toy) -> None:
    with pytest.raises(ComponentConfigError, match="pooling"):
        JointTransformerClassifier({"pooling": "max"})
    with pytest.raises(ComponentConfigError, match="epoch"):
        JointTransformerClassifier({"epoch": 3})
    with pytest.raises(ComponentConfigError, match="lora"):
        JointTransformerClassifier({"lora": {"rank": 4}})
    with pytest.raises(ComponentConfigError, match="tag_scheme"):
        JointTransformerClassifier({"tag_scheme": "bioes"})
    component = JointTransformerClassifier({"model": str(tmp_path / "nowhere")})
    with pytest.raises(ModelSourceError):
        component.train(toy, NluContext(progress=False))


def test_quantize_at_training_time_means_int8_at_load(tmp_path: Path, tiny_model: Path, toy):
    component = JointTransformerClassifier({"model": str(tiny_model), **TINY, "epochs": 2})
    component.train(toy, NluContext(progress=False, quantize=True))
    assert component.config["quantize"] is True
    storage = ComponentStorage(tmp_path / "stored")
    component.persist(storage)  # full-precision weights
    loaded = JointTransformerClassifier.load(component.config, storage)
    assert not any(type(m) is torch.nn.Linear for m in loaded.model.modules())
    assert parse(loaded, ["hello"])[0].intent in {"greet", "goodbye", "book_flight", "weather"}


SMALL_PROJECT_NLU = """
version: "3.1"
nlu:
  - intent: greet
    examples: |
      - hello
      - hi there
      - good morning
      - hey
      - good evening
      - hello, how are you
  - intent: goodbye
    examples: |
      - bye
      - see you later
      - goodbye for now
      - have a nice day, bye
      - talk to you soon
      - catch you later
  - intent: book_table
    examples: |
      - book a table in [Berlin](city) for [4](people) people
      - i need a table for [two](people) in [Paris](city)
      - reserve a table for [6](people) in [London](city)
      - can i get a table in [Rome](city)
      - table for [3](people) please
      - book me a table in [Madrid](city) for [five](people)
      - i want to reserve a table in [Vienna](city)
      - a table for [8](people) in [Lisbon](city) please
  - intent: ask_weather
    examples: |
      - what is the weather in [Berlin](city)
      - will it rain in [London](city)
      - how warm is it in [Paris](city) today
      - weather forecast for [Oslo](city)
      - is it sunny in [Rome](city)
      - do i need an umbrella in [Dublin](city)
"""

SMALL_PROJECT_DOMAIN = """
version: "3.1"
intents: [greet, goodbye, book_table, ask_weather]
entities: [city, people]
responses:
  utter_greet:
    - text: Hello!
"""

SMALL_PROJECT_CONFIG = """
language: en
pipeline:
  - name: WhitespaceTokenizer
  - name: JointTransformerClassifier
    model: all-MiniLM-L6-v2
policies: []
"""


@pytest.mark.slow
def test_default_model_trains_end_to_end_on_a_small_project(write_project) -> None:
    from dialogflowlite.components.nlu.pipeline import NluPipeline
    from dialogflowlite.training.trainer import TrainOptions, train

    project = write_project(
        nlu=SMALL_PROJECT_NLU, domain=SMALL_PROJECT_DOMAIN, config=SMALL_PROJECT_CONFIG
    )
    result = train(project, sections=("nlu",), options=TrainOptions(progress=False))
    pipeline = NluPipeline.load(result.model_path)
    cases = {
        "hi, good morning": ("greet", []),
        "bye, see you soon": ("goodbye", []),
        "book a table for 2 people in Hamburg": (
            "book_table",
            [("people", "2"), ("city", "Hamburg")],
        ),
        "what's the weather like in Stockholm": ("ask_weather", [("city", "Stockholm")]),
    }
    for text, (intent, entities) in cases.items():
        parsed = pipeline.parse(text).parse_result()
        assert parsed["intent"]["name"] == intent, parsed
        assert sorted((e["entity"], e["value"]) for e in parsed["entities"]) == sorted(entities), (
            parsed
        )
        assert len(parsed["intent_ranking"]) == 4
    quantized = NluPipeline.load(result.model_path, quantize=True)
    assert quantized.parse("book a table in Rome").intent == "book_table"


def test_ranking_length_limits_the_ranking(trained: JointTransformerClassifier) -> None:
    trained.config["ranking_length"] = 2
    try:
        [message] = parse(trained, ["hello"])
    finally:
        trained.config["ranking_length"] = 10
    assert len(message.intent_ranking) == 2 and message.intent == "greet"


def test_frozen_bottom_layers_do_not_change(tiny_model: Path, toy) -> None:
    from transformers import AutoModel

    original = AutoModel.from_pretrained(str(tiny_model)).state_dict()
    component = train(tiny_model, toy, epochs=2, freeze_layers=1)
    state = component.model.encoder.state_dict()
    for key in ("embeddings.position_embeddings.weight", "encoder.layer.0.output.dense.weight"):
        assert torch.equal(state[key], original[key]), key
    assert not torch.equal(
        state["encoder.layer.1.output.dense.weight"],
        original["encoder.layer.1.output.dense.weight"],
    )


def test_encoder_layers_keeps_the_lowest_layers_and_reloads_with_them(
    tmp_path: Path, tiny_model: Path, toy, caplog: pytest.LogCaptureFixture
) -> None:
    component = train(tiny_model, toy, epochs=15, encoder_layers=1)
    assert "set pooling: mean" in caplog.text  # the default pooling is "cls"
    encoder = component.model.encoder
    assert encoder.config.num_hidden_layers == 1 and len(encoder.encoder.layer) == 1
    assert not any(key.startswith("encoder.layer.1.") for key in encoder.state_dict())
    storage = ComponentStorage(tmp_path / "stored")
    component.persist(storage)
    loaded = JointTransformerClassifier.load(component.config, storage)
    assert len(loaded.model.encoder.layers) == 1
    texts = ["hi", "fly me to rome tomorrow", "what is the weather in paris"]
    assert_same_predictions(parse(loaded, texts), parse(component, texts))


def test_mean_pooling_with_encoder_layers_needs_no_notice(
    tiny_model: Path, toy, caplog: pytest.LogCaptureFixture
) -> None:
    train(tiny_model, toy, epochs=1, encoder_layers=1, pooling="mean")
    assert "set pooling: mean" not in caplog.text


def test_encoder_layers_must_fit_the_encoder(tiny_model: Path, toy) -> None:
    for bad in (0, -1, "two", True):
        with pytest.raises(ComponentConfigError, match="encoder_layers"):
            JointTransformerClassifier({"encoder_layers": bad})
    with pytest.raises(ComponentConfigError, match="encoder_layers is 5, but the encoder has 2"):
        train(tiny_model, toy, epochs=1, encoder_layers=5)


def test_pieces_are_the_tokenizers_own(trained: JointTransformerClassifier, tiny_model) -> None:
    from transformers import AutoTokenizer

    texts = ["Book a flight to Hamburg!", "我想去北京", "word " * 80]
    ours = trained._pieces(texts)
    reference = AutoTokenizer.from_pretrained(str(tiny_model))(
        texts, return_offsets_mapping=True, truncation=True, max_length=64
    )
    assert [ids for ids, _ in ours] == [list(i) for i in reference["input_ids"]]
    assert [list(map(tuple, o)) for _, o in ours] == [
        list(map(tuple, o)) for o in reference["offset_mapping"]
    ]
    assert len(ours[2][0]) == 64


def test_layer_learning_rate_decay_moves_lower_layers_less(tiny_model: Path, toy) -> None:
    from transformers import AutoModel

    original = AutoModel.from_pretrained(str(tiny_model)).state_dict()
    key = "encoder.layer.{}.output.dense.weight"

    def moved(component: JointTransformerClassifier, layer: int) -> float:
        state = component.model.encoder.state_dict()
        return float((state[key.format(layer)] - original[key.format(layer)]).abs().mean())

    decayed = train(tiny_model, toy, epochs=2, layer_learning_rate_decay=0.01)
    factors = decayed._learning_rate_factors()
    assert factors["heads."] == 1.0  # TINY's head factor, unchanged
    assert sorted(factors.values())[:3] == pytest.approx([1e-4, 0.01, 1.0])
    assert moved(decayed, 0) < moved(decayed, 1) / 20
    plain = train(tiny_model, toy, epochs=2)
    assert plain._learning_rate_factors() == {"heads.": 1.0}
    assert moved(plain, 0) > moved(plain, 1) / 20  # without the decay both layers learn


def test_layer_learning_rate_decay_must_be_a_fraction() -> None:
    for bad in (0, 1.5, -0.5, "fast", True):
        with pytest.raises(ComponentConfigError, match="layer_learning_rate_decay"):
            JointTransformerClassifier({"layer_learning_rate_decay": bad})


def test_word_ends_follow_the_pieces() -> None:
    from dialogflowlite.components.nlu.joint_transformer import word_ends

    # [CLS] fly | ro ##me | to [SEP]: special pieces have empty spans
    offsets = [(0, 0), (0, 3), (4, 6), (6, 8), (9, 11), (0, 0)]
    assert word_ends([1, 2, 4], offsets) == [2, 4, 5]
    # two words sharing one piece end right after it
    assert word_ends([1, 1, 2], [(0, 0), (0, 4), (5, 7), (0, 0)]) == [2, 2, 3]


def test_word_pooling_mean_learns_the_toy_data_and_reloads(tmp_path: Path, tiny_model: Path,
                                                           toy) -> None:
    component = train(tiny_model, toy, word_pooling="mean")
    assert component.model.config.word_pooling == "mean"
    messages = parse(component, [m.text for m in toy.examples])
    for message, gold in zip(messages, toy.examples, strict=True):
        assert message.intent == gold.intent
        assert [(e.entity, e.value) for e in message.entities] == [
            (e.entity, e.value) for e in gold.entities]
    storage = ComponentStorage(tmp_path / "stored")
    component.persist(storage)
    loaded = JointTransformerClassifier.load(component.config, storage)
    texts = ["fly me to new york tomorrow", "what is the weather in paris"]
    assert_same_predictions(parse(loaded, texts), parse(component, texts))
    with pytest.raises(ComponentConfigError, match="word_pooling"):
        JointTransformerClassifier({"word_pooling": "last"})


def test_words_beyond_max_length_are_tagged_in_further_passes(
    trained: JointTransformerClassifier,
) -> None:
    # about 110 pieces: past the 64 of one pass, so the cities at the end were lost
    assert_cities_past_one_pass_are_tagged(trained, pleases=100)


def test_a_cut_message_is_tagged_like_an_uncut_one(trained: JointTransformerClassifier) -> None:
    texts = ["book a flight from london to rome", "i want to fly to new york tomorrow"]
    whole = parse(trained, texts)
    trained.config["max_length"] = 6  # four word pieces a pass
    try:
        cut = parse(trained, texts)
    finally:
        trained.config["max_length"] = JointTransformerClassifier.defaults["max_length"]
    for a, b in zip(whole, cut, strict=True):
        assert [(e.entity, e.start, e.end, e.value) for e in b.entities] == [
            (e.entity, e.start, e.end, e.value) for e in a.entities
        ]
        assert b.intent_ranking  # the first pass still gives the intent


def test_a_message_without_words_gets_no_prediction(trained: JointTransformerClassifier) -> None:
    # as in Rasa: nothing to classify, so no intent (the model would make one up)
    from dialogflowlite.components.tokenizers.whitespace import WhitespaceTokenizer

    messages = [Message(t) for t in ["", "   ", "\u00a0\u200b", "book a flight to rome"]]
    WhitespaceTokenizer().process(messages)
    trained.process(messages)
    for message in messages[:3]:
        assert (message.intent, message.intent_ranking, message.entities) == (None, [], [])
        assert message.parse_result()["intent"] == {"name": None, "confidence": 0.0}
    assert messages[3].intent == "book_flight"


def test_half_of_a_surrogate_pair_does_not_fail_the_batch(
    trained: JointTransformerClassifier,
) -> None:
    # JSON can carry "\ud83d" alone (a client cut a message inside an emoji); the
    # Rust tokenizer cannot encode it and used to fail every message of the batch
    text = "\ud83d book a flight to rome"
    cut, whole = parse(trained, [text, "book a flight to rome"])
    assert cut.intent == whole.intent == "book_flight"
    start = text.index("rome")
    assert [(e.entity, e.start, e.end, e.value) for e in cut.entities] == [
        ("city", start, start + 4, "rome")
    ]


def test_a_word_the_encoder_drops_is_no_entity_of_its_own(
    trained: JointTransformerClassifier,
) -> None:
    # U+FFFD and U+2061 have no word piece: the word shared the piece of "rome"
    # before it and came out as a second city
    for junk in ("\ufffd", "\u2061"):
        text = f"book a flight to rome {junk} please"
        [message] = parse(trained, [text])
        start = text.index("rome")
        assert [(e.entity, e.start, e.end) for e in message.entities] == [
            ("city", start, start + 4)
        ], junk


def test_a_word_without_a_piece_continues_an_entity_it_sits_inside(
    trained: JointTransformerClassifier,
) -> None:
    tags = trained.labels.tags
    b_city, i_city, b_date = (tags.index(t) for t in ("B-city", "I-city", "B-date"))
    untag = trained._untag_pieceless
    # after an entity: out of it
    assert untag([0, b_city, b_city, 0], [False, False, True, False]) == [0, b_city, 0, 0]
    # between two words of one entity: part of it
    assert untag([b_city, b_city, i_city], [False, True, False]) == [b_city, i_city, i_city]
    # between two entities, or at the start: out
    assert untag([b_city, b_city, b_date], [False, True, False]) == [b_city, 0, b_date]
    assert untag([b_city, b_city], [True, False]) == [0, b_city]
