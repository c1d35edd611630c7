"""Where markers applied: per conversation, per session, per marker.

A conversation is split into sessions at each ``action_session_start`` action,
as Rasa splits it; events before the first one belong to no session, and a
conversation without one is a single session. Each marker is evaluated on
each session separately, so nothing carries over from one session into the
next. For every event at which a marker is reported we keep its index in the
whole conversation (``event_idx``) and how many user messages came before it
in its session (``num_preceding_user_turns``).

Conversations come from a tracker store, all of them or the first or a random
``N`` (:func:`select_conversations`), and the results are written as Rasa's
CSV (:func:`write_markers_csv`).
"""

from __future__ import annotations

import csv
import logging
import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dialogflowlite.errors import ConfigError
from dialogflowlite.evaluation.markers.model import MarkerDefinition
from dialogflowlite.shared.domain import ACTION_SESSION_START
from dialogflowlite.shared.events import ActionExecuted, Event, UserUttered
from dialogflowlite.stores.stored_events import readable_events, warn_unreadable

logger = logging.getLogger(__name__)

#: how conversations are chosen from the tracker store
STRATEGIES = ("all", "first_n", "sample_n")
#: the columns of the extracted markers CSV, as Rasa writes them
CSV_COLUMNS = ("sender_id", "session_idx", "marker", "event_idx", "num_preceding_user_turns")


@dataclass(frozen=True)
class MarkedEvent:
    """An event at which a marker applied."""

    event_idx: int
    num_preceding_user_turns: int


#: marker name -> the events of one session at which it applied, in config order
SessionResult = dict[str, list[MarkedEvent]]


@dataclass
class ConversationResult:
    """The markers of one conversation, one :data:`SessionResult` per session."""

    sender_id: str
    sessions: list[SessionResult] = field(default_factory=list)


def split_sessions(events: Sequence[Event]) -> list[tuple[int, list[Event]]]:
    """The sessions of a conversation, each with the index of its first event."""
    starts = [index for index, event in enumerate(events)
              if isinstance(event, ActionExecuted) and event.name == ACTION_SESSION_START]
    if not starts:
        return [(0, list(events))]
    ends = [*starts[1:], len(events)]
    return [(start, list(events[start:end])) for start, end in zip(starts, ends, strict=True)]


def evaluate_session(definitions: Sequence[MarkerDefinition], events: Sequence[Event],
                     offset: int = 0) -> SessionResult:
    """Where each marker applied in one session; ``offset`` is the session's first index."""
    preceding, user_turns = [], 0
    for event in events:
        preceding.append(user_turns)
        user_turns += isinstance(event, UserUttered)
    return {
        definition.name: [MarkedEvent(offset + index, preceding[index])
                          for index in definition.marked(events)]
        for definition in definitions
    }


def evaluate_conversation(definitions: Sequence[MarkerDefinition],
                          events: Sequence[Event]) -> list[SessionResult]:
    """Where each marker applied, for every session of one conversation."""
    return [evaluate_session(definitions, session, offset)
            for offset, session in split_sessions(events)]


def check_strategy(strategy: str, count: int | None = None) -> None:
    """Raise :class:`ConfigError` unless ``strategy`` is known and has the count it needs."""
    if strategy not in STRATEGIES:
        raise ConfigError(f"unknown strategy '{strategy}'", hint=f"use {', '.join(STRATEGIES)}")
    if strategy != "all" and (count is None or count < 1):
        raise ConfigError(f"{strategy} needs a number of conversations of at least 1, "
                          f"not {count}", hint=f"for example `{strategy} 100`")


def select_conversations(sender_ids: Sequence[str], strategy: str = "all",
                         count: int | None = None, seed: int | None = None) -> list[str]:
    """The conversations to evaluate: ``all``, the ``first_n`` or a ``sample_n`` of ``count``.

    ``sample_n`` draws without replacement; the same ``seed`` draws the same
    conversations from the same store. A ``count`` above the number of
    conversations takes them all (with a warning).
    """
    check_strategy(strategy, count)
    if strategy == "all" or count is None:
        return list(sender_ids)
    if count > len(sender_ids):
        logger.warning("%s %d: the tracker store holds only %d conversations; evaluating all "
                       "of them", strategy, count, len(sender_ids))
        count = len(sender_ids)
    if strategy == "first_n":
        return list(sender_ids[:count])
    return random.Random(seed).sample(list(sender_ids), k=count)


def _events(sender_id: str, stored: list[Any]) -> list[Event]:
    """The conversation's stored events the bot itself would read: one that fails the
    checks is left out with a warning, as the tracker stores leave it out (so the
    markers see the conversation the bot saw)."""
    events, unreadable = readable_events(stored)
    warn_unreadable(sender_id, unreadable)
    return events


async def evaluate_tracker_store(tracker_store: Any, definitions: Sequence[MarkerDefinition],
                                 *, strategy: str = "all", count: int | None = None,
                                 seed: int | None = None) -> list[ConversationResult]:
    """Evaluate the markers on the conversations of ``tracker_store`` chosen by ``strategy``.

    Conversations are taken in the store's order (``keys()``).
    """
    sender_ids = list(await tracker_store.keys())
    if not sender_ids:
        logger.warning("the tracker store holds no conversations")
    results = []
    for sender_id in select_conversations(sender_ids, strategy, count, seed):
        stored = await tracker_store.load_events(sender_id)
        if stored is None:
            continue
        events = _events(sender_id, stored)
        results.append(ConversationResult(sender_id, evaluate_conversation(definitions, events)))
    return results


def marker_rows(results: Sequence[ConversationResult]) -> Iterator[tuple[str, ...]]:
    """The rows of the extracted markers CSV (without the header)."""
    for conversation in results:
        for session_idx, session in enumerate(conversation.sessions):
            for name, marked in session.items():
                for event in marked:
                    yield (conversation.sender_id, str(session_idx), name,
                           str(event.event_idx), str(event.num_preceding_user_turns))


def write_markers_csv(results: Sequence[ConversationResult], path: str | Path) -> int:
    """Write the extracted markers CSV; returns the number of rows written."""
    rows = 0
    with Path(path).open("w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(CSV_COLUMNS)
        for row in marker_rows(results):
            writer.writerow(row)
            rows += 1
    return rows
