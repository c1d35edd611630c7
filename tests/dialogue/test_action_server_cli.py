"""``dialogflowlite run actions`` when rasa-sdk is missing: the ways out it names."""

from __future__ import annotations

import pytest

from dialogflowlite.cli import run_actions
from dialogflowlite.errors import ConfigError


def test_a_missing_rasa_sdk_names_where_an_older_one_runs(monkeypatch) -> None:
    # rasa-sdk before 3.20 pins Sanic below 23: installed beside the bot it would
    # replace the bot's Sanic, so the way out is an environment of its own
    monkeypatch.setattr(run_actions.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(ConfigError, match="rasa-sdk is not installed") as error:
        run_actions.check_rasa_sdk()
    hint = error.value.hint or ""
    assert "pip install rasa-sdk" in hint
    assert "older than 3.20" in hint and "virtual environment of its own" in hint
    assert "python -m rasa_sdk --actions actions" in hint
