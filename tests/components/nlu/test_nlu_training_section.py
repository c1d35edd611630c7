from __future__ import annotations

import asyncio
import io
import json
import logging
import re
from pathlib import Path

import pytest

from dialogflowlite.artifact import open_model
from dialogflowlite.components.nlu.pipeline import NluPipeline
from dialogflowlite.components.nlu.training import NluSection, data_fingerprint
from dialogflowlite.io.loader import load_project
from dialogflowlite.training.trainer import TrainOptions, train

DOMAIN = """
version: "3.1"
intents: [greet, goodbye, order]
entities: [food]
"""

NLU = """
version: "3.1"
nlu:
  - intent: greet
    examples: |
      - hello there
      - hi
  - intent: goodbye
    examples: |
      - bye bye
      - see you later
  - intent: order
    examples: |
      - one [pizza](food) please
      - I want [pasta](food)
      - two [pizzas](food)
  - synonym: pizza
    examples: |
      - pizzas
"""

CONFIG = """
language: en
pipeline:
  - name: WhitespaceTokenizer
  - name: RegexFeaturizer
  - name: TinyClassifier
  - name: EntitySynonymMapper
  - name: FallbackClassifier
    threshold: {threshold}
"""

KEYS = [
    "nlu/0_WhitespaceTokenizer",
    "nlu/1_RegexFeaturizer",
    "nlu/2_TinyClassifier",
    "nlu/3_EntitySynonymMapper",
    "nlu/4_FallbackClassifier",
]


def write(
    write_project, threshold: float = 0.3, nlu: str = NLU, temperature: float | None = None
) -> Path:
    config = CONFIG.format(threshold=threshold)
    if temperature is not None:
        config = config.replace(
            "  - name: TinyClassifier\n",
            f"  - name: TinyClassifier\n    temperature: {temperature}\n",
        )
    return write_project(domain=DOMAIN, nlu=nlu, config=config)


def nlu_train(root: Path, **options):
    return train(root, sections=("nlu",), options=TrainOptions(progress=False, **options))


def test_is_configured_needs_nlu_examples(write_project) -> None:
    assert NluSection().is_configured(load_project(write(write_project)))
    empty = write_project(domain=DOMAIN, config="language: en\n", name="empty")
    assert not NluSection().is_configured(load_project(empty))


def test_trains_into_the_model_file_and_loads_back(tiny_classifier, write_project) -> None:
    result = nlu_train(write(write_project))
    assert result.trained == KEYS
    assert result.reused == []
    with open_model(result.model_path) as archive:
        section = archive.manifest.sections["nlu"]
        assert [c["key"] for c in section["components"]] == KEYS
        assert section["intents"] == ["goodbye", "greet", "order"]
        assert section["entities"] == ["food"]
        assert section["examples"] == 7
        record = archive.manifest.component("nlu/4_FallbackClassifier")
        assert record.config == {"threshold": 0.3, "ambiguity_threshold": 0.1,
                                 "unknown_words": False}
        assert record.section == "nlu" and record.kind == "intent_classifier"
        pipeline = NluPipeline.load(archive)
    message = pipeline.parse("two pizzas please")
    assert message.intent == "order"
    assert [(e.value, e.processors) for e in message.entities] == [
        ("pizza", ["EntitySynonymMapper"])
    ]


def test_unchanged_project_reuses_everything(tiny_classifier, write_project) -> None:
    root = write(write_project)
    nlu_train(root)
    again = nlu_train(root)
    assert again.trained == []
    assert again.reused == KEYS
    with open_model(again.model_path) as archive:
        assert NluPipeline.load(archive).parse("bye bye").intent == "goodbye"
    forced = nlu_train(root, force=True)
    assert forced.trained == KEYS


def test_changing_a_later_component_keeps_the_earlier_ones(tiny_classifier, write_project) -> None:
    root = write(write_project)
    nlu_train(root)
    changed = nlu_train(write(write_project, threshold=0.5))
    assert changed.reused == KEYS[:4]
    assert changed.trained == KEYS[4:]
    with open_model(changed.model_path) as archive:
        assert archive.manifest.component(KEYS[4]).config["threshold"] == 0.5
        pipeline = NluPipeline.load(archive)
    assert pipeline.components[4].config["threshold"] == 0.5


def test_a_retrained_component_retrains_everything_after_it(tiny_classifier, write_project) -> None:
    root = write(write_project)
    nlu_train(root)
    changed = nlu_train(write(write_project, temperature=0.2))
    assert changed.reused == KEYS[:2]
    assert changed.trained == KEYS[2:]
    with open_model(changed.model_path) as archive:
        pipeline = NluPipeline.load(archive)
    # the reused tokenizer and featurizer fed the retrained classifier
    assert pipeline.components[2].trained_on == 7
    assert pipeline.parse("hi").intent == "greet"


def test_new_code_of_a_component_retrains_it_and_what_follows(
        tiny_classifier, write_project, monkeypatch: pytest.MonkeyPatch) -> None:
    from tiny_nlu import TinyClassifier as Tiny

    from dialogflowlite.training import fingerprint

    root = write(write_project)
    nlu_train(root)
    # its author bumped its revision: a saved one is not reused
    monkeypatch.setattr(Tiny, "revision", 2)
    bumped = nlu_train(root)
    assert bumped.reused == KEYS[:2]
    assert bumped.trained == KEYS[2:]
    assert nlu_train(root).reused == KEYS

    # the package that defines it was upgraded
    top_level = Tiny.__module__.partition(".")[0]
    monkeypatch.setattr(fingerprint, "_package_version",
                        lambda name: "tiny-plugin==2.0" if name == top_level else None)
    upgraded = nlu_train(root)
    assert upgraded.reused == KEYS[:2]
    assert upgraded.trained == KEYS[2:]


