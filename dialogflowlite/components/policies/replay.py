"""Replaying written conversations against trained policies.

Each action of a story, rule or test story is predicted from the events
before it, then the written events are applied, whatever was predicted (as
Rasa's story tests do). When the active loop is predicted but the story runs
something else, the loop would have rejected its execution at run time, so a
rejection is added and the action predicted again.

Used to check that policies reproduce their training data and by story
tests.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from dialogflowlite.components.policies.ensemble import ActionPrediction, PolicyEnsemble
from dialogflowlite.components.policies.states import RULE_SNIPPET_ACTION
from dialogflowlite.errors import Position
from dialogflowlite.shared.domain import Domain
from dialogflowlite.shared.events import ActionExecuted, ActionExecutionRejected, ActiveLoop, Event
from dialogflowlite.shared.story_paths import StoryPath
from dialogflowlite.shared.tracker import DialogueStateTracker


@dataclass
class ReplayedAction:
    """One action of a replayed conversation: what was written and what was predicted."""

    expected: str
    predicted: ActionPrediction
    position: Position | None = None

    @property
    def correct(self) -> bool:
        return self.predicted.action_name == self.expected


def predict_like_story(ensemble: PolicyEnsemble, tracker: DialogueStateTracker,
                       domain: Domain, expected: str) -> ActionPrediction:
    """Predict the next action; a loop predicted instead of ``expected`` rejects first."""
    prediction = ensemble.predict_next_action(tracker, domain)
    loop = tracker.active_loop_name
    if prediction.action_name != expected and loop and prediction.action_name == loop:
        tracker.update(ActionExecutionRejected(name=loop))
        prediction = ensemble.predict_next_action(tracker, domain)
    return prediction


def replay_events(ensemble: PolicyEnsemble, events: Sequence[Event], domain: Domain, *,
                  positions: Sequence[Position | None] | None = None,
                  skip_first: bool = False, sender_id: str = "replay") -> list[ReplayedAction]:
    """Predict every action of ``events``; ``skip_first`` leaves the first action out."""
    tracker = DialogueStateTracker.for_domain(sender_id, domain)
    replayed: list[ReplayedAction] = []
    skip = skip_first
    for index, event in enumerate(events):
        if isinstance(event, ActionExecuted):
            if event.name == RULE_SNIPPET_ACTION:
                skip = True
                continue
            if skip:
                skip = False
            else:
                prediction = predict_like_story(ensemble, tracker, domain, event.name)
                where = positions[index] if positions else None
                replayed.append(ReplayedAction(event.name, prediction, where))
        tracker.update(event)
    return replayed


def replay_path(ensemble: PolicyEnsemble, path: StoryPath, domain: Domain) -> list[ReplayedAction]:
    """Replay a story or rule path.

    A rule starts from its conditions. The first action of a path is not
    predicted (it follows an unknown history, or it is the ``action_listen``
    a conversation starts with), as in Rasa's story tests.
    """
    events: list[Event] = list(path.events)
    positions: list[Position | None] = list(path.event_positions) or [None] * len(events)
    if path.kind == "rule":
        head = [e for e in path.condition if not (isinstance(e, ActiveLoop) and e.name is None)]
        events = head + events
        positions = [path.position] * len(head) + positions
    return replay_events(ensemble, events, domain, positions=positions, skip_first=True)
