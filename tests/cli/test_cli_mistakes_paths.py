"""Paths given on the command line that are not there: one error naming the option."""

from __future__ import annotations

from pathlib import Path

import pytest

from dialogflowlite.cli.main import main


@pytest.mark.parametrize("argv", [
    ["data", "validate", "--data", "nothere"],
    ["train", "--dry-run", "--data", "data/rules.yml", "nothere"],
    ["interactive", "--data", "nothere"],
])
def test_missing_data_is_the_one_error(argv: list[str], tiny_bot: Path, capsys) -> None:
    assert main([*argv, "--project", str(tiny_bot)]) == 1
    err = capsys.readouterr().err
    assert "the training data nothere does not exist" in err
    assert "--data" in err
    # before: every warning that data missing causes came first, the cause last
    assert "warning" not in err


@pytest.mark.parametrize("command", [["data", "validate"], ["train", "--dry-run"]])
def test_a_missing_domain_is_the_one_error(command: list[str], tiny_bot: Path,
                                           capsys) -> None:
    assert main([*command, "--project", str(tiny_bot), "--domain", "nothere.yml"]) == 1
    err = capsys.readouterr().err
    assert "the domain nothere.yml does not exist" in err
    assert "--domain" in err
    # before: "the data was not checked against the domain: there is no domain" came first
    assert "warning" not in err


def test_data_and_domain_paths_may_be_given_from_the_project(tiny_bot: Path, capsys,
                                                             monkeypatch, tmp_path) -> None:
    monkeypatch.chdir(tmp_path)  # neither path exists from here: both are the project's
    assert main(["data", "validate", "--project", str(tiny_bot), "--data", "data",
                 "--domain", "domain.yml"]) == 0


@pytest.mark.parametrize("make", ["nothing", "file"])
def test_test_names_a_project_folder_that_is_not_one(make: str, tmp_path: Path,
                                                     capsys) -> None:
    project = tmp_path / "bot"
    if make == "file":
        project.write_text("", encoding="utf-8")
    assert main(["test", "--project", str(project)]) == 1
    err = capsys.readouterr().err
    # before: "no model at .../bot/models"
    assert f"project folder {project}" in err
    assert "no model" not in err


def test_train_out_naming_a_file_stops_before_training(tiny_bot: Path, capsys,
                                                       monkeypatch) -> None:
    monkeypatch.chdir(tiny_bot)  # (--out is from the working folder)
    before = sorted((tiny_bot / "models").iterdir())
    assert main(["train", "--project", str(tiny_bot), "--force", "--out", "domain.yml"]) == 1
    err = capsys.readouterr().err
    # before: the whole training ran, then saving failed on "Not a directory"
    assert "--out domain.yml is a file" in err
    assert sorted((tiny_bot / "models").iterdir()) == before


NLU = """\
version: "3.1"
nlu:
  - intent: greet
    examples: |
      - hi
      - hello
      - hey there
  - intent: goodbye
    examples: |
      - bye
      - see you
      - goodbye then
"""

STORIES = """\
version: "3.1"
stories:
""" + "".join(f"""\
  - story: story {n}
    steps:
      - intent: greet
      - action: utter_greet
""" for n in range(4))


@pytest.mark.parametrize("command", [["data", "split", "nlu"], ["data", "split", "stories"]])
def test_split_out_naming_a_file_is_refused_by_name(command: list[str], tmp_path: Path,
                                                    capsys) -> None:
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "nlu.yml").write_text(NLU, encoding="utf-8")
    (tmp_path / "data" / "stories.yml").write_text(STORIES, encoding="utf-8")
    taken = tmp_path / "notes.txt"
    taken.write_text("mine", encoding="utf-8")
    assert main([*command, "--project", str(tmp_path), "--out", str(taken)]) == 1
    err = capsys.readouterr().err
    # before: "File exists: notes.txt (hint: check that the path exists ...)"
    assert f"--out {taken} is a file" in err
    assert taken.read_text(encoding="utf-8") == "mine"


def test_visualize_out_naming_a_folder_is_refused_by_name(tiny_bot: Path, capsys) -> None:
    folder = tiny_bot / "data"
    assert main(["visualize", "--project", str(tiny_bot), "--out", str(folder)]) == 1
    # before: "Is a directory: .../data (hint: check that the path exists ...)"
    assert f"--out {folder} is a folder" in capsys.readouterr().err


def test_test_out_naming_a_file_stops_before_testing(tiny_bot: Path, capsys,
                                                     monkeypatch) -> None:
    monkeypatch.chdir(tiny_bot)  # (--out is from the working folder)
    assert main(["test", "core", "--project", str(tiny_bot), "--out", "domain.yml",
                 "--no-plot"]) == 1
    err = capsys.readouterr().err
    # before: the stories were replayed, then writing the reports failed on "File exists"
    assert "--out domain.yml is a file" in err
    assert "File exists" not in err


def test_a_models_file_in_the_project_stops_before_training(tiny_bot: Path, capsys) -> None:
    models = tiny_bot / "models"
    for model in models.iterdir():
        model.unlink()
    models.rmdir()
    models.write_text("not a folder", encoding="utf-8")
    assert main(["train", "--project", str(tiny_bot)]) == 1
    # before: the whole training ran, then saving failed on "Not a directory"
    assert f"{models} is a file, where the folder of the models should be" in (
        capsys.readouterr().err)
