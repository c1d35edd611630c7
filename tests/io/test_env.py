"""``${NAME}`` in endpoints.yml and credentials.yml, substituted when the files are read."""

from __future__ import annotations

from pathlib import Path

import pytest

from dialogflowlite.errors import ConfigError
from dialogflowlite.io.env import substitute_env
from dialogflowlite.io.yaml import read_yaml
from dialogflowlite.server.app import ServerConfig


def test_both_files_are_substituted_where_the_server_reads_them(tmp_path: Path,
                                                                 monkeypatch) -> None:
    monkeypatch.setenv("DFL_TEST_ACTION_HOST", "actions.internal")
    monkeypatch.setenv("DFL_TEST_DB_PASSWORD", "pa$${DFL_TEST_ACTION_HOST}")
    monkeypatch.setenv("DFL_TEST_SOCKET_KEY", "k" * 32)
    (tmp_path / "endpoints.yml").write_text(
        "action_endpoint:\n"
        "  url: http://${DFL_TEST_ACTION_HOST}:5055/webhook\n"
        "tracker_store:\n"
        "  type: SQL\n"
        "  dialect: postgresql\n"
        "  password: ${DFL_TEST_DB_PASSWORD}\n"
        "  port: 5432\n"
        "models:\n"
        "  url: ${DFL_TEST_ACTION_HOST}/models/${DFL_TEST_ACTION_HOST}.tar\n")
    (tmp_path / "credentials.yml").write_text(
        "rest:\n"
        "socketio:\n"
        "  jwt_key: ${DFL_TEST_SOCKET_KEY}\n"
        "  user_message_evt: [\"${DFL_TEST_ACTION_HOST}\"]\n")
    config = ServerConfig(project=str(tmp_path))
    endpoints = config.read_endpoints()
    assert endpoints["action_endpoint"]["url"] == "http://actions.internal:5055/webhook"
    # a value from the environment is taken as it is, never substituted again
    assert endpoints["tracker_store"]["password"] == "pa$${DFL_TEST_ACTION_HOST}"
    assert endpoints["tracker_store"]["port"] == 5432
    assert endpoints["models"]["url"] == "actions.internal/models/actions.internal.tar"
    credentials = config.read_credentials()
    assert credentials["socketio"]["jwt_key"] == "k" * 32
    assert credentials["socketio"]["user_message_evt"] == ["actions.internal"]
    assert credentials["rest"] is None


def test_an_unset_variable_names_the_file_line_and_key(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv("DFL_TEST_UNSET", raising=False)
    given = tmp_path / "prod-endpoints.yml"
    given.write_text("nlg:\n  url: http://nlg:6001\ntracker_store:\n  type: redis\n"
                     "  password: ${DFL_TEST_UNSET}\n")
    with pytest.raises(ConfigError) as error:
        ServerConfig(project=str(tmp_path), endpoints_file=str(given)).read_endpoints()
    assert "tracker_store.password uses ${DFL_TEST_UNSET}" in error.value.message
    assert "DFL_TEST_UNSET is not set" in error.value.message
    assert str(error.value.position) == f"{given}:5:13"
    assert "export DFL_TEST_UNSET" in str(error.value.hint)


def test_plain_data_and_text_without_variables_are_unchanged(monkeypatch) -> None:
    monkeypatch.setenv("DFL_TEST_HOST", "h")
    data = {"a": [1, "x-${DFL_TEST_HOST}-y", {"b": None}], "c": True, "d": "$HOME {x}"}
    assert substitute_env(data) == {"a": [1, "x-h-y", {"b": None}], "c": True,
                                    "d": "$HOME {x}"}
    node = read_yaml("list:\n  - ${DFL_TEST_UNSET_TOO}\n", "creds.yml")
    monkeypatch.delenv("DFL_TEST_UNSET_TOO", raising=False)
    with pytest.raises(ConfigError, match=r"list\[0\] uses \$\{DFL_TEST_UNSET_TOO\}"):
        substitute_env(node, "creds.yml")
