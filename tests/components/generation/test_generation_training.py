from __future__ import annotations

import asyncio

import pytest
from generation_project import write_generation_project

from dialogflowlite.artifact import ModelWriter, open_model
from dialogflowlite.components.generation.responder import Responder
from dialogflowlite.components.generation.training import GenerationSection
from dialogflowlite.errors import TrainingError
from dialogflowlite.io.loader import load_project
from dialogflowlite.shared.events import SlotSet
from dialogflowlite.shared.tracker import DialogueStateTracker
from dialogflowlite.training.trainer import TrainingContext, TrainOptions, train


def test_section_is_configured_only_with_generators(generation_project, write_project) -> None:
    assert GenerationSection().is_configured(load_project(generation_project))
    bare = write_project(domain='version: "3.1"\nintents: [greet]\n', name="bare")
    assert not GenerationSection().is_configured(load_project(bare))


def test_train_writes_the_generator_and_reuses_it(generation_project) -> None:
    options = TrainOptions(progress=False)
    first = train(generation_project, sections=("generation",), options=options)
    assert first.trained == ["generation/0_NeuralResponseGenerator"]
    with open_model(first.model_path) as archive:
        section = archive.manifest.sections["generation"]
        assert section["generators"][0]["pairs"] == 20
        record = archive.manifest.component("generation/0_NeuralResponseGenerator")
        assert record.kind == "generator" and record.section == "generation"
        project = load_project(generation_project)
        responder = Responder.load(archive, project.domain)
    tracker = DialogueStateTracker.for_domain("u1", project.domain)
    tracker.update(SlotSet(name="city", value="Seoul"))
    tracker.update(SlotSet(name="cuisine", value="tacos"))
    [message] = asyncio.run(responder.respond("utter_offer", tracker))
    assert "Seoul" in message["text"] and "tacos" in message["text"]
    assert message["metadata"]["generated"] is True

    second = train(generation_project, sections=("generation",), options=options)
    assert second.reused == ["generation/0_NeuralResponseGenerator"]
    assert second.trained == []


def test_changed_pairs_or_settings_retrain(tmp_path) -> None:
    root = write_generation_project(tmp_path / "quick", epochs=1)
    options = TrainOptions(progress=False)
    train(root, sections=("generation",), options=options)
    extra = root / "data" / "more.jsonl"
    extra.write_text('{"question": "is there parking?", "answer": "Yes, behind the house."}\n')
    again = train(root, sections=("generation",), options=options)
    assert again.trained == ["generation/0_NeuralResponseGenerator"]
    # a setting that shapes training (the threshold only judges replies: it does not)
    write_generation_project(root, epochs=1, label_smoothing=0.1)
    assert train(root, sections=("generation",), options=options).reused == []


def test_a_non_generator_under_generators_is_an_error(generation_project) -> None:
    project = load_project(generation_project)
    project.config.generators[0].name = "WhitespaceTokenizer"
    with pytest.raises(TrainingError, match="not a generator"):
        GenerationSection().train(project, TrainingContext(ModelWriter(), None, TrainOptions()))


def test_a_blocklist_file_is_read_from_the_project_and_kept_in_the_model(
        tmp_path, monkeypatch) -> None:
    root = write_generation_project(tmp_path / "quick", epochs=1,
                                    blocklist_file="blocklist.txt")
    (root / "blocklist.txt").write_text("# words never sent\ndamn\n", encoding="utf-8")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    # `train --project quick` run from another folder
    monkeypatch.chdir(elsewhere)
    options = TrainOptions(progress=False)
    first = train(root, sections=("generation",), options=options)
    # the model is served where the project's files are not
    (root / "blocklist.txt").unlink()
    with open_model(first.model_path) as archive:
        responder = Responder.load(archive, load_project(root).domain)
    [generator] = responder.generators
    assert generator.blocklist.phrases == ["damn"]
    assert generator.config["blocklist_file"] == "blocklist.txt"

    (root / "blocklist.txt").write_text("damn\nheck\n", encoding="utf-8")
    again = train(root, sections=("generation",), options=options)
    assert again.trained == ["generation/0_NeuralResponseGenerator"]
    with open_model(again.model_path) as archive:
        [generator] = Responder.load(archive, load_project(root).domain).generators
    assert generator.blocklist.phrases == ["damn", "heck"]
