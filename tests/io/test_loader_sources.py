"""``ProjectSources``: other domain, data and config files (Rasa's --domain, --data, --config)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from dialogflowlite.cli.init import create_project
from dialogflowlite.errors import ProjectValidationError
from dialogflowlite.io.loader import ProjectSources, load_project

MARKDOWN_NLU = """## intent:greet
- hello there
- hi bot
"""


@pytest.fixture()
def project(tmp_path) -> Path:
    return create_project(tmp_path / "bot")


def test_no_sources_read_the_project_as_before(project) -> None:
    plain = load_project(project)
    same = load_project(project, sources=ProjectSources())
    assert same.domain.intents == plain.domain.intents
    assert len(same.nlu.examples) == len(plain.nlu.examples)
    assert len(same.stories) == len(plain.stories) > 0


def test_only_the_data_given_is_read(project, tmp_path) -> None:
    plain = load_project(project)
    loaded = load_project(project, sources=ProjectSources(data=("data/nlu.yml",)), strict=False)
    assert loaded.stories == [] and loaded.rules == []
    assert len(loaded.nlu.examples) < len(plain.nlu.examples)
    assert {m.intent for m in loaded.nlu.examples} <= set(plain.domain.intents)
    # a folder outside the project, with an older-format file in it, is read too
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    shutil.copy(project / "data" / "stories.yml", outside / "stories.yml")
    (outside / "nlu.md").write_text(MARKDOWN_NLU, encoding="utf-8")
    loaded = load_project(project, sources=ProjectSources(data=(str(outside),)), strict=False)
    assert len(loaded.stories) == len(plain.stories)
    assert {m.text for m in loaded.nlu.examples} == {"hello there", "hi bot"}
    assert any("data convert nlu" in (p.hint or "") for p in loaded.problems)


def test_another_domain_and_config_replace_the_projects(project, tmp_path) -> None:
    other = tmp_path / "other"
    other.mkdir()
    domain = (project / "domain.yml").read_text(encoding="utf-8")
    (other / "small_domain.yml").write_text(domain.replace("  - goodbye\n", "  - goodbye\n"
                                                           "  - extra_intent\n", 1),
                                            encoding="utf-8")
    (other / "cfg.yml").write_text('recipe: default.v1\nlanguage: de\npipeline: []\n'
                                   'policies: []\n', encoding="utf-8")
    loaded = load_project(project, sources=ProjectSources(domain=other / "small_domain.yml",
                                                          config=other / "cfg.yml"))
    assert "extra_intent" in loaded.domain.intents
    assert loaded.config.language == "de"


def test_a_missing_path_is_one_error_naming_the_option(project) -> None:
    with pytest.raises(ProjectValidationError) as error:
        load_project(project, sources=ProjectSources(domain="nowhere.yml",
                                                     data=("data/nlu.yml", "no_data")))
    text = str(error.value)
    assert "the domain nowhere.yml does not exist" in text and "--domain" in text
    assert "the training data no_data does not exist" in text and "--data" in text
