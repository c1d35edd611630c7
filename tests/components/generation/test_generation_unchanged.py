"""A reused generator makes no new model when nothing else changed: the manifest's notes
of how the first training went (``reused``, ``fit``) are no change."""

from __future__ import annotations

from generation_project import write_generation_project

from dialogflowlite.artifact import open_model
from dialogflowlite.training.trainer import TrainOptions, train


def test_a_reused_generator_writes_no_new_model(tmp_path) -> None:
    root = write_generation_project(tmp_path / "quick", epochs=1)
    options = TrainOptions(progress=False)
    first = train(root, sections=("generation",), options=options)
    with open_model(first.model_path) as archive:
        [entry] = archive.manifest.sections["generation"]["generators"]
        assert entry["reused"] is False  # what the second training would note differs
    again = train(root, sections=("generation",), options=options)
    assert again.reused == ["generation/0_NeuralResponseGenerator"]
    assert not again.written and again.model_path == first.model_path
    assert [p.name for p in (root / "models").glob("*.tar")] == [first.model_path.name]


def test_a_run_time_setting_changed_reuses_the_generator_with_the_new_value(tmp_path) -> None:
    from generation_project import config_yaml

    from dialogflowlite.agent import Agent

    root = write_generation_project(tmp_path / "quick", epochs=1)
    options = TrainOptions(progress=False)
    first = train(root, sections=("generation",), options=options)
    # the threshold and the decoding act only when replies are judged and written: changing
    # them retrained the whole generator (minutes at the default size)
    (root / "config.yml").write_text(
        config_yaml(epochs=1, threshold=-0.5, decoding={"beam_size": 2, "max_length": 20}),
        encoding="utf-8")
    again = train(root, sections=("generation",), options=options)
    assert again.reused == ["generation/0_NeuralResponseGenerator"]
    assert again.written and again.model_path != first.model_path
    agent = Agent.load(again.model_path)
    try:
        [generator] = agent.responder.generators
        assert generator.config["threshold"] == -0.5
        assert (generator.decoding.beam_size, generator.decoding.max_length) == (2, 20)
    finally:
        agent.close()
    # `train --quantize` flags int8 on the reused generator, as training would
    quantized = train(root, sections=("generation",),
                      options=TrainOptions(progress=False, quantize=True))
    assert quantized.reused == ["generation/0_NeuralResponseGenerator"]
    with open_model(quantized.model_path) as archive:
        [record] = archive.manifest.components
        assert record.config["quantize"] is True
    # a setting that shapes what training makes still retrains
    (root / "config.yml").write_text(config_yaml(epochs=2, threshold=-0.5), encoding="utf-8")
    assert train(root, sections=("generation",), options=options).reused == []
