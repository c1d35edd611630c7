"""The fine-tuning loop: batches, schedule, determinism, early stopping, time budget."""

from __future__ import annotations

import random

import pytest
import torch
from torch import nn

from dialogflowlite.training.loop import (
    LoopConfig,
    StepOutput,
    fit,
    length_batches,
    parameter_groups,
    show_progress,
)


def toy_items(n: int = 64) -> list[tuple[torch.Tensor, int]]:
    generator = torch.Generator().manual_seed(1)
    points = torch.randn(n, 2, generator=generator)
    return [(p, int(p[0] + p[1] > 0)) for p in points]


def collate(items: list[tuple[torch.Tensor, int]]) -> dict[str, torch.Tensor]:
    return {"x": torch.stack([x for x, _ in items]), "y": torch.tensor([y for _, y in items])}


def step(model: nn.Module, batch: dict[str, torch.Tensor]) -> StepOutput:
    logits = model(batch["x"])
    loss = nn.functional.cross_entropy(logits, batch["y"])
    correct = int((logits.argmax(-1) == batch["y"]).sum())
    return StepOutput(loss, correct, len(batch["y"]))


def make_model() -> nn.Module:
    return nn.Sequential(
        nn.Linear(2, 8), nn.LayerNorm(8), nn.ReLU(), nn.Dropout(0.1), nn.Linear(8, 2)
    )


def accuracy(model: nn.Module, items) -> float:
    batch = collate(items)
    with torch.no_grad():
        return float((model(batch["x"]).argmax(-1) == batch["y"]).float().mean())


def config(**changes) -> LoopConfig:
    values = {
        "epochs": 30,
        "batch_size": 8,
        "learning_rate": 0.05,
        "progress": False,
        "device": "cpu",
        "patience": 0,
    }
    values.update(changes)
    return LoopConfig(**values)


def test_length_batches_cover_every_item_once_with_little_padding() -> None:
    lengths = [random.Random(i).randint(1, 50) for i in range(1000)]
    batches = length_batches(lengths, 16, random.Random(0))
    flat = sorted(i for batch in batches for i in batch)
    assert flat == list(range(1000))
    spread = sum(max(lengths[i] for i in b) - min(lengths[i] for i in b) for b in batches)
    assert spread / len(batches) < 5  # random batches would spread ~45
    assert batches != length_batches(lengths, 16, random.Random(1))


def test_parameter_groups_skip_decay_on_biases_and_norms_and_scale_rates() -> None:
    model = make_model()
    groups = parameter_groups(
        model, LoopConfig(learning_rate=0.1, weight_decay=0.01, lr_multipliers={"4.": 10.0})
    )
    by_param = {id(p): (g["lr"], g["weight_decay"]) for g in groups for p in g["params"]}
    assert by_param[id(model[0].weight)] == (0.1, 0.01)
    assert by_param[id(model[0].bias)] == (0.1, 0.0)
    assert by_param[id(model[1].weight)] == (0.1, 0.0)  # LayerNorm weight
    assert by_param[id(model[4].weight)] == pytest.approx((1.0, 0.01))


def test_fit_learns_and_leaves_the_model_in_eval_mode() -> None:
    items = toy_items()
    torch.manual_seed(0)
    model = make_model()
    result = fit(model, items, collate, step, config())
    assert accuracy(model, items) >= 0.95
    assert not model.training
    assert result.steps == 30 * 8 and result.epochs == pytest.approx(30)
    assert len(result.history) == 30


def test_same_seed_gives_identical_weights_and_another_seed_does_not() -> None:
    items = toy_items()

    def run(seed: int) -> dict[str, torch.Tensor]:
        torch.manual_seed(123)  # same initial weights every time
        model = make_model()
        fit(model, items, collate, step, config(epochs=5, seed=seed))
        return model.state_dict()

    first, second, other = run(7), run(7), run(8)
    assert all(torch.equal(first[k], second[k]) for k in first)
    assert not all(torch.equal(first[k], other[k]) for k in first)


def test_early_stopping_restores_the_best_weights() -> None:
    items = toy_items()
    scores = iter([0.5, 0.9, 0.8, 0.7, 0.6, 0.95])
    snapshots: list[dict[str, torch.Tensor]] = []

    def evaluate(model: nn.Module) -> float:
        snapshots.append({k: v.clone() for k, v in model.state_dict().items()})
        return next(scores)

    torch.manual_seed(0)
    model = make_model()
    result = fit(model, items, collate, step, config(epochs=10, patience=2), evaluate=evaluate)
    assert result.stopped_early
    assert len(snapshots) == 4  # 0.5, 0.9 (best), then two evaluations without improvement
    assert result.best_score == 0.9 and result.best_step == 2 * 8
    best = snapshots[1]
    assert all(torch.equal(model.state_dict()[k], best[k]) for k in best)
    assert result.summary().endswith("best held-out score 0.9000, stopped early")


def test_evaluations_within_an_epoch() -> None:
    calls = []
    torch.manual_seed(0)
    fit(
        make_model(),
        toy_items(),
        collate,
        step,
        config(epochs=2, eval_every=3),
        evaluate=lambda model: calls.append(1) or 0.5,
    )
    # steps 3 and 6, the end of epoch 1 (8), then 9, 12, 15 and the end (16)
    assert len(calls) == 7


def test_time_budget_stops_training() -> None:
    torch.manual_seed(0)
    result = fit(make_model(), toy_items(), collate, step, config(max_minutes=0.0))
    assert result.out_of_time and result.steps == 1
    assert result.summary().endswith("no held-out part, time budget used up")


def test_progress_only_on_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    class Terminal:
        def isatty(self) -> bool:
            return True

    monkeypatch.delenv("DFL_NO_PROGRESS", raising=False)
    monkeypatch.setattr("sys.stderr", Terminal())
    assert show_progress(True)
    assert not show_progress(False)
    monkeypatch.setattr("sys.stderr", object())
    assert not show_progress(True)


def test_without_a_terminal_progress_is_a_log_line_a_while(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from dialogflowlite.training import loop

    # a training logged to a file or a container said nothing for minutes
    monkeypatch.delenv("DFL_NO_PROGRESS", raising=False)
    monkeypatch.setattr("sys.stderr", object())
    monkeypatch.setattr(loop, "LOG_EVERY", 0.0)  # every step, for the test
    # the lines as logged, whatever logging set-up earlier tests left behind
    logged: list[str] = []
    monkeypatch.setattr(loop.logger, "info", lambda text, *args: logged.append(text % args))
    fit(make_model(), toy_items(16), collate, step,
        config(progress=True, epochs=1, description="toy"))
    lines = [line for line in logged if line.startswith("toy: step")]
    assert lines[0].startswith("toy: step 1 of 2 (50%), loss ")
    assert lines[-1].startswith("toy: step 2 of 2 (100%)") and lines[-1].endswith("about 0 s left")
    logged.clear()
    fit(make_model(), toy_items(16), collate, step, config(progress=False, epochs=1))
    assert not any("step 1 of" in line for line in logged)


def test_no_items_is_an_error() -> None:
    with pytest.raises(ValueError, match="no training examples"):
        fit(make_model(), [], collate, step, config())
