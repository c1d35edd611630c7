"""An exclusive lock shared by the server's worker processes: a locked file.

Workers are separate processes, so an ``asyncio.Lock`` only orders the
requests of one of them. A POSIX ``flock`` on a file in the project orders
all of them (and other servers on the same project folder); it is released
when the holder lets go or its process ends, so a crashed worker never leaves
it taken. The lock is polled, so waiting never blocks the event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

#: seconds between tries while another process holds the lock
POLL_SECONDS = 0.05


@contextlib.asynccontextmanager
async def process_lock(path: Path) -> AsyncIterator[None]:
    """Hold an exclusive lock on ``path`` (created if missing) between processes.

    Where the platform has no ``fcntl`` (Windows), nothing is locked: each
    process then only orders its own callers.
    """
    try:
        import fcntl
    except ImportError:  # pragma: no cover - POSIX only
        yield
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                await asyncio.sleep(POLL_SECONDS)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
