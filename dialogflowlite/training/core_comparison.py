"""Comparing dialogue policies on less and less of the stories.

``train core --config A.yml B.yml --out DIR [--runs R] [--percentages P ...]``
trains, for each of R runs and each percentage P, every config's policies on
the project's stories with P% of them left out (the same stories for every
config; what a larger percentage keeps is part of what a smaller one keeps;
the rules always stay). The models go to ``DIR/run_R/CONFIG_excluded_P.tar``
and ``DIR/comparison.json`` lists them.

``test core --model DIR --evaluate-model-directory`` replays the test stories
with each model, user steps taken as the stories label them (only the
policies are compared), and writes the number of test stories each got right
(counted as ``test core`` counts them: one per ``or:`` alternative and per
checkpoint-joined path) against the number of training stories, one curve per config
(``core_model_comparison_results.json``, ``core_model_comparison_graph.png``).
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from dialogflowlite.errors import ModelLoadError, TrainingError
from dialogflowlite.evaluation.comparison import (
    DEFAULT_RUNS,
    ComparisonPoint,
    ConfigComparison,
    check_plan,
    nested_subsets,
)
from dialogflowlite.evaluation.reports import write_json
from dialogflowlite.evaluation.stories import counting_note

if TYPE_CHECKING:
    from dialogflowlite.io.loader import Project
    from dialogflowlite.shared.stories import Story

__all__ = ["DEFAULT_RUNS", "CoreComparison", "evaluate_core_comparison",
           "train_core_comparison"]

MANIFEST = "comparison.json"
RESULTS = "core_model_comparison_results.json"
GRAPH = "core_model_comparison_graph.png"
#: Rasa's defaults for ``train core`` with several configs
DEFAULT_PERCENTAGES = (0, 5, 25, 50, 70, 95)
#: what the manifest says of each model
MODEL_KEYS = ("config", "run", "excluded", "train_stories", "file")
METRICS = {"correct_stories": "correct test stories", "story_accuracy": "story accuracy"}


def model_name(config: str, excluded: int) -> str:
    """The file name of one config's model trained with ``excluded`` percent left out."""
    return f"{config}_excluded_{excluded}.tar"


