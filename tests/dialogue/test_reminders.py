"""Reminders: which ``cancel_reminder`` events cancel which reminders, and when they are due."""

from __future__ import annotations

from datetime import datetime, timezone

from dialogflowlite.dialogue.reminders import cancels, seconds_until
from dialogflowlite.shared.events import ReminderCancelled, ReminderScheduled

WAKE = ReminderScheduled(intent="EXTERNAL_wake_up", date_time="2030-01-01T09:00:00+00:00",
                         name="wake", entities=[{"entity": "city", "value": "Rome"}])


def test_a_cancellation_matches_only_when_every_criterion_it_gives_matches() -> None:
    assert cancels(ReminderCancelled(name="wake"), WAKE)
    assert cancels(ReminderCancelled(name="wake", intent="EXTERNAL_wake_up"), WAKE)
    # the name matches but the intent does not: Rasa leaves the reminder alone
    assert not cancels(ReminderCancelled(name="wake", intent="EXTERNAL_dinner"), WAKE)
    assert not cancels(ReminderCancelled(name="wake",
                                         entities=[{"entity": "city", "value": "Oslo"}]), WAKE)


def test_a_cancellation_without_criteria_cancels_every_reminder() -> None:
    assert cancels(ReminderCancelled(), WAKE)


def test_entities_match_in_either_notation() -> None:
    shorthand = ReminderCancelled(intent="EXTERNAL_wake_up", entities={"city": "Rome"})
    assert cancels(shorthand, WAKE)
    assert not cancels(ReminderCancelled(entities={"city": "Oslo"}), WAKE)


def test_a_time_without_zone_is_local_time_and_a_final_z_is_utc() -> None:
    now = datetime(2030, 1, 1, 8, 0, tzinfo=timezone.utc)
    assert seconds_until("2030-01-01T09:00:00Z", now) == 3600.0
    local = datetime(2030, 1, 1, 9, 0).astimezone()
    assert seconds_until("2030-01-01T09:00:00", now) == (local - now).total_seconds()
    assert seconds_until("2020-01-01T09:00:00Z", now) == 0.0
