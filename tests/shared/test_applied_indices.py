"""applied_indices gives the straightforward replay's answer, in linear time.

The reference below is the plain replay: at every loop run it rescans what it
has kept, which is quadratic in a long conversation. The function under test
must agree with it on every conversation; random conversations (seeded) mix
every event kind the replay treats specially.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable, Iterator, Sequence

import pytest
from benchmark_scripts import load_benchmark

from dialogflowlite.shared.events import (
    ActionExecuted,
    ActionExecutionRejected,
    ActionReverted,
    ActiveLoop,
    BotUttered,
    Event,
    FollowupAction,
    LoopInterrupted,
    Restarted,
    SessionStarted,
    SlotSet,
    UserUtteranceReverted,
    UserUttered,
)
from dialogflowlite.shared.tracker import DialogueStateTracker, applied_indices

# the long conversations are the shapes benchmarks/tracker_replay.py times
tracker_replay = load_benchmark("tracker_replay")

# ------------------------------------------------------------ reference replay


def reference_applied_indices(events: Sequence[Event], keep_loop_turns: bool = False) -> list[int]:
    """The plain replay: rescans the kept events at every loop run."""
    loops = {e.name for e in events if isinstance(e, ActiveLoop) and e.name}
    kept: list[int] = []
    folded: dict[int, list[int]] = {}
    for index, event in enumerate(events):
        if isinstance(event, (Restarted, SessionStarted)):
            kept = []
        elif isinstance(event, ActionReverted):
            _ref_undo_until(ActionExecuted, kept, events)
        elif isinstance(event, UserUtteranceReverted):
            _ref_undo_until(UserUttered, kept, events)
            _ref_undo_until(ActionExecuted, kept, events)
        elif (isinstance(event, ActionExecuted) and event.name in loops
              and _ref_loop_runs_again(event.name, [events[i] for i in kept])):
            first_run, removed = _ref_undo_to_previous_loop_run(event.name, kept, events)
            folded.setdefault(first_run, []).extend([*removed, index])
        else:
            kept.append(index)
    if not keep_loop_turns:
        return kept
    return sorted(_ref_with_folded(kept, folded))


def _ref_with_folded(indices: Iterable[int], folded: dict[int, list[int]]) -> list[int]:
    found: list[int] = []
    for index in indices:
        found.append(index)
        if index in folded:
            found += _ref_with_folded(folded[index], folded)
    return found


def _ref_loop_runs_again(loop: str, kept: list[Event]) -> bool:
    next_action: str | None = None
    for event in reversed(kept):
        if isinstance(event, ActiveLoop) and event.name is None:
            return False
        if isinstance(event, ActionExecutionRejected) and event.name == loop:
            return False
        if isinstance(event, UserUttered) and next_action is not None and next_action != loop:
            return False
        if isinstance(event, ActionExecuted):
            if event.name == loop:
                return True
            next_action = event.name
    return False


def _ref_undo_to_previous_loop_run(loop: str, kept: list[int],
                                   events: Sequence[Event]) -> tuple[int, list[int]]:
    removed: list[int] = []
    position = len(kept) - 1
    while position >= 0:
        event = events[kept[position]]
        if isinstance(event, ActionExecuted) and event.name == loop:
            break
        if isinstance(event, (ActionExecuted, UserUttered)):
            removed.append(kept.pop(position))
        position -= 1
    return kept[position], removed[::-1]


def _ref_undo_until(kind: type[Event], kept: list[int], events: Sequence[Event]) -> None:
    while kept:
        if isinstance(events[kept.pop()], kind):
            return


# ------------------------------------------------------------ random conversations

LOOPS = ("form", "other_form")
ACTIONS = ("action_listen", "utter_ask", "utter_chitchat", "action_custom")


def _user(intent: str = "inform") -> UserUttered:
    return UserUttered(text=intent, parse_data={"intent": {"name": intent, "confidence": 1.0}})


def _random_event(rng: random.Random) -> Event:
    """One event, weighted towards loop runs, user turns and undo."""
    roll = rng.random()
    if roll < 0.25:
        return ActionExecuted(name=rng.choice(LOOPS))
    if roll < 0.40:
        return ActionExecuted(name=rng.choice(ACTIONS))
    if roll < 0.52:
        return _user(rng.choice(("inform", "chitchat")))
    if roll < 0.60:
        return SlotSet(name="city", value=rng.choice(("Rome", None)))
    if roll < 0.67:
        # a loop starts, ends (None), or has an empty name (not a loop, not an end)
        return ActiveLoop(name=rng.choice((*LOOPS, None, None, "")))
    if roll < 0.72:
        return ActionExecutionRejected(name=rng.choice((*LOOPS, "utter_ask")))
    if roll < 0.80:
        return ActionReverted()
    if roll < 0.88:
        return UserUtteranceReverted()
    if roll < 0.90:
        return rng.choice((Restarted(), SessionStarted()))
    return rng.choice((BotUttered(text="hi"), LoopInterrupted(is_interrupted=True),
                       FollowupAction(name="utter_ask")))


def _form_turns(rng: random.Random) -> list[Event]:
    """A happy-path form turn (sometimes an unhappy one) as real conversations have."""
    loop = rng.choice(LOOPS)
    turn: list[Event] = [ActionExecuted(name="action_listen"), _user()]
    if rng.random() < 0.3:
        turn += [ActionExecutionRejected(name=loop), ActionExecuted(name="utter_chitchat")]
    turn += [SlotSet(name="city", value="Rome"), ActionExecuted(name=loop), ActiveLoop(name=loop)]
    return turn


def random_conversation(rng: random.Random, length: int) -> list[Event]:
    """Single random events mixed with whole form turns, so loops really run again."""
    events: list[Event] = []
    while len(events) < length:
        if rng.random() < 0.3:
            events += _form_turns(rng)
        else:
            events.append(_random_event(rng))
    return events


@pytest.mark.parametrize("keep_loop_turns", [False, True])
def test_same_result_as_the_plain_replay_on_random_conversations(keep_loop_turns: bool) -> None:
    rng = random.Random(20240611)
    collapsed = 0
    for case in range(3000):
        events = random_conversation(rng, rng.randint(0, 80))
        expected = reference_applied_indices(events, keep_loop_turns)
        assert applied_indices(events, keep_loop_turns) == expected, f"case {case}: {events}"
        collapsed += expected != reference_applied_indices(events, not keep_loop_turns)
    # the conversations do exercise collapsing (the two modes differ only there)
    assert collapsed > 300


def test_same_result_on_nested_undo_of_collapsed_loop_runs() -> None:
    # two loops that collapse, then undo and rewind reaching back across both
    events: list[Event] = [
        ActiveLoop(name="form"), ActionExecuted(name="form"),
        ActionExecuted(name="action_listen"), _user(), ActionExecuted(name="form"),
        ActiveLoop(name="other_form"), ActionExecuted(name="other_form"),
        ActionExecuted(name="action_listen"), _user(), ActionExecuted(name="other_form"),
        ActionExecuted(name="form"), SlotSet(name="city", value="Rome"),
        ActionExecuted(name="other_form"), UserUtteranceReverted(), ActionReverted(),
        ActionExecuted(name="action_listen"), _user(), ActionExecuted(name="form"),
        UserUtteranceReverted(), UserUtteranceReverted(),
    ]
    for end in range(len(events) + 1):
        for keep in (False, True):
            assert (applied_indices(events[:end], keep)
                    == reference_applied_indices(events[:end], keep)), (end, keep)


# ------------------------------------------------------------ linear time


class CountedEvents(Sequence[Event]):
    """A conversation that counts how often its events are looked at."""

    def __init__(self, events: list[Event]) -> None:
        self.events = events
        self.reads = 0

    def __len__(self) -> int:
        return len(self.events)

    def __getitem__(self, index: int) -> Event:  # type: ignore[override]
        self.reads += 1
        return self.events[index]

    def __iter__(self) -> Iterator[Event]:
        for event in self.events:
            self.reads += 1
            yield event


def form_chat_then_rewinds(size: int) -> list[Event]:
    events: list[Event] = []
    while len(events) < size // 2:
        events += [ActionExecuted(name="action_listen"), _user(), ActionExecuted(name="form"),
                   ActiveLoop(name="form"), SlotSet(name="city", value="Rome")]
    while len(events) < size:
        events += [UserUtteranceReverted(), ActionReverted()]
    return events[:size]


#: builds a conversation of the given number of events
Conversation = Callable[[int], list[Event]]
#: the shapes the benchmark times, and a form chat whose turns are all undone at the end
WORST_CASES: list[Conversation] = [*tracker_replay.CASES.values(), form_chat_then_rewinds]
#: event reads allowed per event: a linear replay reads each a few times
READS_PER_EVENT = 10


@pytest.mark.parametrize("build", WORST_CASES)
def test_a_long_conversation_reads_each_event_a_few_times(build: Conversation) -> None:
    events = CountedEvents(build(20_000))
    indices = applied_indices(events, keep_loop_turns=True)
    assert indices == sorted(set(indices))
    assert events.reads <= READS_PER_EVENT * len(events)
    events.reads = 0
    applied_indices(events)
    assert events.reads <= READS_PER_EVENT * len(events)


@pytest.mark.parametrize("build", [tracker_replay.form_runs_between_slots,
                                   tracker_replay.undone_form_runs,
                                   tracker_replay.rewinds_after_history])
def test_the_plain_replay_would_not_pass_the_read_bound(build: Conversation) -> None:
    # what makes the bound above meaningful: a rescanning replay exceeds it at a tenth the size
    events = CountedEvents(build(2_000))
    reference_applied_indices(events)
    assert events.reads > READS_PER_EVENT * len(events)


# ------------------------------------------------------------ trackers built in one go


def _one_by_one(events: Sequence[Event]) -> DialogueStateTracker:
    tracker = DialogueStateTracker("ann")
    for event in events:
        tracker.update(event)
    return tracker


def test_a_tracker_built_from_events_has_the_state_of_one_updated_event_by_event() -> None:
    rng = random.Random(20261203)
    reverted = 0
    for case in range(1500):
        events = random_conversation(rng, rng.randint(0, 60))
        expected = _one_by_one(events)
        built = DialogueStateTracker("ann", events=events)
        assert built.current_state() == expected.current_state(), f"case {case}: {events}"
        assert built.events == expected.events
        extended = DialogueStateTracker("ann", events=events[:len(events) // 2])
        extended.update_with_events(events[len(events) // 2:])
        assert extended.current_state() == expected.current_state(), f"case {case}: {events}"
        reverted += any(isinstance(e, (ActionReverted, UserUtteranceReverted)) for e in events)
    assert reverted > 800  # the cases do undo and rewind


def test_a_stored_conversation_with_many_undos_is_replayed_once(monkeypatch) -> None:
    replays = 0
    replay = DialogueStateTracker._replay

    def counted(self: DialogueStateTracker) -> None:
        nonlocal replays
        replays += 1
        replay(self)

    monkeypatch.setattr(DialogueStateTracker, "_replay", counted)
    events: list[Event] = []
    for _ in range(200):
        events += [ActionExecuted(name="action_listen"), _user(), UserUtteranceReverted()]
    DialogueStateTracker("ann", events=events)
    assert replays == 1
