"""``train --finetune``: NLU models start from a trained model's weights, on changed data."""

from __future__ import annotations

import logging
import textwrap
from pathlib import Path

import pytest
import torch
from story_data import GREET_STORY, THANKS_STORY, stories_yaml

from dialogflowlite.artifact import open_model
from dialogflowlite.errors import TrainingError
from dialogflowlite.training.finetune import finetune_epochs
from dialogflowlite.training.trainer import TrainOptions, train

NLU = """\
version: "3.1"
nlu:
- intent: greet
  examples: |
    - hello
    - hi
    - hey
    - good morning
- intent: goodbye
  examples: |
    - bye
    - goodbye
    - see you later
- intent: weather
  examples: |
    - what is the weather like in [paris](city)
    - will it rain in [london](city) [tomorrow](date)
    - weather in [new york](city) [today](date)
"""

MORE_GREETINGS = """\
version: "3.1"
nlu:
- intent: greet
  examples: |
    - hello there
    - hi you
"""

NEW_INTENT = """\
version: "3.1"
nlu:
- intent: book_flight
  examples: |
    - book a flight to [rome](city)
"""

DOMAIN = """\
version: "3.1"
intents: [greet, goodbye, weather, book_flight]
entities: [city, date]
"""


@pytest.fixture(scope="module")
def tiny_encoder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from tiny_encoder import build_tiny_encoder

    return build_tiny_encoder(tmp_path_factory.mktemp("encoder") / "tiny-bert")


def joint(encoder: Path, **settings) -> dict:
    return {"name": "JointTransformerClassifier", "model": str(encoder), "epochs": 4,
            "batch_size": 4, "learning_rate": 3e-3, "device": "cpu", **settings}


def scratch(**settings) -> dict:
    return {"name": "ScratchTransformerClassifier", "epochs": 4, "batch_size": 4,
            "hidden_size": 16, "num_layers": 1, "num_heads": 2, "ff_size": 32,
            "device": "cpu", **settings}


def write_project(root: Path, classifier: dict, extra_nlu: str | None = None) -> Path:
    from dialogflowlite.io.yaml import write_yaml

    (root / "data").mkdir(parents=True, exist_ok=True)
    (root / "data" / "nlu.yml").write_text(NLU, encoding="utf-8")
    (root / "domain.yml").write_text(DOMAIN, encoding="utf-8")
    extra = root / "data" / "more.yml"
    if extra_nlu:
        extra.write_text(textwrap.dedent(extra_nlu), encoding="utf-8")
    elif extra.exists():
        extra.unlink()
    write_yaml({"version": "3.1", "language": "en",
                "pipeline": [{"name": "WhitespaceTokenizer"}, classifier]},
               root / "config.yml")
    return root


def nlu_train(root: Path, fixed_model_name: str | None = None, **options) -> Path:
    return train(root, sections=("nlu",), fixed_model_name=fixed_model_name,
                 options=TrainOptions(progress=False, **options)).model_path


def weights_of(model: Path, component: str) -> tuple[str, str, dict[str, torch.Tensor]]:
    """(key, fingerprint, weights) of the model's component named ``component``."""
    archive = open_model(model)
    try:
        record = next(c for c in archive.manifest.components if c.name == component)
        tensors = archive.storage(record.key).read_tensors("model.safetensors")
        return record.key, record.fingerprint, {k: v.clone() for k, v in tensors.items()}
    finally:
        archive.close()


@pytest.mark.parametrize("component", ["JointTransformerClassifier",
                                       "ScratchTransformerClassifier"])
def test_fine_tuning_starts_from_the_trained_weights(tmp_path: Path, tiny_encoder: Path,
                                                     component: str, caplog) -> None:
    def classifier(**settings):
        return (joint(tiny_encoder, **settings) if component.startswith("Joint")
                else scratch(**settings))

    root = write_project(tmp_path / "bot", classifier())
    base = nlu_train(root, fixed_model_name="base")
    _, base_print, base_weights = weights_of(base, component)

    # New examples of known intents, and a learning rate of 0: a run that really
    # starts from the trained weights ends with exactly them.
    write_project(root, classifier(learning_rate=0.0), MORE_GREETINGS)
    with caplog.at_level(logging.INFO, "dialogflowlite"):
        tuned = nlu_train(root, finetune="", epoch_fraction=0.5, fixed_model_name="tuned")
    assert any(r.getMessage().startswith("fine-tuning") and component in r.getMessage()
               for r in caplog.records)
    _, tuned_print, tuned_weights = weights_of(tuned, component)
    assert tuned_weights.keys() == base_weights.keys()
    for name, tensor in base_weights.items():
        assert torch.equal(tensor, tuned_weights[name]), name

    # The same run from scratch ends elsewhere (fresh heads), so the check above can fail.
    fresh = nlu_train(root, force=True, fixed_model_name="fresh")
    _, fresh_print, fresh_weights = weights_of(fresh, component)
    assert any(not torch.equal(base_weights[k], fresh_weights[k]) for k in base_weights)
    # a fine-tuned component is not taken for one trained from scratch on the same data
    assert tuned_print != fresh_print
    assert base_print != fresh_print


