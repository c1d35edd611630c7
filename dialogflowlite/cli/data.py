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


# ---------------------------------------------------------------- data split nlu

#: where ``data split nlu`` writes, relative to the project (Rasa's folder and file names)
SPLIT_FOLDER = "train_test_split"
TRAINING_FILE = "training_data.yml"
TEST_FILE = "test_data.yml"


def split_nlu(
    project_dir: str | Path = ".",
    *,
    nlu: str | Path | None = None,
    training_fraction: float = 0.8,
    seed: int = 42,
    out: str | Path | None = None,
    echo: TextIO | None = None,
) -> tuple[Path, Path]:
    """Split the project's NLU examples into a training and a test file.

    Reads every NLU file under ``nlu`` (default: the project's ``data/``),
    splits each intent's examples by ``training_fraction`` (see
    :meth:`TrainingData.train_test_split`) and writes ``training_data.yml``
    and ``test_data.yml`` into ``out`` (default: ``<project>/train_test_split``).
    Returns the two paths.
    """
    from dialogflowlite.errors import ProjectError
    from dialogflowlite.evaluation.nlu import load_nlu_data
    from dialogflowlite.io.nlu_writer import write_nlu

    stream = echo or sys.stdout
    root = Path(project_dir)
    source = Path(nlu) if nlu is not None else root / "data"
    data = load_nlu_data(source)
    if not data.intent_examples:
        raise ProjectError(f"{source} has no NLU examples to split",
                           hint="pass the NLU file or folder with --nlu")
    train, test = data.train_test_split(training_fraction, seed)
    folder = Path(out) if out is not None else root / SPLIT_FOLDER
    training_path = write_nlu(train, folder / TRAINING_FILE)
    test_path = write_nlu(test, folder / TEST_FILE)
    single = sorted(i for i, n in data.intent_counts().items() if n < 2)
    if single:
        print(f"note: {len(single)} intent(s) with one example, kept for training only: "
              f"{', '.join(single)}", file=stream)
    print(f"training: {training_path} ({len(train.examples)} examples, "
          f"{len(train.full_intents)} intents)", file=stream)
    print(f"test:     {test_path} ({len(test.examples)} examples, "
          f"{len(test.full_intents)} intents)", file=stream)
    return training_path, test_path


def _fraction(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not 0.0 < value < 1.0:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1 (exclusive), not {text}")
    return value


def _add_split_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--project", default=".", metavar="DIR",
                        help="the project folder (default: the current folder)")
    parser.add_argument("-u", "--nlu", default=None, metavar="PATH",
                        help="NLU file or folder to split (default: <project>/data)")
    parser.add_argument("--training-fraction", type=_fraction, default=0.8, metavar="F",
                        help="share of each intent's examples for training (default: 0.8)")
    parser.add_argument("--random-seed", type=int, default=42, metavar="N",
                        help="seed of the shuffle (default: 42)")
    parser.add_argument("--out", default=None, metavar="DIR",
                        help=f"folder for {TRAINING_FILE} and {TEST_FILE} "
                        f"(default: <project>/{SPLIT_FOLDER})")


def _run_split(args: argparse.Namespace) -> int:
    split_nlu(args.project, nlu=args.nlu, training_fraction=args.training_fraction,
              seed=args.random_seed, out=args.out)
    return 0


SPLIT_NLU_COMMAND = Command(
    "data split nlu",
    "split the NLU examples into a training and a test file",
    _add_split_arguments,
    _run_split,
    description="Split every intent's examples into train_test_split/training_data.yml "
    "and test_data.yml (synonyms, regexes and lookup tables go with the training part). "
    "Train on one with `dialogflowlite train nlu --nlu ...`, test with "
    "`dialogflowlite test nlu --nlu ...`.",
)
