"""Command-line mistakes a Rasa user makes: each is one clear error, found before work starts."""

from __future__ import annotations

import logging
import os
import re
from pathlib import Path

import pytest

from dialogflowlite.cli.main import main
from dialogflowlite.errors import ConfigError


def _files_under(folder: Path) -> set[Path]:
    return {path for path in folder.rglob("*") if path.is_file()}


# ---------------------------------------------------------------- train --fixed-model-name


@pytest.mark.parametrize("name", ["../../escaped", "sub/escaped", "..", "back\\slash"])
@pytest.mark.parametrize("dry_run", [False, True])
def test_a_model_name_with_a_folder_is_refused(name: str, dry_run: bool, tiny_bot: Path,
                                               tmp_path: Path, capsys) -> None:
    before = _files_under(tmp_path)
    argv = ["train", "--project", str(tiny_bot), "--fixed-model-name", name]
    assert main([*argv, "--dry-run"] if dry_run else argv) == 1
    err = capsys.readouterr().err
    assert f"--fixed-model-name {name}: the model's name is a file name" in err
    assert "--out" in err  # where the folder goes instead
    # before: the model was written wherever the name pointed, out of models/
    assert _files_under(tmp_path) == before


def test_an_absolute_model_name_is_refused(tiny_bot: Path, tmp_path: Path, capsys) -> None:
    target = tmp_path / "elsewhere" / "model"
    assert main(["train", "--project", str(tiny_bot), "--fixed-model-name", str(target)]) == 1
    assert "--fixed-model-name" in capsys.readouterr().err
    assert not target.parent.exists()


def test_a_plain_model_name_names_the_file_in_models(tiny_bot: Path) -> None:
    assert main(["train", "--project", str(tiny_bot), "--fixed-model-name", "mine"]) == 0
    assert (tiny_bot / "models" / "mine.tar").is_file()


@pytest.mark.parametrize("dry_run", [False, True])
def test_the_model_name_is_checked_once(dry_run: bool, tiny_bot: Path, monkeypatch) -> None:
    # before, `train` checked it in the command and again in the trainer
    import dialogflowlite.artifact as artifact

    checked: list[str] = []
    check = artifact.check_model_name

    def counting(name: str, option: str = "--fixed-model-name") -> str:
        checked.append(name)
        return check(name, option)

    monkeypatch.setattr(artifact, "check_model_name", counting)
    argv = ["train", "--project", str(tiny_bot), "-q", "--fixed-model-name", "once.tar.gz"]
    code = main([*argv, "--dry-run"] if dry_run else argv)
    assert checked == ["once.tar.gz"]
    if not dry_run:  # (a dry run's code says whether training is needed)
        assert code == 0 and (tiny_bot / "models" / "once.tar").is_file()


# ---------------------------------------------------------------- train --finetune --dry-run


def test_dry_run_reports_a_missing_model_to_finetune_as_training_does(tiny_bot: Path,
                                                                      capsys) -> None:
    argv = ["train", "--project", str(tiny_bot), "--finetune", "missing.tar"]
    assert main(argv) == 1
    trained = capsys.readouterr().err
    assert "no model to fine-tune at" in trained
    # before: the dry run said the components would be trained again, and exited with 1
    assert main([*argv, "--dry-run"]) == 1
    dry = capsys.readouterr()
    assert dry.err == trained
    assert "would be trained" not in dry.out


def test_dry_run_reports_an_empty_output_folder_to_finetune_from(tiny_bot: Path,
                                                                 capsys) -> None:
    (tiny_bot / "empty").mkdir()
    assert main(["train", "--project", str(tiny_bot), "--finetune", "--out", "empty",
                 "--dry-run"]) == 1
    assert "--finetune: no model to fine-tune at" in capsys.readouterr().err


def test_the_model_to_finetune_is_found_in_the_project(tiny_bot: Path, tmp_path: Path,
                                                       monkeypatch, capsys) -> None:
    model = next((tiny_bot / "models").iterdir())
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)  # models/... is the project's, as --nlu and --model are
    code = main(["train", "--project", str(tiny_bot), "--finetune", f"models/{model.name}",
                 "--dry-run"])
    assert "error" not in capsys.readouterr().err
    assert code == 1  # training needed: the fine-tuned components train again


