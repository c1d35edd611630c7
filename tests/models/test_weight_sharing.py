"""Identical weights of inference-only models are held once per process."""

from __future__ import annotations

import gc
import weakref

import torch
from torch import nn

from dialogflowlite.models.weight_sharing import share_identical_weights


def small_model(seed: int) -> nn.Sequential:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Embedding(50, 16), nn.Linear(16, 4))


def test_an_equal_parameter_is_taken_from_the_model_loaded_before() -> None:
    first = small_model(0)
    second = small_model(1)
    second[0].weight.data.copy_(first[0].weight)  # frozen: the same table in both
    ids = torch.tensor([[3, 7, 11]])
    expected = second(ids)
    assert share_identical_weights(first, min_bytes=0) == 0
    freed = share_identical_weights(second, min_bytes=0)
    assert second[0].weight is first[0].weight
    assert second[1].weight is not first[1].weight  # different values stay apart
    assert freed == 50 * 16 * 4
    assert torch.equal(second(ids), expected)


def test_parameters_under_the_size_limit_are_left_alone() -> None:
    first, second = small_model(2), small_model(2)
    share_identical_weights(first, min_bytes=0)
    assert share_identical_weights(second, min_bytes=50 * 16 * 4 + 1) == 0
    assert second[0].weight is not first[0].weight


def test_an_unloaded_model_is_freed_and_no_longer_shared() -> None:
    first = small_model(4)
    share_identical_weights(first, min_bytes=0)
    watched = weakref.ref(first[0].weight)
    del first
    gc.collect()
    assert watched() is None  # the registry does not keep it alive
    assert share_identical_weights(small_model(4), min_bytes=0) == 0
