"""``dialogflowlite shell``: chat with the trained bot in the terminal."""

from __future__ import annotations

import argparse
import asyncio
import sys
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dialogflowlite.cli.command import Command

if TYPE_CHECKING:
    from dialogflowlite.dialogue.reminders import UnaskedSender
    from dialogflowlite.server.channels.console import ConsoleChannel


#: what ``shell nlu`` says first (Rasa's ``rasa shell nlu`` says the same)
NLU_GREETING = "NLU model loaded. Type a message and press enter to parse it."


def _add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("part", nargs="?", choices=("nlu",),
                        help="`nlu`: print each message's parse result instead of chatting "
                             "(/stop or end of input quits; /restart is parsed as any "
                             "message)")
    parser.add_argument("--project", default=".", help="project folder (default: .)")
    parser.add_argument("-m", "--model", default=None,
                        help="model file or folder of models (default: the newest under "
                             "models/ that has dialogue policies)")
    parser.add_argument("--endpoints", default=None, metavar="FILE",
                        help="endpoints file (default: endpoints.yml of the project)")
    # Rasa names it --conversation-id; --sender stays for existing scripts
    parser.add_argument("--conversation-id", "--sender", dest="sender", default=None,
                        metavar="ID",
                        help="conversation id, the tracker's sender_id (default: a new one "
                             "each time)")
    parser.add_argument("--history", default=None,
                        help="file for the line history (default: ~/.dialogflowlite_history)")


async def run_shell(project: str | Path = ".", model: str | None = None,
                    sender_id: str | None = None, history_file: str | Path | None = None,
                    stdin=None, stdout=None, nlu_only: bool = False,
                    endpoints_file: str | None = None) -> int:
    """Load the model and chat on stdin/stdout until ``/stop``; returns messages sent.

    Conversations stay in memory unless endpoints.yml configures a tracker store.
    With ``nlu_only`` (``shell nlu``), and for a model without dialogue
    policies, each message is answered with its parse result as JSON instead
    (:func:`parse_lines`). The messages of a reminder the conversation scheduled
    are printed when it fires, like the bot's other messages.
    """
    from dialogflowlite.agent import Agent
    from dialogflowlite.brokers.base import create_event_broker
    from dialogflowlite.server.app import ServerConfig
    from dialogflowlite.server.channels.console import DEFAULT_HISTORY, ConsoleChannel
    from dialogflowlite.server.channels.loader import channel_classes
    from dialogflowlite.server.models import close_stores, resolve_model_path
    from dialogflowlite.stores.factory import create_lock_store, create_tracker_store

    config = ServerConfig(project=str(project), model_path=model, endpoints_file=endpoints_file)
    model_file = resolve_model_path(config)
    endpoints = config.read_endpoints()
    with config.endpoints_errors():
        _configure_masking(endpoints)
        tracker_store = create_tracker_store(endpoints.get("tracker_store"),
                                             project=config.project_dir)
        lock_store = create_lock_store(endpoints.get("lock_store"), project=config.project_dir)
        event_broker = create_event_broker(endpoints.get("event_broker"),
                                           project=config.project_dir)
        agent = Agent.load(model_file, tracker_store=tracker_store, lock_store=lock_store,
                           endpoints=endpoints, event_broker=event_broker)
    parsing = nlu_only or not agent.is_ready()
    # The console is a channel plugin like the others; a plugin may replace it (parsing
    # reads its lines as the built-in console does, so it needs one of that kind).
    console = channel_classes().get(ConsoleChannel.channel_name, ConsoleChannel)
    if parsing and not issubclass(console, ConsoleChannel):
        console = ConsoleChannel
    channel = console(sender_id=sender_id or f"shell-{uuid.uuid4().hex[:12]}",
                      stdin=stdin, stdout=stdout,
                      history_file=history_file or DEFAULT_HISTORY)
    try:
        if parsing:
            if not nlu_only:
                # An NLU-only model: show what it understands instead of a silent bot.
                channel.say("This model has no dialogue policies: showing how each "
                            "message is parsed.")
            return await parse_lines(agent, channel)
        agent.warn_about_unreachable_actions()  # (parsing runs no action)
        agent.warn_about_missing_nlu()
        connect_console_reminders(agent, channel)
        return await channel.run(agent.handle_message)
    finally:
        await close_stores(agent)


