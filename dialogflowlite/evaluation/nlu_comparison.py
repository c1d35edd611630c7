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

import json
import math
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dialogflowlite.errors import ConfigError, TrainingError
from dialogflowlite.evaluation.nlu import (
    NluEvaluation,
    predict,
    stratified_folds,
    train_pipeline,
)
from dialogflowlite.shared.training_data import TrainingData

if TYPE_CHECKING:
    from dialogflowlite.io.loader import Project
    from dialogflowlite.shared.message import Message

COMPARISON_RESULTS = "nlu_model_comparison_results.json"
COMPARISON_GRAPH = "nlu_model_comparison_graph.png"
DEFAULT_RUNS = 3
DEFAULT_PERCENTAGES = (0, 25, 50, 75)
#: the share of the examples each run tests on (one of this many stratified parts)
TEST_PARTS = 5
#: the numbers the table, the graph and the summary follow: key -> title
METRICS = {"intent_f1_weighted": "intent F1 (weighted)", "entity_f1": "entity F1 (micro)"}
#: the per-run reports written for every config and percentage
RUN_REPORTS = ("intent_report.json", "entity_report.json")


@dataclass
class ComparisonPoint:
    """One config trained once: which run, how much was left out, and its scores."""

    config: str
    run: int
    excluded: int
    train_examples: int
    scores: dict[str, float]


@dataclass
class NluComparison:
    """The scores of every config, run and exclusion percentage."""

    configs: list[str]
    percentages: list[int]
    runs: int
    examples: int
    test_examples: list[int]
    points: list[ComparisonPoint] = field(default_factory=list)
    has_entities: bool = False

    def metrics(self) -> list[str]:
        """The metrics compared: intent F1, and entity F1 when the data has entities."""
        return [key for key in METRICS if self.has_entities or not key.startswith("entity_")]

    def curve(self, config: str, metric: str) -> list[tuple[float, float, float]]:
        """(mean training examples, mean score, standard deviation) per percentage."""
        curve = []
        for excluded in self.percentages:
            points = [p for p in self.points if p.config == config and p.excluded == excluded]
            if not points:
                continue
            scores = [p.scores[metric] for p in points]
            mean = sum(scores) / len(scores)
            spread = math.sqrt(sum((s - mean) ** 2 for s in scores) / len(scores))
            examples = sum(p.train_examples for p in points) / len(points)
            curve.append((examples, mean, spread))
        return curve

    def to_dict(self) -> dict[str, Any]:
        """Every point, and the curves, in the shape of the results file."""
        return {
            "configs": self.configs,
            "runs": self.runs,
            "excluded_percentages": self.percentages,
            "examples": self.examples,
            "test_examples_per_run": self.test_examples,
            "curves": {
                config: {
                    metric: [{"train_examples": x, "mean": mean, "std": spread}
                             for x, mean, spread in self.curve(config, metric)]
                    for metric in self.metrics()
                }
                for config in self.configs
            },
            "points": [
                {"config": p.config, "run": p.run, "excluded": p.excluded,
                 "train_examples": p.train_examples, "scores": p.scores}
                for p in self.points
            ],
        }

    def write(self, output_dir: str | Path, *, plots: bool = True) -> list[Path]:
        """The results file and, unless not ``plots``, the graph; returns them."""
        from dialogflowlite.evaluation.plots import plot_learning_curves

        folder = Path(output_dir)
        folder.mkdir(parents=True, exist_ok=True)
        written = [_write_json(folder / COMPARISON_RESULTS, self.to_dict())]
        if plots:
            panels = {METRICS[metric]: {config: self.curve(config, metric)
                                        for config in self.configs}
                      for metric in self.metrics()}
            written.append(plot_learning_curves(panels, folder / COMPARISON_GRAPH))
        return written

    def summary_table(self) -> str:
        """One row per config and percentage: training examples, mean ± std of each metric."""
        metrics = self.metrics()
        header = ["config", "excluded", "train", *(METRICS[m] for m in metrics)]
        rows = []
        for config in self.configs:
            curves = [self.curve(config, metric) for metric in metrics]
            for index, excluded in enumerate(self.percentages):
                if index >= len(curves[0]):
                    break
                examples = curves[0][index][0]
                cells = [f"{mean:.3f} ± {spread:.3f}"
                         for _, mean, spread in (curve[index] for curve in curves)]
                rows.append([config, f"{excluded}%", f"{examples:g}", *cells])
        widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(len(header))]
        lines = [
            f"NLU pipelines compared: {len(self.configs)} configs, {self.runs} runs, "
            f"{self.examples} messages ({_tested(self.test_examples)} tested per run), "
            "mean ± std over runs",
            "  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)),
            "  ".join("-" * w for w in widths),
        ]
        for row in rows:
            cells = [str(row[0]).ljust(widths[0])]
            cells += [str(c).rjust(w) for c, w in zip(row[1:], widths[1:], strict=True)]
            lines.append("  ".join(cells))
        return "\n".join(lines)


