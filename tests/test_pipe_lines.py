"""The test helper that reads a child's output with a deadline."""

from __future__ import annotations

import subprocess
import sys

from pipe_lines import PipeLines


def _child_writing(data: bytes) -> subprocess.Popen:
    code = f"import sys; sys.stdout.buffer.write({data!r}); sys.stdout.flush()"
    return subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)


def test_the_lines_of_a_child_are_read_to_its_end() -> None:
    child = _child_writing(b"one\ntwo\n")
    try:
        assert PipeLines(child.stdout).to_end() == "one\ntwo\n"
    finally:
        child.wait()


def test_a_byte_that_cannot_be_decoded_is_shown_and_the_lines_around_it_kept() -> None:
    # a decoding error ended the reading before: the lines read with the bad byte were
    # lost, and a child writing on blocked on the full pipe
    child = _child_writing(b"server started\nlistening\n\xff\n" + b"more\n" * 20000)
    try:
        output = PipeLines(child.stdout).to_end(timeout=20)
    finally:
        child.wait(timeout=20)
    lines = output.splitlines()
    assert lines[:3] == ["server started", "listening", "\\xff"]
    assert lines[3:] == ["more"] * 20000
