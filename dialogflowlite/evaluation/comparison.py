"""What the NLU and the dialogue comparisons share.

Both train several configs on less and less of the data and draw learning
curves: configs are named after their files, the percentages of the data to
leave out are checked, the training subsets are nested and seeded, and each
curve is the mean and spread over runs of one score against the training
size (:mod:`~dialogflowlite.evaluation.nlu_comparison`,
:mod:`~dialogflowlite.training.core_comparison`).
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from dialogflowlite.errors import ConfigError
from dialogflowlite.evaluation.reports import write_json

DEFAULT_RUNS = 3

#: one point of a learning curve: training size, mean score, standard deviation over runs
CurvePoint = tuple[float, float, float]


@dataclass
class ComparisonPoint:
    """One config trained once: which run, how much was left out, and its scores."""

    config: str
    run: int
    excluded: int
    train_size: int
    scores: dict[str, float]

    def to_dict(self, size_key: str) -> dict[str, Any]:
        return {"config": self.config, "run": self.run, "excluded": self.excluded,
                size_key: self.train_size, "scores": self.scores}


@dataclass(kw_only=True)
class ConfigComparison:
    """The scores of several configs over runs and exclusion percentages, as learning curves.

    A subclass names what the configs train on (``size_key``, ``size_header``,
    ``size_label``), its metrics, the files it writes and what else its
    results hold (:meth:`details`).
    """

    configs: list[str]
    percentages: list[int]
    runs: int
    points: list[ComparisonPoint] = field(default_factory=list)

    size_key: ClassVar[str] = "train_size"
    size_header: ClassVar[str] = "train"
    size_label: ClassVar[str] = "training size"
    results_file: ClassVar[str] = "comparison_results.json"
    graph_file: ClassVar[str] = "comparison_graph.png"
    graph_title: ClassVar[str] = "Configs compared"
    number_format: ClassVar[str] = ".3f"

    def metrics(self) -> dict[str, str]:
        """The metrics compared: key in each point's scores -> title."""
        raise NotImplementedError

    def plotted_metrics(self) -> dict[str, str]:
        """The metrics drawn, one panel each (default: all of them)."""
        return self.metrics()

    def y_limits(self) -> tuple[float, float] | None:
        return (0.0, 1.05)

    def details(self) -> dict[str, Any]:
        """What the results file holds besides the configs, runs, curves and points."""
        return {}

    def title(self) -> str:
        return f"{self.counts()}, mean ± std over runs"

    def counts(self) -> str:
        """How many configs and runs, in words."""
        return (f"{len(self.configs)} configs, {self.runs} run"
                f"{'' if self.runs == 1 else 's'}")

    def curve(self, config: str, metric: str) -> list[CurvePoint]:
        """(mean training size, mean score, standard deviation) per percentage."""
        return learning_curve(self.points, config, metric, self.percentages)

    def to_dict(self) -> dict[str, Any]:
        """Every point, and the curves, in the shape of the results file."""
        return {
            "configs": self.configs,
            "runs": self.runs,
            "excluded_percentages": self.percentages,
            **self.details(),
            "curves": {
                config: {metric: [{self.size_key: x, "mean": mean, "std": spread}
                                  for x, mean, spread in self.curve(config, metric)]
                         for metric in self.metrics()}
                for config in self.configs
            },
            "points": [p.to_dict(self.size_key) for p in self.points],
        }

    def write(self, output_dir: str | Path, *, plots: bool = True) -> list[Path]:
        """The results file and, unless not ``plots``, the graph; returns them."""
        from dialogflowlite.evaluation.plots import plot_learning_curves

        folder = Path(output_dir)
        written = [write_json(folder / self.results_file, self.to_dict())]
        if plots:
            panels = {title: {config: self.curve(config, metric) for config in self.configs}
                      for metric, title in self.plotted_metrics().items()}
            written.append(plot_learning_curves(
                panels, folder / self.graph_file, x_label=self.size_label,
                title=self.graph_title, y_limits=self.y_limits()))
        return written

    def summary_table(self) -> str:
        """One row per config and percentage: training size, mean ± std of each metric."""
        return comparison_table(self.title(), self.size_header, self.configs,
                                self.percentages, self.metrics(), self.points,
                                self.number_format)


