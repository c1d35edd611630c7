"""TorchScript traces of inference passes, made on first use, one per input kind.

A model's forward pass in eager PyTorch is dozens of small calls, and each
one releases the interpreter lock and has to take it back. In a server, the
event loop runs Python code at the same time, so every one of those calls can
wait for the lock. A traced pass runs all of its operations in one call that
releases the lock once. :class:`TraceCache` keeps one trace per *kind* of
input (for instance: with or without padding), because a trace records the
Python branches it took, and falls back to the eager pass, once and for good,
for a kind that cannot be traced.

Traces share the module's parameters, so they see weights loaded in place;
copies of a module (quantization makes one) start with no traces and trace
their own weights.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Callable, Hashable
from typing import Any

import torch
from torch import nn

logger = logging.getLogger(__name__)


class _Bound(nn.Module):
    """One method of a module as a module of its own (what ``torch.jit.trace`` takes)."""

    def __init__(self, owner: nn.Module, method: Callable[..., torch.Tensor]) -> None:
        super().__init__()
        self.owner = owner
        self.method = method

    def forward(self, *inputs: torch.Tensor) -> torch.Tensor:
        return self.method(*inputs)


class TraceCache:
    """Runs ``method(*inputs)`` through a trace made for that kind of input on first use.

    ``enabled`` False (or a kind whose tracing failed) runs the method as it is.
    The inputs are positional tensors; ``None`` is not allowed in them, so a
    missing optional input is a different kind with a shorter input tuple.
    """

    def __init__(self, enabled: bool = True) -> None:
        self.enabled = enabled
        self._traces: dict[Hashable, Any] = {}

    def __getstate__(self) -> dict[str, Any]:
        # a copy (deepcopy, pickle) may hold other weights: it traces its own
        return {"enabled": self.enabled, "_traces": {}}

    def traced_kinds(self) -> set[Hashable]:
        """The input kinds that run traced (tracing failed for the other kinds seen)."""
        return {kind for kind, trace in self._traces.items() if trace is not False}

    def failed_kinds(self) -> set[Hashable]:
        """The input kinds seen whose tracing failed (they run untraced)."""
        return {kind for kind, trace in self._traces.items() if trace is False}

    def clear(self) -> None:
        """Forget every trace (after weights were replaced by new tensors)."""
        self._traces.clear()

    def run(self, kind: Hashable, owner: nn.Module, method: Callable[..., torch.Tensor],
            *inputs: torch.Tensor) -> torch.Tensor:
        """``method(*inputs)``, traced when this cache is enabled and tracing works.

        ``owner`` is the module whose parameters ``method`` uses.
        """
        if not self.enabled:
            return method(*inputs)
        traced = self._traces.get(kind)
        if traced is None:
            traced = self._traces[kind] = _trace(_Bound(owner, method), inputs)
        if traced is False:
            return method(*inputs)
        return traced(*inputs)


def _trace(module: nn.Module, inputs: tuple[torch.Tensor, ...]) -> Any:
    """A TorchScript trace of ``module`` for inputs like these (False when tracing fails)."""
    try:
        with warnings.catch_warnings():
            # TorchScript is deprecated in favour of torch.compile, which compiles
            # for tens of seconds per shape: too slow for a server start
            warnings.simplefilter("ignore")
            return torch.jit.trace(module, inputs, check_trace=False)
    except Exception as e:
        logger.debug("tracing %s failed (%s); running it untraced",
                     type(module.owner).__name__, e)
        return False
