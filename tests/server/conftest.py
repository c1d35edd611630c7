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
def agent(tiny_model: Path) -> Any:
    """The tiny bot loaded with in-memory stores."""
    from dialogflowlite.agent import Agent
    from dialogflowlite.stores.memory import MemoryLockStore, MemoryTrackerStore

    return Agent.load(tiny_model, tracker_store=MemoryTrackerStore(),
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


