"""The console channel behind ``dialogflowlite shell``: chat with the bot in a terminal.

In a terminal it offers line editing and a history file (prompt_toolkit);
with piped input it reads plain lines, so scripts and tests can drive it.
Buttons are shown as numbered choices: typing the number sends the button's
payload, of the bot's latest message: an answer's, or one sent unasked
through :meth:`ConsoleChannel.send_to` (a fired reminder's). ``/restart``
starts the conversation over; ``/stop`` (or end of input) quits, and so
does Ctrl-C while the console waits for a line, piped input included.
"""

from __future__ import annotations

import asyncio
import json
import signal
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from dialogflowlite.server.channels.base import InputChannel, OnMessage

if TYPE_CHECKING:
    from sanic import Blueprint

STOP_COMMAND = "/stop"
RESTART_COMMAND = "/restart"
PROMPT = "Your input -> "
DEFAULT_HISTORY = Path.home() / ".dialogflowlite_history"


def format_reply(reply: dict[str, Any]) -> list[str]:
    """A bot message as console lines; buttons become ``1: title``, ``2: ...``.

    Cards (``elements``) are listed under ``Elements:`` as Rasa's console
    prints them, ``1: title - {the card's other fields as JSON}``. The shell
    itself never meets them: it flattens a message first, as Rasa's REST
    channel does for ``rasa shell``, so that each card reads ``title : subtitle``
    with the card's buttons as the numbered choices.
    """
    lines: list[str] = []
    if reply.get("text"):
        lines.append(str(reply["text"]))
    if reply.get("image"):
        lines.append(f"Image: {reply['image']}")
    attachment = reply.get("attachment")
    if attachment:
        # JSON, as custom payloads are shown, not Python's repr of a mapping
        shown = attachment if isinstance(attachment, str) else json.dumps(
            attachment, ensure_ascii=False, default=str)
        lines.append(f"Attachment: {shown}")
    cards = [card for card in reply.get("elements") or [] if isinstance(card, dict)]
    if cards:
        lines.append("Elements:")
        for number, card in enumerate(cards, 1):
            # the card itself is left whole (Rasa's printing takes its title out of it)
            rest = {key: value for key, value in card.items() if key != "title"}
            details = json.dumps(rest, ensure_ascii=False, sort_keys=True)
            lines.append(f"{number}: {card.get('title', '')} - {details}")
    for number, button in enumerate(reply.get("buttons") or reply.get("quick_replies") or [], 1):
        title = button.get("title") or button.get("payload")
        lines.append(f"  {number}: {title}")
    if reply.get("custom") is not None:
        lines.append(json.dumps(reply["custom"], ensure_ascii=False, indent=2))
    return lines


def _catch_sigint(loop: asyncio.AbstractEventLoop,
                  handler: Callable[[], None]) -> Callable[[], None]:
    """Call ``handler`` on SIGINT until the returned function is called, which puts back
    the handler there was (``asyncio.run``'s, which cancels the whole command).

    Nothing is caught where SIGINT is ignored (a job started in the background)
    or the loop cannot handle signals (Windows, a thread other than the main
    one): SIGINT then stops the command as it stops any other, with code 130.
    """
    try:
        previous = signal.getsignal(signal.SIGINT)
        if previous in (signal.SIG_IGN, None):
            return lambda: None
        loop.add_signal_handler(signal.SIGINT, handler)
    except (NotImplementedError, RuntimeError, ValueError):
        return lambda: None

    def restore() -> None:
        loop.remove_signal_handler(signal.SIGINT)
        signal.signal(signal.SIGINT, previous)

    return restore


