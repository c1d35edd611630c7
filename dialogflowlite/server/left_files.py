"""Deleting the files that a process stopped mid-write left behind."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from pathlib import Path

logger = logging.getLogger(__name__)


def delete_left_files(paths: Iterable[Path], left_by: str) -> list[Path]:
    """Delete ``paths``, the files of writes that never finished; the files deleted.

    A file that is gone meanwhile, or (on Windows) still open in a process, is
    skipped. The deleted ones are logged in one line that says they were left
    by ``left_by``.
    """
    removed = []
    for path in paths:
        try:
            path.unlink()
        except OSError:
            continue
        removed.append(path)
    if removed:
        logger.info("deleted %s, left by %s", ", ".join(sorted(p.name for p in removed)),
                    left_by)
    return removed
