"""``train`` with nothing changed since the newest model writes no model (Rasa 2's
"Nothing changed. You can use the old model stored at ...")."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import pytest
from keyword_bot import CONFIG, DOMAIN, NLU, RULES

from dialogflowlite.artifact import Manifest, ModelWriter, open_model
from dialogflowlite.training.trainer import TrainOptions, _manifest_content, dry_run, train

OPTIONS = TrainOptions(progress=False)


@pytest.fixture
def project(write_project) -> Path:
    return write_project(domain=DOMAIN, nlu=NLU, rules=RULES, config=CONFIG)


def _models(project: Path, folder: str = "models") -> list[str]:
    return sorted(p.name for p in (project / folder).glob("*.tar"))


def _domain_of(model: Path) -> dict:
    with open_model(model) as archive:
        return json.loads(archive.storage("domain").path("domain.json").read_text("utf-8"))


def test_a_second_training_with_nothing_changed_writes_no_model(project) -> None:
    first = train(project, options=OPTIONS)
    assert first.written and first.trained
    before = _models(project)
    stamp = first.model_path.stat().st_mtime_ns

    again = train(project, options=OPTIONS)
    assert not again.written
    assert again.model_path == first.model_path
    assert again.trained == [] and sorted(again.reused) == sorted(first.trained)
    assert _models(project) == before
    assert first.model_path.stat().st_mtime_ns == stamp


def test_a_changed_response_text_writes_a_new_model_from_reused_components(project) -> None:
    first = train(project, options=OPTIONS)
    (project / "domain.yml").write_text(DOMAIN.replace("Hello!", "Hi there!"), "utf-8")
    again = train(project, options=OPTIONS)
    # no component learns from response texts, but the model carries the domain
    assert again.trained == [] and again.reused
    assert again.written and again.model_path != first.model_path
    assert len(_models(project)) == 2
    assert _domain_of(again.model_path)["responses"]["utter_greet"] == [{"text": "Hi there!"}]
    assert _domain_of(first.model_path)["responses"]["utter_greet"] == [{"text": "Hello!"}]
    # and the new one is then the model nothing changed since
    assert train(project, options=OPTIONS).model_path == again.model_path


def test_a_changed_setting_no_component_reads_writes_a_new_model(project) -> None:
    train(project, options=OPTIONS)
    # the config travels in the manifest: a key no component reads still makes a new model
    (project / "config.yml").write_text(CONFIG + "assistant_id: other_bot\n", "utf-8")
    again = train(project, options=OPTIONS)
    assert again.trained == [] and again.written


def test_force_always_writes_a_model(project) -> None:
    first = train(project, options=OPTIONS)
    forced = train(project, options=TrainOptions(progress=False, force=True))
    assert forced.written and forced.model_path != first.model_path
    assert forced.trained and forced.reused == []
    assert len(_models(project)) == 2


def test_persisting_the_nlu_data_or_not_is_a_change(project) -> None:
    train(project, options=OPTIONS)
    kept = train(project, options=TrainOptions(progress=False, persist_nlu_data=True))
    assert kept.trained == [] and kept.written
    assert not train(project, options=TrainOptions(progress=False,
                                                   persist_nlu_data=True)).written
    assert train(project, options=OPTIONS).written


def test_a_fixed_model_name_is_written_unless_the_unchanged_model_has_it(project) -> None:
    first = train(project, options=OPTIONS)
    # Rasa 2 would name the old model and leave models/stable.tar missing
    named = train(project, options=OPTIONS, fixed_model_name="stable")
    assert named.written and named.trained == []
    assert named.model_path == project / "models" / "stable.tar"
    assert named.model_path.is_file() and first.model_path.is_file()
    stamp = named.model_path.stat().st_mtime_ns

    again = train(project, options=OPTIONS, fixed_model_name="stable.tar")
    assert not again.written and again.model_path == named.model_path
    assert named.model_path.stat().st_mtime_ns == stamp
    assert len(_models(project)) == 2


def test_the_newest_model_of_the_output_folder_is_compared(project, tmp_path) -> None:
    train(project, options=OPTIONS)
    elsewhere = tmp_path / "elsewhere"
    first = train(project, options=OPTIONS, output=elsewhere)
    assert first.written and first.model_path.parent == elsewhere
    assert not train(project, options=OPTIONS, output=elsewhere).written


def test_one_part_is_compared_with_a_model_of_that_part(project) -> None:
    whole = train(project, options=OPTIONS)
    # the newest model holds dialogue too: an NLU-only model differs from it
    nlu = train(project, sections=("nlu",), options=OPTIONS)
    assert nlu.written and nlu.trained == [] and nlu.model_path.name.startswith("nlu-")
    again = train(project, sections=("nlu",), options=OPTIONS)
    assert not again.written and again.model_path == nlu.model_path
    assert whole.model_path.is_file()


def test_a_dry_run_tells_an_unchanged_model_from_a_changed_domain(project) -> None:
    first = train(project, options=OPTIONS)
    result = dry_run(project, options=OPTIONS)
    assert result.code == 0 and result.unchanged
    assert f"Nothing changed: training would write no new model and name {first.model_path}." \
        in result.report()

    (project / "domain.yml").write_text(DOMAIN.replace("Bye!", "See you!"), "utf-8")
    result = dry_run(project, options=OPTIONS)
    assert result.code == 0 and not result.unchanged
    assert "No component needs training." in result.report()
    assert any("training would write a new model from the reused components" in line
               for line in result.report())


def test_a_whole_training_is_not_answered_with_an_equal_model_of_one_part(write_project) -> None:
    # no stories: `train` and `train nlu` hold the same, but are named apart
    root = write_project(domain=DOMAIN, nlu=NLU, config=CONFIG)
    nlu = train(root, sections=("nlu",), options=OPTIONS)
    assert not dry_run(root, options=OPTIONS).unchanged
    assert dry_run(root, sections=("nlu",), options=OPTIONS).unchanged
    whole = train(root, options=OPTIONS)
    assert whole.written and not whole.model_path.name.startswith("nlu-")
    assert not train(root, options=OPTIONS).written
    assert nlu.model_path.is_file()


def test_two_trainings_in_one_second_do_not_overwrite_each_other(project) -> None:
    first = train(project, options=OPTIONS)
    forced = train(project, options=TrainOptions(progress=False, force=True))
    assert forced.model_path != first.model_path
    assert first.model_path.is_file() and forced.model_path.is_file()


def _files_under(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture
def work_folders(monkeypatch) -> list[list[str]]:
    """The files each training's work folder holds when it is removed, one list a training."""
    seen: list[list[str]] = []
    close = ModelWriter.close

    def closing(writer: ModelWriter) -> None:
        seen.append(sorted(_files_under(writer.workdir)))
        close(writer)

    monkeypatch.setattr(ModelWriter, "close", closing)
    return seen


