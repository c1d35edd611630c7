"""Settings errors name the file read and the line of the setting."""

from __future__ import annotations

from pathlib import Path

import pytest

from dialogflowlite.errors import ConfigError
from dialogflowlite.io.settings_errors import errors_located_in

ENDPOINTS = """\
# staging
action_endpoint:
  url: http://localhost:5055/webhook
tracker_store:
  type: sqlite
  dbb: x.db
nlg:
  url: http://localhost:6000/nlg
  timeoutt: 3
"""


@pytest.mark.parametrize(("raised", "line", "message"), [
    ("endpoints.yml tracker_store: SQLiteTrackerStore has no setting 'dbb'", 6,
     "tracker_store: SQLiteTrackerStore has no setting 'dbb'"),
    ("endpoints.yml nlg: unknown setting 'timeoutt'", 9, "nlg: unknown setting 'timeoutt'"),
    # no setting named: the section's line
    ("endpoints.yml nlg url 'ftp://x' is not an http(s) address", 7,
     "nlg url 'ftp://x' is not an http(s) address"),
])
def test_an_error_about_a_setting_is_placed_at_its_line_in_the_file_read(
        tmp_path: Path, raised: str, line: int, message: str) -> None:
    given = tmp_path / "staging.yml"
    given.write_text(ENDPOINTS, encoding="utf-8")
    with pytest.raises(ConfigError) as error, errors_located_in(given, "endpoints.yml"):
        raise ConfigError(raised, hint="see endpoints.yml")
    # it said "endpoints.yml tracker_store: ...", naming a file that was not read
    assert error.value.message == message
    assert (error.value.position.file, error.value.position.line) == (str(given), line)
    assert error.value.hint == f"see {given}"


def test_other_errors_and_errors_without_a_file_pass_unchanged(tmp_path: Path) -> None:
    given = tmp_path / "endpoints.yml"
    given.write_text(ENDPOINTS, encoding="utf-8")
    unrelated = ConfigError("the model folder is empty")
    with pytest.raises(ConfigError) as error, errors_located_in(given, "endpoints.yml"):
        raise unrelated
    assert error.value is unrelated
    about_endpoints = ConfigError("endpoints.yml nlg: unknown setting 'x'")
    with pytest.raises(ConfigError) as error, errors_located_in(None, "endpoints.yml"):
        raise about_endpoints
    assert error.value is about_endpoints


def test_a_setting_named_by_a_number_is_a_clear_error() -> None:
    from dialogflowlite.stores.base import create_tracker_store

    # YAML reads `5432: 1` with a number for its key: a TypeError in the did-you-mean
    with pytest.raises(ConfigError, match="has no setting 5432"):
        create_tracker_store({"type": "sql", 5432: 1})
