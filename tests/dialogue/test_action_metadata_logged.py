"""A policy's ``action_metadata`` is logged as the metadata of its action's event (Rasa 3)."""

from __future__ import annotations

import asyncio

from dialogue_doubles import say

from dialogflowlite.shared.domain import ACTION_LISTEN
from dialogflowlite.shared.events import ActionExecuted

DOMAIN = """
version: "3.1"
intents: [greet]
responses:
  utter_greet:
  - text: Hello
"""

NOTE = {"query_intent": {"name": "greet", "severity": 2.5}}


def noting_ensemble():
    """A plugin-style policy that answers ``greet`` with ``utter_greet`` and a note on it."""
    from dialogflowlite.components.policies.base import Policy, PolicyPrediction
    from dialogflowlite.components.policies.ensemble import PolicyEnsemble

    class NotingPolicy(Policy):
        name = "NotingPolicy"

        def predict(self, tracker, domain):
            last = next(e for e in reversed(tracker.events) if isinstance(e, ActionExecuted))
            if last.name == ACTION_LISTEN and tracker.latest_intent == "greet":
                return self.prediction({"utter_greet": 1.0}, action_metadata=NOTE)
            if last.name == "utter_greet":
                return self.prediction({ACTION_LISTEN: 1.0})
            return PolicyPrediction.nothing(self)

    return PolicyEnsemble([NotingPolicy()])


def test_the_action_event_carries_the_policys_action_metadata(bot) -> None:
    processor = bot(DOMAIN, noting_ensemble())
    result = say(processor, "/greet")
    logged = {e.name: e.metadata for e in result.events if isinstance(e, ActionExecuted)}
    assert logged["utter_greet"] == NOTE
    # a prediction without action_metadata leaves the event's metadata empty
    assert logged[ACTION_LISTEN] == {}
    stored = asyncio.run(processor.tracker_store.retrieve("user"))
    as_json = [e for e in stored.current_state()["events"]
               if e["event"] == "action" and e["name"] == "utter_greet"]
    assert [e["metadata"] for e in as_json] == [NOTE]
