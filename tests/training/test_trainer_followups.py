"""The library's ``train`` and ``dry_run``: a fixed model name stays a file name in the
output folder (Rasa's ``.tar.gz`` ending included), and a dry run checks the model to
fine-tune as a training does."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from keyword_bot import CONFIG, DOMAIN, NLU, RULES

from dialogflowlite.artifact import RASA_MODEL_SUFFIX, fixed_model_file
from dialogflowlite.errors import ConfigError, ModelLoadError, TrainingError
from dialogflowlite.training.trainer import (
    TrainOptions,
    dry_run,
    finetune_model_path,
    train,
)

OPTIONS = TrainOptions(progress=False)


@pytest.fixture
def project(write_project) -> Path:
    return write_project(domain=DOMAIN, nlu=NLU, rules=RULES, config=CONFIG)


@pytest.mark.parametrize("name", ["../outside", "sub/inner", "..", "back\\slash"])
def test_train_refuses_a_fixed_name_with_a_folder(project: Path, name: str) -> None:
    with pytest.raises(ConfigError, match="without a folder"):
        train(project, output=project / "models", options=OPTIONS, fixed_model_name=name)
    # refused before training: nothing written here, nor beside the models folder
    assert not (project / "models").exists()
    assert not list(project.glob("*.tar"))


@pytest.mark.parametrize(("given", "written"), [
    ("bot", "bot.tar"),
    ("bot.tar", "bot.tar"),
    # Rasa adds `.tar.gz` only when it is missing, so Rasa users write it themselves
    ("bot.tar.gz", "bot.tar"),
    ("bot.v2", "bot.v2.tar"),
])
def test_fixed_model_file_has_one_ending(given: str, written: str) -> None:
    assert fixed_model_file(given) == written


def test_a_name_with_rasas_ending_writes_one_model_file(project: Path) -> None:
    result = train(project, options=OPTIONS, fixed_model_name="bot" + RASA_MODEL_SUFFIX)
    assert result.model_path == project / "models" / "bot.tar"
    assert sorted(p.name for p in (project / "models").iterdir()) == ["bot.tar"]
    # the same name again is the same file: nothing changed, nothing written
    again = train(project, options=OPTIONS, fixed_model_name="bot.tar.gz")
    assert not again.written and again.model_path == result.model_path


@pytest.mark.parametrize("name", [".tar.gz", ".tar"])
def test_a_name_that_is_only_the_ending_is_refused(name: str) -> None:
    with pytest.raises(ConfigError, match="only the file's ending"):
        fixed_model_file(name)


@pytest.mark.parametrize("name", ["", " ", "\t", " bot", "bot "])
def test_a_blank_name_or_one_with_white_space_at_an_end_is_refused(name: str) -> None:
    # " " wrote the model as " .tar", and "" under a time stamp
    with pytest.raises(ConfigError, match="blank or has white space at an end"):
        fixed_model_file(name)
    with pytest.raises(ConfigError, match="blank or has white space at an end"):
        _ = TrainOptions(progress=False, fixed_model_name=name).model_file
    assert fixed_model_file("my bot") == "my bot.tar"


def test_a_model_name_set_after_the_options_are_made_names_the_file() -> None:
    # before, the file was worked out once, as the options were made: a name set later
    # left it None, and the model was written under a time stamp
    options = TrainOptions(progress=False)
    assert options.model_file is None
    options.fixed_model_name = "bot.tar.gz"
    assert options.model_file == "bot.tar"
    options.fixed_model_name = "../outside"
    with pytest.raises(ConfigError):
        _ = options.model_file
    with pytest.raises(ConfigError):
        TrainOptions(fixed_model_name="../outside")


def test_dry_run_checks_the_model_to_fine_tune(project: Path) -> None:
    options = TrainOptions(progress=False, finetune=str(project / "nowhere.tar"))
    with pytest.raises(TrainingError, match="no model to fine-tune at"):
        dry_run(project, options=options)
    # also with --force, which a training checks it under too
    with pytest.raises(TrainingError, match="no model to fine-tune at"):
        dry_run(project, options=TrainOptions(progress=False, force=True, finetune=""))
    with pytest.raises(TrainingError, match="--epoch-fraction"):
        dry_run(project, options=TrainOptions(progress=False, finetune="", epoch_fraction=0))


def test_dry_run_opens_the_model_to_fine_tune(project: Path) -> None:
    # a file that is no model stops a training when it opens it: the dry run too
    broken = project / "models" / "broken.tar"
    broken.parent.mkdir()
    broken.write_bytes(b"not a tar file")
    with pytest.raises(ModelLoadError):
        dry_run(project, options=TrainOptions(progress=False, finetune=""))


def test_dry_run_names_the_model_to_fine_tune_without_saying_it_fine_tunes(
        project: Path, caplog) -> None:
    base = train(project, options=OPTIONS).model_path
    with caplog.at_level(logging.INFO, logger="dialogflowlite"):
        result = dry_run(project, options=TrainOptions(progress=False, finetune=""))
    assert result.finetune and result.finetune_from == base
    assert str(base) in result.report()[0]
    assert "fine-tuning from" not in caplog.text
    assert finetune_model_path(project / "models", TrainOptions(finetune="")) == base
    assert finetune_model_path(project / "models", TrainOptions()) is None


@pytest.mark.parametrize("wanted", ["bot", "bot.tar", "bot.tar.gz", "../elsewhere/bot.tar.gz"])
def test_the_training_route_names_a_model_as_the_cli_does(wanted: str) -> None:
    from dialogflowlite.server.training_jobs import fixed_model_file

    # POST /model/train?fixed_model_name=...: Rasa users send names with .tar.gz
    assert fixed_model_file(wanted) == "bot.tar"