class ConsoleChannel(InputChannel):
    """A conversation on standard input and output."""

    channel_name = "console"
    serves_http = False

    def __init__(self, config: dict[str, Any] | None = None, *, sender_id: str = "console",
                 stdin: TextIO | None = None, stdout: TextIO | None = None,
                 history_file: str | Path | None = DEFAULT_HISTORY) -> None:
        super().__init__(config)
        self.sender_id = sender_id
        self.stdin = stdin or sys.stdin
        self.stdout = stdout or sys.stdout
        self.history_file = history_file
        self._buttons: list[dict[str, Any]] = []

    def blueprint(self, on_message: OnMessage) -> Blueprint | None:
        return None

    @property
    def interactive(self) -> bool:
        isatty = getattr(self.stdin, "isatty", None)
        out_isatty = getattr(self.stdout, "isatty", None)
        return bool(isatty and isatty() and out_isatty and out_isatty())

    def say(self, text: str) -> None:
        """Write one line to the terminal (or the output the console was given)."""
        self.stdout.write(text + "\n")
        self.stdout.flush()

    def _session(self) -> Any:
        from prompt_toolkit import PromptSession
        from prompt_toolkit.history import FileHistory, InMemoryHistory

        history = InMemoryHistory()
        if self.history_file:
            path = Path(self.history_file)
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                # FileHistory opens the file only when a line is stored; find out now
                with path.open("a", encoding="utf-8"):
                    pass
                history = FileHistory(str(path))
            except OSError as e:
                # an unwritable file only costs the history, but say so once
                self.say(f"(line history is not kept: cannot write {path}: "
                         f"{e.strerror or e})")
        return PromptSession(history=history)

    async def read_lines(self):
        """The lines typed (with line editing and history in a terminal) or piped in, until
        the end of input or Ctrl-C."""
        if self.interactive:
            session = self._session()
            while True:
                try:
                    yield await session.prompt_async(PROMPT)
                except (EOFError, KeyboardInterrupt):
                    return
        else:
            while True:
                line = await self._next_piped_line()
                if not line:
                    return
                yield line.rstrip("\r\n")

    async def messages(self):
        """The messages typed: the lines of :meth:`read_lines` stripped, blank ones
        skipped, until ``/stop``, the end of input or Ctrl-C."""
        async for line in self.read_lines():
            text = line.strip()
            if text == STOP_COMMAND:
                return
            if text:
                yield text

    async def _next_piped_line(self) -> str:
        """The next line of a stdin that is not a terminal; ``""`` at its end, and when
        SIGINT arrives meanwhile: Ctrl-C at the prompt ends the chat, as in a terminal.

        The blocking read runs in a daemon thread of its own rather than in the
        loop's executor: on the way out ``asyncio.run`` waits for the executor's
        threads, and a read of an open pipe returns only with the next line.
        """
        loop = asyncio.get_running_loop()
        line: asyncio.Future[str] = loop.create_future()

        def settle(result: str | None, error: BaseException | None) -> None:
            if line.done():  # ended by SIGINT, or cancelled: the line read comes too late
                return
            if error is not None:
                line.set_exception(error)
            else:
                line.set_result(result or "")

        def read() -> None:
            result, error = None, None
            try:
                result = self.stdin.readline()
            except Exception as e:  # a closed stream: raised where the line is awaited
                error = e
            try:
                loop.call_soon_threadsafe(settle, result, error)
            except RuntimeError:
                pass  # the loop is closed: the shell ended while this line was read

        threading.Thread(target=read, name="console-input", daemon=True).start()
        stop_on_sigint = _catch_sigint(loop, lambda: settle("", None))
        try:
            return await line
        finally:
            stop_on_sigint()

    def show(self, replies: list[dict[str, Any]]) -> list[str]:
        """The console lines of the bot's ``replies``, whose buttons the numbers typed next
        pick: those of the last reply with buttons, none when no reply has any. Replies
        that show nothing leave the buttons shown before pickable."""
        from dialogflowlite.components.generation.messages import flatten_replies

        lines: list[str] = []
        choices: list[dict[str, Any]] = []
        for reply in flatten_replies(replies):
            lines += format_reply(reply)
            buttons = reply.get("buttons") or reply.get("quick_replies")
            if buttons:
                choices = list(buttons)
        if lines:
            self._buttons = choices
        return lines

    async def send_to(self, sender_id: str, replies: list[dict[str, Any]]) -> bool:
        """Print ``replies`` sent unasked (a fired reminder's) as the answers are printed,
        their buttons then picked by number; False for another conversation than the
        console's, which it cannot reach."""
        if sender_id != self.sender_id:
            return False
        lines = self.show(replies)

        def write() -> None:
            for line in lines:
                self.stdout.write(line + "\n")
            self.stdout.flush()

        if self.interactive:
            # above the prompt the user may be typing at, which is then drawn again
            from prompt_toolkit.application import run_in_terminal

            await run_in_terminal(write)
        else:
            write()
        return True

    def resolve_choice(self, text: str) -> str:
        """A number picks the matching button of the last bot message (its payload)."""
        if text.isdigit() and self._buttons:
            index = int(text) - 1
            if 0 <= index < len(self._buttons):
                button = self._buttons[index]
                return str(button.get("payload") or button.get("title") or text)
        return text

    async def run(self, on_message: OnMessage) -> int:
        """Chat until ``/stop`` or end of input; returns how many messages were sent."""
        from dialogflowlite.dialogue.messages import IncomingMessage

        self.say(f"Chatting as {self.sender_id!r}. Type {STOP_COMMAND} to quit, "
                 f"{RESTART_COMMAND} to start over.")
        sent = 0
        async for text in self.messages():
            payload = self.resolve_choice(text)
            replies = await on_message(IncomingMessage(payload, sender_id=self.sender_id,
                                                       channel=self.name()))
            sent += 1
            if text == RESTART_COMMAND:
                # the buttons shown before belong to the conversation that is over
                self._buttons = []
                self.say("(conversation restarted)")
            for line in self.show(replies):
                self.say(line)
        return sent