def test_a_named_model_file_is_fine_tuned_for_a_share_of_the_epochs(
        tmp_path: Path, tiny_encoder: Path, caplog) -> None:
    root = write_project(tmp_path / "bot", joint(tiny_encoder, epochs=4))
    base = nlu_train(root, fixed_model_name="base")
    nlu_train(root, force=True, fixed_model_name="newer")  # not the one to start from
    write_project(root, joint(tiny_encoder, epochs=4), MORE_GREETINGS)
    with caplog.at_level(logging.INFO, "dialogflowlite"):
        nlu_train(root, finetune=base, epoch_fraction=0.5)
    assert "base.tar" in caplog.text
    summaries = [r.getMessage() for r in caplog.records
                 if r.getMessage().startswith("JointTransformerClassifier: trained")]
    assert summaries and summaries[-1].startswith(
        "JointTransformerClassifier: trained 2.0 epochs")  # half of the configured 4


def test_a_new_intent_cannot_be_fine_tuned_in(tmp_path: Path, tiny_encoder: Path) -> None:
    root = write_project(tmp_path / "bot", joint(tiny_encoder))
    nlu_train(root)
    write_project(root, joint(tiny_encoder), NEW_INTENT)
    with pytest.raises(TrainingError, match=r"its intents changed \(new: book_flight; gone: -\)"
                       ) as error:
        nlu_train(root, finetune="")
    assert "without --finetune" in str(error.value.hint)


def test_a_different_network_cannot_be_fine_tuned(tmp_path: Path, tiny_encoder: Path) -> None:
    root = write_project(tmp_path / "bot", joint(tiny_encoder))
    nlu_train(root)
    write_project(root, joint(tiny_encoder, use_crf=True), MORE_GREETINGS)
    with pytest.raises(TrainingError, match="its setting 'use_crf' changed"):
        nlu_train(root, finetune="")


def test_settings_that_keep_the_network_may_change(tmp_path: Path, tiny_encoder: Path) -> None:
    root = write_project(tmp_path / "bot", joint(tiny_encoder))
    nlu_train(root)
    write_project(root, joint(tiny_encoder, dropout=0.3, learning_rate=1e-3, epochs=2),
                  MORE_GREETINGS)
    assert nlu_train(root, finetune="").is_file()


def test_there_must_be_a_model_to_fine_tune(tmp_path: Path, tiny_encoder: Path) -> None:
    root = write_project(tmp_path / "bot", joint(tiny_encoder))
    with pytest.raises(TrainingError, match="no model to fine-tune at"):
        nlu_train(root, finetune="")
    with pytest.raises(TrainingError, match=r"no model to fine-tune at .*missing\.tar"):
        nlu_train(root, finetune=tmp_path / "missing.tar")
    nlu_train(root)
    with pytest.raises(TrainingError, match="--epoch-fraction must be a number above 0"):
        nlu_train(root, finetune="", epoch_fraction=0)


def test_the_epoch_share_is_rounded_up_to_whole_epochs() -> None:
    assert finetune_epochs(10, 0.2) == 2
    assert finetune_epochs(5, 0.5) == 3
    assert finetune_epochs(3, 0.1) == 1
    assert finetune_epochs(4, 1.0) == 4
    assert finetune_epochs(4, 1.5) == 6


def test_the_command_line_takes_rasas_options(tmp_path: Path, tiny_encoder: Path) -> None:
    from dialogflowlite.cli.main import main

    root = write_project(tmp_path / "bot", joint(tiny_encoder, epochs=2))
    assert main(["train", "nlu", "--project", str(root), "-q", "--fixed-model-name", "a"]) == 0
    write_project(root, joint(tiny_encoder, epochs=2), MORE_GREETINGS)
    assert main(["train", "nlu", "--project", str(root), "-q", "--finetune",
                 "--epoch-fraction", "0.5", "--fixed-model-name", "b"]) == 0
    assert (root / "models" / "b.tar").is_file()
    write_project(root, joint(tiny_encoder, epochs=2), NEW_INTENT)
    assert main(["train", "nlu", "--project", str(root), "-q", "--finetune",
                 str(root / "models" / "a.tar")]) == 1


# ---------------------------------------------------------------- the response generator


def _generation_project(root: Path, **settings) -> Path:
    import sys

    sys.path.insert(0, str(Path(__file__).parents[1] / "components" / "generation"))
    from generation_project import write_generation_project

    return write_generation_project(root, **{"epochs": 2, **settings})


def generation_train(root: Path, name: str, **options) -> Path:
    return train(root, sections=("generation",), fixed_model_name=name,
                 options=TrainOptions(progress=False, **options)).model_path


