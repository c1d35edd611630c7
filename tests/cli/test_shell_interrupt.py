"""``dialogflowlite shell`` on piped input ends at Ctrl-C, as it does in a terminal."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest


@pytest.mark.skipif(sys.platform == "win32", reason="SIGINT to a child is POSIX")
def test_ctrl_c_ends_a_shell_whose_input_pipe_stays_open(tiny_bot: Path) -> None:
    shell = subprocess.Popen(
        [sys.executable, "-m", "dialogflowlite.cli.main", "shell", "--project", str(tiny_bot),
         "--history", str(tiny_bot / "history")],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert shell.stdin is not None and shell.stdout is not None
        shell.stdin.write("/greet\n")
        shell.stdin.flush()
        lines: list[str] = []
        while "Hello! How can I help?\n" not in lines:
            line = shell.stdout.readline()
            assert line, f"the shell ended before answering: {lines}"
            lines.append(line)
        time.sleep(0.5)  # the shell is waiting for the next line now
        shell.send_signal(signal.SIGINT)
        start = time.monotonic()
        try:
            shell.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pytest.fail("the shell still ran 10 s after SIGINT")
        assert time.monotonic() - start < 5
        _, stderr = shell.communicate()
    finally:
        if shell.poll() is None:
            shell.kill()
            shell.wait()
    # as Ctrl-C at a terminal's prompt: the chat ends, like at the end of input
    assert shell.returncode == 0, stderr
    assert "Traceback" not in stderr and "interrupted" not in stderr