def test_dry_run_reports_a_zero_epoch_fraction(tiny_bot: Path, capsys) -> None:
    assert main(["train", "--project", str(tiny_bot), "--finetune", "--epoch-fraction", "0",
                 "--dry-run"]) == 1
    assert "--epoch-fraction must be a number above 0" in capsys.readouterr().err


# ---------------------------------------------------------------- train --data


@pytest.mark.parametrize("given", ["domain.yml", "config.yml"])
def test_data_that_holds_no_training_data_is_named(given: str, tiny_bot: Path,
                                                   capsys) -> None:
    assert main(["train", "--project", str(tiny_bot), "--dry-run", "--data", given]) == 1
    err = capsys.readouterr().err
    assert f"error: --data {given}: nothing to train" in err
    assert "--domain" in err
    # before: the project's warnings came first, then a hint to add examples under data/
    assert "add examples under data/" not in err
    assert "warning" not in err


def test_nlu_data_without_examples_is_refused(tiny_bot: Path, capsys) -> None:
    assert main(["train", "--project", str(tiny_bot), "--dry-run", "--nlu", "domain.yml"]) == 1
    # before: the NLU part was left out of the training without a word ("up to date")
    # it names what the file holds instead
    assert "domain.yml holds no NLU data (its sections are" in capsys.readouterr().err


@pytest.mark.parametrize("dry_run", [False, True])
def test_an_out_folder_that_cannot_be_made_stops_before_training(dry_run: bool, tiny_bot: Path,
                                                                 tmp_path: Path,
                                                                 capsys) -> None:
    blocker = tmp_path / "notes.txt"
    blocker.write_text("mine", encoding="utf-8")
    argv = ["train", "--project", str(tiny_bot), "--force", "--out", str(blocker / "models")]
    assert main([*argv, "--dry-run"] if dry_run else argv) == 1
    captured = capsys.readouterr()
    # before: the whole training ran, then saving failed on "Not a directory"
    assert f"{blocker} is a file, so the folder cannot be made" in captured.err
    assert "trained" not in captured.out


def test_a_comparison_checks_the_folder_its_models_go_to(tiny_bot: Path, tmp_path: Path,
                                                         capsys) -> None:
    blocker = tmp_path / "notes.txt"
    blocker.write_text("mine", encoding="utf-8")
    other = tiny_bot / "other.yml"
    other.write_text((tiny_bot / "config.yml").read_text(encoding="utf-8"), encoding="utf-8")
    assert main(["train", "core", "--project", str(tiny_bot), "-c", "config.yml", "other.yml",
                 "--runs", "1", "--percentages", "0", "--out", str(blocker / "compared")]) == 1
    # before: every config was trained, then writing the first model failed
    assert f"{blocker} is a file, so the folder cannot be made" in capsys.readouterr().err


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0,
                    reason="needs a folder its user may not write (root writes everywhere)")
def test_an_out_folder_that_may_not_be_written_stops_before_training(tiny_bot: Path,
                                                                     tmp_path: Path,
                                                                     capsys) -> None:
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    try:
        assert main(["train", "--project", str(tiny_bot), "--dry-run", "--out",
                     str(locked / "models")]) == 1
    finally:
        locked.chmod(0o755)
    assert f"the folder {locked} may not be written" in capsys.readouterr().err


# ---------------------------------------------------------------- test: the model first


@pytest.mark.parametrize("part", [[], ["core"], ["nlu"]])
def test_test_names_a_file_that_is_no_model_first(part: list[str], tiny_bot: Path,
                                                  capsys) -> None:
    assert main(["test", *part, "--project", str(tiny_bot), "-m", "domain.yml"]) == 1
    captured = capsys.readouterr()
    assert "domain.yml is not a model file" in captured.err
    # before: the missing test stories and NLU examples were reported first
    assert "test stories" not in captured.out + captured.err
    assert "NLU" not in captured.out + captured.err


