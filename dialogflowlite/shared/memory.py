"""Giving memory that the process freed back to the operating system."""

from __future__ import annotations

import ctypes
import gc


def release_free_memory() -> bool:
    """Collect garbage, then ask the C allocator to return its free pages.

    Loading a model allocates and frees large temporaries (randomly started
    weights that the stored ones replace, tokenizer files, archive members).
    glibc keeps freed heap pages for later use, so a server would hold that
    high-water mark for its whole life. Returns whether pages were returned
    (False where the C library has no ``malloc_trim``, as on macOS or musl).
    """
    gc.collect()
    try:
        trim = ctypes.CDLL(None).malloc_trim
    except (OSError, AttributeError):
        return False
    return bool(trim(0))
