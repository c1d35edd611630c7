"""Fixtures of the server tests: the tiny bot trained once, agents and apps around it."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from plain_data import train_model, with_model
from serving_helpers import (
    OTHER_GREETING,
    CallbackReceiver,
    train_tiny_bot_greeting,
    write_tiny_project,
)


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory) -> Path:
    """The tiny bot trained once per test session; the model file's path."""
    return train_model(write_tiny_project(tmp_path_factory.mktemp("tinybot")))


@pytest.fixture
def tiny_project(tmp_path: Path, tiny_model: Path) -> Path:
    """A fresh copy of the tiny project with the trained model under models/."""
    return with_model(write_tiny_project(tmp_path / "bot"), tiny_model)


@pytest.fixture(scope="module")
def other_model(tmp_path_factory) -> Path:
    """The tiny bot answering ``/greet`` with :data:`serving_helpers.OTHER_GREETING`."""
    return train_tiny_bot_greeting(tmp_path_factory.mktemp("other-bot"), OTHER_GREETING)


@pytest.fixture
def two_workers(tiny_project: Path, other_model: Path, monkeypatch) -> tuple[Any, Any]:
    """Two apps built as the worker processes of one ``run --workers 2`` build theirs,
    serving the tiny bot, with ``other_model`` copied to ``models/other.tar``."""
    from dialogflowlite.server import workers
    from dialogflowlite.server.app import ServerConfig, create_app

    monkeypatch.setattr(workers, "in_worker_process", lambda: True, raising=False)
    monkeypatch.setenv("DFL_SERVER_RUN_ID", "run-under-test")
    shutil.copy(other_model, tiny_project / "models" / "other.tar")
    first = next(p for p in (tiny_project / "models").glob("*.tar") if p.name != "other.tar")

    def worker() -> Any:
        return create_app(ServerConfig(project=str(tiny_project), model_path=str(first),
                                       enable_api=True, credentials={}, endpoints={},
                                       workers=2))

    return worker(), worker()


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


@pytest.fixture
def callback_receiver() -> Iterator[CallbackReceiver]:
    """A callback URL that records the replies posted to it, closed after the test."""
    with CallbackReceiver() as receiver:
        yield receiver


@pytest.fixture
def telegram_api() -> Iterator[Any]:
    """A stand-in Telegram Bot API server that records what the bot sends."""
    from test_telegram_channel import BotApi

    found = BotApi()
    try:
        yield found
    finally:
        found.close()


@pytest.fixture
def failing_reply_hook(register_plugin) -> Any:
    """A ``dfl_replies_outgoing`` plugin whose service cannot be reached."""
    from dialogflowlite import hookimpl

    class FailingReplyHook:
        calls = 0

        @hookimpl
        def dfl_replies_outgoing(self, sender_id: str, replies: list[dict[str, Any]]) -> None:
            self.calls += 1
            raise ConnectionError("the masking service cannot be reached")

    plugin = FailingReplyHook()
    register_plugin(plugin, "failing-replies")
    return plugin
