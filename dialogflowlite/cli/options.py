"""Options that several commands share: whole-number types, paths and Rasa's file options."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from dialogflowlite.errors import ConfigError, ProjectNotFoundError
from dialogflowlite.io.loader import ProjectSources, resolve_in_project


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


def sources_from_args(args: argparse.Namespace, parts: tuple[str, ...] = (),
                      command: str = "") -> ProjectSources | None:
    """The :class:`ProjectSources` of :func:`add_source_options`' options; None when none given.

    ``--data`` takes several words, so it also swallows a sub-command written
    after it (``train --data data nlu``): one of ``parts`` that is no file
    there is reported with where to write it instead (after ``command``).
    """
    data = tuple(args.data) if args.data else None
    for word in data or ():
        if word in parts and not Path(word).exists():
            raise ConfigError(f"--data took '{word}' as a path, and there is no such file",
                              hint=f"write `{command} {word}` before the options")
    sources = ProjectSources(domain=args.domain, config=args.config, data=data)
    return sources if sources.given else None


def existing_path(path: str | Path, project_dir: str | Path, what: str, option: str) -> Path:
    """A path given with ``option``: from the working folder, else the project; it must exist.

    Checked here, before the loader sees it, where the loader would name
    ``--data`` for a path the user gave with another option.
    """
    found = resolve_in_project(path, project_dir)
    if not found.exists():
        raise ProjectNotFoundError(f"the {what} {path} does not exist",
                                   hint=f"check the path given to {option}")
    return found
