"""``dialogflowlite shell`` on piped input ends at Ctrl-C, as it does in a terminal."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from pipe_lines import PipeLines

#: what the shell run below prints each time its console waits for the next line
WAITING = "(waiting for a line)"

#: ``python -m dialogflowlite.cli.main``, its console saying when it waits for a line
SHELL = f"WAITING = {WAITING!r}\n" + textwrap.dedent("""
    import runpy

    import dialogflowlite.server.channels.console as console

    catch_sigint = console._catch_sigint

    def catch_then_say_so(loop, handler):
        stop = catch_sigint(loop, handler)
        print(WAITING, flush=True)  # the test sends SIGINT once it reads this
        return stop

    console._catch_sigint = catch_then_say_so
    runpy.run_module("dialogflowlite.cli.main", run_name="__main__", alter_sys=True)
""")


@pytest.mark.skipif(sys.platform == "win32", reason="SIGINT to a child is POSIX")
def test_ctrl_c_ends_a_shell_whose_input_pipe_stays_open(tiny_bot: Path) -> None:
    shell = subprocess.Popen(
        [sys.executable, "-c", SHELL, "shell", "--project", str(tiny_bot),
         "--history", str(tiny_bot / "history")],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert shell.stdin is not None and shell.stdout is not None
        output = PipeLines(shell.stdout)
        shell.stdin.write("/greet\n")
        shell.stdin.flush()
        # the answer, then the shell waits for the next line, however slow the machine (a
        # SIGINT before that meets asyncio.run's handler, which cancels the whole command)
        output.until(lambda lines: "Hello! How can I help?\n" in lines
                     and lines[-1] == WAITING + "\n",
                     "the answer to /greet, then the shell waiting for the next line")
        shell.send_signal(signal.SIGINT)
        start = time.monotonic()
        try:
            shell.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pytest.fail("the shell still ran 10 s after SIGINT")
        assert time.monotonic() - start < 5
        output.to_end()  # the reading thread is done with stdout before communicate() reads it
        _, stderr = shell.communicate()
    finally:
        if shell.poll() is None:
            shell.kill()
            shell.wait()
    # as Ctrl-C at a terminal's prompt: the chat ends, like at the end of input
    assert shell.returncode == 0, stderr
    assert "Traceback" not in stderr and "interrupted" not in stderr


def test_a_reply_the_output_encoding_cannot_show_does_not_end_the_shell(tiny_bot: Path) -> None:
    # a cp1252 console or output redirected to a file on Windows: the shell ended with a
    # UnicodeEncodeError at the first such line
    env = {**os.environ, "PYTHONIOENCODING": "cp1252"}
    done = subprocess.run(
        [sys.executable, "-m", "dialogflowlite", "shell", "nlu", "--project", str(tiny_bot)],
        input=b"\x81hello\n", capture_output=True, env=env, timeout=300, check=False)
    # 0x81 means nothing in cp1252: read as U+FFFD, which cp1252 cannot write either
    assert done.returncode == 0, done.stderr.decode("cp1252", "replace")[-2000:]
    assert b'"text": "?hello"' in done.stdout
