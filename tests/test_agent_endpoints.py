"""``Agent.load(endpoints=...)`` reads endpoints.yml as ``run`` does: a file of the wrong
shape is named at file:line, and ``${VARIABLE}`` references are replaced."""

from __future__ import annotations

from pathlib import Path

import pytest

from dialogflowlite.agent import read_endpoints
from dialogflowlite.errors import ConfigError
from dialogflowlite.server.app import ServerConfig


@pytest.mark.parametrize(("text", "line", "found"), [
    ("# settings\n\n- action_endpoint\n- tracker_store\n", 3, "a list"),
    ("# settings\n\njust text\n", 3, "the value 'just text'"),
])
def test_a_file_that_is_no_mapping_is_named_at_its_line(tmp_path: Path, text: str, line: int,
                                                        found: str) -> None:
    path = tmp_path / "endpoints.yml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as error:
        read_endpoints(path)
    # before: "<path> must be a mapping of endpoint names to settings", with no line
    assert error.value.position is not None
    assert (error.value.position.file, error.value.position.line) == (str(path), line)
    assert f"found {found}" in error.value.message
    # the same error as `run` gives for the same file
    with pytest.raises(ConfigError) as served:
        ServerConfig(project=str(tmp_path)).read_endpoints()
    assert served.value.render() == error.value.render()


def test_variables_are_replaced(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DFL_TEST_ACTIONS_URL", "http://actions:5055/webhook")
    path = tmp_path / "endpoints.yml"
    path.write_text("action_endpoint:\n  url: ${DFL_TEST_ACTIONS_URL}\n", encoding="utf-8")
    # as Rasa reads endpoints.yml (before: the text `${DFL_TEST_ACTIONS_URL}` itself)
    assert read_endpoints(path) == {"action_endpoint": {"url": "http://actions:5055/webhook"}}
