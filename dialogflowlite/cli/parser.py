"""The argument parser of the command line: an unknown option is named, with the closest one.

Left to itself, argparse sets an option it does not know aside and then blames
the option's value on the next positional argument (``train --epochs 3``
answered "argument part: invalid choice: '3'"), or reports it from the
top-level parser, whose usage lists none of the command's options. Rasa users
type Rasa's options from habit, so the message says which option is unknown to
which command, and the closest one it has.
"""

from __future__ import annotations

import argparse
import difflib
import sys
from collections.abc import Sequence
from typing import NoReturn

from dialogflowlite.io.formats import closest


class CommandLineParser(argparse.ArgumentParser):
    """An :class:`argparse.ArgumentParser` whose errors name an unknown option first.

    The sub-command parsers made with ``add_subparsers`` are of this class too,
    so the command that does not know the option is the one that says so.
    """

    _given: list[str]
    #: the ``dest`` of a last, optional positional argument that may also come after
    #: options (``first_n 3 --no-stats out.csv``): argparse gives it nothing when the
    #: positionals before it come first, and calls the word an unrecognized argument
    late_positional: str | None = None

    def parse_known_args(self, args: Sequence[str] | None = None,
                         namespace: argparse.Namespace | None = None,
                         ) -> tuple[argparse.Namespace, list[str]]:
        """Parse ``args``; a word left over is an error of this parser, not of its parent,
        and so is a long option written with one dash, even where argparse took it."""
        self._given = list(sys.argv[1:] if args is None else args)
        namespace, extras = super().parse_known_args(args, namespace)
        late = self.late_positional
        if late and len(extras) == 1 and not extras[0].startswith("-") and \
                getattr(namespace, late, None) is None:
            setattr(namespace, late, extras.pop())
        if extras:
            self.error(f"unrecognized arguments: {' '.join(extras)}")
        one_dash = [word for word in self.unknown_options() if self._long_with_one_dash(word)]
        if one_dash:
            # `-model=x` parses as -m with the value 'odel=x', which nobody means
            super().error(self.unknown_option_message(one_dash[0]))
        return namespace, extras

    def error(self, message: str) -> NoReturn:
        """Print the usage and the error (an unknown option ahead of what it caused); exit 2."""
        unknown = self.unknown_options()
        if unknown:
            message = self.unknown_option_message(unknown[0])
        super().error(message)

    def _check_value(self, action: argparse.Action, value: object) -> None:
        # a mistyped command, part or choice (`tain`, `data valdate`, `--format DOT`)
        # gets the closest one
        try:
            super()._check_value(action, value)
        except argparse.ArgumentError as e:
            close = closest(str(value), [str(c) for c in action.choices or ()], n=1)
            if not close:
                raise
            raise argparse.ArgumentError(action, f"{e.message}; did you mean "
                                                 f"'{close[0]}'?") from None

    def unknown_options(self) -> list[str]:
        """The option words given to this parser that none of its options takes.

        A parser with sub-commands sees its sub-command's options too, so only
        the words before the first positional one (the sub-command) are its own.
        """
        words: list[str] = []
        has_commands = self._subparsers is not None
        for word in getattr(self, "_given", []):
            if word == "--":
                break
            if not self._looks_like_option(word):
                if has_commands:
                    break
                continue
            if self._long_with_one_dash(word):
                words.append(word)  # whole: argparse took all after `-p` as the value
            elif not self._known(word):
                words.append(word.split("=", 1)[0])
        return words

    def unknown_option_message(self, option: str) -> str:
        """``option`` is unknown to this command; the closest known one, and where to look.

        A long option with one dash keeps its ``=value`` (``-port=3``): the closest
        option is suggested with it (``--port=3``) where that option takes a value.
        """
        name, has_value, value = option.partition("=")
        known = {string.lstrip("-"): string for string in self._option_string_actions
                 if string.startswith("--") or len(string) == 2}
        # compared without the dashes, which every name shares and would make alike
        close = difflib.get_close_matches(name.lstrip("-"), list(known), n=1, cutoff=0.6)
        suggestion = ""
        if close:
            closest = known[close[0]]
            if has_value and self._takes_value(closest):
                closest = f"{closest}={value}"
            suggestion = f"; did you mean {closest}?"
        if self._long_with_one_dash(option) and self._takes_value(option[:2]):
            # argparse took it as a short option with the rest as its value
            suggestion = (f" (one dash makes it {option[:2]} with the value "
                          f"'{option[2:]}'){suggestion}")
        return (f"unknown option {option}{suggestion} "
                f"(`{self.prog} --help` lists the options it takes)")

    def _looks_like_option(self, word: str) -> bool:
        if not word.startswith("-") or word == "-":
            return False
        # "-3" is a value (a negative number) unless the parser has options of that shape
        return not (self._negative_number_matcher.match(word)
                    and not self._has_negative_number_optionals)

    def _long_with_one_dash(self, word: str) -> bool:
        """``-port`` for ``--port``: argparse reads a short option with its value
        attached (``-p ort``), and then blames the value or the word after it."""
        name = word.split("=", 1)[0]
        return (not name.startswith("--") and len(name) > 2
                and name not in self._option_string_actions
                and "-" + name in self._option_string_actions)

    def _takes_value(self, short: str) -> bool:
        """Whether ``short`` is one of this parser's options and takes a value (not a flag)."""
        action = self._option_string_actions.get(short)
        return action is not None and action.nargs != 0

    def _known(self, word: str) -> bool:
        name = word.split("=", 1)[0]
        if name in self._option_string_actions:
            return True
        if name.startswith("--"):
            # argparse takes an unambiguous prefix of a long option (--fixed for
            # --fixed-model-name); an ambiguous one gets argparse's own message
            return any(known.startswith(name) for known in self._option_string_actions)
        # "-m5": a short option with its value attached; "-vq": short flags together
        return word[:2] in self._option_string_actions

