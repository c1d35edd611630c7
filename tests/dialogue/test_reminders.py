"""Reminders: which ``cancel_reminder`` events cancel which reminders, when they are due,
how unnamed ones are told apart, when a late one is skipped, and where the replies go
(the channel of the turn that scheduled the reminder, as in Rasa)."""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import datetime, timedelta, timezone

import pytest
from dialogue_doubles import simple_rules

from dialogflowlite import hookimpl
from dialogflowlite.dialogue.messages import IncomingMessage
from dialogflowlite.dialogue.reminders import (
    MISFIRE_GRACE_SECONDS,
    ReminderScheduler,
    cancels,
    name_unnamed,
    seconds_until,
)
from dialogflowlite.shared.events import (
    ReminderCancelled,
    ReminderScheduled,
    UserUttered,
    event_from_dict,
)

WAKE = ReminderScheduled(intent="EXTERNAL_wake_up", date_time="2030-01-01T09:00:00+00:00",
                         name="wake", entities=[{"entity": "city", "value": "Rome"}])

DOMAIN = """
version: "3.1"
intents: [remind, remind_twice, greet, EXTERNAL_wake_up]
responses:
  utter_wake_up:
  - text: Wake up!
  utter_greet:
  - text: Hello
actions: [action_remind, action_remind_twice]
"""

RULES = {"remind": ["action_remind"], "remind_twice": ["action_remind_twice"],
         "greet": ["utter_greet"], "EXTERNAL_wake_up": ["utter_wake_up"]}


def soon(seconds: float = 0.2) -> str:
    return (datetime.now(timezone.utc) + timedelta(seconds=seconds)).isoformat()


def unnamed_reminder() -> dict:
    return {"event": "reminder", "intent": "EXTERNAL_wake_up", "date_time": soon(),
            "kill_on_user_msg": False}


class ReminderActions:
    """Custom actions that schedule one unnamed reminder, or two identical ones."""

    @hookimpl
    def dfl_register_actions(self):
        class Remind:
            def name(self):
                return "action_remind"

            def run(self, dispatcher, tracker, domain):
                return [unnamed_reminder()]

        class RemindTwice:
            def name(self):
                return "action_remind_twice"

            def run(self, dispatcher, tracker, domain):
                reminder = unnamed_reminder()
                return [reminder, dict(reminder)]

        return [Remind, RemindTwice]


@pytest.fixture
def processor(bot, register_plugin):
    register_plugin(ReminderActions(), "reminder-actions")
    return bot(DOMAIN, simple_rules(RULES))


def run_then_wait(processor, *messages: IncomingMessage, wait: float = 0.6):
    """Send ``messages``, let due reminders fire, then stop the rest; the results."""

    async def main():
        results = [await processor.handle_message(message) for message in messages]
        await asyncio.sleep(wait)
        tracker = await processor.get_tracker(messages[-1].sender_id)
        await processor.close()
        return results, tracker

    return asyncio.run(main())


def external_messages(tracker) -> list[str]:
    return [e.text for e in tracker.events
            if isinstance(e, UserUttered) and e.metadata.get("is_external")]


# ------------------------------------------------------------ cancelling, timing


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
    assert seconds_until("2030-01-01T07:59:30Z", now) == -30.0


# ------------------------------------------------------------ names


def test_unnamed_reminders_get_unique_names_and_named_ones_keep_theirs() -> None:
    first, second = (ReminderScheduled(intent="EXTERNAL_wake_up", date_time=WAKE.date_time)
                     for _ in range(2))
    named = ReminderScheduled(intent="EXTERNAL_wake_up", date_time=WAKE.date_time, name="wake")
    name_unnamed([first, second, named])
    assert first.name and second.name and first.name != second.name
    assert named.name == "wake"
    # the name is part of the event's JSON, so reading it back keeps it
    assert event_from_dict(first.as_dict()).name == first.name


