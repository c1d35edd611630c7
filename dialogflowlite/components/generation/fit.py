"""The training loop of the response generators.

AdamW, linear warm-up then cosine decay, gradient clipping, label smoothing,
batches of similar lengths, a fixed seed, and an optional time budget: with
``max_minutes`` the schedule decays over the budget (whichever of epochs and
time runs out first), so a run cut by time still ends at a low learning rate
instead of being stopped mid-flight.
"""

from __future__ import annotations

import logging
import math
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch

from dialogflowlite.training.optim import AdamW

logger = logging.getLogger(__name__)


@dataclass
class FitConfig:
    """Settings of one training run, every one with its default."""

    epochs: int = 30
    batch_size: int = 32
    learning_rate: float = 5e-4
    warmup_steps: int = 200
    weight_decay: float = 0.01
    label_smoothing: float = 0.1
    max_minutes: float | None = None
    clip_norm: float = 1.0
    seed: int = 42
    #: the learning rate never falls below this fraction of its peak
    min_lr_ratio: float = 0.02


@dataclass
class FitResult:
    """What a training run did."""

    steps: int = 0
    epochs: float = 0.0
    seconds: float = 0.0
    stopped_by: str = "epochs"
    losses: list[float] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"steps": self.steps, "epochs": round(self.epochs, 2),
                "seconds": round(self.seconds, 1), "stopped_by": self.stopped_by,
                "final_loss": round(self.losses[-1], 4) if self.losses else None}


def length_batches(lengths: Sequence[int], batch_size: int,
                   rng: random.Random) -> list[list[int]]:
    """Indices grouped into batches of similar length (less padding), in random order."""
    order = sorted(range(len(lengths)), key=lambda i: (lengths[i], rng.random()))
    batches = [order[i:i + batch_size] for i in range(0, len(order), batch_size)]
    rng.shuffle(batches)
    return batches


def learning_rate(config: FitConfig, step: int, progress: float) -> float:
    """Warm-up over ``warmup_steps``, then cosine decay with ``progress`` from 0 to 1."""
    warm = min(1.0, (step + 1) / max(1, config.warmup_steps))
    cosine = 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))
    return config.learning_rate * warm * max(config.min_lr_ratio, cosine)


def fit(model: torch.nn.Module, items: Sequence[Any], lengths: Sequence[int],
        loss_fn: Callable[[list[Any]], torch.Tensor], config: FitConfig, *,
        progress: Callable[[int, float, float], None] | None = None) -> FitResult:
    """Train ``model`` on ``items``; ``loss_fn(batch)`` returns the batch's mean loss.

    ``progress(epoch, loss, seconds)`` is called after each epoch.
    """
    rng = random.Random(config.seed)
    torch.manual_seed(config.seed)
    decay, no_decay = [], []
    for name, parameter in model.named_parameters():
        if not parameter.requires_grad:
            continue
        (no_decay if parameter.ndim < 2 or "norm" in name else decay).append(parameter)
    optimizer = AdamW(
        [{"params": decay, "weight_decay": config.weight_decay},
         {"params": no_decay, "weight_decay": 0.0}], lr=config.learning_rate)
    steps_per_epoch = max(1, math.ceil(len(items) / config.batch_size))
    total_steps = max(1, steps_per_epoch * config.epochs)
    budget = None if not config.max_minutes else config.max_minutes * 60.0
    result = FitResult()
    started = time.perf_counter()
    model.train()
    step = 0
    done = False
    for epoch in range(config.epochs):
        running, count = 0.0, 0
        for batch_index in length_batches(lengths, config.batch_size, rng):
            elapsed = time.perf_counter() - started
            done_fraction = step / total_steps
            if budget is not None:
                done_fraction = max(done_fraction, elapsed / budget)
                if elapsed >= budget:
                    result.stopped_by = "time"
                    done = True
                    break
            for group in optimizer.param_groups:
                group["lr"] = learning_rate(config, step, done_fraction)
            loss = loss_fn([items[i] for i in batch_index])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if config.clip_norm:
                torch.nn.utils.clip_grad_norm_(model.parameters(), config.clip_norm)
            optimizer.step()
            running += float(loss.detach())
            count += 1
            step += 1
        if count:
            result.losses.append(running / count)
            result.epochs = epoch + (count / steps_per_epoch)
        if progress is not None and count:
            progress(epoch + 1, result.losses[-1], time.perf_counter() - started)
        if done:
            break
    model.eval()
    result.steps = step
    result.seconds = time.perf_counter() - started
    return result