@pytest.mark.parametrize("extra", [[], ["--nlu", "nothere.yml"]])
def test_test_nlu_names_the_missing_model_first(extra: list[str], tiny_bot: Path,
                                                capsys) -> None:
    assert main(["test", "nlu", "--project", str(tiny_bot), "-m", "missing.tar", *extra]) == 1
    err = capsys.readouterr().err
    # before: "no NLU test data" (or "NLU data nothere.yml does not exist")
    assert f"no model at {(tiny_bot / 'missing.tar').absolute()}: the file does not exist" in err
    assert "NLU" not in err


@pytest.mark.parametrize("part", [[], ["core"], ["nlu"]])
def test_test_outside_a_project_names_the_folder_it_searched(part: list[str], tmp_path: Path,
                                                             monkeypatch, capsys) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["test", *part]) == 1
    err = capsys.readouterr().err
    # before: "no model at models"
    assert f"no model at {tmp_path / 'models'}: the folder does not exist" in err
    assert "--project" in err


def test_a_models_folder_without_models_is_named_in_full(tmp_path: Path, monkeypatch) -> None:
    from dialogflowlite.agent import resolve_model_path
    from dialogflowlite.errors import ModelLoadError

    (tmp_path / "models").mkdir()
    monkeypatch.chdir(tmp_path)
    # before: "no model in models"
    with pytest.raises(ModelLoadError, match=re.escape(
            f"no model in {tmp_path / 'models'}: the folder holds no model file")):
        resolve_model_path("models")


# ---------------------------------------------------------------- a folder that is no project


@pytest.mark.parametrize("command", [["data", "validate"], ["train"], ["train", "--dry-run"]])
def test_a_folder_that_is_no_project_is_named(command: list[str], tmp_path: Path,
                                              monkeypatch, capsys) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(command) == 1
    err = capsys.readouterr().err
    # before: "the project has no domain", with a warning about the checks it skipped
    assert f"error: {tmp_path} is not a project folder" in err
    assert "dialogflowlite init" in err
    assert "warning" not in err


def test_a_folder_given_its_domain_and_data_is_validated(tiny_bot: Path, tmp_path: Path,
                                                         monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["data", "validate", "--domain", str(tiny_bot / "domain.yml"),
                 "--data", str(tiny_bot / "data")]) == 0


# ---------------------------------------------------------------- endpoints and credentials


@pytest.mark.parametrize(("text", "where", "found"), [
    ("# the action server\n\n- action_endpoint\n- url: x\n", ":3:1:", "found a list"),
    ("# nothing here\n\njust text\n", ":3:", "found the value 'just text'"),
])
@pytest.mark.parametrize("stem", ["endpoints", "credentials"])
def test_a_file_that_is_no_mapping_is_named_once_with_its_line(
        stem: str, text: str, where: str, found: str, tmp_path: Path) -> None:
    from dialogflowlite.server.app import ServerConfig

    (tmp_path / f"{stem}.yml").write_text(text, encoding="utf-8")
    config = ServerConfig(project=str(tmp_path))
    with pytest.raises(ConfigError) as caught:
        config.read_endpoints() if stem == "endpoints" else config.read_credentials()
    message = str(caught.value)
    # before: ".../endpoints.yml: endpoints.yml must be a mapping", without a line
    assert message.startswith(f"{tmp_path / stem}.yml{where} ")
    assert message.count(f"{stem}.yml") == 1
    assert found in message


def test_unknown_sections_name_the_file_given(tmp_path: Path, caplog) -> None:
    from dialogflowlite.server.app import ServerConfig

    (tmp_path / "credentials.yml").write_text("rest:\nsocketio: {}\n", encoding="utf-8")
    with caplog.at_level(logging.WARNING):
        ServerConfig(project=str(tmp_path), endpoints_file="credentials.yml").read_endpoints()
    # before: "endpoints.yml section 'rest' is not used here", of a file never read
    assert "credentials.yml: section 'rest' is not used here" in caplog.text
    assert "endpoints.yml" not in caplog.text


def test_unknown_sections_name_the_projects_yaml_file(tmp_path: Path, caplog) -> None:
    from dialogflowlite.server.app import ServerConfig

    (tmp_path / "endpoints.yaml").write_text("event_brokers: {type: file}\n", encoding="utf-8")
    with caplog.at_level(logging.WARNING):
        ServerConfig(project=str(tmp_path)).read_endpoints()
    assert "endpoints.yaml: section 'event_brokers' is not used here" in caplog.text
