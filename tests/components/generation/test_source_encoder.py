"""The from-scratch generator reading its input through a frozen pretrained encoder."""

from __future__ import annotations

from pathlib import Path

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
from dialogflowlite.components.generation.source_encoder import SourceEncoder
from dialogflowlite.errors import ComponentConfigError, TrainingError
from dialogflowlite.io.loader import load_project


@pytest.fixture(scope="module")
def tiny_encoder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from tiny_encoder import build_tiny_encoder

    return build_tiny_encoder(tmp_path_factory.mktemp("encoder") / "tiny-bert")


@pytest.fixture(scope="module")
def trained(tmp_path_factory, tiny_encoder):
    root = write_generation_project(tmp_path_factory.mktemp("generation") / "project")
    project = load_project(root)
    generator = NeuralResponseGenerator(tiny_config(source_encoder=str(tiny_encoder)))
    encoded_inputs: list[int] = []
    original = SourceEncoder.states

    def counting(self, batch):
        encoded_inputs.append(len({tuple(ids) for ids in batch} - set(self._states)))
        return original(self, batch)

    SourceEncoder.states = counting
    try:
        generator.train(project_examples(project))
    finally:
        SourceEncoder.states = original
    return generator, project, encoded_inputs


def test_the_model_reads_the_encoders_states_and_keeps_slot_values(trained) -> None:
    generator, project, _ = trained
    model = generator.backend.model
    assert model.config.source_state_size == 32  # the tiny encoder's width
    assert model.source_projection.in_features == 32
    reply = generator.generate_for_action(
        "utter_offer", tracker_for(project, city="Reykjavik", cuisine="smørrebrød"))
    assert reply.accepted, reply.reason
    assert "Reykjavik" in reply.text and "smørrebrød" in reply.text


def test_each_distinct_input_is_encoded_once_while_training(trained) -> None:
    generator, project, encoded_inputs = trained
    prepared = [generator.delexicaliser.prepare(e) for e in project_examples(project)]
    distinct = {tuple(generator.backend.encode_source(p.source)) for p in prepared}
    assert sum(encoded_inputs) == len(distinct)
    # the kept states are dropped once training is over
    assert generator.backend.source_encoder._states == {}


def test_the_encoder_is_not_trained(trained, tiny_encoder) -> None:
    import torch

    from dialogflowlite.components.nlu.pretrained import load_local_bert

    generator, _, _ = trained
    fresh, _ = load_local_bert(str(tiny_encoder))
    kept = generator.backend.source_encoder.encoder.state_dict()
    assert all(torch.equal(kept[k], v) for k, v in fresh.state_dict().items())
    assert not any(p.requires_grad for p in generator.backend.source_encoder.encoder.parameters())


def test_saved_and_loaded_it_replies_the_same(trained, tmp_path) -> None:
    generator, project, _ = trained
    # loading rebuilds the source encoder as a FastBertEncoder: the same sums in another order
    loaded = reload_and_compare(generator, project, tmp_path / "gen", nll_tolerance=1e-4)
    with pytest.raises(TrainingError, match="cannot be saved"):
        loaded.persist(ComponentStorage(tmp_path / "again"))


def test_int8_weights_cover_the_source_encoder(trained, tmp_path) -> None:
    import torch

    generator, project, _ = trained
    storage = ComponentStorage(tmp_path / "gen")
    generator.persist(storage)
    loaded = NeuralResponseGenerator.load(generator.config, storage, quantize=True)
    encoder_modules = list(loaded.backend.source_encoder.encoder.modules())
    assert not any(type(m) is torch.nn.Linear for m in encoder_modules)
    reply = loaded.generate_for_action(
        "utter_offer", tracker_for(project, city="Tokyo", cuisine="dim sum"))
    assert reply.accepted, reply.reason
    assert "Tokyo" in reply.text and "dim sum" in reply.text


def test_a_long_input_keeps_its_end(tiny_encoder) -> None:
    encoder = SourceEncoder.build(str(tiny_encoder), max_length=6)
    long_ids = encoder.ids("hello " * 10 + "paris please")
    assert len(long_ids) == 6
    tail = encoder.ids("paris please")
    # [CLS], the last words, [SEP]: a context's latest turn is what is kept
    assert long_ids[0] == tail[0] and long_ids[-3:] == tail[-3:]
    assert len(encoder.ids("paris please")) == 4  # a short input is left whole


def test_a_pretrained_model_and_a_source_encoder_do_not_mix(tiny_encoder) -> None:
    with pytest.raises(ComponentConfigError, match="source_encoder"):
        NeuralResponseGenerator({"model": "t5-small", "source_encoder": str(tiny_encoder)})
