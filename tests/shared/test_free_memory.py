"""release_free_memory: garbage collected, free heap pages given back where libc can."""

from __future__ import annotations

import ctypes

from dialogflowlite.shared import memory


def test_without_malloc_trim_it_says_nothing_was_returned(monkeypatch) -> None:
    class NoTrim:
        def __init__(self, name: object) -> None:
            pass

    monkeypatch.setattr(memory.ctypes, "CDLL", NoTrim)
    assert memory.release_free_memory() is False


def test_it_asks_the_c_library_to_trim_its_heap(monkeypatch) -> None:
    calls: list[int] = []

    class Libc:
        def __init__(self, name: object) -> None:
            pass

        def malloc_trim(self, pad: int) -> int:
            calls.append(pad)
            return 1

    monkeypatch.setattr(memory.ctypes, "CDLL", Libc)
    assert memory.release_free_memory() is True
    assert calls == [0]


def test_on_glibc_the_real_call_works() -> None:
    try:
        ctypes.CDLL(None).malloc_trim  # noqa: B018 - only glibc has it
    except AttributeError:
        import pytest

        pytest.skip("this C library has no malloc_trim")
    assert isinstance(memory.release_free_memory(), bool)
