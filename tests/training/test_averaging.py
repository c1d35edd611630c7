"""The moving average of the weights that the training loops can end with."""

from __future__ import annotations

import pytest
import torch

from dialogflowlite.training.averaging import WeightAverage


def test_the_average_follows_the_weights_with_a_smaller_decay_at_first() -> None:
    model = torch.nn.Linear(2, 1, bias=False)
    with torch.no_grad():
        model.weight.fill_(0.0)
    average = WeightAverage(model, decay=0.5)
    expected = 0.0
    for step, value in enumerate([1.0, 2.0, 4.0], start=1):
        with torch.no_grad():
            model.weight.fill_(value)
        average.update()
        decay = min(0.5, (1 + step) / (10 + step))
        expected = decay * expected + (1 - decay) * value
    assert expected != pytest.approx(4.0)
    average.copy_to_model()
    assert torch.allclose(model.weight, torch.full((1, 2), expected))


def test_a_decay_outside_zero_and_one_is_refused() -> None:
    with pytest.raises(ValueError, match="between 0 and 1"):
        WeightAverage(torch.nn.Linear(2, 1), decay=1.0)


def test_swapping_twice_gives_the_weights_back() -> None:
    model = torch.nn.Linear(2, 1, bias=False)
    with torch.no_grad():
        model.weight.fill_(1.0)
    average = WeightAverage(model, decay=0.5)
    with torch.no_grad():
        model.weight.fill_(3.0)
    average.update()
    averaged = average.average[0].clone()
    average.swap()
    assert torch.equal(model.weight, averaged)
    average.swap()
    assert torch.equal(model.weight, torch.full((1, 2), 3.0))
