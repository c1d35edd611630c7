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


def test_output_that_cannot_be_decoded_ends_the_reading_and_is_named() -> None:
    # the reading thread died silently before: the test waited out its 30 s and
    # said only that the output never ended
    child = _child_writing(b"ok\n\xff\n")
    try:
        output = PipeLines(child.stdout).to_end(timeout=20)
    finally:
        child.wait()
    assert "could not be read" in output and "UnicodeDecodeError" in output
