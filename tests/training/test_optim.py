"""AdamW and the schedule without torch.optim: same updates, no compiler import."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest
import torch
from torch import nn

from dialogflowlite.training.optim import AdamW, WarmupLinearDecay


def _model(seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(5, 8), nn.LayerNorm(8), nn.ReLU(), nn.Linear(8, 3))


def _groups(model: nn.Module) -> list[dict]:
    weights = [p for p in model.parameters() if p.ndim == 2]
    others = [p for p in model.parameters() if p.ndim < 2]
    return [{"params": weights, "lr": 0.01, "weight_decay": 0.1},
            {"params": others, "lr": 0.05, "weight_decay": 0.0}]


def _train(model: nn.Module, optimizer, steps: int = 25) -> list[torch.Tensor]:
    """Steps with a changing rate and a parameter left without a gradient once."""
    generator = torch.Generator().manual_seed(3)
    for step in range(steps):
        inputs = torch.randn(16, 5, generator=generator)
        target = torch.randint(0, 3, (16,), generator=generator)
        optimizer.zero_grad(set_to_none=True)
        nn.functional.cross_entropy(model(inputs), target).backward()
        if step == 4:
            model[3].bias.grad = None  # no gradient: no update, no step counted
        for group in optimizer.param_groups:
            group["lr"] = group["lr"] * 0.97
        optimizer.step()
    return [p.detach().clone() for p in model.parameters()]


@pytest.mark.skipif(not hasattr(torch, "_fused_adamw_"), reason="no fused AdamW kernel")
def test_fused_update_is_the_one_torch_optim_makes() -> None:
    ours = _train(model := _model(), AdamW(_groups(model), lr=0.0))
    theirs = _train(model := _model(), torch.optim.AdamW(_groups(model), lr=0.0, fused=True))
    for mine, reference in zip(ours, theirs, strict=True):
        assert torch.equal(mine, reference)


def test_plain_update_matches_torch_optim_adamw() -> None:
    ours = _train(model := _model(), AdamW(_groups(model), lr=0.0, fused=False))
    theirs = _train(model := _model(), torch.optim.AdamW(_groups(model), lr=0.0))
    for mine, reference in zip(ours, theirs, strict=True):
        torch.testing.assert_close(mine, reference, rtol=1e-5, atol=1e-6)
    assert not torch.equal(ours[0], _model().state_dict()["0.weight"])  # it did learn


def test_group_settings_default_to_the_given_ones_and_empty_groups_are_dropped() -> None:
    model = _model()
    optimizer = AdamW([{"params": model[0].parameters()}, {"params": []}], lr=0.2,
                      weight_decay=0.3)
    assert len(optimizer.param_groups) == 1
    assert optimizer.param_groups[0]["lr"] == 0.2
    assert optimizer.param_groups[0]["weight_decay"] == 0.3


def test_zero_grad_clears_or_zeroes_the_gradients() -> None:
    model = _model()
    optimizer = AdamW([{"params": model.parameters()}], lr=0.1)
    model(torch.ones(2, 5)).sum().backward()
    optimizer.zero_grad(set_to_none=False)
    assert all(p.grad is not None and not p.grad.any() for p in model.parameters())
    optimizer.zero_grad()
    assert all(p.grad is None for p in model.parameters())


def test_warmup_then_linear_decay() -> None:
    parameter = nn.Parameter(torch.zeros(1))
    optimizer = AdamW([{"params": [parameter], "lr": 1.0}, {"params": [nn.Parameter(
        torch.zeros(1))], "lr": 0.5}], lr=1.0)
    scheduler = WarmupLinearDecay(optimizer, warmup_steps=4, total_steps=12)
    rates, second = [], []
    for _ in range(12):
        rates.append(optimizer.param_groups[0]["lr"])
        second.append(optimizer.param_groups[1]["lr"])
        optimizer.step()
        scheduler.step()
    assert rates[:4] == pytest.approx([0.25, 0.5, 0.75, 1.0])
    assert rates[4:] == pytest.approx([1.0, 0.875, 0.75, 0.625, 0.5, 0.375, 0.25, 0.125])
    assert second == pytest.approx([r / 2 for r in rates])
    scheduler.step()
    assert optimizer.param_groups[0]["lr"] == 0.0


def test_training_does_not_import_the_compiler_stack() -> None:
    """The reason for the module: torch.optim imports torch._dynamo (seconds)."""
    script = textwrap.dedent("""
        import sys
        import torch
        from torch import nn
        from dialogflowlite.training.loop import LoopConfig, StepOutput, fit

        items = [(torch.randn(3), i % 2) for i in range(32)]
        def collate(batch):
            return torch.stack([x for x, _ in batch]), torch.tensor([y for _, y in batch])
        def step(model, batch):
            inputs, labels = batch
            logits = model(inputs)
            return StepOutput(nn.functional.cross_entropy(logits, labels),
                              int((logits.argmax(-1) == labels).sum()), len(labels))
        fit(nn.Linear(3, 2), items, collate, step, LoopConfig(epochs=2, batch_size=8))
        print("torch._dynamo" in sys.modules)
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=120, check=True)
    assert done.stdout.strip() == "False", done.stderr
