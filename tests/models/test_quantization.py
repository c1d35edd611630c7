"""quantize_linear_layers: int8 Linear layers in a copy, or in the model itself."""

from __future__ import annotations

import torch
from torch import nn

from dialogflowlite.models.quantization import quantize_linear_layers


def _model() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 4))


def test_a_copy_is_quantized_and_the_model_is_left_as_it_was() -> None:
    model = _model().train()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    quantized = quantize_linear_layers(model)
    assert quantized is not model
    assert not isinstance(quantized[0], nn.Linear) and not quantized.training
    # the caller's model keeps its float layers, its weights and its training mode
    assert isinstance(model[0], nn.Linear) and model.training
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    x = torch.randn(3, 8)
    assert torch.allclose(quantized(x), model.eval()(x), atol=0.05)


def test_in_place_quantizes_the_model_itself() -> None:
    model = _model()
    assert quantize_linear_layers(model, inplace=True) is model
    assert not isinstance(model[0], nn.Linear)