def test_two_identical_unnamed_reminders_both_fire(processor) -> None:
    (result,), tracker = run_then_wait(processor, IncomingMessage("/remind_twice", "ann"))
    assert external_messages(tracker) == ["EXTERNAL: EXTERNAL_wake_up"] * 2
    reminders = [e for e in result.events if isinstance(e, ReminderScheduled)]
    assert len(reminders) == 2 and reminders[0].name != reminders[1].name


def test_an_unnamed_reminder_is_stored_with_the_name_it_fires_under(processor) -> None:
    async def main():
        result = await processor.handle_message(IncomingMessage("/remind", "bo"))
        stored = await processor.tracker_store.retrieve("bo")
        pending = processor.reminders.pending("bo")
        await processor.close()
        return result, stored, pending

    result, stored, pending = asyncio.run(main())
    given = next(e for e in result.events if isinstance(e, ReminderScheduled)).name
    assert given is not None
    assert [e.name for e in stored.events if isinstance(e, ReminderScheduled)] == [given]
    assert [r.name for r in pending] == [given]


def test_an_unnamed_reminder_appended_through_the_api_is_stored_with_a_name(processor) -> None:
    async def main():
        events = [event_from_dict(unnamed_reminder())]
        await processor.append_events("cy", events)
        stored = await processor.tracker_store.retrieve("cy")
        scheduled = processor.execute_side_effects("cy", events)
        pending = processor.reminders.pending("cy")
        await processor.close()
        return stored, scheduled, pending

    stored, _, pending = asyncio.run(main())
    names = [e.name for e in stored.events if isinstance(e, ReminderScheduled)]
    assert len(names) == 1 and names[0] is not None
    assert [r.name for r in pending] == names


def test_an_unnamed_reminder_among_replaced_events_is_stored_with_a_name(processor) -> None:
    async def main():
        await processor.replace_events("dee", [event_from_dict(unnamed_reminder())])
        stored = await processor.tracker_store.retrieve("dee")
        pending = processor.reminders.pending("dee")
        await processor.close()
        return stored, pending

    stored, pending = asyncio.run(main())
    [reminder] = [e for e in stored.events if isinstance(e, ReminderScheduled)]
    assert reminder.name
    # replacing events schedules nothing, as in Rasa
    assert pending == []


# ------------------------------------------------------------ late reminders


def scheduler_recording() -> tuple[ReminderScheduler, list[str]]:
    fired: list[str] = []

    async def handler(reminder: ReminderScheduled, sender_id: str, channel) -> None:
        fired.append(reminder.name)

    return ReminderScheduler(handler), fired


def test_a_reminder_whose_time_passed_more_than_the_grace_time_ago_is_skipped(caplog) -> None:
    scheduler, fired = scheduler_recording()
    missed = ReminderScheduled(intent="EXTERNAL_wake_up", date_time=soon(-30), name="missed")
    just = ReminderScheduled(intent="EXTERNAL_wake_up",
                             date_time=soon(-MISFIRE_GRACE_SECONDS / 4), name="just")

    async def main() -> list[bool]:
        scheduled = [scheduler.schedule(missed, "di"), scheduler.schedule(just, "di")]
        await asyncio.sleep(0.1)
        await scheduler.close()
        return scheduled

    with caplog.at_level(logging.WARNING, logger="dialogflowlite.dialogue.reminders"):
        scheduled = asyncio.run(main())
    # as APScheduler's date jobs in Rasa: within the grace time it still fires
    assert scheduled == [False, True]
    assert fired == ["just"]
    warning = next(r for r in caplog.records if r.levelno == logging.WARNING)
    assert "'missed'" in warning.getMessage() and "'di'" in warning.getMessage()


def test_a_past_reminder_still_replaces_the_pending_one_of_its_name() -> None:
    scheduler, fired = scheduler_recording()

    async def main() -> None:
        scheduler.schedule(ReminderScheduled(intent="a", date_time=soon(0.1), name="r"), "ed")
        scheduler.schedule(ReminderScheduled(intent="b", date_time=soon(-30), name="r"), "ed")
        await asyncio.sleep(0.3)
        await scheduler.close()

    asyncio.run(main())
    assert fired == []


