"""The generators' training loop: ending with the moving average of the weights."""

from __future__ import annotations

import torch

from dialogflowlite.components.generation.fit import FitConfig, fit


def _train(weight_average: float | None) -> tuple[torch.nn.Module, list[torch.Tensor]]:
    torch.manual_seed(0)
    model = torch.nn.Linear(4, 1)
    inputs = torch.randn(64, 4)
    targets = inputs @ torch.tensor([[1.0], [-2.0], [0.5], [3.0]])
    items = list(range(64))
    seen: list[torch.Tensor] = []

    def loss(batch: list[int]) -> torch.Tensor:
        seen.append(model.weight.detach().clone())  # the weights each step starts from
        return torch.nn.functional.mse_loss(model(inputs[batch]), targets[batch])

    config = FitConfig(epochs=5, batch_size=8, learning_rate=0.05, warmup_steps=1,
                       weight_average=weight_average)
    fit(model, items, [1] * len(items), loss, config)
    return model, seen


def test_training_ends_with_the_averaged_weights() -> None:
    last, _ = _train(None)
    averaged, visited = _train(0.9)
    # the same steps were taken; only the weights kept at the end differ
    assert not torch.allclose(averaged.weight, last.weight)
    assert averaged.training is False
    # the average lies among the weights visited late in training, not at the start
    distance_to_start = (averaged.weight - visited[0]).norm()
    distance_to_end = (averaged.weight - last.weight).norm()
    assert distance_to_end < distance_to_start
