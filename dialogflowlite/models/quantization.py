"""Dynamic int8 quantization of a model's linear layers, for faster CPU inference.

Weights are stored as 8-bit integers and activations quantized on the fly, so
no calibration data is needed. On a CPU the gain is mostly memory traffic: a
layer's weights take a quarter of the bytes, and a model whose float weights
do not fit in the cache often does fit once quantized.
"""

from __future__ import annotations

import copy
import warnings
from typing import Any

from dialogflowlite.errors import ComponentConfigError


def quantize_linear_layers(model: Any, *, inplace: bool = False) -> Any:
    """``model`` with dynamically int8-quantized ``nn.Linear`` layers (CPU inference).

    By default the model is copied first and left as it was; ``inplace``
    changes and returns the model itself, for a model loaded only to be
    quantized (no float copy of its other weights is made).
    """
    import torch

    try:
        from torch.ao.quantization import quantize_dynamic
    except ImportError as e:  # pragma: no cover - depends on the torch build
        raise ComponentConfigError(
            "this torch build has no dynamic quantization", hint="set quantize: false"
        ) from e
    # torch's own Transformer layers stay in float: their forward reads
    # `linear1.weight` as a tensor, which a quantized Linear offers only as a method.
    float_layers = (torch.nn.TransformerEncoderLayer, torch.nn.TransformerDecoderLayer)
    kept = [name for name, module in model.named_modules() if isinstance(module, float_layers)]
    names = {
        name
        for name, module in model.named_modules()
        if isinstance(module, torch.nn.Linear)
        and not any(name.startswith(f"{prefix}.") for prefix in kept)
    }
    if not inplace:
        # copied here, not by quantize_dynamic: moving to the CPU first would move
        # the caller's model (one trained on a GPU) along with it
        model, inplace = copy.deepcopy(model), True
    with warnings.catch_warnings():
        # the eager quantization API is marked for migration; it still works
        warnings.simplefilter("ignore")
        return quantize_dynamic(model.to("cpu").eval(), names, dtype=torch.qint8,
                                inplace=inplace)
