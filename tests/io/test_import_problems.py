"""Problems with ``importers:`` and ``imports:`` (their own code), how the files of
imported projects count when they cannot be read, and Rasa's ``test_`` files in
imported projects."""

from __future__ import annotations

from pathlib import Path

import pytest
from plain_data import write_files

from dialogflowlite.errors import ProjectImportError, ProjectValidationError
from dialogflowlite.io.loader import ProjectSources, load_project
from dialogflowlite.io.validate import validate_project

MULTI = "importers:\n  - name: MultiProjectImporter\n"
DOMAIN = """\
version: "3.1"
intents: [greet, bye]
responses:
  utter_greet:
    - text: hi
  utter_bye:
    - text: bye
"""
NLU = """\
version: "3.1"
nlu:
  - intent: greet
    examples: |
      - hello
      - hi there
"""
STORIES = """\
version: "3.1"
stories:
  - story: greeting
    steps:
      - intent: greet
      - action: utter_greet
"""
TEST_STORIES = """\
version: "3.1"
stories:
  - story: a test
    steps:
      - user: hello
        intent: greet
      - action: utter_greet
"""
BROKEN = "stories: [oops\n"


def bot(tmp_path: Path, config: str, files: dict[str, str] | None = None) -> Path:
    """A root project with ``config``; ``bye`` has no example and ``utter_bye`` no story."""
    return write_files(tmp_path / "bot", {"config.yml": config, "domain.yml": DOMAIN,
                                          "data/nlu.yml": NLU, "data/stories.yml": STORIES,
                                          **(files or {})})


# ---------------------------------------------------------------- their own code


@pytest.mark.parametrize(("config", "severity", "line"), [
    (MULTI + "imports: [nowhere]\n", "error", 3),
    (MULTI + "imports:\n  - sub/data/nlu.yml\n", "error", 4),
    (MULTI + "imports: {sub: yes}\n", "error", 3),
    ("importers:\n  - name: MultiProjectImpoter\n", "error", 2),
    ("importers:\n  - name: my_package.DatabaseImporter\n", "error", 2),
    ("importers:\n  - version: 1\n", "error", 2),
    ("importers: MultiProjectImporter\n", "error", 1),
    ("importers:\n  - name: RasaFileImporter\n    domain_path: nowhere.yml\n", "error", 3),
    ("imports: [sub]\n", "warning", 1),
])
def test_import_problems_have_their_own_code(tmp_path, config, severity, line) -> None:
    root = bot(tmp_path, config, {"sub/data/nlu.yml": NLU})
    found = [p for p in load_project(root, strict=False).problems
             if p.code != "DFL110"]  # an unknown key is an unknown key, wherever it is
    assert [(p.code, p.severity, p.position.line) for p in found] == [
        (ProjectImportError.code, severity, line)], [str(p) for p in found]
    assert ProjectImportError.code == "DFL106"
    assert Path(found[0].position.file) == root / "config.yml"


def test_the_import_code_is_documented() -> None:
    docs = Path(__file__).parents[2] / "docs" / "validation.md"
    [row] = [line for line in docs.read_text(encoding="utf-8").splitlines()
             if line.startswith(f"| {ProjectImportError.code} |")]
    assert "imports:" in row and "importers:" in row


# ---------------------------------------------------------------- files that cannot be read


def _codes(root: Path, sources: ProjectSources | None = None) -> list[str]:
    return [p.code for p in validate_project(load_project(root, strict=False,
                                                          sources=sources))]


@pytest.mark.parametrize("broken", ["sub/config.yml", "sub/tests/test_stories.yml",
                                    "sub/data/test_stories.yml", "tests/stories.yml"])
def test_an_unreadable_config_or_test_file_hides_no_missing_data(tmp_path, broken) -> None:
    root = bot(tmp_path, MULTI + "imports: [sub]\n",
               {"sub/domain.yml": "intents: [sub_intent]\n", broken: BROKEN})
    codes = _codes(root)
    assert "DFL102" in codes
    # the checks for what the training data lacks still run: `bye` has no example,
    # `utter_bye` is sent by no story; no note says they were skipped
    assert {"DFL121", "DFL132"} <= set(codes)
    assert "DFL136" not in codes


def test_an_unreadable_config_given_on_the_command_line_hides_no_missing_data(
        tmp_path) -> None:
    root = bot(tmp_path, "language: en\n", {"other.yml": "pipeline: [\n"})
    codes = _codes(root, ProjectSources(config="other.yml"))
    assert "DFL102" in codes and "DFL121" in codes and "DFL136" not in codes


@pytest.mark.parametrize("broken", ["sub/data/stories.yml", "data/more.yml"])
def test_an_unreadable_training_data_file_still_skips_those_checks(tmp_path, broken) -> None:
    root = bot(tmp_path, MULTI + "imports: [sub]\n",
               {"sub/domain.yml": "intents: [sub_intent]\n", broken: BROKEN})
    codes = _codes(root)
    assert "DFL136" in codes
    assert "DFL121" not in codes and "DFL132" not in codes


