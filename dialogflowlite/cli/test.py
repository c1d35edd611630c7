"""``dialogflowlite test [core|nlu]``: test a trained model.

* ``test core`` replays the test stories (``tests/*.yml``, or ``--stories``)
  and prints story accuracy and the action-level report; it writes
  ``failed_test_stories.yml`` and ``story_report.json``.
* ``test nlu`` scores the NLU on test examples (or by cross-validation).
* ``test`` does both (NLU only when there are NLU test examples or
  ``--cross-validation``), plus the response generator's report when the
  model has a generator and its evaluation is installed.

Like Rasa, a failed story does not change the exit code unless
``--fail-on-prediction-errors`` is given; then it is 1.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from pathlib import Path
from typing import TextIO

from dialogflowlite.cli.command import Command
from dialogflowlite.io.loader import resolve_in_project

PARTS = ("core", "nlu")

#: the generation report: ``module:function(project_dir, model_path, output_dir, echo)``
GENERATION_TEST = "dialogflowlite.evaluation.generation:run_generation_test"


def core_test(
    project_dir: str | Path = ".",
    *,
    model: str | Path | None = None,
    stories: str | Path | None = None,
    out: str | Path = "results",
    fail_on_prediction_errors: bool = False,
    extract_slots: bool = True,
    successes: bool = False,
    echo: TextIO | None = None,
    skip_without_policies: bool = False,
) -> int:
    """Replay the test stories against the model; print and write the results; the exit code.

    A model without dialogue policies (``train nlu``) is an error, or with
    ``skip_without_policies`` a printed notice and no test.
    """
    from dialogflowlite.agent import Agent
    from dialogflowlite.errors import ModelLoadError, ProjectNotFoundError
    from dialogflowlite.evaluation.stories import (
        load_test_stories,
        run_story_test,
    )
    from dialogflowlite.io.loader import load_project

    stream = echo or sys.stdout
    root = Path(project_dir)
    if stories is not None:
        test_stories = load_test_stories(resolve_in_project(stories, root))
    else:
        test_stories = load_project(root, strict=False).test_stories
    if not test_stories:
        raise ProjectNotFoundError(f"no test stories in {root / 'tests'}",
                                   hint="write test stories under tests/, or pass --stories")
    agent = Agent.load(resolve_in_project(model, root) if model is not None else root / "models")
    if not agent.is_ready():
        agent.close()
        name = agent.model_path.name if agent.model_path else "the model"
        if skip_without_policies:
            print(f"Stories: skipped, {name} has no dialogue policies (test them with a model "
                  "from `dialogflowlite train`)", file=stream)
            return 0
        raise ModelLoadError(f"{name} has no dialogue policies: test stories need them",
                             hint="train the whole bot with `dialogflowlite train`, or pass "
                                  "--model with a model that has them")
    try:
        output = resolve_in_project(out, root) if not Path(out).is_absolute() else Path(out)
        evaluation = run_story_test(agent, test_stories, out_dir=output,
                                    extract_slots=extract_slots, successes=successes)
    finally:
        agent.close()
    print(evaluation.table(), file=stream)
    print(f"results written to {output}", file=stream)
    if fail_on_prediction_errors and evaluation.failed:
        return 1
    return 0


def nlu_test(project_dir: str | Path = ".", *, model: str | Path | None = None,
             nlu: str | Path | None = None, out: str | Path = "results",
             cross_validation: bool = False, folds: int = 5,
             echo: TextIO | None = None) -> int:
    """Score the NLU (``run_nlu_test``); the exit code."""
    from dialogflowlite.evaluation.nlu import run_nlu_test

    stream = echo or sys.stdout
    run_nlu_test(project_dir, model, nlu, out, cross_validation, folds,
                 echo=lambda text: print(text, file=stream))
    return 0


def _has_nlu_tests(project_dir: Path) -> bool:
    from dialogflowlite.io.loader import load_project

    return bool(load_project(project_dir, strict=False).test_nlu.intent_examples)


def generation_test(project_dir: str | Path, *, model: str | Path | None, out: str | Path,
                    echo: TextIO | None = None) -> int | None:
    """The response generator's report, when its evaluation is installed (else None)."""
    module_name, _, function_name = GENERATION_TEST.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError:
        return None
    run = getattr(module, function_name, None)
    if run is None:
        return None
    stream = echo or sys.stdout
    result = run(project_dir, model, out, echo=lambda text: print(text, file=stream))
    return result if isinstance(result, int) else 0


