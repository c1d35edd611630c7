"""PNG plots of NLU evaluation: the intent confusion matrix, the confidence histogram
and the learning curves of compared pipelines.

Drawn with matplotlib's Agg canvas directly, so no display and no global
backend switch is needed (servers and tests stay headless).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

#: above this many labels the cells are too small to print their counts
MAX_ANNOTATED_LABELS = 30


def _figure(width: float, height: float) -> Any:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height), dpi=100)
    FigureCanvasAgg(figure)
    return figure


def plot_confusion_matrix(
    labels: Sequence[str],
    matrix: Sequence[Sequence[int]],
    path: str | Path,
    title: str = "Intent confusion matrix",
) -> Path:
    """Write the confusion matrix (rows: expected, columns: predicted) as a PNG."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    size = min(40.0, max(6.0, 0.45 * len(labels) + 3.0))
    figure = _figure(size, size)
    axes = figure.add_subplot(1, 1, 1)
    image = axes.imshow(matrix if labels else [[0]], cmap="Blues", interpolation="nearest")
    figure.colorbar(image, ax=axes, fraction=0.046, pad=0.04)
    axes.set_title(title)
    axes.set_xlabel("predicted")
    axes.set_ylabel("expected")
    axes.set_xticks(range(len(labels)))
    axes.set_yticks(range(len(labels)))
    axes.set_xticklabels(labels, rotation=90)
    axes.set_yticklabels(labels)
    if 0 < len(labels) <= MAX_ANNOTATED_LABELS:
        peak = max((max(row) for row in matrix), default=0)
        for i, row in enumerate(matrix):
            for j, count in enumerate(row):
                if count:
                    axes.text(
                        j,
                        i,
                        str(count),
                        ha="center",
                        va="center",
                        color="white" if count > peak / 2 else "black",
                    )
    figure.tight_layout()
    figure.savefig(path, format="png")
    return path


def plot_confidence_histogram(
    correct: Sequence[float],
    wrong: Sequence[float],
    path: str | Path,
    title: str = "Intent prediction confidence",
    bins: int = 20,
) -> Path:
    """Write a histogram of the confidences of right and of wrong predictions as a PNG."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure = _figure(8.0, 5.0)
    axes = figure.add_subplot(1, 1, 1)
    edges = [i / bins for i in range(bins + 1)]
    axes.hist(
        [list(correct), list(wrong)],
        bins=edges,
        color=["#3c8d2f", "#c0392b"],
        label=[f"right ({len(correct)})", f"wrong ({len(wrong)})"],
    )
    axes.set_xlim(0.0, 1.0)
    axes.set_xlabel("confidence")
    axes.set_ylabel("messages")
    axes.set_title(title)
    axes.legend(loc="upper left")
    figure.tight_layout()
    figure.savefig(path, format="png")
    return path


def plot_learning_curves(
    panels: Mapping[str, Mapping[str, Sequence[tuple[float, float, float]]]],
    path: str | Path,
    *,
    x_label: str,
    title: str = "Configs compared",
    y_limits: tuple[float, float] | None = (0.0, 1.05),
) -> Path:
    """Write one panel per metric (``panels``: metric title -> curve per config) as a PNG.

    Each curve is the mean score against the training size (``x_label``), with
    a band of one standard deviation either side (the spread over runs).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure = _figure(6.5 * max(1, len(panels)), 5.0)
    for number, (metric, curves) in enumerate(panels.items(), start=1):
        axes = figure.add_subplot(1, max(1, len(panels)), number)
        for config, points in curves.items():
            ordered = sorted(points)
            xs = [x for x, _, _ in ordered]
            means = [mean for _, mean, _ in ordered]
            axes.plot(xs, means, marker="o", label=config)
            axes.fill_between(xs, [m - s for _, m, s in ordered],
                              [m + s for _, m, s in ordered], alpha=0.2)
        if y_limits is not None:
            axes.set_ylim(*y_limits)
        axes.set_xlabel(x_label)
        axes.set_ylabel(metric)
        axes.grid(alpha=0.3)
        axes.legend(loc="lower right")
    figure.suptitle(title)
    figure.tight_layout()
    figure.savefig(path, format="png")
    return path
