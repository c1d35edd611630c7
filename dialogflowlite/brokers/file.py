"""Events as JSON lines in a file (Rasa's ``type: file`` broker).

endpoints.yml::

    event_broker:
      type: file
      path: rasa_event.log    # relative to the project folder

Each event is one line of JSON. A conversation turn's events are written in
one ``write`` to a file opened for appending (no buffer of our own: what was
written is in the operating system's hands), so workers sharing the file add
whole turns, never parts of lines.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
from pathlib import Path
from typing import Any

from dialogflowlite.brokers.base import EventBroker, in_project
from dialogflowlite.errors import ConfigError

DEFAULT_PATH = "rasa_event.log"


class FileEventBroker(EventBroker):
    """Appends every event to a file, one JSON object per line."""

    @classmethod
    def from_endpoint_config(cls, config: dict[str, Any],
                             project: str | Path | None = None) -> EventBroker:
        params = dict(config)
        params["path"] = str(in_project(params.get("path") or DEFAULT_PATH, project))
        return super().from_endpoint_config(params, project)

    def __init__(self, path: str | Path = DEFAULT_PATH) -> None:
        self.path = Path(path)
        self._fd: int | None = None
        self._lock = asyncio.Lock()

    def _open(self) -> int:
        if self._fd is None:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
            except OSError as e:
                raise ConfigError(f"the event log {self.path} cannot be opened: {e.strerror}",
                                  hint="check the event_broker path in endpoints.yml") from e
        return self._fd

    async def check_connection(self) -> None:
        """Open the file before the server starts: a path that cannot be written (a
        folder, no permission) would otherwise fail every turn's events, in the log.
        It is closed again: it is opened on first use, in the process that publishes."""
        async with self._lock:
            await asyncio.to_thread(self._open)
        await self.close()

    def _write(self, data: bytes) -> None:
        fd = self._open()
        written = os.write(fd, data)
        while written < len(data):  # a short write (a full disk, a signal): finish it
            written += os.write(fd, data[written:])

    async def publish_many(self, events: list[dict[str, Any]]) -> None:
        if not events:
            return
        data = "".join(json.dumps(e, ensure_ascii=False) + "\n" for e in events).encode()
        async with self._lock:
            writing = asyncio.ensure_future(asyncio.to_thread(self._write, data))
            try:
                await asyncio.shield(writing)
            except asyncio.CancelledError:
                # the thread writes on all the same: the lock stays taken until it is
                # done, or close() would close (and the system hand out again) the file
                # descriptor it writes to
                with contextlib.suppress(Exception):
                    await writing
                raise

    async def close(self) -> None:
        async with self._lock:
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None