def test_a_reminder_whose_timer_runs_too_late_is_skipped(caplog) -> None:
    scheduler, fired = scheduler_recording()

    async def main() -> None:
        scheduler.schedule(ReminderScheduled(intent="x", date_time=soon(0.05), name="late"),
                           "flo")
        time.sleep(MISFIRE_GRACE_SECONDS + 0.3)  # the event loop is blocked meanwhile
        await asyncio.sleep(0.1)
        await scheduler.close()

    with caplog.at_level(logging.WARNING, logger="dialogflowlite.dialogue.reminders"):
        asyncio.run(main())
    assert fired == []
    assert "'late'" in caplog.text


# ------------------------------------------------------------ where the replies go


def test_the_scheduler_hands_the_channel_it_was_given_to_the_handler() -> None:
    got: list[tuple] = []

    async def handler(reminder: ReminderScheduled, sender_id: str, channel) -> None:
        got.append((reminder.name, sender_id, channel))

    scheduler = ReminderScheduler(handler)

    async def main() -> None:
        scheduler.schedule(ReminderScheduled(intent="x", date_time=soon(0.05), name="a"),
                           "kim", "pager")
        scheduler.schedule(ReminderScheduled(intent="x", date_time=soon(0.05), name="b"), "kim")
        await asyncio.sleep(0.3)
        await scheduler.close()

    asyncio.run(main())
    assert sorted(got) == [("a", "kim", "pager"), ("b", "kim", None)]


def test_a_reminder_goes_through_the_channel_of_the_message_that_scheduled_it(
        processor) -> None:
    sent: list[tuple] = []

    async def sender(sender_id, channel, replies) -> bool:
        sent.append((sender_id, channel, [r.get("text") for r in replies]))
        return True

    processor.unasked_sender = sender
    # the user then writes through another channel before the reminder fires: as in
    # Rasa, the reminder keeps the channel of the request that scheduled it
    run_then_wait(processor, IncomingMessage("/remind", "lee", channel="pager"),
                  IncomingMessage("/greet", "lee", channel="rest"))
    assert sent == [("lee", "pager", ["Wake up!"])]


def test_a_reminder_scheduled_by_a_triggered_intent_without_a_channel_is_only_stored(
        processor, caplog) -> None:
    sent: list[tuple] = []

    async def sender(sender_id, channel, replies) -> bool:
        sent.append((sender_id, channel))
        return channel is not None

    processor.unasked_sender = sender

    async def main():
        await processor.handle_message(IncomingMessage("/greet", "max", channel="pager"))
        # an API request without output_channel: Rasa's collecting output channel
        await processor.trigger_intent("max", "remind")
        await asyncio.sleep(0.6)
        await processor.close()

    with caplog.at_level(logging.DEBUG, logger="dialogflowlite.dialogue.processor"):
        asyncio.run(main())
    assert sent == [("max", None)]
    assert "of 'max' were only stored" in caplog.text


def test_a_fired_reminder_sends_the_replies_a_turn_gives(processor, register_plugin) -> None:
    class Signature:
        @hookimpl
        def dfl_replies_outgoing(self, sender_id, replies):
            replies.append({"recipient_id": sender_id, "text": "-- sent by the bot"})

    register_plugin(Signature(), "signature")
    sent: list[tuple] = []

    async def sender(sender_id, channel, replies) -> bool:
        sent.append((sender_id, channel, [dict(r) for r in replies]))
        return True

    processor.unasked_sender = sender
    run_then_wait(processor, IncomingMessage("/greet", "gus", channel="rest"),
                  IncomingMessage("/remind", "gus", channel="pager"))
    # the same replies a turn gives, after dfl_replies_outgoing
    assert sent == [("gus", "pager", [{"recipient_id": "gus", "text": "Wake up!"},
                                      {"recipient_id": "gus", "text": "-- sent by the bot"}])]


