"""The one fine-tuning loop every trainable component uses.

AdamW with linear warm-up and linear decay, gradient clipping, batches of
similar length (less padding), early stopping on a held-out part with the
best weights restored, a fixed seed (same data and seed give the same
weights), an optional time budget, and a progress bar with loss, accuracy and
ETA. It runs on the GPU when one is available unless told otherwise.

The loop knows nothing about the model: the caller gives the examples, a
``collate`` function that turns a list of them into a batch (dicts, lists or
tuples of tensors), a ``step`` function that computes the loss of a batch,
and optionally an ``evaluate`` function scoring the model on held-out data
(higher is better).
"""

from __future__ import annotations

import logging
import math
import os
import random
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import torch
from torch import nn

from dialogflowlite.errors import ConfigError
from dialogflowlite.training.optim import AdamW, WarmupLinearDecay

logger = logging.getLogger(__name__)

Item = TypeVar("Item")

#: batches of this many times ``batch_size`` examples are sorted by length together
_BUCKET_BATCHES = 50


@dataclass
class LoopConfig:
    """Every setting of :func:`fit`, with its default."""

    epochs: int = 10
    batch_size: int = 32
    learning_rate: float = 5e-5
    weight_decay: float = 0.01
    warmup_ratio: float = 0.1
    max_grad_norm: float = 1.0
    #: held-out evaluations without improvement before stopping (0: never stop early)
    patience: int = 3
    #: optimizer steps between held-out evaluations (None: after every epoch)
    eval_every: int | None = None
    #: stop after this much wall time (None: no limit)
    max_minutes: float | None = None
    seed: int = 42
    #: "cpu", "cuda", "cuda:1", ... (None: the GPU when there is one)
    device: str | None = None
    progress: bool = True
    description: str = "training"
    #: learning rate factor per parameter-name prefix (e.g. a faster head)
    lr_multipliers: dict[str, float] = field(default_factory=dict)


@dataclass
class StepOutput:
    """What ``step`` returns for one batch: the loss, and counts for the accuracy shown."""

    loss: torch.Tensor
    correct: int = 0
    total: int = 0


