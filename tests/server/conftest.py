"""Fixtures of the server tests: the tiny bot trained once, agents and apps around it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from serving_helpers import write_tiny_project


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory) -> Path:
    """The tiny bot trained once per test session; the model file's path."""
    from dialogflowlite.training.trainer import TrainOptions, train

    root = write_tiny_project(tmp_path_factory.mktemp("tinybot"))
    return train(root, options=TrainOptions(progress=False)).model_path


@pytest.fixture
def tiny_project(tmp_path: Path, tiny_model: Path) -> Path:
    """A fresh copy of the tiny project with the trained model under models/."""
    import shutil

    root = write_tiny_project(tmp_path / "bot")
    (root / "models").mkdir()
    shutil.copy(tiny_model, root / "models" / tiny_model.name)
    return root


@pytest.fixture
def agent(tmp_path_factory) -> Any:
    """TEMPORARY stand-in until dialogue training lands: real Agent, rule-like policy."""
    from dataclasses import dataclass

    from dialogflowlite.agent import Agent
    from dialogflowlite.io.loader import load_project
    from dialogflowlite.stores.memory import MemoryLockStore, MemoryTrackerStore

    @dataclass
    class Pred:
        action_name: str
        confidence: float = 1.0
        policy_name: str = "RulePolicy"
        probabilities: dict | None = None

    table = {"greet": "utter_greet", "goodbye": "utter_goodbye", "ask_choice": "utter_choice",
             "choose": "utter_chosen", "inform_email": "utter_noted", "slow": "action_slow"}

    class Rules:
        def predict_next_action(self, tracker, domain):
            from dialogflowlite.shared.events import ActionExecuted
            last = next((e.name for e in reversed(tracker.events)
                         if isinstance(e, ActionExecuted)), None)
            if last == "action_listen" and tracker.latest_intent in table:
                name = table[tracker.latest_intent]
            else:
                name = "action_listen"
            return Pred(name, probabilities={name: 0.9, "action_listen": 0.1}
                        if name != "action_listen" else {name: 1.0})

    root = write_tiny_project(tmp_path_factory.mktemp("standin"))
    domain = load_project(root).domain
    return Agent(domain, policies=Rules(), tracker_store=MemoryTrackerStore(),
                 lock_store=MemoryLockStore())


AppFactory = Callable[..., Any]


@pytest.fixture
def make_app(agent, tmp_path: Path) -> Iterator[AppFactory]:
    """``make_app(**config)`` -> a Sanic app serving the tiny bot (API on unless told)."""
    from dialogflowlite.server.app import ServerConfig, create_app

    def make(**settings: Any) -> Any:
        settings.setdefault("enable_api", True)
        settings.setdefault("credentials", {})
        settings.setdefault("endpoints", {})
        settings.setdefault("project", str(tmp_path))
        served = settings.pop("agent", None) or agent
        return create_app(ServerConfig(**settings), agent=served)

    yield make


