"""The from-scratch generator with ``copy_attention`` (a pointer over its input)."""

from __future__ import annotations

import pytest
from generation_project import (
    reload_and_compare,
    tiny_config,
    tracker_for,
    write_generation_project,
)

from dialogflowlite.artifact import ComponentStorage
from dialogflowlite.components.generation.data import project_examples
from dialogflowlite.components.generation.neural import NeuralResponseGenerator
from dialogflowlite.errors import ComponentConfigError
from dialogflowlite.io.loader import load_project


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    root = write_generation_project(tmp_path_factory.mktemp("copying") / "project")
    project = load_project(root)
    generator = NeuralResponseGenerator(tiny_config(copy_attention=True))
    generator.train(project_examples(project))
    return generator, project


def test_the_model_points_and_keeps_the_slot_values(trained) -> None:
    generator, project = trained
    assert generator.backend.model.config.copy_attention
    reply = generator.generate_for_action(
        "utter_offer", tracker_for(project, city="Reykjavik", cuisine="smørrebrød"))
    assert reply.accepted, reply.reason
    assert "Reykjavik" in reply.text and "smørrebrød" in reply.text


def test_saved_and_loaded_it_replies_the_same(trained, tmp_path) -> None:
    generator, project = trained
    loaded = reload_and_compare(generator, project, tmp_path / "gen")
    assert loaded.backend.model.config.copy_attention


def test_int8_weights_keep_the_pointer_working(trained, tmp_path) -> None:
    generator, project = trained
    storage = ComponentStorage(tmp_path / "gen")
    generator.persist(storage)
    loaded = NeuralResponseGenerator.load(generator.config, storage, quantize=True)
    reply = loaded.generate_for_action(
        "utter_offer", tracker_for(project, city="Tokyo", cuisine="dim sum"))
    assert reply.accepted, reply.reason
    assert "Tokyo" in reply.text and "dim sum" in reply.text


@pytest.mark.parametrize("settings", [{"source_encoder": "all-MiniLM-L6-v2"},
                                      {"model": "t5-small"}])
def test_it_is_only_for_the_model_that_reads_its_own_tokens(settings) -> None:
    with pytest.raises(ComponentConfigError, match="copy_attention"):
        NeuralResponseGenerator({"copy_attention": True, **settings})
