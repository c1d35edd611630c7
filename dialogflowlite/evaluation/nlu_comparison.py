"""Comparing NLU pipelines: ``test nlu --config A.yml B.yml [--runs R] [--percentages P ...]``.

Every run holds out a stratified fifth of the labelled NLU examples as its
test part. Each config is then trained on the rest with P% of every intent's
examples left out, for each P, and scored on that test part. The subsets are
nested (what 50% leaves in is part of what 25% leaves in) and every config
sees the same ones, so differences come from the pipelines, not the draw.
The runs draw different test parts; the mean and spread over them give
learning curves: intent F1 (and entity F1 when the data has entities) against
the number of training examples, one curve per config. They answer "which
pipeline is better for this bot" and "would more examples help".

:func:`compare_nlu_configs` runs it; :class:`NluComparison` holds the scores,
writes ``nlu_model_comparison_results.json``, the per-run reports and
``nlu_model_comparison_graph.png``, and prints the table.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from dialogflowlite.errors import TrainingError
from dialogflowlite.evaluation.comparison import (
    DEFAULT_RUNS,
    ComparisonPoint,
    ConfigComparison,
    check_plan,
    nested_subsets,
)
from dialogflowlite.evaluation.nlu import NluEvaluation, predict, stratified_folds, train_pipeline
from dialogflowlite.evaluation.reports import write_json
from dialogflowlite.shared.training_data import TrainingData

if TYPE_CHECKING:
    from dialogflowlite.io.loader import Project
    from dialogflowlite.shared.message import Message

__all__ = ["DEFAULT_RUNS", "NluComparison", "compare_nlu_configs", "kept_for_exclusion"]

COMPARISON_RESULTS = "nlu_model_comparison_results.json"
COMPARISON_GRAPH = "nlu_model_comparison_graph.png"
DEFAULT_PERCENTAGES = (0, 25, 50, 75)
#: the share of the examples each run tests on (one of this many stratified parts)
TEST_PARTS = 5
#: the numbers the table, the graph and the summary follow: key -> title
METRICS = {"intent_f1_weighted": "intent F1 (weighted)", "entity_f1": "entity F1 (micro)"}
#: the per-run reports written for every config and percentage
RUN_REPORTS = ("intent_report.json", "entity_report.json")


@dataclass(kw_only=True)
class NluComparison(ConfigComparison):
    """The NLU scores of every config, run and exclusion percentage."""

    examples: int
    test_examples: list[int] = field(default_factory=list)
    has_entities: bool = False

    size_key: ClassVar[str] = "train_examples"
    size_label: ClassVar[str] = "training examples"
    results_file: ClassVar[str] = COMPARISON_RESULTS
    graph_file: ClassVar[str] = COMPARISON_GRAPH
    graph_title: ClassVar[str] = "NLU pipelines compared"

    def metrics(self) -> dict[str, str]:
        """The metrics compared: intent F1, and entity F1 when the data has entities."""
        return {key: title for key, title in METRICS.items()
                if self.has_entities or not key.startswith("entity_")}

    def details(self) -> dict[str, Any]:
        return {"examples": self.examples, "test_examples_per_run": self.test_examples}

    def title(self) -> str:
        low, high = min(self.test_examples), max(self.test_examples)
        tested = str(low) if low == high else f"{low}-{high}"
        return (f"NLU pipelines compared: {self.counts()}, "
                f"{self.examples} messages ({tested} tested per run), mean ± std over runs")


def kept_for_exclusion(
    train_indices: Sequence[int], examples: Sequence[Message], percentages: Sequence[int],
    seed: int,
) -> dict[int, list[int]]:
    """Which training examples each percentage keeps: per intent the first
    ``100 - P`` percent of one seeded shuffle (at least one), so the sets are nested."""
    by_intent: dict[str, list[int]] = {}
    for index in train_indices:
        by_intent.setdefault(examples[index].intent or "", []).append(index)
    return nested_subsets(by_intent, percentages, seed)


def compare_nlu_configs(
    projects: dict[str, Project],
    output_dir: str | Path,
    *,
    runs: int = DEFAULT_RUNS,
    percentages: Sequence[int] = DEFAULT_PERCENTAGES,
    seed: int = 42,
    batch_size: int = 64,
    echo: Callable[[str], None] = print,
) -> NluComparison:
    """Train and score every config (``projects``: name -> the project loaded with that
    config; their NLU data must be the same) on every run's split and percentage.

    Each training's intent and entity reports go to
    ``output_dir/run_R/excluded_P/CONFIG/``; the results file and the graph
    are written by :meth:`NluComparison.write`.
    """
    from dialogflowlite.components.nlu.pipeline import NluPipeline

    percentages = check_plan(runs, percentages)
    first = next(iter(projects.values()))
    examples = [m for m in first.nlu.examples if m.intent]
    if len(examples) < TEST_PARTS:
        raise TrainingError(f"comparing configs needs at least {TEST_PARTS} labelled NLU "
                            f"examples, and the data has {len(examples)}",
                            hint="add examples under data/, or pass them with --nlu")
    data = first.nlu
    for project in projects.values():
        # built once before anything trains: an unknown component or a bad setting
        # stops the comparison at the start, and Rasa names get their notice once
        NluPipeline.from_config(project.config, training_data=data)
    comparison = NluComparison(configs=list(projects), percentages=percentages, runs=runs,
                               examples=len(examples))
    output = Path(output_dir)
    trainings = runs * len(percentages) * len(projects)
    done = 0
    for run in range(1, runs + 1):
        run_seed = seed + run - 1
        test_indices = stratified_folds(
            examples, TEST_PARTS, run_seed,
            short_intent_note="some runs test without it" if run == 1 else None)[0]
        held_out = set(test_indices)
        train_indices = [i for i in range(len(examples)) if i not in held_out]
        test_examples = [examples[i] for i in test_indices]
        comparison.test_examples.append(len(test_examples))
        kept = kept_for_exclusion(train_indices, examples, percentages, run_seed)
        for excluded in percentages:
            train_data = TrainingData([examples[i] for i in kept[excluded]], data.synonyms,
                                      data.regexes, data.lookups)
            for name, project in projects.items():
                done += 1
                echo(f"[{done}/{trainings}] run {run}, {excluded}% left out: training "
                     f"{name} on {len(train_data.examples)} examples, testing on "
                     f"{len(test_examples)}")
                pipeline = train_pipeline(project, train_data, seed=run_seed, quiet=True)
                evaluation = NluEvaluation(predict(pipeline, test_examples, batch_size))
                comparison.has_entities = comparison.has_entities or evaluation.has_entities
                folder = output / f"run_{run}" / f"excluded_{excluded}" / name
                write_json(folder / RUN_REPORTS[0], evaluation.intent_report)
                write_json(folder / RUN_REPORTS[1], evaluation.entity_report)
                comparison.points.append(ComparisonPoint(
                    name, run, excluded, len(train_data.examples), evaluation.summary()))
    return comparison
