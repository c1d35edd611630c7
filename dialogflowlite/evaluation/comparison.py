"""What the NLU and the dialogue comparisons share.

Both train several configs on less and less of the data and draw learning
curves: configs are named after their files, the percentages of the data to
leave out are checked, the training subsets are nested and seeded, and each
curve is the mean and spread over runs of one score against the training
size (:mod:`~dialogflowlite.evaluation.nlu_comparison`,
:mod:`~dialogflowlite.training.core_comparison`).
"""

from __future__ import annotations

import json
import math
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dialogflowlite.errors import ConfigError

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


def write_json(path: Path, data: Any) -> Path:
    """``data`` as indented UTF-8 JSON at ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, ensure_ascii=False, indent=2), encoding="utf-8")
    return path
