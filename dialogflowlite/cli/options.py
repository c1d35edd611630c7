"""Options that several commands share: whole-number types and Rasa's file options."""

from __future__ import annotations

import argparse
from typing import Any

from dialogflowlite.io.loader import ProjectSources


def positive_int(text: str) -> int:
    """An argparse type: a whole number of at least 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more, not {text}")
    return value


def add_source_options(parser: Any, verb: str) -> None:
    """Rasa's ``-d/--domain``, ``--data`` and ``-c/--config``: files to ``verb`` instead."""
    parser.add_argument("-d", "--domain", default=None, metavar="PATH",
                        help=f"a domain file or folder to {verb} instead of the project's")
    parser.add_argument("--data", nargs="+", default=None, metavar="PATH",
                        help=f"training data files or folders to {verb} instead of the "
                        "project's data/ (only these are read)")
    parser.add_argument("-c", "--config", default=None, metavar="FILE",
                        help=f"a config file to {verb} instead of the project's config.yml")


def sources_from_args(args: argparse.Namespace) -> ProjectSources | None:
    """The :class:`ProjectSources` of :func:`add_source_options`' options; None when none given."""
    sources = ProjectSources(domain=args.domain, config=args.config,
                             data=tuple(args.data) if args.data else None)
    return sources if sources.given else None
