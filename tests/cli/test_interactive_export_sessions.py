"""Where the interactive export puts the domain additions: the domain that training
reads, with the session's ``--domain``, a config's importers, a plain ``domain``
file or an empty ``domain/`` folder; a message whose questions an export
interrupted or completed; the note on files outside the session's training
data (``--data``, a config's importers); and how often an export reads the project."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest
from plain_data import write_files
from scripted_prompt import ScriptedPrompt

from dialogflowlite.agent import Agent
from dialogflowlite.dialogue import interactive_export
from dialogflowlite.dialogue.interactive import InteractiveSession
from dialogflowlite.dialogue.interactive_export import (
    default_domain_file,
    domain_path_problem,
    export_conversations,
)
from dialogflowlite.io.loader import ProjectSources, load_project
from dialogflowlite.shared.events import ActionExecuted, UserUttered


def _dialogue_doubles():
    """``tests/dialogue/dialogue_doubles.py`` (its folder is not on the import path here)."""
    if "dialogue_doubles" not in sys.modules:
        path = Path(__file__).resolve().parents[1] / "dialogue" / "dialogue_doubles.py"
        spec = importlib.util.spec_from_file_location("dialogue_doubles", path)
        module = importlib.util.module_from_spec(spec)
        sys.modules["dialogue_doubles"] = module
        spec.loader.exec_module(module)
    return sys.modules["dialogue_doubles"]


DOMAIN = """\
version: "3.1"
intents: [greet, book]
responses:
  utter_greet:
    - text: "Hello!"
