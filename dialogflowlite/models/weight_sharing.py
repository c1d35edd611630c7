"""Weights that several loaded models hold unchanged, kept once per process.

Two components of one pipeline often start from the same pretrained encoder:
the joint classifier fine-tunes it with its word-piece embeddings and lowest
layers frozen, and the response selector keeps it frozen entirely. Their
saved weights then share large tensors bit for bit (for all-MiniLM-L6-v2 with
two frozen layers: the 47 MB embedding table and two layers, 59 MB of 86),
and a server that loads both held them twice.

:func:`share_identical_weights` is called on a model loaded for inference
only: each large parameter that equals one already held by another loaded
model is replaced by that one, and the copy is freed. Only inference-only
models take part, since a model that trains must own its weights. The
registry holds weak references, so unloading a model frees its weights as
before.
"""

from __future__ import annotations

import threading
import weakref

import torch
from torch import nn

#: parameters smaller than this are not worth a comparison
MIN_SHARED_BYTES = 1 << 20

_held: dict[tuple[tuple[int, ...], torch.dtype], list[weakref.ref[nn.Parameter]]] = {}
_lock = threading.Lock()


def share_identical_weights(model: nn.Module, min_bytes: int | None = None) -> int:
    """Point ``model``'s large parameters at equal ones held by other loaded models.

    ``model`` must be used for inference only from now on, on the device it
    was loaded to: its parameters may be another model's, and ``Module.to``
    moves a parameter in place, for every model holding it. Parameters under
    ``min_bytes`` (default :data:`MIN_SHARED_BYTES`) are left alone. Returns
    the number of bytes freed.
    """
    if min_bytes is None:
        min_bytes = MIN_SHARED_BYTES
    freed = 0
    with _lock, torch.no_grad():
        for module in model.modules():
            for name, parameter in list(module._parameters.items()):
                if parameter is None or parameter.is_meta or parameter.is_quantized:
                    continue
                size = parameter.numel() * parameter.element_size()
                if size < min_bytes:
                    continue
                same = _held_equal(parameter)
                if same is None:
                    _hold(parameter)
                elif same is not parameter:
                    module._parameters[name] = same
                    freed += size
    return freed


def _held_equal(parameter: nn.Parameter) -> nn.Parameter | None:
    """A held parameter equal to ``parameter`` (possibly itself), or None."""
    key = (tuple(parameter.shape), parameter.dtype)
    alive = [ref for ref in _held.get(key, []) if ref() is not None]
    _held[key] = alive
    for ref in alive:
        held = ref()
        if held is not None and held.device == parameter.device and (
                held is parameter or torch.equal(held, parameter)):
            return held
    return None


def _hold(parameter: nn.Parameter) -> None:
    key = (tuple(parameter.shape), parameter.dtype)
    _held.setdefault(key, []).append(weakref.ref(parameter))