def test_changing_the_data_retrains_everything(tiny_classifier, write_project) -> None:
    root = write(write_project)
    nlu_train(root)
    more = NLU.replace("      - hi\n", "      - hi\n      - good morning\n")
    changed = nlu_train(write(write_project, nlu=more))
    assert changed.trained == KEYS
    assert changed.reused == []
    synonym_only = NLU.replace("      - pizzas\n", "      - pizzas\n      - pizze\n")
    assert nlu_train(write(write_project, nlu=synonym_only)).trained == KEYS


def test_a_new_seed_retrains(tiny_classifier, write_project) -> None:
    root = write(write_project)
    nlu_train(root)
    assert nlu_train(root, seed=7).trained == KEYS


def test_data_fingerprint_covers_what_training_reads(write_project) -> None:
    project = load_project(write(write_project))
    data = project.nlu
    base = data_fingerprint(data, "en")
    assert data_fingerprint(data, "de") != base
    data.examples[0].entities = []
    assert data_fingerprint(data, "en") == base  # it had none
    data.examples[-1].entities[0].role = "main"
    assert data_fingerprint(data, "en") != base


def test_rasa_config_trains_with_notices(tiny_classifier, write_project, caplog) -> None:
    config = """
language: en
pipeline:
  - name: WhitespaceTokenizer
  - name: CountVectorsFeaturizer
    analyzer: char_wb
  - name: TinyClassifier
  - name: EntitySynonymMapper
"""
    root = write_project(domain=DOMAIN, nlu=NLU, config=config)
    with caplog.at_level("WARNING"):
        result = nlu_train(root)
    assert "notice: CountVectorsFeaturizer is not needed here" in caplog.text
    assert result.trained == [
        "nlu/0_WhitespaceTokenizer",
        "nlu/1_TinyClassifier",
        "nlu/2_EntitySynonymMapper",
    ]


@pytest.mark.parametrize("threshold", [2])
def test_a_bad_setting_stops_training_at_its_line(
    tiny_classifier, write_project, threshold
) -> None:
    from dialogflowlite.errors import DialogflowLiteError

    with pytest.raises(DialogflowLiteError) as info:
        nlu_train(write(write_project, threshold=threshold))
    assert "config.yml" in str(info.value)


def test_manifest_is_json(tiny_classifier, write_project) -> None:
    result = nlu_train(write(write_project))
    with open_model(result.model_path) as archive:
        text = (archive.root / "manifest.json").read_text(encoding="utf-8")
    assert json.loads(text)["sections"]["nlu"]["language"] == "en"


def test_a_model_of_one_part_is_named_after_it(tiny_classifier, write_project) -> None:
    root = write(write_project)
    assert re.fullmatch(r"nlu-\d{8}-\d{6}\.tar", nlu_train(root).model_path.name)
    whole = train(root, options=TrainOptions(progress=False))
    assert re.fullmatch(r"\d{8}-\d{6}\.tar", whole.model_path.name)


def test_shell_on_an_nlu_only_model_shows_parse_results(tiny_classifier, write_project,
                                                        caplog) -> None:
    from dialogflowlite.cli.shell import run_shell

    root = write(write_project)
    nlu_train(root)
    stdout = io.StringIO()
    with caplog.at_level(logging.WARNING):
        sent = asyncio.run(run_shell(root, sender_id="tester", stdin=io.StringIO(
            "two pizzas please\n/stop\n"), stdout=stdout, history_file=root / "history"))
    assert sent == 1
    assert "has no dialogue policies (trained with `train nlu`?)" in caplog.text
    output = stdout.getvalue()
    assert "showing how each message is parsed" in output
    parsed = json.loads(output[output.index("{"):output.rindex("}") + 1])
    assert parsed["text"] == "two pizzas please"
    assert parsed["intent"]["name"] == "order"
    assert [e["value"] for e in parsed["entities"]] == ["pizza"]


def test_train_quantize_flags_int8_without_training_again(register_plugin,
                                                          write_project) -> None:
    from typing import Any, ClassVar

    from tiny_nlu import TinyClassifier, TinyPlugin

    class Quantizable(TinyClassifier):
        """A tiny classifier with an int8 flag, set by training as the transformers set it."""

        defaults: ClassVar[dict[str, Any]] = {**TinyClassifier.defaults, "quantize": False}

        def train(self, training_data, context) -> None:
            super().train(training_data, context)
            if context.quantize:
                self.config["quantize"] = True

    Quantizable.name = "TinyClassifier"
    register_plugin(TinyPlugin(Quantizable), "tiny-nlu")
    root = write(write_project)
    first = nlu_train(root)
    # --quantize retrained every component, the tokenizer too, for a flag of the settings
    quantized = nlu_train(root, quantize=True)
    assert (quantized.trained, quantized.reused) == ([], KEYS)
    assert quantized.model_path != first.model_path
    with open_model(quantized.model_path) as archive:
        assert archive.manifest.component(KEYS[2]).config["quantize"] is True
        assert "quantize" not in archive.manifest.component(KEYS[0]).config
        # what loading reads: the nlu section of the manifest
        assert NluPipeline.load(archive).components[2].config["quantize"] is True
    plain = nlu_train(root)
    assert (plain.trained, plain.reused) == ([], KEYS)
    with open_model(plain.model_path) as archive:
        assert archive.manifest.component(KEYS[2]).config["quantize"] is False
        assert NluPipeline.load(archive).components[2].config["quantize"] is False
