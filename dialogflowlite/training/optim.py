"""AdamW and the warm-up/decay schedule, without ``torch.optim``.

Creating any ``torch.optim.Optimizer`` imports ``torch._dynamo`` (the
compiler stack), which costs 2-3 s of a training process on a laptop CPU,
more than a small project's whole fine-tuning takes to start. The models
here only need AdamW with decoupled weight decay, so this module runs the
same update: through torch's fused AdamW kernel where the build has it (the
kernel ``torch.optim.AdamW(fused=True)`` calls, so the weights come out the
same), else through plain tensor operations.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from typing import Any

import torch

__all__ = ["AdamW", "WarmupLinearDecay", "warmup_linear_factor"]


class AdamW:
    """AdamW over parameter groups (``params``, ``lr``, ``weight_decay`` each).

    The interface is the part of ``torch.optim.AdamW`` that training loops
    use: ``param_groups`` (a group's ``lr`` may be changed between steps),
    :meth:`zero_grad` and :meth:`step`. ``fused`` (default: where the kernel
    exists) picks torch's one-kernel update.
    """

    def __init__(
        self,
        groups: Iterable[dict[str, Any]],
        lr: float,
        *,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.01,
        fused: bool | None = None,
    ) -> None:
        self.param_groups: list[dict[str, Any]] = []
        for group in groups:
            params = list(group["params"])
            if not params:
                continue
            self.param_groups.append({
                "params": params,
                "lr": float(group.get("lr", lr)),
                "weight_decay": float(group.get("weight_decay", weight_decay)),
            })
        self.betas = betas
        self.eps = eps
        self.fused = _has_fused_kernel() if fused is None else fused
        # per parameter: first moment, second moment, step count (a float tensor,
        # as the fused kernel reads it)
        self.state: dict[torch.Tensor, tuple[torch.Tensor, torch.Tensor, torch.Tensor]] = {}

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Forget the gradients (set them to None, or to zeros)."""
        for group in self.param_groups:
            for param in group["params"]:
                if set_to_none:
                    param.grad = None
                elif param.grad is not None:
                    param.grad.detach_().zero_()

    @torch.no_grad()
    def step(self) -> None:
        """One update of every parameter that has a gradient."""
        for group in self.param_groups:
            by_kind: dict[tuple[torch.device, torch.dtype], list[torch.Tensor]] = {}
            for param in group["params"]:
                if param.grad is not None:
                    if param.grad.is_sparse:
                        raise ValueError("AdamW does not take sparse gradients")
                    by_kind.setdefault((param.device, param.dtype), []).append(param)
            for (device, dtype), params in by_kind.items():
                if self.fused and device.type in ("cpu", "cuda") and dtype.is_floating_point:
                    self._fused_step(params, group)
                else:
                    self._plain_step(params, group)

    def _moments(self, param: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        state = self.state.get(param)
        if state is None:
            state = (
                torch.zeros_like(param, memory_format=torch.preserve_format),
                torch.zeros_like(param, memory_format=torch.preserve_format),
                torch.zeros((), dtype=torch.float32, device=param.device),
            )
            self.state[param] = state
        return state

    def _fused_step(self, params: list[torch.Tensor], group: dict[str, Any]) -> None:
        states = [self._moments(p) for p in params]
        steps = [s[2] for s in states]
        torch._foreach_add_(steps, 1)
        torch._fused_adamw_(
            params,
            [p.grad for p in params],
            [s[0] for s in states],
            [s[1] for s in states],
            [],
            steps,
            lr=group["lr"],
            beta1=self.betas[0],
            beta2=self.betas[1],
            weight_decay=group["weight_decay"],
            eps=self.eps,
            amsgrad=False,
            maximize=False,
        )

    def _plain_step(self, params: list[torch.Tensor], group: dict[str, Any]) -> None:
        beta1, beta2 = self.betas
        lr, weight_decay = group["lr"], group["weight_decay"]
        for param in params:
            exp_avg, exp_avg_sq, step = self._moments(param)
            step += 1
            count = float(step)
            param.mul_(1.0 - lr * weight_decay)
            exp_avg.lerp_(param.grad, 1.0 - beta1)
            exp_avg_sq.mul_(beta2).addcmul_(param.grad, param.grad, value=1.0 - beta2)
            bias_first = 1.0 - beta1**count
            bias_second_root = math.sqrt(1.0 - beta2**count)
            denominator = (exp_avg_sq.sqrt() / bias_second_root).add_(self.eps)
            param.addcdiv_(exp_avg, denominator, value=-lr / bias_first)


def _has_fused_kernel() -> bool:
    return hasattr(torch, "_fused_adamw_")


def warmup_linear_factor(warmup_steps: int, total_steps: int) -> Callable[[int], float]:
    """Factor of the peak rate at a step: rising linearly over ``warmup_steps``, then to 0."""

    def factor(step: int) -> float:
        if step < warmup_steps:
            return (step + 1) / max(1, warmup_steps)
        return max(0.0, (total_steps - step) / max(1, total_steps - warmup_steps))

    return factor


class WarmupLinearDecay:
    """Sets each group's rate to its initial rate times the schedule's factor.

    The first optimizer step runs at step 0's factor; call :meth:`step`
    after each optimizer step, as with a torch scheduler.
    """

    def __init__(self, optimizer: AdamW, warmup_steps: int, total_steps: int) -> None:
        self.optimizer = optimizer
        self.factor = warmup_linear_factor(warmup_steps, total_steps)
        self.initial = [group["lr"] for group in optimizer.param_groups]
        self.steps = 0
        self._apply()

    def step(self) -> None:
        """Move the schedule on by one optimizer step."""
        self.steps += 1
        self._apply()

    def _apply(self) -> None:
        factor = self.factor(self.steps)
        for group, initial in zip(self.optimizer.param_groups, self.initial, strict=True):
            group["lr"] = initial * factor
