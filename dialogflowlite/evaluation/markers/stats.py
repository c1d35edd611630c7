"""Summary statistics of extracted markers, as Rasa writes them.

Two CSV files with the columns ``sender_id, session_idx, marker, statistic,
value``:

- ``PREFIX-overall.csv``: the number of sessions; for each marker the number
  and percentage of sessions where it applied at least once; then, for each
  marker, the count, mean, median, min and max of the number of user turns
  before the events where it applied, over all sessions (``sender_id`` is
  ``all`` and ``session_idx`` is ``nan`` on every row).
- ``PREFIX-per-session.csv``: the same five statistics for every marker in
  every session, grouped by marker, then by statistic (in alphabetical
  order), then by session.

Markers are in alphabetical order. A statistic of no values is ``nan``;
floats are rounded to three decimals.
"""

from __future__ import annotations

import csv
import math
import statistics
from collections.abc import Iterator, Sequence
from pathlib import Path

from dialogflowlite.evaluation.markers.extract import ConversationResult

COLUMNS = ("sender_id", "session_idx", "marker", "statistic", "value")
OVERALL_SUFFIX = "-overall.csv"
PER_SESSION_SUFFIX = "-per-session.csv"
#: the statistics of the number of preceding user turns, in the overall file's order
STATISTICS = ("count", "mean", "median", "min", "max")
ALL_SENDERS = "all"
ALL_SESSIONS = "nan"
NO_MARKER = "-"


def describe(values: Sequence[int]) -> dict[str, float | int]:
    """Count, mean, median, min and max of ``values`` (``nan`` for each but count when empty)."""
    if not values:
        return {"count": 0, "mean": math.nan, "median": math.nan, "min": math.nan,
                "max": math.nan}
    return {"count": len(values), "mean": float(statistics.fmean(values)),
            "median": float(statistics.median(values)), "min": min(values),
            "max": max(values)}


def format_value(value: float | int) -> str:
    """A statistic as Rasa prints it: integers as they are, floats to three decimals."""
    if isinstance(value, int):
        return str(value)
    if math.isnan(value):
        return "nan"
    return str(round(value, 3))


def _turns(statistic: str) -> str:
    return f"{statistic}(number of preceding user turns)"


class MarkerStatistics:
    """The statistics of a set of extraction results."""

    def __init__(self, results: Sequence[ConversationResult]) -> None:
        self.sessions = [(conversation.sender_id, index, session)
                         for conversation in results
                         for index, session in enumerate(conversation.sessions)]
        names = {name for _, _, session in self.sessions for name in session}
        self.markers = sorted(names)

    def _preceding(self, marker: str) -> Iterator[list[int]]:
        for _, _, session in self.sessions:
            yield [event.num_preceding_user_turns for event in session.get(marker, [])]

    def overall_rows(self) -> Iterator[tuple[str, ...]]:
        """The rows of the overall statistics (without the header)."""
        total = len(self.sessions)
        yield ALL_SENDERS, ALL_SESSIONS, NO_MARKER, "total_number_of_sessions", str(total)
        for marker in self.markers:
            applied = sum(1 for turns in self._preceding(marker) if turns)
            yield (ALL_SENDERS, ALL_SESSIONS, marker,
                   "number_of_sessions_where_marker_applied_at_least_once", str(applied))
            yield (ALL_SENDERS, ALL_SESSIONS, marker,
                   "percentage_of_sessions_where_marker_applied_at_least_once",
                   format_value(applied / total * 100))
        for marker in self.markers:
            values = [turn for turns in self._preceding(marker) for turn in turns]
            for statistic, value in describe(values).items():
                yield ALL_SENDERS, ALL_SESSIONS, marker, _turns(statistic), format_value(value)

    def per_session_rows(self) -> Iterator[tuple[str, ...]]:
        """The rows of the per-session statistics (without the header)."""
        for marker in self.markers:
            described = [describe(turns) for turns in self._preceding(marker)]
            for statistic in sorted(STATISTICS):
                for (sender_id, index, _), values in zip(self.sessions, described, strict=True):
                    yield (sender_id, str(index), marker, _turns(statistic),
                           format_value(values[statistic]))


def stats_paths(prefix: str | Path) -> tuple[Path, Path]:
    """The overall and per-session files of a ``--stats-file-prefix``."""
    prefix = Path(prefix)
    return (prefix.parent / (prefix.name + OVERALL_SUFFIX),
            prefix.parent / (prefix.name + PER_SESSION_SUFFIX))


def write_statistics(results: Sequence[ConversationResult],
                     prefix: str | Path) -> tuple[Path, Path]:
    """Write ``PREFIX-overall.csv`` and ``PREFIX-per-session.csv``; returns both paths."""
    stats = MarkerStatistics(results)
    overall, per_session = stats_paths(prefix)
    for path, rows in ((overall, stats.overall_rows()), (per_session, stats.per_session_rows())):
        with path.open("w", encoding="utf-8", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(COLUMNS)
            writer.writerows(rows)
    return overall, per_session
