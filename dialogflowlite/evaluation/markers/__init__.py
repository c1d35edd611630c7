"""Conversation markers (Rasa 3's ``rasa evaluate markers``).

A marker is a named condition over a conversation's events ("the user was
unhappy and the bot then cheered them up"). Markers files are Rasa's YAML
(:mod:`.config`), a marker is a tree of conditions and operators with Rasa's
meanings (:mod:`.model`), checked against the domain (:mod:`.domain_check`),
evaluated on every session of the stored conversations (:mod:`.extract`) and
summarised (:mod:`.stats`). ``dialogflowlite evaluate markers`` runs them all.
"""

from __future__ import annotations

from dialogflowlite.evaluation.markers.config import (
    MARKERS_FILE,
    MarkersReader,
    check_markers,
    load_markers,
)
from dialogflowlite.evaluation.markers.domain_check import check_against_domain, read_domain
from dialogflowlite.evaluation.markers.extract import (
    STRATEGIES,
    ConversationResult,
    MarkedEvent,
    check_strategy,
    evaluate_conversation,
    evaluate_session,
    evaluate_tracker_store,
    select_conversations,
    split_sessions,
    write_markers_csv,
)
from dialogflowlite.evaluation.markers.model import Marker, MarkerDefinition
from dialogflowlite.evaluation.markers.stats import MarkerStatistics, stats_paths, write_statistics

__all__ = [
    "MARKERS_FILE",
    "STRATEGIES",
    "ConversationResult",
    "MarkedEvent",
    "Marker",
    "MarkerDefinition",
    "MarkerStatistics",
    "MarkersReader",
    "check_against_domain",
    "check_markers",
    "check_strategy",
    "evaluate_conversation",
    "evaluate_session",
    "evaluate_tracker_store",
    "load_markers",
    "read_domain",
    "select_conversations",
    "split_sessions",
    "stats_paths",
    "write_markers_csv",
    "write_statistics",
]
