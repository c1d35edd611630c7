"""An exponential moving average of a model's weights, for the training loops.

The average of the weights visited late in training usually generalises
better than the last step's weights. It costs one more copy of the trainable
weights and two vector operations per step.
"""

from __future__ import annotations

import torch


class WeightAverage:
    """An exponential moving average of a model's trainable weights."""

    def __init__(self, model: torch.nn.Module, decay: float) -> None:
        if not 0.0 < decay < 1.0:
            raise ValueError(f"weight_average decay must be between 0 and 1, not {decay}")
        self.decay = decay
        self.parameters = [p for p in model.parameters() if p.requires_grad]
        self.average = [p.detach().clone() for p in self.parameters]
        self.updates = 0

    @torch.no_grad()
    def update(self) -> None:
        """Move the average towards the current weights (after an optimizer step)."""
        self.updates += 1
        # early on the decay is smaller, so the random initial weights of a
        # fresh head do not linger in the average of a short training
        decay = min(self.decay, (1.0 + self.updates) / (10.0 + self.updates))
        torch._foreach_mul_(self.average, decay)
        torch._foreach_add_(self.average, [p.detach() for p in self.parameters],
                            alpha=1.0 - decay)

    @torch.no_grad()
    def swap(self) -> None:
        """Exchange the model's weights and their average (twice: back as before)."""
        for parameter, average in zip(self.parameters, self.average, strict=True):
            current = parameter.detach().clone()
            parameter.copy_(average)
            average.copy_(current)

    @torch.no_grad()
    def copy_to_model(self) -> None:
        """Replace the model's weights by their average."""
        for parameter, average in zip(self.parameters, self.average, strict=True):
            parameter.copy_(average)
