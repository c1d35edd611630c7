"""Publishing stored conversations to an event broker (``dialogflowlite export``).

For a broker added after the bot went live, or a consumer that lost events:
the events the tracker store holds are published as the server would have
published them (``sender_id`` added), oldest first across all conversations,
optionally only those with ``minimum <= timestamp < maximum`` and only some
conversations, optionally with their timestamps shifted (the stored events
keep theirs). Publishing is in order and synchronous, so when the broker
fails the export stops and says from which timestamp to run it again; nothing
is skipped. A stored event that fails the checks the HTTP API applies is left
out with a warning, as it is when the conversation is read for a message.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from dialogflowlite.brokers.base import EventBroker, with_sender
from dialogflowlite.errors import DialogflowLiteError, ExportError
from dialogflowlite.stores.stored_events import readable_events, warn_unreadable

logger = logging.getLogger(__name__)

#: events handed to the broker per call
BATCH_SIZE = 100


@dataclass
class ExportResult:
    """What an export published."""

    conversations: int = 0
    events: int = 0
    #: requested conversation ids the tracker store does not have
    missing: list[str] = field(default_factory=list)


async def export_events(
    tracker_store: Any,
    broker: EventBroker,
    *,
    conversation_ids: Sequence[str] | None = None,
    minimum_timestamp: float | None = None,
    maximum_timestamp: float | None = None,
    offset_seconds: float | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> ExportResult:
    """Publish the stored events of the chosen conversations, oldest first.

    ``offset_seconds`` is added to the timestamp of every event published
    (Rasa's ``--offset-timestamps-by-seconds``); the time window applies to the
    stored timestamps. ``progress(published, total)`` is called after each
    batch. Raises :class:`ExportError` when there is nothing to publish, and
    when the broker fails (naming the command line that resumes the export:
    ``--minimum-timestamp`` at the first event not published, the other
    options as given).
    """
    if (minimum_timestamp is not None and maximum_timestamp is not None
            and minimum_timestamp >= maximum_timestamp):
        raise ExportError(f"the minimum timestamp ({minimum_timestamp}) must be below the "
                          f"maximum timestamp ({maximum_timestamp})")
    stored = set(await tracker_store.keys())
    if not stored:
        raise ExportError("the tracker store holds no conversations",
                          hint="check the tracker_store section of endpoints.yml")
    wanted = list(dict.fromkeys(conversation_ids)) if conversation_ids else sorted(stored)
    result = ExportResult(missing=[c for c in wanted if c not in stored])
    if result.missing:
        logger.warning("the tracker store has no conversation %s",
                       ", ".join(repr(c) for c in result.missing))

    selected: list[tuple[float, int, dict[str, Any]]] = []
    for sender_id in wanted:
        if sender_id not in stored:
            continue
        events = _readable(sender_id, await tracker_store.load_events(sender_id) or [])
        chosen = [e for e in events if _in_window(e, minimum_timestamp, maximum_timestamp)]
        if chosen:
            result.conversations += 1
        for event in with_sender(sender_id, chosen):
            # the position keeps each conversation's stored order where timestamps tie
            selected.append((_timestamp(event), len(selected), event))
    if not selected:
        raise ExportError("no stored events match the conversations and time window asked for",
                          hint="widen --minimum-timestamp / --maximum-timestamp or check "
                               "--conversation-ids")
    selected.sort(key=lambda item: (item[0], item[1]))

    for start in range(0, len(selected), BATCH_SIZE):
        batch = [_shifted(event, offset_seconds)
                 for _, _, event in selected[start : start + BATCH_SIZE]]
        try:
            await broker.publish_many(batch)
        except Exception as e:
            options = _resume_options(selected[start][0], maximum_timestamp,
                                      conversation_ids, offset_seconds)
            raise ExportError(
                f"the event broker failed after {result.events} of {len(selected)} events: "
                f"{_failure(e)}",
                hint=f"fix the broker, then run the export again with {options} (events at "
                     "that minimum timestamp may be published twice)") from e
        result.events += len(batch)
        if progress is not None:
            progress(result.events, len(selected))
    return result


def _readable(sender_id: str, events: list[Any]) -> list[dict[str, Any]]:
    """The stored events a tracker would be rebuilt from: one that fails the checks is
    left out (and named in a warning), as reading the conversation leaves it out."""
    _, unreadable = readable_events(events)
    if not unreadable:
        return events
    warn_unreadable(sender_id, unreadable)
    skipped = {event.index for event in unreadable}
    return [event for index, event in enumerate(events) if index not in skipped]


def _failure(error: Exception) -> str:
    """What went wrong with the broker, without its own next step: the export's hint
    (where to resume) replaces it."""
    if isinstance(error, DialogflowLiteError):
        return error.message
    return f"{type(error).__name__}: {error}"


def _shifted(event: dict[str, Any], offset: float | None) -> dict[str, Any]:
    """``event`` as published: a copy with its timestamp moved by ``offset`` seconds."""
    value = event.get("timestamp")
    if not offset or not isinstance(value, (int, float)) or isinstance(value, bool):
        return event
    return {**event, "timestamp": value + offset}


def _resume_options(resume: float, maximum: float | None, conversation_ids: Sequence[str] | None,
                    offset: float | None) -> str:
    """The options of an export that goes on from ``resume``, with the rest as given."""
    words = [f"--minimum-timestamp {resume!r}"]
    if maximum is not None:
        words.append(f"--maximum-timestamp {maximum!r}")
    if conversation_ids:
        words.append(f"--conversation-ids {','.join(dict.fromkeys(conversation_ids))}")
    if offset:
        words.append(f"--offset-timestamps-by-seconds {offset:g}")
    return " ".join(words)


def _timestamp(event: dict[str, Any]) -> float:
    value = event.get("timestamp")
    return float(value) if isinstance(value, (int, float)) else 0.0


def _in_window(event: dict[str, Any], minimum: float | None, maximum: float | None) -> bool:
    timestamp = _timestamp(event)
    return (minimum is None or timestamp >= minimum) and (maximum is None or timestamp < maximum)