@pytest.mark.parametrize(("broken", "text", "line", "kind"), [
    # by its top-level keys
    ("sub/more/chitchat.yml", "nlu:\n  - intent: [chitchat\n", 3, "data"),
    ("sub/extra/greetings.yml", "version: '3.1'\nintents: [greet\n", 3, "domain"),
    # by an indented key, as Rasa's line-wise test finds one
    ("sub/faq.yml", "version: '3.1'\n  nlu:\n  - [oops\n", 2, "data"),
    ("sub/skills/faq.yml", "responses:\n  utter_faq: [oops\n", 3, "domain"),
])
def test_an_imported_file_that_looks_like_data_or_domain_and_cannot_be_read_is_reported(
        tmp_path, broken, text, line, kind) -> None:
    # before, a file outside data/, tests/ and domain/ that could not be parsed was
    # skipped without a word, and its examples or declarations were missing
    root = bot(tmp_path, MULTI + "imports: [sub]\n",
               {"sub/domain.yml": "intents: [sub_intent]\n", broken: text})
    project = load_project(root, strict=False)
    [error] = project.errors
    assert (error.code, Path(error.position.file), error.position.line) == (
        "DFL102", root / broken, line)
    listed = project.training_files if kind == "data" else project.domain_files
    assert root / broken in listed
    [note] = [p for p in validate_project(project) if p.code == "DFL136"]
    assert ("training-data file" if kind == "data" else "domain file") in note.message


def test_an_imported_projects_other_files_stay_ignored_when_they_cannot_be_read(
        tmp_path) -> None:
    root = bot(tmp_path, MULTI + "imports: [sub]\n", {
        "sub/domain.yml": "intents: [sub_intent]\n",
        "sub/endpoints.yml": "action_endpoint: [oops\n",
        "sub/credentials.yml": "rest: [oops\n",
        "sub/docker/compose.yml": "services: [oops\n",
    })
    project = load_project(root)
    assert project.errors == []


@pytest.mark.parametrize("name", [
    "sub/docs/rules_of_thumb.yml", "sub/domain_knowledge.yml", "sub/mock/responses.yml",
    "sub/nlu_notes.yml", "sub/stories.yaml",
])
def test_an_imported_file_is_not_data_or_domain_by_its_name_alone(tmp_path, name) -> None:
    # before, a word of the name (rules, domain, responses, nlu, stories) made a broken
    # file an error, and strict loading (train, validate) failed over a notes file
    root = bot(tmp_path, MULTI + "imports: [sub]\n", {
        "sub/domain.yml": "intents: [sub_intent]\n",
        name: "title: notes\n- [oops\n  intent: greet\n",
    })
    project = load_project(root)
    assert project.errors == []
    assert root / name not in project.training_files + project.domain_files


def test_an_unreadable_imported_config_says_its_imports_are_not_followed(tmp_path) -> None:
    root = bot(tmp_path, MULTI + "imports: [sub]\n", {
        "sub/domain.yml": "intents: [sub_intent]\n",
        "sub/config.yml": "imports: [../other\n",
        "other/domain.yml": "intents: [other_intent]\n",
    })
    project = load_project(root, strict=False)
    [error] = project.errors
    assert error.code == "DFL102" and Path(error.position.file) == root / "sub/config.yml"
    assert error.message.startswith("invalid YAML: ")
    assert error.message.endswith("; its `imports:`, if any, are not followed: the projects "
                                  "they list are not read")
    assert "other_intent" not in project.domain.intents


# ---------------------------------------------------------------- Rasa's test_ files


def test_an_imported_projects_test_files_are_test_stories_wherever_they_lie(tmp_path) -> None:
    root = bot(tmp_path, MULTI + "imports: [sub]\n", {
        "sub/domain.yml": "intents: [sub_intent]\n",
        "sub/data/stories.yml": STORIES.replace("greeting", "sub story"),
        "sub/data/test_stories.yml": TEST_STORIES.replace("a test", "in data"),
        "sub/test_more.yml": TEST_STORIES.replace("a test", "at the top"),
        "sub/tests/conversations.yml": TEST_STORIES.replace("a test", "under tests"),
        # only stories make a test file: NLU data named test_ is trained on, as in Rasa
        "sub/data/test_nlu.yml": NLU.replace("hello", "sub hello"),
    })
    project = load_project(root)
    assert [s.name for s in project.stories] == ["greeting", "sub story"]
    assert sorted(s.name for s in project.test_stories) == ["at the top", "in data",
                                                            "under tests"]
    assert "sub hello" in {m.text for m in project.nlu.examples}
    test_files = {f.relative_to(root).as_posix() for f in project.test_files}
    assert test_files == {"sub/data/test_stories.yml", "sub/test_more.yml",
                          "sub/tests/conversations.yml"}


def test_the_projects_own_test_named_data_is_trained_on_as_in_rasa(tmp_path) -> None:
    # Rasa's RasaFileImporter reads every story file of the training data, a test_ one
    # too; `test` reads tests/
    root = bot(tmp_path, "language: en\n",
               {"data/test_stories.yml": TEST_STORIES.replace("a test", "in data")})
    project = load_project(root)
    assert [s.name for s in project.stories] == ["greeting", "in data"]
    assert project.test_stories == []


def test_an_unreadable_imported_test_file_stops_the_test(tmp_path) -> None:
    root = bot(tmp_path, MULTI + "imports: [sub]\n", {
        "sub/domain.yml": "intents: [sub_intent]\n",
        "sub/data/test_stories.yml": BROKEN,
    })
    project = load_project(root, strict=False)
    with pytest.raises(ProjectValidationError) as raised:
        project.check_test_files()
    [error] = raised.value.problems
    assert Path(error.position.file).name == "test_stories.yml"