def _tested(counts: Sequence[int]) -> str:
    low, high = min(counts), max(counts)
    return str(low) if low == high else f"{low}-{high}"


def config_names(paths: Sequence[Path]) -> list[str]:
    """Each config's name in the reports: its file name without the extension.

    Two configs with the same name would write into the same folders, so that
    is an error naming both files.
    """
    names: dict[str, Path] = {}
    for path in paths:
        name = path.stem
        if name in names:
            raise ConfigError(f"two configs are both named '{name}': {names[name]} and {path}",
                              hint="rename one: the reports are named after the config files")
        names[name] = path
    return list(names)


def check_percentages(percentages: Sequence[int]) -> list[int]:
    """The exclusion percentages, sorted without repeats; each must be 0 to 99."""
    for value in percentages:
        if not 0 <= value < 100:
            raise ConfigError(f"--percentages: {value} is not a percentage of the data to "
                              "leave out (0 to 99)", hint="for example: -p 0 25 50 75")
    return sorted(set(percentages))


def kept_for_exclusion(
    train_indices: Sequence[int], examples: Sequence[Message], percentages: Sequence[int],
    seed: int,
) -> dict[int, list[int]]:
    """Which training examples each percentage keeps: per intent the first
    ``100 - P`` percent of one seeded shuffle (at least one), so the sets are nested."""
    by_intent: dict[str, list[int]] = {}
    for index in train_indices:
        by_intent.setdefault(examples[index].intent or "", []).append(index)
    rng = random.Random(seed)
    shuffled = {}
    for intent in sorted(by_intent):
        indices = list(by_intent[intent])
        rng.shuffle(indices)
        shuffled[intent] = indices
    kept = {}
    for excluded in percentages:
        chosen = []
        for indices in shuffled.values():
            keep = max(1, round(len(indices) * (100 - excluded) / 100))
            chosen.extend(indices[:keep])
        kept[excluded] = sorted(chosen)
    return kept


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
    if runs < 1:
        raise ConfigError(f"--runs must be 1 or more, not {runs}")
    percentages = check_percentages(percentages)
    first = next(iter(projects.values()))
    examples = [m for m in first.nlu.examples if m.intent]
    if len(examples) < TEST_PARTS:
        raise TrainingError(f"comparing configs needs at least {TEST_PARTS} labelled NLU "
                            f"examples, and the data has {len(examples)}",
                            hint="add examples under data/, or pass them with --nlu")
    data = first.nlu
    comparison = NluComparison(list(projects), percentages, runs, len(examples), [])
    output = Path(output_dir)
    trainings = runs * len(percentages) * len(projects)
    done = 0
    for run in range(1, runs + 1):
        run_seed = seed + run - 1
        test_indices = stratified_folds(examples, TEST_PARTS, run_seed)[0]
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
                pipeline = train_pipeline(project, train_data, seed=run_seed,
                                          quiet=done > len(projects))
                evaluation = NluEvaluation(predict(pipeline, test_examples, batch_size))
                comparison.has_entities = comparison.has_entities or evaluation.has_entities
                folder = output / f"run_{run}" / f"excluded_{excluded}" / name
                _write_reports(evaluation, folder)
                comparison.points.append(ComparisonPoint(
                    name, run, excluded, len(train_data.examples), evaluation.summary()))
    return comparison


def _write_reports(evaluation: NluEvaluation, folder: Path) -> None:
    """One training's intent and entity reports (the error lists and plots are left out:
    a comparison trains dozens of times)."""
    folder.mkdir(parents=True, exist_ok=True)
    _write_json(folder / RUN_REPORTS[0], evaluation.intent_report)
    _write_json(folder / RUN_REPORTS[1], evaluation.entity_report)


def _write_json(path: Path, data: Any) -> Path:
    path.write_text(json.dumps(data, ensure_ascii=False, indent=2), encoding="utf-8")
    return path
