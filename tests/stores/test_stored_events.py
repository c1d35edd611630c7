"""Finding the latest session among stored events, decoded or not."""

from __future__ import annotations

import json

from dialogflowlite.shared.events import ActionExecuted, SessionStarted, UserUttered
from dialogflowlite.stores.stored_events import (
    UndecodableEvent,
    decode_latest_session,
    latest_session_start,
)

SESSION = [{"event": "action", "name": "action_session_start"}, {"event": "session_started"},
           {"event": "action", "name": "action_listen"}]


def test_the_latest_session_starts_at_its_session_started_event() -> None:
    stored = [*SESSION, {"event": "user", "text": "hi"}, *SESSION, {"event": "user"}]
    assert latest_session_start(stored) == 5
    events = [SessionStarted(), UserUttered(text="a"), SessionStarted(), ActionExecuted(
        name="action_listen")]
    assert latest_session_start(events) == 2
    # none, or only at the start: everything is the latest session
    assert latest_session_start(stored[2:4]) == 0
    assert latest_session_start([{"event": "user"}, "not an event"]) == 0
    assert latest_session_start([]) == 0


def test_only_the_latest_session_is_decoded() -> None:
    texts = [json.dumps(e) for e in [*SESSION, {"event": "user", "text": "hi"}]]
    # a broken event of an earlier session is never decoded, so never reported
    texts = ["{broken", *texts, *[json.dumps(e) for e in SESSION[1:]], "{also broken"]
    decoded = decode_latest_session(texts)
    assert decoded[:2] == SESSION[1:]
    assert isinstance(decoded[2], UndecodableEvent) and len(decoded) == 3
    # without a session start, every event is decoded
    assert decode_latest_session([json.dumps({"event": "user"}), "{x"])[0] == {"event": "user"}
    assert len(decode_latest_session(["{x", "{y"])) == 2
