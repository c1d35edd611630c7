"""Interactive export leftovers: a message still being corrected when an export is
completed, and the note on files outside the session's training data (``--data``)."""

from __future__ import annotations

import importlib.util
import sys
import textwrap
from pathlib import Path

import pytest
from scripted_prompt import ScriptedPrompt

from dialogflowlite.agent import Agent
from dialogflowlite.dialogue.interactive import InteractiveSession
from dialogflowlite.dialogue.interactive_export import export_conversations
from dialogflowlite.io.loader import ProjectSources, load_project
from dialogflowlite.shared.events import ActionExecuted, UserUttered

DOMAIN = """\
version: "3.1"
intents: [greet, book]
responses:
  utter_greet:
    - text: "Hello!"
"""


def _dialogue_doubles():
    """``tests/dialogue/dialogue_doubles.py`` (its folder is not on the import path here)."""
    if "dialogue_doubles" not in sys.modules:
        path = Path(__file__).resolve().parents[1] / "dialogue" / "dialogue_doubles.py"
        spec = importlib.util.spec_from_file_location("dialogue_doubles", path)
        module = importlib.util.module_from_spec(spec)
        sys.modules["dialogue_doubles"] = module
        spec.loader.exec_module(module)
    return sys.modules["dialogue_doubles"]


def _write(root: Path, files: dict[str, str]) -> Path:
    for relative, text in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text), encoding="utf-8")
    return root


@pytest.fixture
def session_for():
    """``session_for(root, answers)``: a session on the greeting bot of ``root``."""
    doubles = _dialogue_doubles()
    sessions = []

    def build(root: Path, answers: list) -> InteractiveSession:
        domain = load_project(root).domain
        agent = Agent(domain, policies=doubles.simple_rules({"greet": ["utter_greet"]}),
                      responder=doubles.FakeResponder(domain))
        session = InteractiveSession(agent, ScriptedPrompt(answers), root)
        sessions.append(session)
        return session

    yield build
    for session in sessions:
        session.close()


def _said(text: str, intent: str) -> list:
    parse = {"intent": {"name": intent, "confidence": 1.0}, "entities": []}
    return [ActionExecuted(name="action_listen"), UserUttered(text=text, parse_data=parse)]


def test_an_export_completed_at_a_messages_question_says_the_message_is_left_out(
        tmp_path: Path, session_for) -> None:
    root = _write(tmp_path, {"domain.yml": DOMAIN})
    # /export at the intent question of 'hello there', its three questions answered
    session = session_for(root, ["/greet", "", "", "", "hello there", "/export", "", "", ""])
    report = session.run()
    assert "'hello there' is not in the export: it was still being corrected." in (
        session.prompt.lines)
    assert report.stories == 1
    assert "hello there" not in (root / "data" / "stories.yml").read_text(encoding="utf-8")


def test_an_export_at_the_message_prompt_has_no_such_note(tmp_path: Path, session_for) -> None:
    root = _write(tmp_path, {"domain.yml": DOMAIN})
    session = session_for(root, ["/greet", "", "", "", "/export", "", "", ""])
    session.run()
    assert "still being corrected" not in session.prompt.text


def test_the_note_on_unread_files_names_the_sessions_data(tmp_path: Path) -> None:
    root = _write(tmp_path, {"domain.yml": DOMAIN, "other/nlu.yml": "nlu: []\n"})
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