def test_a_training_with_nothing_changed_copies_and_writes_nothing(project, tmp_path,
                                                                   monkeypatch,
                                                                   work_folders) -> None:
    temp = tmp_path / "temp"
    temp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(temp))
    first = train(project, options=OPTIONS)
    assert train(project, options=OPTIONS).model_path == first.model_path  # unpacks it once
    models, temp_files = _files_under(project / "models"), _files_under(temp)
    work_folders.clear()

    again = train(project, options=OPTIONS)
    assert not again.written and again.model_path == first.model_path
    assert again.reused and again.trained == []
    # only what is compared with the previous model: no reused component was copied
    assert work_folders == [["domain/domain.json"]]
    assert _files_under(project / "models") == models
    assert _files_under(temp) == temp_files


def test_a_model_written_from_reused_components_holds_their_files(project,
                                                                   work_folders) -> None:
    first = train(project, options=OPTIONS)
    (project / "domain.yml").write_text(DOMAIN.replace("Hello!", "Howdy!"), "utf-8")
    again = train(project, options=OPTIONS)
    assert again.written and again.trained == [] and again.reused
    assert all(any(name.startswith(f"{key}/") for name in work_folders[-1])
               for key in again.reused)
    with open_model(first.model_path) as old, open_model(again.model_path) as new:
        for key in again.reused:
            assert new.has(key)
            assert _files_under(new.root / key) == _files_under(old.root / key)


def _manifest(reused: bool, fit: dict, setting: int) -> Manifest:
    return Manifest(sections={
        "generation": {"generators": [{"key": "g", "reused": reused, "fit": fit}]},
        "nlu": {"language": "en", "components": [{"key": "c", "config": {"fit": setting}}]},
    })


def test_only_the_notes_of_a_run_are_left_out_of_the_comparison() -> None:
    trained = _manifest(False, {"loss": 0.1}, 1)
    reused = _manifest(True, {}, 1)
    reused.created += 60
    assert _manifest_content(trained) == _manifest_content(reused)
    # a component setting of the same name is what the model holds
    assert _manifest_content(reused) != _manifest_content(_manifest(True, {}, 2))
    assert _manifest_content(reused)["sections"]["generation"] == {"generators": [{"key": "g"}]}
