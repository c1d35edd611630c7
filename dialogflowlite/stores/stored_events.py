"""Reading stored events without letting one bad event break a conversation.

Events reach a store through the HTTP API, which checks every field
(:func:`dialogflowlite.shared.events.event_from_dict` with ``strict=True``).
Events written by an older version, by another tool or by hand were never
checked, and one of them (an ``active_loop`` whose name is a number, a user
text that is a number) used to fail every later message of its conversation.

Here the same checks are applied when a conversation is read: an event that
fails them is left out of the tracker, with one warning naming the
conversation, the event's position and the field. The store keeps the event
as it is; nothing is deleted or rewritten.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from dialogflowlite.errors import DialogflowLiteError
from dialogflowlite.shared.events import Event, SessionStarted, event_from_dict
from dialogflowlite.shared.recent import RecentItems

logger = logging.getLogger(__name__)

#: how many skipped events a store remembers as reported, so that a conversation
#: read on every message does not repeat its warnings
MAX_REPORTED = 10_000


def reported_events() -> RecentItems[tuple[str, int, str], bool]:
    """A record of the skipped events already warned about (for :func:`warn_unreadable`)."""
    return RecentItems(MAX_REPORTED)


class UndecodableEvent(dict):
    """Stored text that is not JSON, in its place among the decoded events.

    An empty object, so that callers that only look into events see nothing,
    and the events after it keep their positions; it remembers the text and
    why it could not be decoded.
    """

    def __init__(self, text: str | bytes, error: str) -> None:
        super().__init__()
        self.text = text
        self.error = error


def decode_event(text: str | bytes) -> Any:
    """One stored event's JSON text decoded, or an :class:`UndecodableEvent`."""
    try:
        return json.loads(text)
    except ValueError as e:  # JSONDecodeError, and UnicodeDecodeError for bytes
        return UndecodableEvent(text, str(e))


def decode_events(texts: list[Any]) -> list[Any]:
    """Every stored event's JSON text decoded (:func:`decode_event`), in order."""
    return [decode_event(text) for text in texts]


@dataclass(frozen=True)
class UnreadableEvent:
    """A stored event left out of its conversation: where it is and what is wrong."""

    index: int
    problem: str


def read_stored_event(data: Any) -> Event:
    """A stored event checked as the HTTP API checks incoming ones.

    A user event's ``parse_data`` is the exception: when it is an object, its
    inner shape is repaired rather than refused (an intent given as text is
    read as that intent), as the tracker has always read it. Raises a
    :class:`DialogflowLiteError` naming the field that fails.
    """
    if isinstance(data, UndecodableEvent):
        raise DialogflowLiteError(f"it is not JSON ({data.error})")
    if isinstance(data, dict) and isinstance(data.get("parse_data"), dict):
        event_from_dict({**data, "parse_data": {}}, strict=True)
        return event_from_dict(data)
    return event_from_dict(data, strict=True)


def readable_events(events: list[Any]) -> tuple[list[Event], list[UnreadableEvent]]:
    """The stored events that pass the checks (:func:`read_stored_event`), and the ones
    that do not."""
    read: list[Event] = []
    unreadable: list[UnreadableEvent] = []
    for index, data in enumerate(events):
        try:
            read.append(read_stored_event(data))
        except (DialogflowLiteError, TypeError, ValueError) as e:
            message = e.message if isinstance(e, DialogflowLiteError) else str(e)
            unreadable.append(UnreadableEvent(index, message))
    return read, unreadable


def is_readable(data: Any) -> bool:
    """Whether a stored event passes the checks of :func:`read_stored_event`."""
    return not readable_events([data])[1]


def warn_unreadable(sender_id: str, unreadable: list[UnreadableEvent],
                    reported: RecentItems[tuple[str, int, str], bool] | None = None) -> None:
    """One warning per skipped event; with ``reported`` (:func:`reported_events`), only
    for the events it does not hold yet."""
    for event in unreadable:
        key = (sender_id, event.index, event.problem)
        if reported is not None:
            if reported.get(key):
                continue
            reported.put(key, True)
        logger.warning(
            "conversation %r: stored event %d is skipped: %s. The store keeps it "
            "unchanged; fix or remove it there to use it again", sender_id, event.index,
            event.problem)


def latest_session_start(events: Sequence[Any]) -> int:
    """The index of the latest ``session_started`` among ``events`` (stored JSON or
    events), 0 when there is none.

    What comes before it no longer counts for the conversation (the applied events
    start there, and the slots kept are set again after it), so a turn needs only
    the events from there on, as Rasa's tracker stores hand a turn.
    """
    for index in range(len(events) - 1, 0, -1):
        event = events[index]
        if isinstance(event, SessionStarted) or (
                isinstance(event, dict) and event.get("event") == "session_started"):
            return index
    return 0


def decode_latest_session(texts: Sequence[str | bytes]) -> list[Any]:
    """The stored events' JSON texts from the latest ``session_started`` on (all of
    them without one), decoded (:func:`decode_event`).

    Decoded from the last one back, so that a conversation of many sessions costs
    the decoding of its latest one only.
    """
    decoded: list[Any] = []
    for text in reversed(texts):
        event = decode_event(text)
        decoded.append(event)
        if isinstance(event, dict) and event.get("event") == "session_started":
            break
    decoded.reverse()
    return decoded
