"""The ``dialogflowlite`` (and ``dfl``) command line.

Commands come from the ``dfl_register_commands`` hook, the built-in ones
included. A user mistake (any :class:`~dialogflowlite.errors.DialogflowLiteError`)
prints one clear message and exits with 1; ``--debug`` adds the traceback. A
usage mistake (an unknown option, a mistyped command) exits with 2 and names
the closest option or command (:mod:`dialogflowlite.cli.parser`). Ctrl-C during
a command's work exits with 130 and SIGTERM with 143, both after the command's
clean-up ran (Ctrl-C at the shell's prompt ends the chat, with 0).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import sys
import threading
import traceback
from collections.abc import Iterable, Iterator, Sequence

from dialogflowlite import __version__
from dialogflowlite.cli.command import Command
from dialogflowlite.cli.logs import log_settings
from dialogflowlite.cli.parser import CommandLineParser
from dialogflowlite.errors import DialogflowLiteError, PluginError
from dialogflowlite.plugins.claims import NameClaims
from dialogflowlite.shared.log_setup import configure_logging

EXIT_USER_ERROR = 1
EXIT_INTERRUPTED = 130
EXIT_TERMINATED = 143  # 128 + SIGTERM, what a shell reports for a process it ended


class Terminated(BaseException):
    """SIGTERM arrived (``kill``, ``docker stop``, a CI job cancelled) while a command ran.

    A BaseException, as KeyboardInterrupt is, so that ``finally`` blocks run on the
    way out: without it the process died at once and left a training run's work
    folder behind in the temporary directory.
    """


@contextlib.contextmanager
def _terminate_as_interrupt() -> Iterator[None]:
    """While a command runs, SIGTERM unwinds it (cleaning up) instead of killing it."""
    if threading.current_thread() is not threading.main_thread():
        yield  # signal handlers can only be set in the main thread
        return

    def stop(signum: int, frame: object) -> None:
        raise Terminated()

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _commands() -> list[Command]:
    from dialogflowlite.plugins.manager import get_plugin_manager

    pm = get_plugin_manager()
    hook = "dfl_register_commands"
    commands: list[Command] = []
    # argparse would stop every command, --help included, naming no plugin
    claims = NameClaims("command", hook, "give the command another name, or disable one "
                        "plugin with DFL_DISABLE_PLUGINS", clash=_clashing_command,
                        allow_same=False)
    for plugin, registered in pm.call_each_expecting(hook, (list, tuple), "a list of Command"):
        for command in registered:
            if not isinstance(command, Command):
                raise PluginError(f"returned {command!r}, which is not a Command",
                                  plugin=plugin, hook=hook)
            claims.claim(" ".join(str(command.name).split()), plugin, command)
            commands.append(command)
    return commands


def _clashing_command(name: str, taken: Iterable[str]) -> str | None:
    """The registered command that ``name`` cannot sit beside: the same words, or one
    that is the other's group (``plugins extra`` under the command ``plugins``)."""
    for other in taken:
        if name == other or name.startswith(other + " ") or other.startswith(name + " "):
            return other
    return None


def build_parser(commands: Sequence[Command] | None = None) -> argparse.ArgumentParser:
    """The argument parser with every registered command."""
    parser = CommandLineParser(
        prog="dialogflowlite",
        description="Build, train, test and serve task-oriented chatbots.",
    )
    parser.add_argument("--version", action="version", version=f"dialogflowlite {__version__}")
    _add_logging_arguments(parser, suppress=False)
    # each command also takes these after its name (`dialogflowlite run --debug`, as
    # Rasa users type it), a group too (`data --debug validate`, as Rasa's groups take
    # them); SUPPRESS keeps a value given before the name
    common = argparse.ArgumentParser(add_help=False)
    _add_logging_arguments(common, suppress=True)
    top = parser.add_subparsers(dest="command", metavar="COMMAND")
    groups: dict[str, argparse._SubParsersAction] = {}
    commands = sorted(commands if commands is not None else _commands(), key=lambda c: c.name)
    for command in commands:
        words = command.name.split()
        subparsers = top
        for depth, word in enumerate(words[:-1]):
            key = " ".join(words[: depth + 1])
            if key not in groups:
                help_text = _group_help(key, commands)
                group = subparsers.add_parser(word, help=help_text, description=help_text,
                                              parents=[common])
                groups[key] = group.add_subparsers(dest=f"{key.replace(' ', '_')}_command",
                                                   metavar="COMMAND")
                group.set_defaults(_group=group)
            subparsers = groups[key]
        sub = subparsers.add_parser(words[-1], help=command.help, parents=[common],
                                    description=command.description or command.help)
        command.add_arguments(sub)
        sub.set_defaults(_run=command.run)
    return parser