def test_replies_that_no_channel_sends_are_only_stored(processor, caplog) -> None:
    async def refusing(sender_id, channel, replies) -> bool:
        return False

    for sender_id, unasked_sender in (("hal", None), ("ivy", refusing)):
        processor.unasked_sender = unasked_sender
        with caplog.at_level(logging.DEBUG, logger="dialogflowlite.dialogue.processor"):
            _, tracker = run_then_wait(processor, IncomingMessage("/remind", sender_id,
                                                                  channel="rest"))
        assert tracker.latest_bot_utterance.text == "Wake up!"
        assert f"of {sender_id!r} were only stored" in caplog.text


def test_a_failing_sender_is_logged_and_the_turn_stays_stored(processor, caplog) -> None:
    async def broken(sender_id, channel, replies) -> bool:
        raise ConnectionError("the platform is down")

    processor.unasked_sender = broken
    with caplog.at_level(logging.ERROR, logger="dialogflowlite.dialogue.processor"):
        _, tracker = run_then_wait(processor, IncomingMessage("/remind", "jo", channel="pager"))
    assert tracker.latest_bot_utterance.text == "Wake up!"
    assert "could not be sent" in caplog.text and "the platform is down" in caplog.text


# ------------------------------------------------------------ closing


def test_closing_waits_for_a_reminder_that_is_firing() -> None:
    events: list[str] = []

    async def handler(reminder: ReminderScheduled, sender_id: str, channel) -> None:
        events.append("fired")
        await asyncio.sleep(0.3)  # a slow turn: the stores must stay open until it is stored
        events.append("stored")

    scheduler = ReminderScheduler(handler)

    async def main() -> None:
        scheduler.schedule(ReminderScheduled(intent="x", date_time=soon(0.05), name="a"), "kim")
        await asyncio.sleep(0.15)
        assert events == ["fired"] and scheduler.pending() == []
        await scheduler.close()
        events.append("closed")

    asyncio.run(main())
    assert events == ["fired", "stored", "closed"]


def test_closing_cancels_a_firing_reminder_that_outlasts_the_timeout(caplog) -> None:
    events: list[str] = []

    async def handler(reminder: ReminderScheduled, sender_id: str, channel) -> None:
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            events.append("cancelled")
            raise

    scheduler = ReminderScheduler(handler)

    async def main() -> None:
        scheduler.schedule(ReminderScheduled(intent="x", date_time=soon(0.01), name="slow"),
                           "kim")
        await asyncio.sleep(0.1)
        await scheduler.close(timeout=0.1)

    with caplog.at_level(logging.ERROR, logger="dialogflowlite.dialogue.reminders"):
        asyncio.run(main())
    assert events == ["cancelled"]
    assert "'slow'" in caplog.text


def test_closing_cancels_what_a_firing_reminder_schedules() -> None:
    fired: list[str] = []
    scheduler: ReminderScheduler

    async def handler(reminder: ReminderScheduled, sender_id: str, channel) -> None:
        fired.append(reminder.name)
        await asyncio.sleep(0.1)
        scheduler.schedule(ReminderScheduled(intent="x", date_time=soon(0.2), name="next"),
                           sender_id)

    scheduler = ReminderScheduler(handler)

    async def main() -> None:
        scheduler.schedule(ReminderScheduled(intent="x", date_time=soon(0.01), name="first"),
                           "kim")
        await asyncio.sleep(0.05)
        await scheduler.close()
        assert scheduler.pending() == []
        await asyncio.sleep(0.3)

    asyncio.run(main())
    assert fired == ["first"]


def test_closing_says_how_many_reminders_not_yet_due_are_dropped(caplog) -> None:
    async def handler(reminder: ReminderScheduled, sender_id: str, channel) -> None:
        raise AssertionError("no reminder fires after the close")

    scheduler = ReminderScheduler(handler)

    async def main() -> None:
        for name in ("a", "b"):
            scheduler.schedule(ReminderScheduled(intent="x", date_time=soon(60), name=name),
                               "kim")
        await scheduler.close()

    with caplog.at_level(logging.WARNING, logger="dialogflowlite.dialogue.reminders"):
        asyncio.run(main())
    # the stop said nothing of them, and a restart does not fire them
    assert "2 reminder(s) not yet due are dropped" in caplog.text
