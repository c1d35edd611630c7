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