async def parse_lines(agent: Any, channel: ConsoleChannel) -> int:
    """Print the parse result of each line typed, as JSON, until ``/stop`` or the end of
    input; returns how many lines were parsed.

    There is no conversation, so ``/restart`` (or any ``/intent``) is parsed as the
    message it is; the console's chat loop would have said the conversation
    restarted. ``/stop`` quits, as in the chat.
    """
    import json

    from dialogflowlite.server.channels.console import STOP_COMMAND

    channel.say(f"{NLU_GREETING} {STOP_COMMAND} or the end of input (Ctrl-D) quits.")
    parsed = 0
    # the console's messages: its prompt and history in a terminal, piped lines
    # otherwise; /stop, the end of input or Ctrl-C at the prompt ends the session
    async for text in channel.messages():
        result = await agent.parse_message(text)
        channel.say(json.dumps(result, indent=2, ensure_ascii=False))
        parsed += 1
    return parsed


def connect_console_reminders(agent: Any, channel: ConsoleChannel) -> None:
    """Let ``agent``'s fired reminders print their messages on ``channel`` (a sender
    its owner set already is kept)."""
    processor = getattr(agent, "processor", None)
    if processor is not None and processor.unasked_sender is None:
        processor.unasked_sender = console_sender(channel)


def console_sender(channel: ConsoleChannel) -> UnaskedSender:
    """Prints replies sent unasked (a fired reminder's) as the console prints the bot's
    answers, their buttons then picked by number: only those of the console's
    conversation scheduled through the console."""

    async def send(sender_id: str, channel_name: str | None,
                   replies: list[dict[str, Any]]) -> bool:
        if channel_name != channel.name():
            return False
        return await channel.send_to(sender_id, replies)

    return send


def _configure_masking(endpoints: dict) -> None:
    """Masking works in the shell as in the server (when the built-in plugin is loaded)."""
    from dialogflowlite.plugins.manager import get_plugin_manager

    module = get_plugin_manager().get_plugin("dialogflowlite.plugins.builtin.masking")
    if module is not None:
        module.configure(endpoints.get("masking"))


def tolerate_bad_encodings() -> None:
    """Piped input that is not UTF-8 (a Latin-1 file, a stray byte) reads with U+FFFD in
    place of the bytes it cannot decode. A strict stdin ended the shell with a
    traceback at the first such line; a surrogate-escaping one (Python's choice
    under the C locale) let through text no tracker store can encode as UTF-8.

    The same for output: a reply the terminal's encoding cannot show (Arabic in a
    cp1252 console, output redirected to a file on Windows) is written with ``?`` for
    what it cannot encode, where the shell ended with a UnicodeEncodeError."""
    for stream in (sys.stdin, sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None and getattr(stream, "errors", None) in (
                "strict", "surrogateescape"):
            reconfigure(errors="replace")


def _run(args: argparse.Namespace) -> int:
    tolerate_bad_encodings()
    asyncio.run(run_shell(args.project, args.model, args.sender, args.history,
                          nlu_only=args.part == "nlu", endpoints_file=args.endpoints))
    return 0


COMMAND = Command("shell", "chat with the trained bot in the terminal (`shell nlu`: see how "
                           "messages are parsed)", _add_arguments, _run,
                  description="Chat with the newest model (or --model). Buttons show as "
                              "numbered choices; /restart starts the conversation over, /stop "
                              "or the end of input (Ctrl-D) quits. `shell nlu` prints each "
                              "message's parse result (intent, entities, ranking) as JSON "
                              "instead: there is no conversation, /restart is parsed as any "
                              "message, and /stop or Ctrl-D quits.")