"""


@pytest.fixture
def session_for():
    """``session_for(root, answers, sources)``: a session on the greeting bot of ``root``."""
    doubles = _dialogue_doubles()
    sessions = []

    def build(root: Path, answers: list, sources: ProjectSources | None = None
              ) -> InteractiveSession:
        domain = load_project(root, sources=sources).domain
        agent = Agent(domain, policies=doubles.simple_rules({"greet": ["utter_greet"]}),
                      responder=doubles.FakeResponder(domain))
        session = InteractiveSession(agent, ScriptedPrompt(answers), root, sources=sources)
        sessions.append(session)
        return session

    yield build
    for session in sessions:
        session.close()


def _said(text: str, intent: str) -> list:
    parse = {"intent": {"name": intent, "confidence": 1.0}, "entities": []}
    return [ActionExecuted(name="action_listen"), UserUttered(text=text, parse_data=parse)]


# a new intent typed at the intent question, then the three export questions
NEW_INTENT = ["/greet", "", "", "", "so so", "mood_meh", "", "", "", "", "/export"]


def test_a_domain_folder_given_to_the_session_takes_answers_in_it(tmp_path: Path,
                                                                   session_for) -> None:
    root = write_files(tmp_path, {"domains/main.yml": DOMAIN})
    sources = ProjectSources(domain=root / "domains")
    # the project's own places are not read when --domain names the folder
    assert default_domain_file(root, sources) == root / "domains" / "interactive_domain.yml"
    assert domain_path_problem("domains/learnt.yml", root, "domains/interactive_domain.yml",
                               sources=sources) is None
    session = session_for(root, [*NEW_INTENT, "", "", "domains/learnt.yml"], sources)
    report = session.run()
    assert "is not read as the project's domain" not in session.prompt.text
    assert report.domain_file == root / "domains" / "learnt.yml"
    assert not (root / "domain.yml").exists()
    assert "mood_meh" in load_project(root, sources=sources).domain.intents


def test_a_domain_file_given_to_the_session_refuses_the_projects_own(tmp_path: Path) -> None:
    root = write_files(tmp_path, {"custom.yml": DOMAIN, "domain.yml": DOMAIN})
    problem = domain_path_problem("domain.yml", root, "custom.yml",
                                  sources=ProjectSources(domain="custom.yml"))
    assert problem == (
        "domain.yml is not read as the project's domain, so training would not see what is "
        "added to it: the project reads its domain from custom.yml. Give a file it reads, "
        "e.g. custom.yml.")
    assert domain_path_problem("domain.yml", root, "custom.yml") is None


def test_the_domain_an_importer_names_is_the_default(tmp_path: Path) -> None:
    root = write_files(tmp_path, {
        "bot_domain.yml": DOMAIN,
        "config.yml": """\
            importers:
              - name: RasaFileImporter
                domain_path: bot_domain.yml
            """})
    assert default_domain_file(root) == root / "bot_domain.yml"
    report = export_conversations(root, [_said("so so", "mood_meh")])
    assert report.domain_file == root / "bot_domain.yml"
    assert not (root / "domain.yml").exists()
    assert "mood_meh" in load_project(root).domain.intents


def test_a_domain_file_without_a_suffix_is_the_default(tmp_path: Path) -> None:
    root = write_files(tmp_path, {"domain": DOMAIN})
    assert default_domain_file(root) == root / "domain"
    export_conversations(root, [_said("so so", "mood_meh")])
    assert not (root / "domain.yml").exists()
    assert "mood_meh" in load_project(root).domain.intents


def test_an_empty_domain_folder_is_no_domain_yet(tmp_path: Path) -> None:
    (tmp_path / "domain").mkdir()
    write_files(tmp_path, {"data/nlu.yml": "nlu: []\n"})
    offered = "domain/interactive_domain.yml"
    assert default_domain_file(tmp_path) == tmp_path / offered
    # nothing in the folder would be ignored: domain.yml becomes the domain
    assert domain_path_problem("domain.yml", tmp_path, offered) is None
    assert domain_path_problem("domain/learnt.yml", tmp_path, offered) is None
    assert "is not read as the project's domain" in domain_path_problem(
        "data/domain.yml", tmp_path, offered)


def test_a_cancelled_export_goes_back_to_the_message_being_corrected(tmp_path: Path,
                                                                       session_for) -> None:
    root = write_files(tmp_path, {"domain.yml": DOMAIN})
    # /export at the intent question of 'hello there', Ctrl-C at its first question
    session = session_for(root, ["/greet", "", "", "", "hello there", "/export",
                                 KeyboardInterrupt(), "1", "", "", "", "/export", "", "", ""])
    report = session.run()
    assert "Export cancelled: nothing was written. Back to 'hello there'." in (
        session.prompt.lines)
    assert session.prompt.text.count("Which intent is 'hello there'?") == 2
    assert (report.stories, report.examples) == (1, 1)
    assert [(m.text, m.intent) for m in load_project(root).nlu.examples] == [
        ("hello there", "greet")]


def test_validate_takes_only_what_the_loader_read_as_the_domain(tmp_path: Path) -> None:
    from dialogflowlite.io.validate import unreadable_files

    # with --data ., domain/x.yml is read (and fails) as training data, not as the domain
    root = write_files(tmp_path, {"domain.yml": DOMAIN, "domain/x.yml": "intents: [x\n",
                                  "data/nlu.yml": "nlu: []\n"})
    project = load_project(root, strict=False,
                           sources=ProjectSources(domain="nowhere.yml", data=(str(root),)))
    broken = (root / "domain" / "x.yml").resolve()
    domain, data = unreadable_files(project)
    assert [project.file_of(problem) for problem in data] == [broken]
    assert broken not in [project.file_of(problem) for problem in domain]


def test_an_export_completed_at_a_messages_question_says_the_message_is_left_out(
        tmp_path: Path, session_for) -> None:
    root = write_files(tmp_path, {"domain.yml": DOMAIN})
    # /export at the intent question of 'hello there', its three questions answered
    session = session_for(root, ["/greet", "", "", "", "hello there", "/export", "", "", ""])
    report = session.run()
    assert "'hello there' is not in the export: it was still being corrected." in (
        session.prompt.lines)
    assert report.stories == 1
    assert "hello there" not in (root / "data" / "stories.yml").read_text(encoding="utf-8")


def test_an_export_at_the_message_prompt_has_no_such_note(tmp_path: Path, session_for) -> None:
    root = write_files(tmp_path, {"domain.yml": DOMAIN})
    session = session_for(root, ["/greet", "", "", "", "/export", "", "", ""])
    session.run()
    assert "still being corrected" not in session.prompt.text


def test_the_note_on_unread_files_names_the_sessions_data(tmp_path: Path) -> None:
    root = write_files(tmp_path, {"domain.yml": DOMAIN, "other/nlu.yml": "nlu: []\n"})
    sources = ProjectSources(data=("other",))
    conversation = _said("hello there", "greet")
    # written into the session's --data folder: training reads it, no note
    inside = export_conversations(root, [conversation], stories_file="other/stories.yml",
                                  nlu_file="other/new_nlu.yml", sources=sources)
    assert not any("training does not read" in note for note in inside.notes)
    # written to data/, which a --data other session does not read
    outside = export_conversations(root, [_said("hi again", "greet")],
                                   stories_file="data/stories.yml",
                                   nlu_file="data/new_nlu.yml", sources=sources)
    unread = [note for note in outside.notes if "training does not read" in note]
    assert len(unread) == 2
    assert all("is outside other/," in note for note in unread)


def test_an_export_reads_the_project_once(tmp_path: Path, session_for, monkeypatch) -> None:
    root = write_files(tmp_path, {"domain.yml": DOMAIN})
    # two domain answers refused, then Enter keeps the default
    session = session_for(root, [*NEW_INTENT, "", "", "data/domain.yml", "bot.yml", ""])
    loads = []
    real_load = interactive_export.load_project

    def counted_load(*args, **kwargs):
        loads.append(args)
        return real_load(*args, **kwargs)

    monkeypatch.setattr(interactive_export, "load_project", counted_load)
    report = session.run()
    assert session.prompt.text.count("is not read as the project's domain") == 2
    assert report.domain_file == root / "domain.yml"
    # it was read for the default, for each answer checked and again to write: 4 times
    assert len(loads) == 1


IMPORTER_CONFIG = """\
    importers:
      - name: RasaFileImporter
        training_data_paths: [nlu_data, stories.yml]
    """


def test_the_note_on_unread_files_follows_the_importers_training_data(tmp_path: Path) -> None:
    root = write_files(tmp_path, {"domain.yml": DOMAIN, "config.yml": IMPORTER_CONFIG,
                                  "nlu_data/nlu.yml": "nlu: []\n",
                                  "stories.yml": "stories: []\n"})
    # the importer's folder and file are what training reads: no note (it said both were
    # outside data/)
    inside = export_conversations(root, [_said("hello there", "greet")],
                                  stories_file="stories.yml", nlu_file="nlu_data/new_nlu.yml")
    assert not any("training does not read" in note for note in inside.notes)
    assert "hello there" in [m.text for m in load_project(root).nlu.examples]
    # data/, which the importer replaces, is not read
    outside = export_conversations(root, [_said("hi again", "greet")])
    unread = [note for note in outside.notes if "training does not read" in note]
    assert len(unread) == 2
    assert all("is outside nlu_data/, stories.yml," in note for note in unread)
    assert "hi again" not in [m.text for m in load_project(root).nlu.examples]


def test_the_note_on_unread_files_knows_the_imported_projects(tmp_path: Path) -> None:
    root = write_files(tmp_path, {
        "bot/domain.yml": DOMAIN,
        "bot/config.yml": "importers:\n  - name: MultiProjectImporter\nimports: [../shared]\n",
        "shared/data/nlu.yml": "nlu: []\n"}) / "bot"
    shared = root.parent / "shared"
    read = export_conversations(root, [_said("hello there", "greet")],
                                stories_file=shared / "data" / "stories.yml",
                                nlu_file=shared / "more_nlu.yml")
    assert not any("training does not read" in note for note in read.notes)
    assert "hello there" in [m.text for m in load_project(root).nlu.examples]
    # an imported project's tests are not training data
    unread = export_conversations(root, [_said("hi again", "greet")],
                                  stories_file=shared / "tests" / "test_stories.yml",
                                  nlu_file=shared / "tests" / "nlu.yml")
    notes = [note for note in unread.notes if "training does not read" in note]
    assert len(notes) == 2
    assert all("is outside data/," in note for note in notes)
    assert "hi again" not in [m.text for m in load_project(root).nlu.examples]
