"""Small builders for the policy tests: events, trackers and trained policies."""

from __future__ import annotations

from typing import Any

from dialogflowlite.components.policies.base import Policy, PolicyContext, PolicyPrediction
from dialogflowlite.components.policies.training import training_paths
from dialogflowlite.io.loader import Project
from dialogflowlite.shared.domain import ACTION_LISTEN, Domain
from dialogflowlite.shared.events import ActionExecuted, Event, UserUttered
from dialogflowlite.shared.tracker import DialogueStateTracker

#: a config whose policies learn the stories and rules as written: memoization over
#: three turns, then rules
MEMOIZATION_CONFIG = """
language: en
policies:
  - name: AugmentedMemoizationPolicy
    max_history: 3
  - name: RulePolicy
"""


def user(intent: str | None, *entities: dict[str, Any], text: str | None = None,
         confidence: float = 1.0) -> UserUttered:
    """A user turn with an intent (or only text) and entities as dicts."""
    parse: dict[str, Any] = {"intent": {"name": intent, "confidence": confidence} if intent
                             else {}, "entities": list(entities)}
    return UserUttered(text=text or intent, parse_data=parse)


def act(name: str) -> ActionExecuted:
    return ActionExecuted(name=name)


def listen() -> ActionExecuted:
    return ActionExecuted(name=ACTION_LISTEN)


def said(intent: str, *entities: dict[str, Any]) -> list[Event]:
    """``action_listen`` followed by the user turn, as a live conversation records it."""
    return [listen(), user(intent, *entities)]


def tracker(domain: Domain, *events: Event) -> DialogueStateTracker:
    return DialogueStateTracker.for_domain("test", domain, list(events))


def trained(policy: Policy, project: Project, seed: int = 42) -> Policy:
    policy.train(training_paths(project), project.domain, PolicyContext(seed=seed,
                                                                       progress=False))
    return policy


def predict(policy: Policy, domain: Domain, *events: Event) -> PolicyPrediction:
    return policy.predict(tracker(domain, *events), domain)