@dataclass
class FitResult:
    """What happened during :func:`fit`."""

    epochs: float
    steps: int
    seconds: float
    best_score: float | None = None
    best_step: int | None = None
    stopped_early: bool = False
    out_of_time: bool = False
    history: list[dict[str, float]] = field(default_factory=list)

    def summary(self) -> str:
        """One line for the training log: epochs, time and how training ended."""
        parts = [f"trained {self.epochs:.1f} epochs in {self.seconds:.1f} s"]
        if self.best_score is not None:
            parts.append(f"best held-out score {self.best_score:.4f}")
        else:
            parts.append("no held-out part")
        if self.stopped_early:
            parts.append("stopped early")
        if self.out_of_time:
            parts.append("time budget used up")
        return ", ".join(parts)


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch so that a run can be repeated exactly."""
    random.seed(seed)
    try:
        import numpy as np

        np.random.seed(seed % (2**32))
    except ImportError:  # numpy is a dependency, but the loop does not need it
        pass
    torch.manual_seed(seed)


def resolve_device(device: str | None = None) -> torch.device:
    """The device to train on: as asked, else the GPU when there is one, else the CPU.

    A device this machine (or this build of torch) does not have is a
    :class:`ConfigError` saying so, not torch's failure at the first tensor moved.
    """
    if not device or device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        chosen = torch.device(device)
    except RuntimeError as e:
        raise ConfigError(f"setting 'device' names no device torch knows: {device!r}",
                          hint="write `device: cpu`, `cuda` or `cuda:<number>`, or leave it "
                               "out") from e
    if chosen.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"setting 'device' asks for {device!r}, but this machine has no GPU "
                          "that torch can use (torch.cuda.is_available() is false)",
                          hint="leave `device` out (the GPU when there is one) or write "
                               "`device: cpu`; a GPU needs a CUDA build of torch")
    if chosen.type == "cuda" and (chosen.index or 0) >= torch.cuda.device_count():
        raise ConfigError(f"setting 'device' asks for {device!r}, but this machine has "
                          f"{torch.cuda.device_count()} GPU(s), numbered from 0",
                          hint="write `device: cuda` for the first one")
    if chosen.type == "mps" and not torch.backends.mps.is_available():
        raise ConfigError(f"setting 'device' asks for {device!r}, but this machine has no "
                          "Apple GPU that torch can use", hint="write `device: cpu`")
    return chosen


def device_of(model: nn.Module) -> torch.device:
    """The device of ``model``'s weights (the CPU for a model without parameters):
    the training device while it trains, where its inputs must go."""
    return next((p.device for p in model.parameters()), torch.device("cpu"))


def move_to(batch: Any, device: torch.device) -> Any:
    """``batch`` with every tensor inside it (dicts, lists, tuples) moved to ``device``."""
    if isinstance(batch, torch.Tensor):
        return batch.to(device, non_blocking=True)
    if isinstance(batch, dict):
        return {k: move_to(v, device) for k, v in batch.items()}
    if isinstance(batch, (list, tuple)):
        return type(batch)(move_to(v, device) for v in batch)
    return batch


def length_batches(
    lengths: Sequence[int], batch_size: int, rng: random.Random, shuffle: bool = True
) -> list[list[int]]:
    """Index batches of similar length, in random order.

    Examples are shuffled, cut into buckets of many batches, sorted by length
    inside each bucket and cut into batches; the batches are then shuffled.
    Padding shrinks while every epoch still sees a different order.
    """
    order = list(range(len(lengths)))
    if shuffle:
        rng.shuffle(order)
    bucket = batch_size * _BUCKET_BATCHES
    batches = []
    for i in range(0, len(order), bucket):
        chunk = sorted(order[i : i + bucket], key=lambda k: lengths[k])
        batches.extend(chunk[j : j + batch_size] for j in range(0, len(chunk), batch_size))
    if shuffle:
        rng.shuffle(batches)
    return batches


def parameter_groups(model: nn.Module, config: LoopConfig) -> list[dict[str, Any]]:
    """AdamW groups: no weight decay on biases and norms; learning rates per prefix."""
    groups: dict[tuple[float, float], list[nn.Parameter]] = {}
    for name, param in model.named_parameters():
        if not param.requires_grad:
            continue
        factor = next(
            (f for prefix, f in config.lr_multipliers.items() if name.startswith(prefix)), 1.0
        )
        no_decay = param.ndim < 2 or "norm" in name.lower()
        key = (config.learning_rate * factor, 0.0 if no_decay else config.weight_decay)
        groups.setdefault(key, []).append(param)
    return [{"params": params, "lr": lr, "weight_decay": wd} for (lr, wd), params in groups.items()]


def show_progress(wanted: bool) -> bool:
    """Progress bars only for people: asked for, and stderr is a terminal."""
    if not wanted or os.environ.get("DFL_NO_PROGRESS"):
        return False
    return bool(getattr(sys.stderr, "isatty", lambda: False)())


#: seconds between the progress lines logged where stderr is no terminal
LOG_EVERY = 60.0


class _Progress:
    """A tqdm bar (total steps, ETA) with loss, accuracy and held-out score; where stderr
    is no terminal (a log file, a container, CI), a log line a minute instead, so a long
    training is not silent for minutes; or nothing, when no progress is wanted."""

    def __init__(self, total: int, config: LoopConfig) -> None:
        self.bar = None
        self.total, self.steps = total, 0
        self.description = config.description
        self.started = self.logged = time.monotonic()
        self.log_lines = config.progress and not os.environ.get("DFL_NO_PROGRESS")
        if show_progress(config.progress):
            from tqdm.auto import tqdm

            self.bar = tqdm(
                total=total, desc=config.description, unit="step", dynamic_ncols=True, leave=True
            )
            self.log_lines = False
        self.values: dict[str, str] = {}

    def update(self, **values: float | None) -> None:
        for key, value in values.items():
            if value is not None:
                self.values[key] = f"{value:.4f}" if key == "loss" else f"{value:.3f}"
        self.steps += 1
        if self.bar is not None:
            self.bar.set_postfix(self.values, refresh=False)
            self.bar.update(1)
        elif self.log_lines and time.monotonic() - self.logged >= LOG_EVERY:
            self._log_line()

    def _log_line(self) -> None:
        now = time.monotonic()
        self.logged = now
        left = (now - self.started) / self.steps * max(0, self.total - self.steps)
        shown = ", ".join(f"{key} {value}" for key, value in self.values.items())
        logger.info("%s: step %d of %d (%.0f%%)%s, about %s left", self.description,
                    self.steps, self.total, 100 * self.steps / max(1, self.total),
                    f", {shown}" if shown else "", _duration(left))

    def note(self, **values: float) -> None:
        for key, value in values.items():
            self.values[key] = f"{value:.3f}"
        if self.bar is not None:
            self.bar.set_postfix(self.values)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _duration(seconds: float) -> str:
    """``2 min 5 s``, ``40 s``: a duration as a person reads it."""
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes} min {rest} s" if minutes else f"{rest} s"


def fit(
    model: nn.Module,
    items: Sequence[Item],
    collate: Callable[[list[Item]], Any],
    step: Callable[[nn.Module, Any], StepOutput],
    config: LoopConfig,
    *,
    evaluate: Callable[[nn.Module], float] | None = None,
    lengths: Sequence[int] | None = None,
) -> FitResult:
    """Train ``model`` on ``items``; with ``evaluate``, stop early and keep the best weights.

    ``lengths`` (one per item) groups similar lengths into batches. The model
    is left on the training device, in eval mode.
    """
    if not items:
        raise ValueError("no training examples")
    seed_everything(config.seed)
    device = resolve_device(config.device)
    model.to(device)
    rng = random.Random(config.seed)
    lengths = list(lengths) if lengths is not None else [0] * len(items)
    steps_per_epoch = math.ceil(len(items) / config.batch_size)
    total_steps = max(1, steps_per_epoch * config.epochs)
    eval_every = config.eval_every or steps_per_epoch

    optimizer = AdamW(parameter_groups(model, config), config.learning_rate)
    scheduler = WarmupLinearDecay(optimizer, int(config.warmup_ratio * total_steps), total_steps)
    trainable = [p for p in model.parameters() if p.requires_grad]

    result = FitResult(epochs=0.0, steps=0, seconds=0.0)
    best_state: dict[str, torch.Tensor] | None = None
    bad_evals = 0
    started = time.perf_counter()
    deadline = started + config.max_minutes * 60 if config.max_minutes is not None else None
    progress = _Progress(total_steps, config)
    smoothed: float | None = None
    try:
        for epoch in range(config.epochs):
            model.train()
            correct = total = 0
            for batch_index, indices in enumerate(length_batches(lengths, config.batch_size, rng)):
                batch = move_to(collate([items[i] for i in indices]), device)
                out = step(model, batch)
                optimizer.zero_grad(set_to_none=True)
                out.loss.backward()
                if config.max_grad_norm:
                    torch.nn.utils.clip_grad_norm_(trainable, config.max_grad_norm)
                optimizer.step()
                scheduler.step()
                result.steps += 1
                loss = float(out.loss.detach())
                smoothed = loss if smoothed is None else 0.9 * smoothed + 0.1 * loss
                correct, total = correct + out.correct, total + out.total
                progress.update(loss=smoothed, acc=correct / total if total else None)
                result.epochs = epoch + (batch_index + 1) / steps_per_epoch

                last_of_epoch = batch_index + 1 == steps_per_epoch
                out_of_time = deadline is not None and time.perf_counter() > deadline
                if evaluate is not None and (
                    result.steps % eval_every == 0 or last_of_epoch or out_of_time
                ):
                    score = _evaluate(model, evaluate)
                    model.train()
                    result.history.append(
                        {
                            "step": result.steps,
                            "epoch": result.epochs,
                            "loss": smoothed,
                            "score": score,
                        }
                    )
                    progress.note(held_out=score)
                    if result.best_score is None or score > result.best_score:
                        result.best_score, result.best_step = score, result.steps
                        best_state = _copy_state(model)
                        bad_evals = 0
                    else:
                        bad_evals += 1
                    if config.patience and bad_evals >= config.patience:
                        result.stopped_early = True
                        return result
                if out_of_time:
                    result.out_of_time = True
                    logger.info(
                        "%s: stopping after %.1f minutes (time budget)",
                        config.description,
                        config.max_minutes,
                    )
                    return result
            if evaluate is None:
                result.history.append(
                    {"step": result.steps, "epoch": result.epochs, "loss": smoothed or 0.0}
                )
        return result
    finally:
        progress.close()
        if best_state is not None:
            model.load_state_dict(best_state)
        model.eval()
        result.seconds = time.perf_counter() - started


def _evaluate(model: nn.Module, evaluate: Callable[[nn.Module], float]) -> float:
    model.eval()
    # no_grad rather than inference_mode: tensors a module caches while scoring
    # must stay usable for training afterwards
    with torch.no_grad():
        return float(evaluate(model))


def _copy_state(model: nn.Module) -> dict[str, torch.Tensor]:
    # on the CPU, so a GPU run does not hold two copies in device memory
    return {k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()}
