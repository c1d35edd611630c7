"""Time :func:`~dialogflowlite.shared.tracker.applied_indices` on long conversations.

Each case is a conversation shape that makes a naive replay rescan what it
has kept so far: a form whose runs are separated by slot events, a form run
undone (``undo``) over and over after a long history, rewinds (``rewind``)
after a long history, and an ordinary chat with a rewind now and then. The
table shows seconds per call, for growing numbers of events; a linear replay
keeps the time per event flat down each column.

    python benchmarks/tracker_replay.py
    python benchmarks/tracker_replay.py --sizes 5000 20000 --repeat 5
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

from dialogflowlite.shared.events import (
    ActionExecuted,
    ActionReverted,
    ActiveLoop,
    BotUttered,
    Event,
    SlotSet,
    UserUtteranceReverted,
    UserUttered,
)
from dialogflowlite.shared.tracker import applied_indices


def _user(intent: str) -> UserUttered:
    return UserUttered(text=intent, parse_data={"intent": {"name": intent, "confidence": 1.0}})


def form_runs_between_slots(size: int) -> list[Event]:
    """A form that runs again and again with a slot set before each run."""
    events: list[Event] = [ActionExecuted(name="form"), ActiveLoop(name="form")]
    while len(events) < size:
        events += [SlotSet(name="requested_slot", value="city"), ActionExecuted(name="form")]
    return events[:size]


def undone_form_runs(size: int) -> list[Event]:
    """Half the events are slots, then a form run undone (``undo``) over and over."""
    events: list[Event] = [ActiveLoop(name="form")]
    events += [SlotSet(name="city", value=str(i)) for i in range(size // 2)]
    while len(events) < size:
        events += [ActionExecuted(name="form"), ActionReverted()]
    return events[:size]


def rewinds_after_history(size: int) -> list[Event]:
    """Half the events are bot messages, then user turns rewound (``rewind``) one by one."""
    events: list[Event] = [ActiveLoop(name="form")]
    events += [BotUttered(text=str(i)) for i in range(size // 2)]
    while len(events) < size:
        events += [ActionExecuted(name="action_listen"), _user("inform"),
                   ActionExecuted(name="form"), UserUtteranceReverted()]
    return events[:size]


def chat_with_rewinds(size: int) -> list[Event]:
    """An ordinary chat through a form, with a rewind every few turns."""
    events: list[Event] = []
    turn = 0
    while len(events) < size:
        turn += 1
        events += [ActionExecuted(name="action_listen"), _user("inform"),
                   SlotSet(name="city", value=str(turn)), ActionExecuted(name="form"),
                   ActiveLoop(name="form"), BotUttered(text="next?")]
        if turn % 5 == 0:
            events += [ActionExecuted(name="action_listen"), _user("oops"),
                       UserUtteranceReverted()]
    return events[:size]


CASES: dict[str, Callable[[int], list[Event]]] = {
    "form runs between slots": form_runs_between_slots,
    "undone form runs": undone_form_runs,
    "rewinds after history": rewinds_after_history,
    "chat with rewinds": chat_with_rewinds,
}


def seconds(events: list[Event], keep_loop_turns: bool, repeat: int) -> float:
    """The best of ``repeat`` timings of one call."""
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        applied_indices(events, keep_loop_turns)
        best = min(best, time.perf_counter() - start)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[2500, 5000, 10000, 20000])
    parser.add_argument("--repeat", type=int, default=3, help="timings per cell (best is shown)")
    args = parser.parse_args()
    print(f"| case | keep_loop_turns | {' | '.join(f'{n} events' for n in args.sizes)} |")
    print(f"|---|---|{'---|' * len(args.sizes)}")
    for name, build in CASES.items():
        for keep in (False, True):
            cells = [f"{seconds(build(n), keep, args.repeat) * 1000:.1f} ms" for n in args.sizes]
            print(f"| {name} | {keep} | {' | '.join(cells)} |")


if __name__ == "__main__":
    main()
