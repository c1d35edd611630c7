"""Scores for NLU evaluation, in the layout of scikit-learn's ``classification_report``.

A report maps each label to ``{"precision", "recall", "f1-score", "support"}``
and adds ``"micro avg"``, ``"macro avg"`` and ``"weighted avg"`` rows (macro:
the plain mean over labels; weighted: the mean weighted by support). The
intent report also has ``"accuracy"``. A classification report has a row
for each expected label only, as Rasa's (scikit-learn's report restricted to
the test data's labels): a label that is predicted but never expected counts
against the precision of none and shows only in ``confused_with``. In a span
report such labels count with support 0. A precision or recall with nothing
to divide by is 0.

Entity spans are scored as CoNLL does: a predicted span counts only when its
label and both of its boundaries equal an expected span of the same message.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any

#: one entity span of one message: (label, start, end)
Span = tuple[str, int, int]

AVERAGES = ("micro avg", "macro avg", "weighted avg")


def _ratio(numerator: float, denominator: float) -> float:
    return numerator / denominator if denominator else 0.0


def _f1(precision: float, recall: float) -> float:
    return _ratio(2 * precision * recall, precision + recall)


def _row(precision: float, recall: float, f1: float, support: int) -> dict[str, Any]:
    return {"precision": precision, "recall": recall, "f1-score": f1, "support": support}


def report_from_counts(
    true_positives: Counter,
    predicted: Counter,
    expected: Counter,
    labels: Sequence[str] | None = None,
) -> dict[str, Any]:
    """Per-label rows and the three averages from per-label counts."""
    if labels is None:
        labels = sorted(set(predicted) | set(expected))
    report: dict[str, Any] = {}
    for label in labels:
        precision = _ratio(true_positives[label], predicted[label])
        recall = _ratio(true_positives[label], expected[label])
        report[label] = _row(precision, recall, _f1(precision, recall), expected[label])
    total_tp = sum(true_positives[label] for label in labels)
    total_predicted = sum(predicted[label] for label in labels)
    total_expected = sum(expected[label] for label in labels)
    micro_p = _ratio(total_tp, total_predicted)
    micro_r = _ratio(total_tp, total_expected)
    report["micro avg"] = _row(micro_p, micro_r, _f1(micro_p, micro_r), total_expected)
    rows = [report[label] for label in labels]
    count = len(rows)
    report["macro avg"] = _row(
        *(_ratio(sum(r[key] for r in rows), count) for key in ("precision", "recall", "f1-score")),
        total_expected,
    )
    report["weighted avg"] = _row(
        *(
            _ratio(sum(r[key] * r["support"] for r in rows), total_expected)
            for key in ("precision", "recall", "f1-score")
        ),
        total_expected,
    )
    return report


def classification_report(
    expected: Sequence[str], predicted: Sequence[str], labels: Sequence[str] | None = None
) -> dict[str, Any]:
    """The report of a single-label classification (one prediction per example).

    The rows are ``labels``, by default the expected ones (as Rasa reports: a
    prediction of a label the test data never expects is wrong for the label
    expected, and adds no row to average over). Adds ``"accuracy"`` (the share
    of examples predicted right) and, per label, ``"confused_with"``: the labels
    it was mistaken for among the three most often predicted for it, as Rasa picks
    them (two, or three when it was itself predicted less often than they were).
    """
    if len(expected) != len(predicted):
        raise ValueError(f"{len(expected)} expected labels but {len(predicted)} predictions")
    if labels is None:
        labels = sorted(set(expected))
    true_positives: Counter = Counter(e for e, p in zip(expected, predicted, strict=True) if e == p)
    report = report_from_counts(true_positives, Counter(predicted), Counter(expected), labels)
    confusions: dict[str, Counter] = {}
    for e, p in zip(expected, predicted, strict=True):
        if e != p:
            confusions.setdefault(e, Counter())[p] += 1
    for label, row in report.items():
        if label not in AVERAGES:
            predicted_for = Counter(confusions.get(label, Counter()))
            predicted_for[label] = true_positives[label]
            # (ties: the label first in order, stably)
            top = sorted(predicted_for.items(), key=lambda item: (-item[1], item[0]))[:3]
            row["confused_with"] = {other: count for other, count in top
                                    if other != label and count > 0}
    report["accuracy"] = _ratio(sum(true_positives.values()), len(expected))
    return report


def span_report(
    expected: Sequence[Iterable[Span]], predicted: Sequence[Iterable[Span]]
) -> dict[str, Any]:
    """CoNLL span-level report: per label and averaged, over messages paired by position."""
    if len(expected) != len(predicted):
        raise ValueError(f"{len(expected)} expected messages but {len(predicted)} predicted")
    true_positives: Counter = Counter()
    expected_counts: Counter = Counter()
    predicted_counts: Counter = Counter()
    for gold, guess in zip(expected, predicted, strict=True):
        gold_set, guess_set = set(gold), set(guess)
        expected_counts.update(label for label, _, _ in gold_set)
        predicted_counts.update(label for label, _, _ in guess_set)
        true_positives.update(label for label, _, _ in gold_set & guess_set)
    return report_from_counts(true_positives, predicted_counts, expected_counts)


def confusion_matrix(
    expected: Sequence[str], predicted: Sequence[str], labels: Sequence[str] | None = None
) -> tuple[list[str], list[list[int]]]:
    """Labels and counts: row = expected label, column = predicted label."""
    if labels is None:
        labels = sorted(set(expected) | set(predicted))
    index = {label: i for i, label in enumerate(labels)}
    matrix = [[0] * len(labels) for _ in labels]
    for e, p in zip(expected, predicted, strict=True):
        if e in index and p in index:
            matrix[index[e]][index[p]] += 1
    return list(labels), matrix
