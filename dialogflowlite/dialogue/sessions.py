"""Conversation sessions: when a new one starts.

A session starts for a conversation without events (or only events before a
restart) and when the user has been silent for longer than
``session_config.session_expiration_time`` minutes (0 turns expiry off).
``action_session_start`` then carries the slots over if the domain says so.
"""

from __future__ import annotations

import time

from dialogflowlite.shared.domain import SessionConfig
from dialogflowlite.shared.events import UserUttered
from dialogflowlite.shared.tracker import DialogueStateTracker


def last_user_message_time(tracker: DialogueStateTracker) -> float | None:
    for event in reversed(tracker.events):
        if isinstance(event, UserUttered):
            return event.timestamp
    return None


def session_expired(tracker: DialogueStateTracker, config: SessionConfig,
                    now: float | None = None) -> bool:
    """Whether the user's last message is older than the session expiry."""
    if not config.expires:
        return False
    last = last_user_message_time(tracker)
    if last is None:
        return False
    now = time.time() if now is None else now
    return (now - last) / 60.0 > config.session_expiration_time


def needs_new_session(tracker: DialogueStateTracker, config: SessionConfig,
                      now: float | None = None) -> bool:
    """Whether ``action_session_start`` must run before the next message."""
    return not tracker.applied_events() or session_expired(tracker, config, now)
