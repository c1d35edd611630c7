"""PNG plots of NLU evaluation: the intent confusion matrix, the confidence histogram
and the learning curves of compared pipelines.

Drawn with matplotlib's Agg canvas directly, so no display and no global
backend switch is needed (servers and tests stay headless).
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Iterable, Mapping, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

#: above this many labels the cells are too small to print their counts
MAX_ANNOTATED_LABELS = 30

#: fonts that have every character but draw a placeholder box for each
_PLACEHOLDER_FONTS = ("Last Resort",)

#: characters already named in the warning that no font has them
_WARNED: set[str] = set()


def _figure(width: float, height: float) -> Any:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height), dpi=100)
    FigureCanvasAgg(figure)
    return figure


def _save(figure: Any, path: Path) -> None:
    """Lay ``figure`` out and write it as a PNG."""
    with warnings.catch_warnings():
        # label_fonts has said which characters no font has, once; matplotlib
        # would repeat it for every glyph at every drawing
        warnings.filterwarnings("ignore", message="Glyph .* missing from font")
        # labels too long for the layout (a bot text as an action's name): the saved
        # image is cropped to what was drawn instead, so the warning says nothing new
        warnings.filterwarnings("ignore", message="Tight layout not applied")
        figure.tight_layout()
        figure.savefig(path, format="png", bbox_inches="tight")


def label_fonts(labels: Iterable[str]) -> list[str]:
    """The font families to draw ``labels`` with: matplotlib's default font, then
    installed fonts that have the characters it lacks (Chinese, Japanese, Korean,
    Thai, ... intent names).

    matplotlib draws a box for a character its default font does not have, and
    an intent named in Chinese showed as a row of boxes; given several families,
    it takes each character from the first that has it. A warning names the
    characters no installed font has (they stay boxes).
    """
    from matplotlib import font_manager

    default = font_manager.FontProperties()
    needed = frozenset(char for label in labels for char in label if not char.isspace())
    missing = needed - _characters_of(font_manager.findfont(default))
    families = [default.get_family()[0]]
    if not missing:
        return families
    found, missing = _fonts_having(missing)
    if missing - _WARNED:
        _WARNED.update(missing)
        logger.warning("no installed font has %s (in the labels of the plot): they show as "
                       "boxes; install a font that has them (for Chinese, Japanese and "
                       "Korean: the fonts-noto-cjk package on Debian)",
                       " ".join(sorted(missing)[:10]) + (" ..." if len(missing) > 10 else ""))
    return families + found


def _fonts_having(characters: frozenset[str]) -> tuple[list[str], frozenset[str]]:
    """Installed font families that together have the most of ``characters``, and the
    characters none of them has."""
    from matplotlib import font_manager

    found: list[str] = []
    for entry in font_manager.fontManager.ttflist:
        if not characters:
            break
        if entry.name in found or entry.name.startswith(_PLACEHOLDER_FONTS):
            continue
        covered = characters & _characters_of(entry.fname)
        if covered:
            found.append(entry.name)
            characters -= covered
    return found, characters


@lru_cache(maxsize=256)
def _characters_of(font_file: str) -> frozenset[str]:
    """The characters a font file has a glyph for (none when it cannot be read)."""
    from matplotlib import ft2font

    try:
        return frozenset(chr(code) for code in ft2font.FT2Font(font_file).get_charmap())
    except (OSError, RuntimeError, ValueError):
        return frozenset()


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
    fonts = label_fonts(labels)
    axes.set_xticklabels(labels, rotation=90, fontfamily=fonts)
    axes.set_yticklabels(labels, fontfamily=fonts)
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
    _save(figure, path)
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
    _save(figure, path)
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
    fonts = label_fonts(config for curves in panels.values() for config in curves)
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
        axes.legend(loc="lower right", prop={"family": fonts})
    figure.suptitle(title)
    _save(figure, path)
    return path
