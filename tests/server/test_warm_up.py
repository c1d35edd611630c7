"""Loading a model for serving parses throwaway messages first (tracing, buffers)."""

from __future__ import annotations

import logging
from pathlib import Path
from types import SimpleNamespace

import pytest

from dialogflowlite.server import models
from dialogflowlite.server.app import ServerConfig


class RecordingNlu:
    def __init__(self, error: Exception | None = None) -> None:
        self.batches: list[list[str]] = []
        self.error = error

    def parse_batch(self, texts):
        self.batches.append(list(texts))
        if self.error is not None:
            raise self.error
        return []


def test_warm_up_parses_one_message_alone_and_a_padded_batch() -> None:
    nlu = RecordingNlu()
    models.warm_up(SimpleNamespace(nlu=nlu))
    assert [len(batch) for batch in nlu.batches] == [1, 2]
    # two messages of different lengths: the batch needs padding (the other traced path)
    first, second = nlu.batches[1]
    assert len(first.split()) != len(second.split())


def test_a_failing_warm_up_is_logged_and_loading_goes_on(caplog) -> None:
    nlu = RecordingNlu(RuntimeError("no memory for buffers"))
    with caplog.at_level(logging.WARNING, logger="dialogflowlite.server.models"):
        models.warm_up(SimpleNamespace(nlu=nlu))
    assert "no memory for buffers" in caplog.text
    models.warm_up(SimpleNamespace(nlu=None))  # a model without NLU has nothing to warm


def test_the_server_warms_up_every_model_it_loads(
    tiny_project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    warmed = []
    monkeypatch.setattr(models, "warm_up", warmed.append)
    config = ServerConfig(project=str(tiny_project), credentials={}, endpoints={})
    agent, _ = models.load_server_agent(config)
    assert warmed == [agent]
