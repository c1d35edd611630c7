"""The lines a child process writes to a pipe, read with a deadline.

A plain ``readline()`` on a child's pipe waits as long as the child lives: a
line that never comes holds the test until pytest's own timeout, which shows
nothing of what the child said. :class:`PipeLines` reads in a thread, so a
test waits for the line it needs at most a while, then fails showing the lines
it saw.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from typing import IO

#: how long a test waits at most for a line it needs (a loaded machine can take seconds)
LINE_LIMIT = 30.0


class PipeLines:
    """Every line of ``stream`` (a child's pipe, text or bytes), read by a thread from now
    on.

    The test then reads the pipe only through this object: the thread owns it.
    Each line is decoded on its own as UTF-8, a byte that is not shown as
    ``\\xff``: the lines around it are kept and the child is never left blocked
    on a full pipe that nobody reads.
    """

    def __init__(self, stream: IO[str] | IO[bytes]) -> None:
        self.seen: list[str] = []
        self.ended = False
        self._lines: queue.Queue[str | None] = queue.Queue()
        raw = getattr(stream, "buffer", stream)  # a text pipe's bytes: nothing read yet
        threading.Thread(target=self._read_all, args=(raw,), daemon=True).start()

    def _read_all(self, raw: IO[bytes]) -> None:
        try:
            for line in raw:
                self._lines.put(line.decode("utf-8", errors="backslashreplace"))
        except (OSError, ValueError) as e:  # a pipe closed under the thread
            # shown among the lines, so the test fails naming it, not as a long wait
            self._lines.put(f"<the output could not be read: {e!r}>\n")
        finally:
            self._lines.put(None)  # the end of the stream

    def until(self, done: Callable[[list[str]], bool], what: str,
              timeout: float = LINE_LIMIT) -> list[str]:
        """Take lines until ``done(lines seen so far)`` holds; the lines seen.

        Fail, naming ``what`` was awaited and showing the lines seen, when the
        stream ends first or after ``timeout`` seconds.
        """
        deadline = time.monotonic() + timeout
        while not done(self.seen):
            if self.ended:
                raise AssertionError(f"the output ended before {what}; lines seen: {self.seen}")
            self._take_one(deadline, f"waited {timeout:.0f} s for {what}")
        return self.seen

    def to_end(self, timeout: float = LINE_LIMIT) -> str:
        """The whole output, once the stream has ended (the child ended or closed it)."""
        self.until(lambda _: self.ended, "the end of the output", timeout)
        return "".join(self.seen)

    def _take_one(self, deadline: float, late: str) -> None:
        try:
            line = self._lines.get(timeout=max(0.0, deadline - time.monotonic()))
        except queue.Empty:
            raise AssertionError(f"{late}; lines seen: {self.seen}") from None
        if line is None:
            self.ended = True
        else:
            self.seen.append(line)
