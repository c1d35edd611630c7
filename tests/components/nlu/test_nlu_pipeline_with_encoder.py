"""The whole NLU path with the real JointTransformerClassifier on a tiny BERT.

config.yml -> train (NluSection) -> model file -> NluPipeline.load -> parse,
and `test nlu` on the trained model. The encoder is a tiny random BERT
written by ``tests/tiny_encoder.py``, so everything runs in seconds.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tiny_encoder import TOY_NLU
from tiny_nlu import TinyPlugin

from dialogflowlite.artifact import open_model
from dialogflowlite.components.nlu.joint_transformer import JointTransformerClassifier
from dialogflowlite.components.nlu.pipeline import NluPipeline
from dialogflowlite.evaluation.nlu import run_nlu_test
from dialogflowlite.training.trainer import TrainOptions, train

TINY = (
    "    epochs: 40\n    learning_rate: 0.003\n    batch_size: 8\n"
    "    freeze_embeddings: false\n    head_learning_rate_factor: 1.0\n    device: cpu\n"
)


def nlu_yaml(rows: list[tuple[str, str]]) -> str:
    by_intent: dict[str, list[str]] = {}
    for intent, text in rows:
        by_intent.setdefault(intent, []).append(text)
    lines = ['version: "3.1"', "nlu:"]
    for intent, texts in by_intent.items():
        lines += [f"  - intent: {intent}", "    examples: |"]
        lines += [f"      - {text}" for text in texts]
    lines += ["  - synonym: New York", "    examples: |", "      - new york"]
    return "\n".join(lines) + "\n"


@pytest.fixture
def project(tiny_model: Path, register_plugin, write_project) -> Path:
    # Registering the class again is harmless where the built-in plugin already has it.
    register_plugin(TinyPlugin(JointTransformerClassifier), "joint-for-test")
    config = (
        "language: en\npipeline:\n  - name: WhitespaceTokenizer\n  - name: RegexFeaturizer\n"
        f"  - name: JointTransformerClassifier\n    model: {tiny_model}\n{TINY}"
        "  - name: EntitySynonymMapper\n  - name: FallbackClassifier\n    threshold: 0.2\n"
    )
    domain = (
        'version: "3.1"\nintents: [greet, goodbye, book_flight, weather]\nentities: [city, date]\n'
    )
    tests = nlu_yaml(
        [
            ("greet", "hello"),
            ("goodbye", "bye"),
            ("weather", "will it rain in [paris](city) [today](date)"),
        ]
    )
    return write_project(
        domain=domain, nlu=nlu_yaml(TOY_NLU), config=config, files={"tests/nlu.yml": tests}
    )


def test_train_load_parse_and_evaluate(project: Path) -> None:
    result = train(project, sections=("nlu",), options=TrainOptions(progress=False, seed=3))
    assert result.trained[2] == "nlu/2_JointTransformerClassifier"
    with open_model(result.model_path) as archive:
        pipeline = NluPipeline.load(archive)
        quantized = NluPipeline.load(archive, quantize=True)
    parsed = pipeline.parse("i want to fly to new york tomorrow")
    assert parsed.intent == "book_flight"
    entities = {(e.entity, e.value, e.start, e.end) for e in parsed.entities}
    assert ("city", "New York", 17, 25) in entities  # tagged, then mapped by the synonym
    assert ("date", "tomorrow", 26, 34) in entities
    city = next(e for e in parsed.entities if e.entity == "city")
    assert city.processors == ["EntitySynonymMapper"]
    assert city.extractor == "JointTransformerClassifier"
    assert quantized.parse("hello there").intent == "greet"

    evaluation = run_nlu_test(project, echo=lambda _: None)
    report = json.loads((project / "results" / "intent_report.json").read_text())
    assert report["accuracy"] == evaluation.intent_report["accuracy"]
    assert [r.intent for r in evaluation.records] == ["greet", "goodbye", "weather"]
    assert evaluation.entity_report["micro avg"]["support"] == 2

    again = train(project, sections=("nlu",), options=TrainOptions(progress=False, seed=3))
    assert again.trained == []  # nothing changed: every component reused


def test_the_classifier_counts_the_words_it_knows(project: Path) -> None:
    from dialogflowlite.components.nlu.fallback import FallbackClassifier
    from dialogflowlite.components.nlu.known_words import KNOWN_WORDS

    result = train(project, sections=("nlu",), options=TrainOptions(progress=False, seed=3))
    with open_model(result.model_path) as archive:
        pipeline = NluPipeline.load(archive)

    def counts(text: str) -> tuple[int, int]:
        found = pipeline.parse(text).features[KNOWN_WORDS]
        return found["known"], found["words"]

    # in the training examples, though the tiny vocabulary cuts it into letters
    assert counts("berlin") == (1, 1)
    # one piece of the tokenizer's vocabulary, though no example has it
    assert counts("thanks") == (1, 1)
    # neither: the tokenizer cuts it into letters and no example has it
    assert counts("zzqx") == (0, 1)
    assert counts("zzqx 42") == (1, 2)  # numbers are known
    assert counts("zzqx ?") == (0, 1)  # punctuation is not a word
    fallback = next(c for c in pipeline.components if isinstance(c, FallbackClassifier))
    assert fallback.config["unknown_words"] is False  # off unless config.yml asks
    fallback.config["unknown_words"] = True
    assert pipeline.parse("zzqx qqvv").intent == "nlu_fallback"
    assert pipeline.parse("hello there").intent == "greet"
