"""Running small models on one PyTorch thread.

Step-by-step work on a small model (a policy's forward pass, one decoding
step of a reply) is a chain of tiny matrix products. Spreading each over
several threads costs more in handing work out and waiting for it than it
saves, and on a CPU shared with other work the threads wait for each other:
one thread answers sooner.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator


@contextlib.contextmanager
def one_torch_thread() -> Iterator[None]:
    """Run PyTorch on one thread inside the block (the setting is process-wide)."""
    import torch

    previous = torch.get_num_threads()
    if previous == 1:
        yield
        return
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(previous)
