"""Options that several commands share: whole-number types, paths and Rasa's file options."""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from dialogflowlite.errors import ConfigError, ProjectNotFoundError
from dialogflowlite.io.loader import DOMAIN_PLACES, ProjectSources, resolve_in_project

T = TypeVar("T")


def _converted(text: str, convert: Callable[[str], T], what: str) -> T:
    """``convert(text)``, or the argparse error saying the text is not ``what``."""
    try:
        return convert(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not {what}: {text!r}") from None


def positive_int(text: str) -> int:
    """An argparse type: a whole number of at least 1."""
    value = _converted(text, int, "a whole number")
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more, not {text}")
    return value


def port_number(text: str) -> int:
    """An argparse type: a TCP port, 0 to 65535 (0: any free port)."""
    value = _converted(text, int, "a port number")
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"a port is 0 to 65535, not {text}")
    return value


def server_port(text: str) -> int:
    """An argparse type: the port of a server to reach, 1 to 65535."""
    value = _converted(text, int, "a port number")
    if not 1 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"a server's port is 1 to 65535, not {text}")
    return value


def finite_number(text: str) -> float:
    """An argparse type: a number that is neither NaN nor infinite (a timestamp, ...)."""
    value = _converted(text, float, "a number")
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"must be a finite number, not {text}")
    return value


def add_source_options(parser: Any, verb: str, *, compare_help: str | None = None) -> None:
    """Rasa's ``-d/--domain``, ``--data`` and ``-c/--config``: files to ``verb`` instead.

    With ``compare_help`` ``--config`` takes several files (or folders of them)
    too, for a command that compares configs; :func:`config_files` reads them.
    """
    parser.add_argument("-d", "--domain", default=None, metavar="PATH",
                        help=f"a domain file or folder to {verb} instead of the project's")
    parser.add_argument("--data", nargs="+", default=None, metavar="PATH",
                        help=f"training data files or folders to {verb} instead of the "
                        "project's data/ (only these are read)")
    if compare_help is None:
        parser.add_argument("-c", "--config", default=None, metavar="FILE",
                            help=f"a config file to {verb} instead of the project's "
                                 "config.yml")
    else:
        parser.add_argument("-c", "--config", nargs="+", default=None, metavar="FILE",
                            help=f"a config file to {verb} instead of the project's "
                                 f"config.yml; {compare_help}")


def config_files(configs: list[str] | str | None, project_dir: str | Path,
                 parts: tuple[str, ...] = (), command: str = "") -> list[Path] | None:
    """The config files ``--config`` names, a folder standing for the YAML files in it.

    ``--config`` may take several words, so it also swallows a sub-command
    written after it: one of ``parts`` that is no file there is reported with
    where to write it instead (after ``command``).
    """
    if not configs:
        return None
    if isinstance(configs, str):
        configs = [configs]
    misplaced = [c for c in configs
                 if c in parts and not resolve_in_project(c, project_dir).exists()]
    if misplaced:
        raise ConfigError(f"--config took '{misplaced[0]}' as a config file",
                          hint=f"write `{command} {misplaced[0]}` before the options")
    files: list[Path] = []
    for config in configs:
        path = existing_path(config, project_dir, "config file", "--config")
        if path.is_dir():
            inside = sorted(p for p in path.iterdir()
                            if p.is_file() and p.suffix in (".yml", ".yaml"))
            if not inside:
                raise ConfigError(f"the config folder {config} holds no .yml files",
                                  hint="pass config files, or a folder of them")
            files.extend(inside)
        else:
            files.append(path)
    return files


def exclusion_percentage(text: str) -> int:
    """An argparse type: a whole-number percentage of the data to leave out, 0 to 99."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if not 0 <= value < 100:
        raise argparse.ArgumentTypeError(f"{text} is not a percentage of the data to leave "
                                         "out (0 to 99)")
    return value


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
    # checked here, before the project is read: the loader reports a missing path as one
    # error after every warning that the missing files cause, which buries it
    project_dir = getattr(args, "project", None) or "."
    for word in data or ():
        existing_path(word, project_dir, "training data", "--data")
    if args.domain:
        existing_path(args.domain, project_dir, "domain", "--domain")
    config = args.config
    if isinstance(config, list):  # a command whose --config also takes several to compare
        if len(config) > 1:
            raise ConfigError(f"--config names {len(config)} files; only one is trained here",
                              hint="compare configs with `train core -c A.yml B.yml` "
                                   "(dialogue policies) or `test nlu -c A.yml B.yml` (NLU)")
        config = config[0] if config else None
    sources = ProjectSources(domain=args.domain, config=config, data=data)
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


def project_folder(path: str | Path) -> Path:
    """The project folder ``--project`` names; it must be a folder.

    For the commands that would otherwise first look for something inside it
    and report that missing instead (``no model at nothere/models``).
    """
    folder = Path(path)
    if not folder.is_dir():
        raise ProjectNotFoundError(f"project folder {path} does not exist" if not folder.exists()
                                   else f"project folder {path} is a file, not a folder",
                                   hint="pass --project DIR, or run `dialogflowlite init`")
    return folder


#: what a project folder holds at least one of (Rasa's default paths)
PROJECT_FILES = (*DOMAIN_PLACES, "config.yml", "config.yaml", "data")


def require_project(project_dir: str | Path, sources: ProjectSources | None = None) -> Path:
    """The project folder, refused when it holds none of a project's files (and
    ``sources`` gives neither a domain nor data instead).

    Run in the wrong folder, a command would otherwise list what the empty
    project lacks (no domain, unchecked data) rather than say where it looked.
    """
    folder = project_folder(project_dir)
    if sources is not None and (sources.domain is not None or sources.data):
        return folder
    if not any((folder / name).exists() for name in PROJECT_FILES):
        raise ProjectNotFoundError(
            f"{folder.absolute()} is not a project folder: it has no domain.yml, config.yml "
            "or data/", hint="run the command in the project folder, pass --project DIR, or "
                             "create a project with `dialogflowlite init`")
    return folder


def output_folder(out: str | Path, given: str | Path | None = None) -> Path:
    """The folder ``--out`` names for a command that writes several files into it.

    An existing file there is refused by name (``given``, as typed, when ``out``
    is it resolved): making the folder failed with a bare "File exists".
    """
    folder = Path(out)
    if folder.exists() and not folder.is_dir():
        raise ConfigError(f"--out {given or out} is a file, and this command writes its files into "
                          "a folder", hint="pass a folder (a new one is made) with --out")
    return folder


def output_file(out: str | Path) -> Path:
    """The file ``--out`` names for a command that writes one file; a folder is refused."""
    target = Path(out)
    if target.is_dir():
        raise ConfigError(f"--out {out} is a folder, and this command writes one file",
                          hint="pass the path of the file to write with --out")
    return target