def run_tests(project_dir: str | Path = ".", *, part: str | None = None,
              model: str | Path | None = None, stories: str | Path | None = None,
              nlu: str | Path | None = None, out: str | Path = "results",
              cross_validation: bool = False, folds: int = 5,
              fail_on_prediction_errors: bool = False, extract_slots: bool = True,
              successes: bool = False, echo: TextIO | None = None) -> int:
    """What ``dialogflowlite test`` runs; returns the exit code."""
    stream = echo or sys.stdout
    root = Path(project_dir)
    code = 0
    if part in (None, "core"):
        code = max(code, core_test(root, model=model, stories=stories, out=out,
                                   fail_on_prediction_errors=fail_on_prediction_errors,
                                   extract_slots=extract_slots, successes=successes,
                                   echo=stream, skip_without_policies=part is None))
    if part == "nlu" or (part is None and (nlu or cross_validation or _has_nlu_tests(root))):
        code = max(code, nlu_test(root, model=model, nlu=nlu, out=out,
                                  cross_validation=cross_validation, folds=folds, echo=stream))
    elif part is None:
        print("NLU: no test examples under tests/ (pass --nlu FILE or --cross-validation)",
              file=stream)
    if part is None:
        generated = generation_test(root, model=model, out=out, echo=stream)
        if generated:
            code = max(code, generated)
    return code


def _add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("part", nargs="?", choices=PARTS,
                        help="test only the dialogue (core) or only the NLU (default: both)")
    parser.add_argument("--project", default=".", metavar="DIR",
                        help="the project folder (default: the current folder)")
    parser.add_argument("-m", "--model", default=None, metavar="PATH",
                        help="model file, or folder whose newest model is used "
                             "(default: <project>/models)")
    parser.add_argument("--stories", default=None, metavar="FILE",
                        help="test stories (file or folder; default: <project>/tests)")
    parser.add_argument("--nlu", default=None, metavar="FILE",
                        help="NLU test examples (default: the NLU examples under tests/)")
    parser.add_argument("--cross-validation", action="store_true",
                        help="test the NLU by cross-validation on the training data")
    parser.add_argument("--folds", type=int, default=5, metavar="K",
                        help="number of cross-validation folds (default: 5)")
    parser.add_argument("--out", default="results", metavar="DIR",
                        help="where to write the reports (default: <project>/results)")
    parser.add_argument("--fail-on-prediction-errors", action="store_true",
                        help="exit with 1 when a test story fails")
    parser.add_argument("--no-slot-extraction", action="store_true",
                        help="do not fill slots from user steps by the slot mappings; use only "
                             "the slot_was_set steps of the stories")
    parser.add_argument("--successes", action="store_true",
                        help="also write the stories that passed")


def _run(args: argparse.Namespace) -> int:
    return run_tests(args.project, part=args.part, model=args.model, stories=args.stories,
                     nlu=args.nlu, out=args.out, cross_validation=args.cross_validation,
                     folds=args.folds, fail_on_prediction_errors=args.fail_on_prediction_errors,
                     extract_slots=not args.no_slot_extraction, successes=args.successes)


COMMAND = Command(
    "test",
    "test a trained model on test stories (core) and test examples (nlu)",
    _add_arguments,
    _run,
    description="Replay the test stories and print story accuracy and action-level "
    "precision/recall/F1 (results/failed_test_stories.yml, results/story_report.json); "
    "score the NLU. Exits with 1 on failed stories only with --fail-on-prediction-errors.",
)
