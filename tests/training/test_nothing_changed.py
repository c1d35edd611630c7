"""``train`` with nothing changed since the newest model writes no model (Rasa 2's
"Nothing changed. You can use the old model stored at ...")."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from keyword_bot import CONFIG, DOMAIN, NLU, RULES

from dialogflowlite.artifact import open_model
from dialogflowlite.training.trainer import TrainOptions, dry_run, train

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
    assert "No training needed." in result.report()
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
