"""Stand-ins for the trained parts, so dialogue tests need no training.

``bot(domain_yaml, policy)`` builds a :class:`MessageProcessor` with:

* the domain read from YAML (through the real loader);
* a policy double: a function ``(tracker) -> action name`` (plus helpers that
  behave like simple rules: loops continue, actions end with ``action_listen``);
* a responder double that renders the first variation of a response with
  ``{slot}`` filled in;
* ``/intent{...}`` parsing (no NLU model).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from dialogflowlite.dialogue.messages import IncomingMessage
from dialogflowlite.dialogue.processor import MessageProcessor, TurnResult
from dialogflowlite.shared.domain import ACTION_LISTEN, Domain
from dialogflowlite.shared.events import ActionExecuted, ActionExecutionRejected, UserUttered
from dialogflowlite.shared.tracker import DialogueStateTracker


@dataclass
class FakePrediction:
    action_name: str
    confidence: float = 1.0
    policy_name: str = "TestPolicy"


class FakeResponder:
    """Renders the first variation of a response, filling ``{slot}`` placeholders."""

    def __init__(self, domain: Domain) -> None:
        self.domain = domain

    async def respond(self, action_name: str, tracker: DialogueStateTracker,
                      channel: str | None = None) -> list[dict] | None:
        response = self.domain.responses.get(action_name)
        if response is None or not response.variations:
            return None
        message = dict(response.variations[0])
        if message.get("text"):
            message["text"] = message["text"].format_map(_SlotValues(tracker.slots))
        return [message]


class _SlotValues(dict):
    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def last_action(tracker: DialogueStateTracker) -> str | None:
    for event in reversed(tracker.events):
        if isinstance(event, ActionExecuted):
            return event.name
    return None


def was_rejected(tracker: DialogueStateTracker) -> str | None:
    """The action rejected just now (the latest action-like event is a rejection)."""
    for event in reversed(tracker.events):
        if isinstance(event, ActionExecutionRejected):
            return event.name
        if isinstance(event, (ActionExecuted, UserUttered)):
            return None
    return None


class FunctionPolicy:
    """A policy double: ``choose(tracker, domain)`` names the next action."""

    def __init__(self, choose: Callable[[DialogueStateTracker, Domain], str]) -> None:
        self.choose = choose
        self.calls = 0

    def predict_next_action(self, tracker: DialogueStateTracker, domain: Domain) -> FakePrediction:
        self.calls += 1
        return FakePrediction(self.choose(tracker, domain))


def _actions_since_user(tracker: DialogueStateTracker) -> list[str]:
    """Actions the bot ran since the user's latest (not undone) message."""
    done: list[str] = []
    for event in reversed(tracker.applied_events()):
        if isinstance(event, UserUttered):
            break
        if isinstance(event, ActionExecuted):
            if event.name == ACTION_LISTEN:
                break
            done.insert(0, event.name)
    return done


def _next_in(sequence: list[str], done: list[str]) -> str:
    """The action after the part of ``sequence`` that ``done`` ends with."""
    for length in range(min(len(sequence), len(done)), 0, -1):
        if done[-length:] == sequence[:length]:
            return sequence[length] if length < len(sequence) else ACTION_LISTEN
    return sequence[0] if sequence else ACTION_LISTEN


def simple_rules(after_intent: dict[str, list[str]],
                 after_loop_done: dict[str, list[str]] | None = None,
                 on_rejection: dict[str, list[str]] | None = None) -> FunctionPolicy:
    """Rules like Rasa's RulePolicy, for tests.

    * ``after_intent[intent]``: the actions answering an intent (no loop active);
    * an active loop runs right after the user speaks, then the bot listens;
    * when the loop rejects, ``on_rejection[intent]`` answers and the loop runs again
      (no entry: the bot listens);
    * ``after_loop_done[loop]``: the actions after a loop that just ended.
    """
    after_loop_done = after_loop_done or {}
    on_rejection = on_rejection or {}

    def choose(tracker: DialogueStateTracker, domain: Domain) -> str:
        intent = tracker.latest_intent or ""
        done = _actions_since_user(tracker)
        loop = tracker.active_loop_name
        rejected = was_rejected(tracker)
        if rejected:
            answer = on_rejection.get(intent)
            return answer[0] if answer else ACTION_LISTEN
        if loop:
            if not done:
                return loop
            if done[-1] == loop:
                return ACTION_LISTEN
            answer = on_rejection.get(intent, [])
            following = _next_in(answer, done)
            return loop if following == ACTION_LISTEN else following
        finished = [name for name in done if name in domain.forms]
        if finished:
            after = done[done.index(finished[-1]) + 1:]
            return _next_in(after_loop_done.get(finished[-1], []), after) if after else (
                (after_loop_done.get(finished[-1]) or [ACTION_LISTEN])[0])
        return _next_in(after_intent.get(intent, []), done)

    return FunctionPolicy(choose)


def say(processor: MessageProcessor, text: str, sender: str = "user",
        **kwargs: Any) -> TurnResult:
    """Send one message and wait for the bot's turn."""
    return asyncio.run(processor.handle_message(IncomingMessage(text, sender, **kwargs)))


def texts(result: TurnResult) -> list[str]:
    return [m.get("text") for m in result.messages]


def action_names(result: TurnResult) -> list[str]:
    return [e.name for e in result.events if isinstance(e, ActionExecuted)]


#: what a custom action does when it runs: ``(dispatcher, tracker, domain) -> events``
ActionRun = Callable[[Any, Any, Any], list[dict[str, Any]]]


def actions_plugin(runs: dict[str, ActionRun]) -> object:
    """A plugin whose ``dfl_register_actions`` registers one custom action per name
    in ``runs``, each doing what its function does."""
    from dialogflowlite import hookimpl

    def action_class(action_name: str, run: ActionRun) -> type:
        class Action:
            def name(self) -> str:
                return action_name

            def run(self, dispatcher: Any, tracker: Any, domain: Any) -> list[dict[str, Any]]:
                return run(dispatcher, tracker, domain)

        return Action

    class Actions:
        @hookimpl
        def dfl_register_actions(self) -> list[type]:
            return [action_class(name, run) for name, run in runs.items()]

    return Actions()
