"""A domain or data file given as the config, and a file given as the project folder."""

from __future__ import annotations

from pathlib import Path

import pytest

from dialogflowlite.errors import ProjectNotFoundError
from dialogflowlite.io.loader import ProjectSources, load_project

DOMAIN = """
version: "3.1"
intents: [greet]
responses:
  utter_greet:
  - text: hi
"""


def test_a_domain_given_as_the_config_is_one_error_naming_it(write_project) -> None:
    root = write_project(domain=DOMAIN)
    project = load_project(root, strict=False,
                           sources=ProjectSources(config=root / "domain.yml"))
    errors = [p for p in project.problems if p.is_error]
    assert len(errors) == 1
    assert "domain.yml is no config file: it holds intents, responses" in errors[0].message
    assert "--config" in (errors[0].hint or "")
    # the keys of the domain are not reported one by one as unknown config keys
    assert not [p for p in project.problems if p.code == "DFL110"]


def test_a_config_with_only_a_version_is_the_default_config(write_project) -> None:
    root = write_project(domain=DOMAIN, config='version: "3.1"\n')
    project = load_project(root)
    assert not [p for p in project.problems if p.is_error]


def test_a_file_given_as_the_project_folder_is_named_as_a_file(tmp_path: Path) -> None:
    file = tmp_path / "config.yml"
    file.write_text("language: en\n")
    with pytest.raises(ProjectNotFoundError, match="is a file, not a folder"):
        load_project(file)
    with pytest.raises(ProjectNotFoundError, match="does not exist"):
        load_project(tmp_path / "nothere")
