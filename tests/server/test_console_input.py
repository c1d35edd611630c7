"""Ctrl-C ends a console reading piped input at once, though the pipe stays open.

A read of an open pipe returns only with the next line; the console must not
wait for it on the way out, whether it catches SIGINT itself (the chat ends as
at the end of input) or cannot (the command is interrupted, code 130).
"""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
import time

import pytest
from pipe_lines import PipeLines

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="SIGINT to a child is POSIX")

#: what the chat below prints each time the console waits for the next line
WAITING = "(waiting for a line)"

CHAT = f"WAITING = {WAITING!r}\n" + textwrap.dedent("""
    import asyncio
    import sys

    import dialogflowlite.server.channels.console as console

    if "--no-catch" in sys.argv:
        # as where the loop cannot handle signals: asyncio.run's SIGINT handler acts
        console._catch_sigint = lambda loop, handler: (lambda: None)

    catch_sigint = console._catch_sigint

    def catch_then_say_so(loop, handler):
        stop = catch_sigint(loop, handler)
        print(WAITING, flush=True)  # the test sends SIGINT once it reads this
        return stop

    console._catch_sigint = catch_then_say_so

    async def echo(message):
        return [{"text": "echo: " + message.text}]

    channel = console.ConsoleChannel(sender_id="me", history_file=None)
    try:
        sent = asyncio.run(channel.run(echo))
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        sys.exit(130)
    print(f"sent {sent}")
""")


def _interrupt_while_waiting(*args: str) -> tuple[int, str, str, float]:
    """Chat one line over a pipe left open, then SIGINT: (code, stdout, stderr, seconds)."""
    child = subprocess.Popen([sys.executable, "-c", CHAT, *args], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert child.stdin is not None and child.stdout is not None
        output = PipeLines(child.stdout)
        child.stdin.write("hello\n")
        child.stdin.flush()
        # the console waits for the line after "hello" now, however slow the machine (a
        # SIGINT before that meets asyncio.run's handler, which cancels the whole command)
        seen = output.until(lambda lines: lines.count(WAITING + "\n") >= 2,
                            "the console to wait for the line after 'hello'")
        assert "echo: hello\n" in seen, seen
        child.send_signal(signal.SIGINT)
        start = time.monotonic()
        try:
            child.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pytest.fail("the console still ran 10 s after SIGINT")
        took = time.monotonic() - start
        stdout = output.to_end()  # the reading thread is done before communicate() reads
        _, stderr = child.communicate()
        return child.returncode, stdout, stderr, took
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()


def test_ctrl_c_at_the_prompt_ends_the_chat_as_in_a_terminal() -> None:
    code, stdout, stderr, took = _interrupt_while_waiting()
    assert took < 5
    assert code == 0, stderr
    assert "Traceback" not in stderr and "interrupted" not in stderr
    assert "sent 1" in stdout  # run() returned as at the end of input


def test_an_uncaught_sigint_does_not_wait_for_the_next_line() -> None:
    code, _, stderr, took = _interrupt_while_waiting("--no-catch")
    assert took < 5
    assert code == 130, stderr
    assert "Traceback" not in stderr