def config_names(paths: Sequence[Path]) -> list[str]:
    """Each config's name in the reports: its file name without the extension.

    Two configs with the same name would write into the same places, so that
    is an error naming both files.
    """
    names: dict[str, Path] = {}
    for path in paths:
        name = Path(path).stem
        if name in names:
            raise ConfigError(f"two configs are both named '{name}': {names[name]} and {path}",
                              hint="rename one: the results are named after the config files")
        names[name] = Path(path)
    return list(names)


def check_plan(runs: int, percentages: Sequence[int]) -> list[int]:
    """Check the number of runs; the percentages as :func:`check_percentages` gives them."""
    if runs < 1:
        raise ConfigError(f"--runs must be 1 or more, not {runs}")
    return check_percentages(percentages)


def check_percentages(percentages: Sequence[int]) -> list[int]:
    """The percentages of the data to leave out, sorted without repeats; each 0 to 99."""
    for value in percentages:
        if not 0 <= value < 100:
            raise ConfigError(f"--percentages: {value} is not a percentage of the data to "
                              "leave out (0 to 99)", hint="for example: -p 0 25 50 75")
    return sorted(set(percentages))


def nested_subsets(groups: Mapping[str, Sequence[int]], percentages: Sequence[int],
                   seed: int) -> dict[int, list[int]]:
    """Which items each percentage keeps: per group the first ``100 - P`` percent
    (rounded, at least one) of one seeded shuffle, so what a larger percentage
    keeps is part of what a smaller one keeps."""
    rng = random.Random(seed)
    shuffled = []
    for name in sorted(groups):
        items = list(groups[name])
        rng.shuffle(items)
        shuffled.append(items)
    kept = {}
    for excluded in percentages:
        chosen = []
        for items in shuffled:
            if items:
                chosen.extend(items[:max(1, round(len(items) * (100 - excluded) / 100))])
        kept[excluded] = sorted(chosen)
    return kept


def learning_curve(points: Sequence[ComparisonPoint], config: str, metric: str,
                   percentages: Sequence[int]) -> list[CurvePoint]:
    """(mean training size, mean score, standard deviation) per percentage, over runs."""
    curve = []
    for excluded in percentages:
        chosen = [p for p in points if p.config == config and p.excluded == excluded]
        if not chosen:
            continue
        scores = [p.scores[metric] for p in chosen]
        mean = sum(scores) / len(scores)
        spread = math.sqrt(sum((s - mean) ** 2 for s in scores) / len(scores))
        curve.append((sum(p.train_size for p in chosen) / len(chosen), mean, spread))
    return curve


def comparison_table(title: str, size_header: str, configs: Sequence[str],
                     percentages: Sequence[int], metrics: Mapping[str, str],
                     points: Sequence[ComparisonPoint], number_format: str = ".3f") -> str:
    """One row per config and percentage: the mean training size, then mean ± std of
    each metric (``metrics``: key -> column title)."""
    header = ["config", "excluded", size_header, *metrics.values()]
    rows = []
    for config in configs:
        curves = [learning_curve(points, config, metric, percentages) for metric in metrics]
        for index, excluded in enumerate(p for p in percentages
                                         if any(q.excluded == p and q.config == config
                                                for q in points)):
            size = curves[0][index][0]
            cells = [f"{mean:{number_format}} ± {spread:{number_format}}"
                     for _, mean, spread in (curve[index] for curve in curves)]
            rows.append([config, f"{excluded}%", f"{size:g}", *cells])
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    lines = [title,
             "  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)),
             "  ".join("-" * w for w in widths)]
    for row in rows:
        cells = [row[0].ljust(widths[0])]
        cells += [c.rjust(w) for c, w in zip(row[1:], widths[1:], strict=True)]
        lines.append("  ".join(cells))
    return "\n".join(lines)