def train_core_comparison(
    projects: dict[str, Project],
    output_dir: str | Path,
    *,
    runs: int = DEFAULT_RUNS,
    percentages: Sequence[int] = DEFAULT_PERCENTAGES,
    seed: int = 42,
    validation: str = "errors",
    validation_max_history: int | None = None,
    echo: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Train every config's policies (``projects``: name -> the project loaded with that
    config; their stories must be the same) on every run's subsets; returns the
    manifest written to ``output_dir/comparison.json``.

    Every config is validated first (``validation``, as in ``train``; a warning
    about the shared data is logged once), so a broken one stops the comparison
    before anything trains; the trainings take subsets of the same data.
    """
    from dialogflowlite.training.trainer import TrainOptions, train, validated_project

    percentages = check_plan(runs, percentages)
    stories = next(iter(projects.values())).stories
    if not stories:
        raise TrainingError("comparing policies needs stories to leave out, and the project "
                            "has none", hint="add stories under data/, or pass --stories")
    reported: set[str] = set()
    for project in projects.values():
        validated_project(project, validation, validation_max_history, reported=reported)
    # Rasa names translated here, each with its notice once, not at every training
    projects = {name: _translated(project) for name, project in projects.items()}
    output = Path(output_dir)
    manifest: dict[str, Any] = {"configs": list(projects), "runs": runs,
                                "excluded_percentages": percentages, "stories": len(stories),
                                "models": []}
    trainings = runs * len(percentages) * len(projects)
    done = 0
    for run in range(1, runs + 1):
        run_seed = seed + run - 1
        kept = nested_subsets({"stories": range(len(stories))}, percentages, run_seed)
        for excluded in percentages:
            chosen = [stories[i] for i in kept[excluded]]
            for name, project in projects.items():
                done += 1
                echo(f"[{done}/{trainings}] run {run}, {excluded}% left out: training {name} "
                     f"on {len(chosen)} of {len(stories)} stories")
                options = TrainOptions(force=True, progress=False, seed=run_seed,
                                       validation="skip")
                result = train(dataclasses.replace(project, stories=chosen),
                               output=output / f"run_{run}", sections=("core",),
                               options=options, fixed_model_name=model_name(name, excluded))
                manifest["models"].append({
                    "config": name, "run": run, "excluded": excluded,
                    "train_stories": len(chosen),
                    "file": result.model_path.relative_to(output).as_posix()})
    write_json(output / MANIFEST, manifest)
    return manifest


def _translated(project: Project) -> Project:
    """``project`` with its policies' Rasa names and settings translated (with a notice
    each), so that building them again is quiet."""
    from dialogflowlite.components.policies.rasa_compat import translate_policies

    config = dataclasses.replace(project.config,
                                 policies=translate_policies(project.config.policies))
    return dataclasses.replace(project, config=config)


@dataclass(kw_only=True)
class CoreComparison(ConfigComparison):
    """How many test stories each config's models got right, per run and percentage.

    ``test_stories`` counts what is tested, as ``test core`` counts it: each
    ``or:`` alternative and each checkpoint-joined path is one; ``written_stories``
    is how many test stories were read.
    """

    test_stories: int
    written_stories: int | None = None

    size_key: ClassVar[str] = "train_stories"
    size_header: ClassVar[str] = "stories"
    size_label: ClassVar[str] = "training stories"
    results_file: ClassVar[str] = RESULTS
    graph_file: ClassVar[str] = GRAPH
    graph_title: ClassVar[str] = "Dialogue policies compared"
    number_format: ClassVar[str] = ".2f"

    def metrics(self) -> dict[str, str]:
        return dict(METRICS)

    def plotted_metrics(self) -> dict[str, str]:
        return {"correct_stories": METRICS["correct_stories"]}

    def y_limits(self) -> tuple[float, float] | None:
        return (0.0, self.test_stories + 0.5)

    def details(self) -> dict[str, Any]:
        written = self.test_stories if self.written_stories is None else self.written_stories
        return {"test_stories": self.test_stories, "test_stories_as_written": written}

    def title(self) -> str:
        note = counting_note(self.test_stories, self.written_stories)
        return (f"Dialogue policies compared: {self.counts()}, "
                f"{self.test_stories} test stories{f' ({note})' if note else ''}, "
                "mean ± std over runs")


def read_manifest(model_dir: Path) -> dict[str, Any]:
    """The ``comparison.json`` of a folder written by :func:`train_core_comparison`."""
    path = model_dir / MANIFEST
    if not path.is_file():
        raise ModelLoadError(f"{model_dir} has no {MANIFEST}: it is not a folder of compared "
                             "models",
                             hint="train them with `dialogflowlite train core -c A.yml B.yml "
                                  f"--out {model_dir}`")
    problem = None
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as error:
        problem = f"not JSON ({error})"
    else:
        needed = ("configs", "runs", "excluded_percentages", "models")
        if not isinstance(manifest, dict) or any(key not in manifest for key in needed):
            problem = f"it needs the keys {', '.join(needed)}"
        elif not all(isinstance(entry, dict) and all(key in entry for key in MODEL_KEYS)
                     for entry in manifest["models"]):
            problem = f"each model needs {', '.join(MODEL_KEYS)}"
    if problem:
        raise ModelLoadError(f"{path} is not a comparison manifest: {problem}",
                             hint="train the models again with `train core -c A.yml B.yml`")
    return manifest


def evaluate_core_comparison(
    model_dir: str | Path,
    stories: Sequence[Story],
    *,
    extract_slots: bool = True,
    echo: Callable[[str], None] = print,
) -> CoreComparison:
    """Replay ``stories`` with every model that ``model_dir``'s manifest lists."""
    from dialogflowlite.agent import Agent
    from dialogflowlite.evaluation.stories import evaluate_stories

    folder = Path(model_dir)
    manifest = read_manifest(folder)
    comparison = CoreComparison(configs=list(manifest["configs"]),
                                percentages=list(manifest["excluded_percentages"]),
                                runs=int(manifest["runs"]), test_stories=len(stories),
                                written_stories=len(stories))
    models = manifest["models"]
    for number, entry in enumerate(models, start=1):
        path = folder / entry["file"]
        if not path.is_file():
            raise ModelLoadError(f"{path}, listed in {folder / MANIFEST}, does not exist",
                                 hint="train the compared models again")
        echo(f"[{number}/{len(models)}] testing {entry['file']}")
        agent = Agent.load(path)
        try:
            if not agent.is_ready():
                raise ModelLoadError(f"{path} has no dialogue policies",
                                     hint="compare models from `train core -c A.yml B.yml`")
            evaluation = asyncio.run(evaluate_stories(agent, stories,
                                                      extract_slots=extract_slots,
                                                      parse_text=False))
        finally:
            agent.close()
        # `or:` steps and checkpoints make the conversations tested, the unit scored
        comparison.test_stories = len(evaluation.outcomes)
        comparison.points.append(ComparisonPoint(
            entry["config"], int(entry["run"]), int(entry["excluded"]),
            int(entry["train_stories"]),
            {"correct_stories": float(evaluation.correct),
             "story_accuracy": evaluation.accuracy}))
    return comparison