#: what the built-in command groups are for; a group of a plugin's commands is named by
#: its sub-commands alone
GROUP_HELP = {
    "data": "check, split, convert and migrate the project's training data",
    "data convert": "convert Rasa's Markdown or JSON training data into YAML",
    "data split": "split NLU data or stories into a training and a test part",
    "evaluate": "evaluate the stored conversations",
    "plugin": "write the skeleton of a plugin package",
}


def _group_help(key: str, commands: Sequence[Command]) -> str:
    """The help of a command group: what it is for, then the sub-commands it holds."""
    depth = len(key.split())
    words = sorted({c.name.split()[depth] for c in commands
                    if c.name.startswith(key + " ") and len(c.name.split()) > depth})
    listed = f"`{key} {' | '.join(words)}`"
    return f"{GROUP_HELP[key]}: {listed}" if key in GROUP_HELP else f"the commands {listed}"


def _add_logging_arguments(parser: argparse.ArgumentParser, suppress: bool) -> None:
    """The logging options every command takes (Rasa's spellings included)."""
    flag = argparse.SUPPRESS if suppress else False
    default = argparse.SUPPRESS if suppress else None
    parser.add_argument("--debug", "-vv", action="store_true", default=flag,
                        help="show tracebacks and debug logs")
    parser.add_argument("-v", "--verbose", action="store_true", default=flag,
                        help="log what happens (the default level, INFO)")
    parser.add_argument("-q", "--quiet", action="store_true", default=flag,
                        help="only print warnings and errors")
    parser.add_argument("--log-file", default=default, metavar="FILE",
                        help="also write the log to FILE")
    parser.add_argument("--logging-config-file", default=default, metavar="FILE",
                        help="YAML logging config (Python's dictConfig schema), used instead")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns (and, as a script, exits with) the exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv or "-vv" in argv or bool(os.environ.get("DFL_DEBUG"))
    try:
        parser = build_parser()
        args = parser.parse_args(argv)
        configure_logging(log_settings(args, debug))
        run = getattr(args, "_run", None)
        if run is None:
            (getattr(args, "_group", None) or parser).print_help()
            return EXIT_USER_ERROR
        with _terminate_as_interrupt():
            code = run(args)
        return int(code or 0)
    except DialogflowLiteError as e:
        if debug:
            traceback.print_exc()
        print(f"error: {e.render()}", file=sys.stderr)
        return EXIT_USER_ERROR
    except OSError as e:
        # a path that cannot be read or written (an --out in a missing or read-only
        # folder, a data file without read permission): one line, not a traceback
        if debug:
            traceback.print_exc()
        if e.filename:
            print(f"error: {e.strerror or e}: {e.filename} (hint: check that the path exists "
                  "and may be read or written; --debug shows where it happened)",
                  file=sys.stderr)
        else:  # no path involved (a socket, a pipe): a path hint would mislead
            print(f"error: {e.strerror or e} (hint: --debug shows where it happened)",
                  file=sys.stderr)
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Terminated:
        print("terminated", file=sys.stderr)
        return EXIT_TERMINATED


def entry_point() -> None:  # pragma: no cover - thin wrapper for console scripts
    sys.exit(main())


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
