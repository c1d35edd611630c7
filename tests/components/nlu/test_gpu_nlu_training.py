"""Training on a GPU: the held-out scores, parsing and saving work with the model there.

Skipped where torch sees no CUDA device; the rest of the suite trains on the CPU.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from tiny_encoder import parse, toy_training_data

from dialogflowlite.artifact import ComponentStorage
from dialogflowlite.components.base import NluContext
from dialogflowlite.components.nlu.joint_transformer import JointTransformerClassifier
from dialogflowlite.components.nlu.scratch_transformer import ScratchTransformerClassifier

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")

SETTINGS = {"epochs": 40, "batch_size": 8, "device": "cuda", "use_crf": True,
            "restrict_entities_to_intent": True, "patience": 0}


def _gold(data) -> list[tuple[str | None, list[tuple]]]:
    return [(m.intent, [(e.entity, e.start, e.end) for e in m.entities]) for m in data.examples]


def _found(messages) -> list[tuple[str | None, list[tuple]]]:
    return [(m.intent, [(e.entity, e.start, e.end) for e in m.entities]) for m in messages]


@pytest.mark.parametrize("kind", ["pretrained", "scratch"])
def test_trains_on_the_gpu_with_held_out_scores_and_saves_for_the_cpu(
    kind: str, tiny_model: Path, tmp_path: Path
) -> None:
    data = toy_training_data()
    if kind == "pretrained":
        component = JointTransformerClassifier({
            "model": str(tiny_model), "learning_rate": 3e-3, "freeze_embeddings": False,
            "head_learning_rate_factor": 1.0, **SETTINGS})
    else:
        component = ScratchTransformerClassifier(SETTINGS)
    # the training data itself as the held-out part: scored on the GPU after each epoch
    component.fit(data, NluContext(progress=False, seed=3), held_out=data)
    assert next(component.model.parameters()).device.type == "cuda"
    assert component.fit_result.best_score is not None
    on_gpu = parse(component, [m.text for m in data.examples])
    assert _found(on_gpu) == _gold(data)

    storage = ComponentStorage(tmp_path / "classifier")
    component.persist(storage)
    loaded = type(component).load(component.config, storage)
    assert next(loaded.model.parameters()).device.type == "cpu"
    assert _found(parse(loaded, [m.text for m in data.examples])) == _found(on_gpu)


SELECTOR_ROWS = [
    ("faq/ask_price", "how much does it cost"), ("faq/ask_price", "what is the price"),
    ("faq/ask_hours", "when are you open"), ("faq/ask_hours", "what are your opening hours"),
    ("chitchat/ask_name", "what is your name"), ("chitchat/ask_name", "who are you"),
    ("greet", "hello"),
]


def _selected(messages) -> list[str]:
    return [m.response_selector["default"]["response"]["intent_response_key"] for m in messages]


@pytest.mark.parametrize("encoder", ["scratch", "frozen", "fine_tuned"])
def test_response_selector_trains_on_the_gpu_and_saves_for_the_cpu(
    encoder: str, tiny_model: Path, tmp_path: Path
) -> None:
    from dialogflowlite.components.nlu.response_selector import ResponseSelector
    from dialogflowlite.components.tokenizers.alignment import simple_tokens
    from dialogflowlite.shared.message import Message
    from dialogflowlite.shared.training_data import TrainingData

    data = TrainingData(examples=[Message(text=t, intent=i, tokens=simple_tokens(t))
                                  for i, t in SELECTOR_ROWS])
    settings = {"epochs": 60, "learning_rate": 1e-2, "batch_size": 8, "patience": 0,
                "device": "cuda"}
    if encoder == "scratch":
        settings.update(hidden_size=32, num_heads=2, ff_size=64, head_size=32)
    else:
        settings.update(model=str(tiny_model), fine_tune=encoder == "fine_tuned")
    component = ResponseSelector(settings)
    component.fit(data, NluContext(progress=False, seed=3), held_out=data)
    assert next(component.model.parameters()).device.type == "cuda"
    texts = [t for i, t in SELECTOR_ROWS if "/" in i]
    on_gpu = _selected(parse(component, texts))
    if encoder == "scratch":
        assert on_gpu == [i for i, _ in SELECTOR_ROWS if "/" in i]

    storage = ComponentStorage(tmp_path / "selector")
    component.persist(storage)
    loaded = ResponseSelector.load(component.config, storage)
    assert _selected(parse(loaded, texts)) == on_gpu
