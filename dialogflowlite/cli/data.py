"""``dialogflowlite data validate``: check a project's files and report every problem."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TextIO

from dialogflowlite.cli.command import Command


def validate(
    project_dir: str | Path = ".", *, fail_on_warnings: bool = False, out: TextIO | None = None
) -> int:
    """Load and validate the project in ``project_dir``, print the problems and a summary.

    Returns the exit code: 1 when there are errors (or, with
    ``fail_on_warnings``, any problem at all), else 0.
    """
    from dialogflowlite.io.loader import load_project
    from dialogflowlite.io.validate import summary, validate_project

    out = out or sys.stdout
    project = load_project(project_dir, strict=False)
    problems = validate_project(project)
    for problem in problems:
        print(problem, file=out)
    print(summary(project, problems), file=out)
    if any(p.is_error for p in problems):
        return 1
    return 1 if fail_on_warnings and problems else 0


def _add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--project",
        default=".",
        metavar="DIR",
        help="the project folder (default: the current folder)",
    )
    parser.add_argument(
        "--fail-on-warnings",
        action="store_true",
        help="exit with 1 on warnings too, not only on errors",
    )


def _run(args: argparse.Namespace) -> int:
    return validate(args.project, fail_on_warnings=args.fail_on_warnings)


COMMAND = Command(
    "data validate",
    "check the project's files: YAML, domain, NLU data, stories, rules and config",
    _add_arguments,
    _run,
    description="Check every file of a project and print each problem as "
    "file:line:col: error|warning: message, then a summary. Exits with 1 when there are errors.",
)