def test_the_generator_is_fine_tuned_from_its_weights(tmp_path: Path, caplog) -> None:
    root = _generation_project(tmp_path / "bot")
    base = generation_train(root, "base")
    key, _, base_weights = _generator_weights(base)
    # a new pair, and a learning rate of 0: starting from the weights ends with them
    (root / "data" / "more.jsonl").write_text(
        '{"question": "is there parking?", "answer": "Yes, behind the house."}\n')
    _generation_project(root, learning_rate=0.0)
    with caplog.at_level(logging.INFO, "dialogflowlite"):
        tuned = generation_train(root, "tuned", finetune="", epoch_fraction=0.5)
    assert f"fine-tuning {key} from base.tar on 21 pairs" in caplog.text
    _, tuned_print, tuned_weights = _generator_weights(tuned)
    for name, tensor in base_weights.items():
        assert torch.equal(tensor, tuned_weights[name]), name
    fresh = generation_train(root, "fresh", force=True)
    _, fresh_print, fresh_weights = _generator_weights(fresh)
    assert any(not torch.equal(base_weights[k], fresh_weights[k]) for k in base_weights)
    assert tuned_print != fresh_print


def test_a_generator_of_another_shape_is_not_fine_tuned(tmp_path: Path) -> None:
    root = _generation_project(tmp_path / "bot")
    generation_train(root, "base")
    _generation_project(root, hidden_size=32)
    with pytest.raises(TrainingError, match="its setting 'hidden_size' changed"):
        generation_train(root, "tuned", finetune="")


def _generator_weights(model: Path) -> tuple[str, str, dict[str, torch.Tensor]]:
    archive = open_model(model)
    try:
        record = next(c for c in archive.manifest.components if c.kind == "generator")
        tensors = archive.storage(record.key).read_tensors("seq2seq.safetensors")
        return record.key, record.fingerprint, {k: v.clone() for k, v in tensors.items()}
    finally:
        archive.close()


# ---------------------------------------------------------------- the transformer policy

CORE_DOMAIN = """\
version: "3.1"
intents: [greet, thanks, goodbye]
responses:
  utter_greet:
  - text: "Hi!"
  utter_noworries:
  - text: "No worries."
  utter_goodbye:
  - text: "Bye."
"""

CORE_STORIES = stories_yaml(GREET_STORY, THANKS_STORY)

MORE_STORIES = """\
version: "3.1"
stories:
- story: goodbye
  steps:
  - intent: greet
  - action: utter_greet
  - intent: goodbye
  - action: utter_goodbye
"""


def core_project(root: Path, domain: str = CORE_DOMAIN, more: str | None = None,
                 **settings) -> Path:
    from dialogflowlite.io.yaml import write_yaml

    (root / "data").mkdir(parents=True, exist_ok=True)
    (root / "domain.yml").write_text(domain, encoding="utf-8")
    (root / "data" / "stories.yml").write_text(CORE_STORIES, encoding="utf-8")
    if more:
        (root / "data" / "more.yml").write_text(more, encoding="utf-8")
    policy = {"name": "TransformerPolicy", "hidden_size": 16, "num_heads": 2, "epochs": 20,
              **settings}
    write_yaml({"version": "3.1", "language": "en", "policies": [policy]},
               root / "config.yml")
    return root


def policy_weights(model: Path) -> tuple[str, dict[str, torch.Tensor]]:
    archive = open_model(model)
    try:
        record = next(c for c in archive.manifest.components if c.name == "TransformerPolicy")
        tensors = archive.storage(record.key).read_tensors("model.safetensors")
        return record.fingerprint, {k: v.clone() for k, v in tensors.items()}
    finally:
        archive.close()


def core_train(root: Path, name: str, **options) -> Path:
    return train(root, sections=("core",), fixed_model_name=name,
                 options=TrainOptions(progress=False, **options)).model_path


def test_the_transformer_policy_is_fine_tuned_from_its_weights(tmp_path: Path,
                                                              caplog) -> None:
    root = core_project(tmp_path / "bot")
    _, base_weights = policy_weights(core_train(root, "base"))
    core_project(root, more=MORE_STORIES, learning_rate=0.0)
    with caplog.at_level(logging.INFO, "dialogflowlite"):
        tuned_print, tuned_weights = policy_weights(
            core_train(root, "tuned", finetune="", epoch_fraction=0.5))
    assert "fine-tuning TransformerPolicy from base.tar" in caplog.text
    for name, tensor in base_weights.items():
        assert torch.equal(tensor, tuned_weights[name]), name
    fresh_print, fresh_weights = policy_weights(core_train(root, "fresh", force=True))
    assert any(not torch.equal(base_weights[k], fresh_weights[k]) for k in base_weights)
    assert tuned_print != fresh_print


def test_a_policy_with_other_actions_is_not_fine_tuned(tmp_path: Path) -> None:
    root = core_project(tmp_path / "bot")
    core_train(root, "base")
    core_project(root, domain=CORE_DOMAIN + '  utter_new:\n  - text: "New."\n')
    with pytest.raises(TrainingError, match=r"its actions changed \(new: utter_new; gone: -\)"):
        core_train(root, "tuned", finetune="")
