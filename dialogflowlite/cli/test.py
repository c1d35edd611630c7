"""``dialogflowlite test [core|nlu]``: test a trained model.

* ``test core`` replays the test stories (``tests/*.yml``, or ``--stories``)
  and prints story accuracy and the action-level report; it writes
  ``failed_test_stories.yml``, ``story_report.json`` and
  ``stories_with_warnings.yml`` (unless ``--no-warnings``).
* ``test nlu`` scores the NLU on test examples (or by cross-validation); with
  several configs (``--config A.yml B.yml``, or a folder of them) it compares
  their pipelines instead, trained on less and less of the data
  (``--runs``, ``--percentages``; :mod:`dialogflowlite.evaluation.nlu_comparison`).
* ``test`` does both (NLU only when there are NLU test examples or
  ``--cross-validation``), plus the response generator's report when the
  model has a generator and its evaluation is installed.

Like Rasa, a failed story does not change the exit code unless
``--fail-on-prediction-errors`` is given; then it is 1 (not for a story that
failed only because a policy chose ``action_unlikely_intent`` twice in a row,
which Rasa does not fail on either). ``--no-errors``
leaves out the files that list the wrong predictions, ``--successes`` adds
those that list the right ones.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import shutil
import sys
import tempfile
from collections.abc import Collection, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from dialogflowlite.cli.command import Command
from dialogflowlite.cli.options import (
    config_files,
    exclusion_percentage,
    existing_path,
    output_folder,
    positive_int,
    project_folder,
)
from dialogflowlite.io.loader import resolve_in_project, resolve_output

if TYPE_CHECKING:
    from dialogflowlite.evaluation.nlu import CrossValidationResult, NluEvaluation
    from dialogflowlite.shared.stories import Story

logger = logging.getLogger(__name__)

PARTS = ("core", "nlu")

#: the generation report: ``module:function(project_dir, model_path, output_dir, echo)``
GENERATION_TEST = "dialogflowlite.evaluation.generation:run_generation_test"


def core_test(
    project_dir: str | Path = ".",
    *,
    model: str | Path | None = None,
    stories: str | Path | None = None,
    out: str | Path | None = None,
    fail_on_prediction_errors: bool = False,
    extract_slots: bool = True,
    successes: bool = False,
    errors: bool = True,
    plots: bool = True,
    echo: TextIO | None = None,
    whole_test: bool = False,
    max_stories: int | None = None,
    warnings: bool = True,
) -> int:
    """Replay the test stories against the model; print and write the results; the exit code.

    A model without dialogue policies (``train nlu``) is an error; with
    ``whole_test`` (``test`` without a part) it is a printed notice and no
    test, and so is a project without test stories. User steps with
    text are always parsed by the model's NLU and their intent and entities
    checked (what Rasa does with ``--e2e``). Without ``errors`` the failed
    stories are not written (``failed_test_stories.yml``), without ``plots``
    the action confusion matrix is not, without ``warnings``
    ``stories_with_warnings.yml`` is not. ``max_stories`` tests only that many
    of them, the first in file order.
    """
    from dialogflowlite.agent import Agent
    from dialogflowlite.errors import ModelLoadError
    from dialogflowlite.evaluation.stories import (
        FAILED_STORIES_FILE,
        run_story_test,
        write_story_results,
    )

    stream = echo or sys.stdout
    root = Path(project_dir)
    # a model that is not there is the first thing to say, before anything is read
    model_file = model_to_test(root, model, "core")
    test_stories = _test_stories(root, stories, max_stories, stream,
                                 missing_ok=whole_test and stories is None)
    if not test_stories:
        print("Stories: no test stories under tests/ (pass --stories, or write them there)",
              file=stream)
        return 0
    agent = Agent.load(model_file)
    if not agent.is_ready():
        agent.close()
        name = agent.model_path.name if agent.model_path else "the model"
        if whole_test:
            print(f"Stories: skipped, {name} has no dialogue policies (test them with a model "
                  "from `dialogflowlite train`)", file=stream)
            return 0
        raise ModelLoadError(f"{name} has no dialogue policies: test stories need them",
                             hint="train the whole bot with `dialogflowlite train`, or pass "
                                  "--model with a model that has them")
    from dialogflowlite.io.validate import problems_of_test_stories

    # as `data validate` reports them, against the model's domain: each fails its story
    for problem in problems_of_test_stories(agent.domain, test_stories):
        logger.warning("%s", problem)
    try:
        output = resolve_output(out, root)
        evaluation = run_story_test(agent, test_stories, out_dir=None,
                                    extract_slots=extract_slots)
    finally:
        agent.close()
    with tempfile.TemporaryDirectory(prefix="dfl-test-core-") as staging:
        write_story_results(evaluation, staging, successes=successes, plots=plots,
                            warnings=warnings)
        _publish(Path(staging), output, leave_out=() if errors else (FAILED_STORIES_FILE,))
    print(evaluation.table(), file=stream)
    print(f"results written to {output}", file=stream)
    # as in Rasa, action_unlikely_intent chosen again right after it fails the story
    # but is no prediction error (see StoryOutcome.has_prediction_errors)
    if fail_on_prediction_errors and evaluation.with_prediction_errors:
        return 1
    return 0


def model_to_test(root: Path, model: str | Path | None, section: str | None = None) -> Path:
    """The model file ``--model`` names (default: the newest in ``root``'s models/),
    checked to be a model before any test data is read.

    Without ``--model``, the newest model that has ``section`` (``core``, ``nlu``)
    when the newest has not: after ``train generation`` or ``train nlu``, the test
    of the dialogue took that part-model and failed on it (``run`` and ``shell``
    skip such a model too). Only its manifest is read; a file that has none (a
    domain given with ``-m``, a Rasa model) is opened, which says what it is
    instead.
    """
    from dialogflowlite.agent import resolve_model_path
    from dialogflowlite.artifact import latest_model_with, open_model, read_manifest

    found = resolve_model_path(resolve_in_project(model, root) if model is not None
                               else root / "models")
    manifest = read_manifest(found)
    if manifest is None:
        open_model(found).close()
    elif model is None and section and not manifest.sections.get(section):
        whole = latest_model_with(found.parent, section)
        if whole is not None:
            parts = ", ".join(sorted(k for k, v in manifest.sections.items() if v)) or "nothing"
            logger.warning("testing %s, the newest model with %s: %s is newer but has only %s "
                           "(pass --model %s to test it)", whole.name, section, found.name,
                           parts, found.name)
            return whole
    return found


def _test_stories(root: Path, stories: str | Path | None, max_stories: int | None,
                  stream: TextIO, *, missing_ok: bool = False) -> list[Story]:
    """The test stories (``stories``, else the project's tests/), the first ``max_stories``;
    none is an error unless ``missing_ok``."""
    from dialogflowlite.errors import ProjectNotFoundError
    from dialogflowlite.evaluation.stories import load_test_stories
    from dialogflowlite.io.loader import load_project

    if stories is not None:
        source = resolve_in_project(stories, root)
        test_stories = load_test_stories(source)
        hint = "pass a YAML file (or a folder of them) with a `stories:` section"
    else:
        source = root / "tests"
        test_stories = load_project(root, strict=False).check_test_files().test_stories
        hint = "write test stories under tests/, or pass --stories"
    if not test_stories and not missing_ok:
        raise ProjectNotFoundError(f"no test stories in {source}", hint=hint)
    if max_stories is not None and max_stories < len(test_stories):
        print(f"Testing the first {max_stories} of {len(test_stories)} test stories "
              "(--max-stories)", file=stream)
        test_stories = test_stories[:max_stories]
    return list(test_stories)


def core_comparison_test(project_dir: str | Path = ".", *, model: str | Path | None = None,
                         stories: str | Path | None = None, out: str | Path | None = None,
                         extract_slots: bool = True, plots: bool = True,
                         max_stories: int | None = None, echo: TextIO | None = None) -> int:
    """``test core --evaluate-model-directory``: replay the test stories with every model
    of a ``train core -c A.yml B.yml`` folder (``model``, default
    ``<project>/comparison_models``); write and print the comparison."""
    from dialogflowlite.cli.train import COMPARISON_MODELS
    from dialogflowlite.errors import ProjectNotFoundError
    from dialogflowlite.training.core_comparison import evaluate_core_comparison

    stream = echo or sys.stdout
    root = Path(project_dir)
    folder = resolve_in_project(model if model is not None else root / COMPARISON_MODELS, root)
    if not folder.is_dir():
        raise ProjectNotFoundError(f"{folder} is not a folder of compared models",
                                   hint="train them with `dialogflowlite train core -c A.yml "
                                        "B.yml`, or pass their folder with --model")
    test_stories = _test_stories(root, stories, max_stories, stream)
    comparison = evaluate_core_comparison(folder, test_stories, extract_slots=extract_slots,
                                          echo=lambda text: print(text, file=stream))
    output = resolve_output(out, root)
    written = comparison.write(output, plots=plots)
    print(comparison.summary_table(), file=stream)
    print(f"results written to {output}: {', '.join(p.name for p in written)}", file=stream)
    return 0


def nlu_test(project_dir: str | Path = ".", *, model: str | Path | None = None,
             nlu: str | Path | None = None, out: str | Path | None = None,
             cross_validation: bool = False, folds: int = 5,
             config: str | Path | None = None, errors: bool = True, successes: bool = False,
             plots: bool = True, echo: TextIO | None = None) -> int:
    """Score the NLU (``run_nlu_test``), write the reports into ``out``; the exit code.

    With ``cross_validation`` the pipeline of ``config`` (default: the
    project's config.yml) is cross-validated on ``nlu`` (default: the
    project's data/). Without ``errors`` the lists of wrong predictions
    (intent, entity and response selection errors) are not written; with
    ``successes`` the right predictions are (``intent_successes.json``, and
    ``response_selection_successes.json`` with retrieval intents). Without
    ``plots`` the confusion matrix and histogram PNGs are not.
    """
    stream = echo or sys.stdout
    root = Path(project_dir)
    output = resolve_output(out, root)
    if config is not None and not cross_validation:
        logger.warning("--config applies only with --cross-validation; the model is tested "
                       "with the pipeline it was trained with")
    with tempfile.TemporaryDirectory(prefix="dfl-test-nlu-") as staging:
        result = _nlu_result(root, model=model, nlu=nlu, staging=Path(staging),
                             cross_validation=cross_validation, folds=folds, config=config)
        leave_out = (() if errors else _nlu_error_files(Path(staging))) + \
            (() if plots else _plot_files())
        written = _publish(Path(staging), output, leave_out=leave_out)
    if successes:
        written += _write_successes(result, output)
    print(result.summary_table(), file=stream)
    print(f"results written to {output}: {', '.join(p.name for p in written)}", file=stream)
    return 0


def _nlu_result(root: Path, *, model: str | Path | None, nlu: str | Path | None,
                staging: Path, cross_validation: bool, folds: int,
                config: str | Path | None) -> NluEvaluation | CrossValidationResult:
    """Evaluate (or cross-validate) and write every report into ``staging``."""
    from dialogflowlite.errors import TrainingError
    from dialogflowlite.evaluation.nlu import cross_validate, run_nlu_test
    from dialogflowlite.io.loader import ProjectSources, load_project

    if not cross_validation:
        # the model first, as in Rasa (and `test core`): without one there is nothing to
        # test, whatever the test data
        return run_nlu_test(root, model_to_test(root, model, "nlu"), nlu, staging,
                            echo=lambda _text: None)
    if config is not None:
        config = existing_path(config, root, "config file", "--config")
    data = (existing_path(nlu, root, "NLU data", "--nlu"),) if nlu is not None else None
    sources = ProjectSources(config=config, data=data)
    # strict: a config or data file that cannot be read is an error here, not a
    # pipeline or data set silently left out of what is cross-validated
    project = load_project(root, sources=sources)
    if not project.nlu.intent_examples:
        raise TrainingError(f"no NLU examples to cross-validate in {nlu or root / 'data'}",
                            hint="add examples under data/, or pass them with --nlu")
    result = cross_validate(project, folds)
    result.write(staging)
    return result


def nlu_comparison_test(project_dir: str | Path, configs: Sequence[Path], *,
                        nlu: str | Path | None = None, out: str | Path | None = None,
                        runs: int | None = None, percentages: Sequence[int] | None = None,
                        plots: bool = True, echo: TextIO | None = None) -> int:
    """Compare the NLU pipelines of ``configs`` on ``nlu`` (default: the project's
    data/); write the results, the per-run reports and the graph into ``out``."""
    from dialogflowlite.errors import TrainingError
    from dialogflowlite.evaluation.comparison import DEFAULT_RUNS, config_names
    from dialogflowlite.evaluation.nlu_comparison import DEFAULT_PERCENTAGES, compare_nlu_configs
    from dialogflowlite.io.loader import ProjectSources, load_project

    stream = echo or sys.stdout
    root = Path(project_dir)
    data = (existing_path(nlu, root, "NLU data", "--nlu"),) if nlu is not None else None
    projects = {}
    for name, config in zip(config_names(configs), configs, strict=True):
        # strict: a config that cannot be read must not become the default pipeline
        projects[name] = load_project(root, sources=ProjectSources(config=config, data=data))
    if not next(iter(projects.values())).nlu.intent_examples:
        raise TrainingError(f"no NLU examples to compare the configs on in "
                            f"{nlu or root / 'data'}",
                            hint="add examples under data/, or pass them with --nlu")
    output = resolve_output(out, root)
    comparison = compare_nlu_configs(
        projects, output, runs=runs or DEFAULT_RUNS,
        percentages=percentages if percentages is not None else DEFAULT_PERCENTAGES,
        echo=lambda text: print(text, file=stream))
    written = comparison.write(output, plots=plots)
    print(comparison.summary_table(), file=stream)
    print(f"results written to {output}: {', '.join(p.name for p in written)} and the "
          "reports of each training under run_*/", file=stream)
    return 0


def _nlu_error_files(staging: Path) -> tuple[str, ...]:
    """The error lists among the files written into ``staging`` (each extractor's too)."""
    from dialogflowlite.evaluation.nlu import EXTRACTOR_ERRORS_SUFFIX

    return tuple(f.name for f in staging.iterdir() if f.name.endswith(EXTRACTOR_ERRORS_SUFFIX))


def _write_successes(result: NluEvaluation | CrossValidationResult,
                     output: Path) -> list[Path]:
    """The lists of right predictions (intents, and response keys) written to ``output``."""
    from dialogflowlite.evaluation.nlu import CrossValidationResult

    # cross-validation pools the messages of its folds into one evaluation
    evaluation = result.evaluation if isinstance(result, CrossValidationResult) else result
    return evaluation.write_successes(output)


def _publish(staging: Path, output: Path, *, leave_out: Collection[str] = ()) -> list[Path]:
    """Copy the files written into ``staging`` to ``output``, except those named in ``leave_out``.

    The evaluation writes every report; writing them to a staging folder first
    is what lets ``--no-errors`` leave some out without touching a file of an
    earlier run.
    """
    output.mkdir(parents=True, exist_ok=True)
    published = []
    for file in sorted(staging.iterdir()):
        if file.name in leave_out or not file.is_file():
            continue
        published.append(Path(shutil.copyfile(file, output / file.name)))
    return published


def _has_nlu_tests(project_dir: Path) -> bool:
    """Whether tests/ holds NLU examples; a test file that cannot be read is an error
    (it may hold the examples), not a reason to skip the NLU test."""
    from dialogflowlite.io.loader import load_project

    project = load_project(project_dir, strict=False).check_test_files()
    return bool(project.test_nlu.intent_examples)


def generation_test(project_dir: str | Path, *, model: str | Path | None,
                    out: str | Path | None,
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
    # a path the report goes to as it is, whatever folder the function takes it from
    output = resolve_output(out, project_dir).resolve()
    result = run(project_dir, model, output, echo=lambda text: print(text, file=stream))
    return result if isinstance(result, int) else 0


def _plot_files() -> tuple[str, ...]:
    from dialogflowlite.evaluation.nlu import PLOT_FILES

    return PLOT_FILES


def run_tests(project_dir: str | Path = ".", *, part: str | None = None,
              model: str | Path | None = None, stories: str | Path | None = None,
              nlu: str | Path | None = None, out: str | Path | None = None,
              cross_validation: bool = False, folds: int = 5,
              fail_on_prediction_errors: bool = False, extract_slots: bool = True,
              successes: bool = False, errors: bool = True, plots: bool = True,
              config: str | Path | None = None, max_stories: int | None = None,
              compare: Sequence[Path] | None = None, runs: int | None = None,
              percentages: Sequence[int] | None = None,
              evaluate_model_directory: bool = False, warnings: bool = True,
              echo: TextIO | None = None) -> int:
    """What ``dialogflowlite test`` runs; returns the exit code.

    With ``compare`` (two or more config files) the NLU part compares their
    pipelines (:func:`nlu_comparison_test`) instead of testing the model's. With
    ``evaluate_model_directory`` the dialogue part compares the models of
    ``train core -c A.yml B.yml`` (:func:`core_comparison_test`).
    """
    from dialogflowlite.errors import ConfigError

    stream = echo or sys.stdout
    root = project_folder(project_dir)
    # checked first: the reports are written only after the tests (or a whole
    # cross-validation's trainings) have run
    output_folder(resolve_output(out, root), given=out)
    if compare and cross_validation:
        raise ConfigError(f"--cross-validation takes one config, and --config names "
                          f"{len(compare)}",
                          hint="leave out --cross-validation to compare the configs (each is "
                               "trained on parts of the data and tested on the rest)")
    if not compare and (runs is not None or percentages is not None):
        logger.warning("--runs and --percentages apply only when --config names several "
                       "configs to compare")
    code = 0
    if evaluate_model_directory and part in (None, "core"):
        code = max(code, core_comparison_test(root, model=model, stories=stories, out=out,
                                              extract_slots=extract_slots, plots=plots,
                                              max_stories=max_stories, echo=stream))
        if part is None:
            return code
    elif evaluate_model_directory:
        raise ConfigError("--evaluate-model-directory compares dialogue models: it goes "
                          "with `test core`", hint="write `test core --model DIR "
                                                   "--evaluate-model-directory`")
    elif part in (None, "core"):
        code = max(code, core_test(root, model=model, stories=stories, out=out,
                                   fail_on_prediction_errors=fail_on_prediction_errors,
                                   extract_slots=extract_slots, successes=successes,
                                   errors=errors, plots=plots, echo=stream,
                                   max_stories=max_stories, whole_test=part is None,
                                   warnings=warnings))
    if compare and part in (None, "nlu"):
        code = max(code, nlu_comparison_test(root, compare, nlu=nlu, out=out, runs=runs,
                                             percentages=percentages, plots=plots,
                                             echo=stream))
    elif part == "nlu" or (part is None and (nlu or cross_validation or _has_nlu_tests(root))):
        code = max(code, nlu_test(root, model=model, nlu=nlu, out=out,
                                  cross_validation=cross_validation, folds=folds,
                                  config=config, errors=errors, successes=successes,
                                  plots=plots, echo=stream))
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
    parser.add_argument("-s", "--stories", default=None, metavar="FILE",
                        help="test stories (file or folder; default: <project>/tests)")
    parser.add_argument("-u", "--nlu", default=None, metavar="FILE",
                        help="NLU test examples (default: the NLU examples under tests/); "
                             "with --cross-validation, the data to cross-validate on "
                             "(default: <project>/data)")
    parser.add_argument("-c", "--config", nargs="+", default=None, metavar="FILE",
                        help="with --cross-validation: the config whose pipeline is "
                             "cross-validated (default: <project>/config.yml). Several files, "
                             "or a folder of them: compare their NLU pipelines, each trained "
                             "on the same parts of the data (--runs, --percentages). "
                             "Otherwise the model's own pipeline is tested")
    parser.add_argument("--evaluate-model-directory", action="store_true",
                        help="test core: --model is a folder of models from `train core -c "
                             "A.yml B.yml` (default: <project>/comparison_models); replay the "
                             "test stories with each and compare the configs' policies")
    parser.add_argument("--max-stories", type=positive_int, default=None, metavar="N",
                        help="test only the first N test stories")
    parser.add_argument("--cross-validation", action="store_true",
                        help="test the NLU by cross-validation on the training data")
    parser.add_argument("-f", "--folds", type=int, default=5, metavar="K",
                        help="number of cross-validation folds (default: 5)")
    parser.add_argument("-r", "--runs", type=positive_int, default=None, metavar="N",
                        help="comparing configs: how many times to draw a test part and "
                             "train every config (default: 3)")
    parser.add_argument("-p", "--percentages", type=exclusion_percentage, nargs="+",
                        default=None,
                        metavar="P",
                        help="comparing configs: the percentages of each intent's training "
                             "examples to leave out, one training per percentage "
                             "(default: 0 25 50 75)")
    parser.add_argument("--out", default=None, metavar="DIR",
                        help="where to write the reports, from the working folder "
                             "(default: <project>/results)")
    parser.add_argument("--fail-on-prediction-errors", action="store_true",
                        help="exit with 1 when a test story fails (not where it fails only "
                             "because a policy chose action_unlikely_intent twice in a row, "
                             "as in Rasa)")
    parser.add_argument("--e2e", "--end-to-end", action="store_true",
                        help="accepted for Rasa's scripts; test stories are always tested end "
                             "to end: a user step with text is parsed by the model's NLU and "
                             "its intent and entities checked, a step with only an intent is "
                             "taken as written")
    parser.add_argument("--no-slot-extraction", action="store_true",
                        help="do not fill slots from user steps by the slot mappings; use only "
                             "the slot_was_set steps of the stories")
    parser.add_argument("--successes", action="store_true",
                        help="also write what was predicted right: the stories that passed "
                             "(successful_test_stories.yml) and the messages whose intent "
                             "was right (intent_successes.json) or whose retrieval intent "
                             "was (response_selection_successes.json)")
    parser.add_argument("--no-plot", action="store_true",
                        help="do not draw the confusion matrices and confidence histograms "
                             "(the PNGs)")
    parser.add_argument("--no-errors", action="store_true",
                        help="do not write what was predicted wrong: failed_test_stories.yml, "
                             "intent_errors.json, entity_errors.json, "
                             "response_selection_errors.json")
    parser.add_argument("--no-warnings", action="store_true",
                        help="do not write stories_with_warnings.yml (the passed stories "
                             "where a policy predicted action_unlikely_intent; no built-in "
                             "policy predicts it)")


def _run(args: argparse.Namespace) -> int:
    configs = config_files(args.config, args.project, PARTS, "test") or []
    return run_tests(args.project, part=args.part, model=args.model, stories=args.stories,
                     nlu=args.nlu, out=args.out, cross_validation=args.cross_validation,
                     folds=args.folds, fail_on_prediction_errors=args.fail_on_prediction_errors,
                     extract_slots=not args.no_slot_extraction, successes=args.successes,
                     errors=not args.no_errors, plots=not args.no_plot,
                     config=configs[0] if len(configs) == 1 else None,
                     compare=configs if len(configs) > 1 else None,
                     runs=args.runs, percentages=args.percentages,
                     evaluate_model_directory=args.evaluate_model_directory,
                     max_stories=args.max_stories, warnings=not args.no_warnings)


COMMAND = Command(
    "test",
    "test a trained model on test stories (core) and test examples (nlu)",
    _add_arguments,
    _run,
    description="Replay the test stories and print story accuracy and action-level "
    "precision/recall/F1 (results/failed_test_stories.yml, results/story_report.json); "
    "score the NLU. Exits with 1 on failed stories only with --fail-on-prediction-errors.",
)
