"""The lock that keeps two timing benchmarks from measuring at the same time.

Every script under benchmarks/ holds it while it trains and times
(``flock /tmp/dfl-bench.lock COMMAND`` takes the same lock from a shell).
``DFL_BENCH_LOCK`` names another lock file.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator

LOCK_FILE = os.environ.get("DFL_BENCH_LOCK", "/tmp/dfl-bench.lock")


@contextlib.contextmanager
def bench_lock(enabled: bool = True) -> Iterator[None]:
    """Hold the benchmark lock (waiting for it) inside the block; nothing when not ``enabled``."""
    if not enabled:
        yield
        return
    with open(LOCK_FILE, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
