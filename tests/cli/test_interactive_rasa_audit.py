"""``dialogflowlite interactive`` writing into a Rasa author's own files.

Rasa's starter domain mixes two indentations (``intents:`` with indented
dashes, ``responses:`` with dashes under their key) and separates responses
with blank lines. A session that adds to such a file must leave every line
of it as it was and put the new entries where the author would.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import pytest
from keyword_bot import REGEX_CONFIG
from plain_data import added_lines, trained_copies, write_files

from dialogflowlite.cli.interactive import run_interactive
from dialogflowlite.io.loader import load_project

DOMAIN = """\
version: "2.0"

intents:
  - greet
  - goodbye

responses:
  utter_greet:
  - text: "Hey! How are you?"
    buttons:
    - title: "great"
      payload: "/goodbye"

  utter_cheer_up:
  - text: "Here is something to cheer you up:"
    image: "https://i.imgur.com/nGF1K8f.jpg"
    custom:
      kind: gif
      loop: true

  # said at the end
  utter_goodbye:
  - text: "Bye"

session_config:
  session_expiration_time: 60  # value in minutes
  carry_over_slots_to_new_session: true
"""

STORIES = """\
version: "2.0"
stories:
# the happy path
- story: happy path
  steps:
  - intent: greet
  - action: utter_greet

- story: leaving
  steps:
  - intent: goodbye
  - action: utter_goodbye
"""

PROJECT = {
    "data/nlu.yml": """
        version: "2.0"
        nlu:
        - intent: greet
          examples: |
            - hi
        - intent: goodbye
          examples: |
            - bye
        """,
    "config.yml": REGEX_CONFIG,
}


def _write(root: Path) -> Path:
    write_files(root, PROJECT)
    (root / "domain.yml").write_text(DOMAIN, encoding="utf-8")
    (root / "data" / "stories.yml").write_text(STORIES, encoding="utf-8")
    return root


trained, project = trained_copies(_write, "interactive-audit-bot")


def chat(project: Path, answers: list[str], **options) -> str:
    stdout = io.StringIO()
    run_interactive(project, stdin=io.StringIO("".join(f"{a}\n" for a in answers)),
                    stdout=stdout, **options)
    return stdout.getvalue()


#: a message without an intent made a new intent, answered by a new response and a
#: new custom action, then the bot listens
NEW_EVERYTHING = ["I feel meh", "mood_meh", "y", "", "n", "utter_meh", "Sorry to hear that.",
                  "n", "action_log_mood", "y", "action_listen"]


def test_domain_additions_keep_every_line_of_a_mixed_indentation_domain(
        project: Path) -> None:
    out = chat(project, [*NEW_EVERYTHING, "/export"], port=None)
    assert "added to domain.yml: intent mood_meh; action action_log_mood; response utter_meh" \
        in out
    after = (project / "domain.yml").read_text(encoding="utf-8")
    assert added_lines(DOMAIN, after) == [
        "  - mood_meh", "  utter_meh:", "  - text: Sorry to hear that.",
        "actions:", "  - action_log_mood"]
    # the new intent ends the intents, the response the responses, as the author writes them
    assert after.index("  - mood_meh") < after.index("responses:")
    assert after.index("  utter_meh:") < after.index("session_config:")
    domain = load_project(project).domain
    assert "mood_meh" in domain.intents and "action_log_mood" in domain.action_names
    assert domain.responses["utter_meh"].variations[0]["text"] == "Sorry to hear that."


def test_stories_appended_to_the_authors_stories_file_keep_its_lines(project: Path) -> None:
    chat(project, [*NEW_EVERYTHING, "/export"], port=None,
         out_stories="data/stories.yml")
    after = (project / "data" / "stories.yml").read_text(encoding="utf-8")
    added = added_lines(STORIES, after)
    assert added[:2] == ['- story: "interactive_story_1"', "  steps:"]
    stories = {story.name: story for story in load_project(project).stories}
    assert set(stories) == {"happy path", "leaving", "interactive_story_1"}


def test_a_flow_style_section_still_takes_the_additions(project: Path) -> None:
    flow = DOMAIN.replace("intents:\n  - greet\n  - goodbye\n", "intents: [greet, goodbye]\n")
    (project / "domain.yml").write_text(flow, encoding="utf-8")
    chat(project, [*NEW_EVERYTHING, "/export"], port=None)
    text = (project / "domain.yml").read_text(encoding="utf-8")
    assert "# said at the end" in text and "# value in minutes" in text
    domain = load_project(project).domain
    assert list(domain.intents)[:3] == ["greet", "goodbye", "mood_meh"]
    assert "utter_meh" in domain.responses


def test_enter_at_the_export_questions_adds_to_rasas_default_files(project: Path) -> None:
    nlu_before = (project / "data" / "nlu.yml").read_text(encoding="utf-8")
    out = chat(project, [*NEW_EVERYTHING, "/export", "", "", ""], port=None)
    assert "Export stories to (an existing file is added to) [data/stories.yml]: " in out
    assert "Export NLU data to (an existing file is added to) [data/nlu.yml]: " in out
    assert "Export the domain to (an existing file is added to) [domain.yml]: " in out
    # as in Rasa, the stories go to data/stories.yml, the examples to data/nlu.yml, the
    # additions to domain.yml; every line the author wrote stays
    stories = added_lines(STORIES, (project / "data" / "stories.yml").read_text("utf-8"))
    assert stories[:2] == ['- story: "interactive_story_1"', "  steps:"]
    nlu = added_lines(nlu_before, (project / "data" / "nlu.yml").read_text("utf-8"))
    assert nlu == ["- intent: mood_meh", "  examples: |", "    - I feel meh"]
    assert "  - mood_meh" in added_lines(DOMAIN, (project / "domain.yml").read_text("utf-8"))
    assert not list((project / "data").glob("interactive_*"))


def test_answered_export_paths_take_the_stories_nlu_and_domain(project: Path) -> None:
    (project / "domain.yml").rename(project / "domain.yaml")
    out = chat(project, [*NEW_EVERYTHING, "/export", "data/learnt/stories.yml",
                         "data/learnt/nlu.yaml", "domain.yaml"], port=None)
    assert "1 story written to data/learnt/stories.yml" in out
    assert (project / "data" / "stories.yml").read_text(encoding="utf-8") == STORIES
    learnt = project / "data" / "learnt"  # made, as Rasa makes a missing folder
    assert '- story: "interactive_story_1"' in (learnt / "stories.yml").read_text("utf-8")
    assert "- I feel meh" in (learnt / "nlu.yaml").read_text(encoding="utf-8")
    assert "utter_meh" in (project / "domain.yaml").read_text(encoding="utf-8")


def test_a_domain_path_the_project_does_not_read_is_asked_again(project: Path) -> None:
    out = chat(project, [*NEW_EVERYTHING, "/export", "", "", "my_domain.yml",
                         "domain/learnt.yml", ""], port=None)
    # the loader reads domain.yml before domain/: neither answer would ever be trained on
    assert ("my_domain.yml is not read as the project's domain, so training would not see "
            "what is added to it: the project reads its domain from domain.yml. Give a "
            "file it reads, e.g. domain.yml.") in out
    assert "domain/learnt.yml is not read as the project's domain" in out
    assert out.count("Export the domain to") == 3
    assert not (project / "my_domain.yml").exists() and not (project / "domain").exists()
    assert "mood_meh" in load_project(project).domain.intents


def test_a_new_domain_yml_next_to_a_domain_folder_is_refused(project: Path) -> None:
    # Rasa's default answer, domain.yml, would make the loader ignore the whole folder
    (project / "domain").mkdir()
    (project / "domain.yml").rename(project / "domain" / "main.yml")
    out = chat(project, [*NEW_EVERYTHING, "/export", "", "", "domain.yml",
                         "domain/learnt.yml"], port=None)
    assert "Export the domain to (an existing file is added to) " \
           "[domain/interactive_domain.yml]: " in out
    assert ("domain.yml would replace domain/ as the project's domain (the first of "
            "domain.yml, domain.yaml and domain/ is read), so the rest of the domain would "
            "be ignored: give a file the project reads, e.g. domain/interactive_domain.yml."
            ) in out
    assert not (project / "domain.yml").exists()
    assert "added to domain/learnt.yml: intent mood_meh" in out
    domain = load_project(project).domain
    assert {"greet", "goodbye", "mood_meh"} <= set(domain.intents)
    assert "utter_cheer_up" in domain.responses and "utter_meh" in domain.responses


def test_quoted_answers_and_a_home_folder_are_read_as_paths(project: Path, tmp_path: Path,
                                                             monkeypatch) -> None:
    # a terminal's drag and drop quotes a path; no shell expands ~ in an answer
    home = tmp_path / "home"
    monkeypatch.setenv("HOME", str(home))
    out = chat(project, [*NEW_EVERYTHING, "/export", "'data/my stories.yml'",
                         '"~/bot/nlu.yml"', ""], port=None)
    assert "1 story written to data/my stories.yml" in out
    assert '- story: "interactive_story_1"' in (
        project / "data" / "my stories.yml").read_text(encoding="utf-8")
    assert "- I feel meh" in (home / "bot" / "nlu.yml").read_text(encoding="utf-8")
    assert not (project / "~").exists() and not list(project.glob("*'*"))
    # a file outside data/ is not trained on: the note says so
    assert f"{home / 'bot' / 'nlu.yml'} is outside data/" in out


def test_a_bad_export_path_is_explained_and_asked_again(project: Path) -> None:
    (project / "data" / "old.yml").mkdir()
    out = chat(project, [*NEW_EVERYTHING, "/export", "stories.md", "data/old.yml", "",
                         "nlu.json", "", "domain.yml/more.yml", ""], port=None)
    assert ("stories.md is not a YAML file: give a path for the stories that ends in .yml "
            "or .yaml, e.g. data/stories.yml.") in out
    assert "data/old.yml is a folder: give a file for the stories, e.g. data/stories.yml." \
        in out
    assert "nlu.json is not a YAML file: give a path for the NLU data" in out
    assert "domain.yml/more.yml cannot be written: " in out and "is a file, not a folder" in out
    assert out.count("Export stories to") == 3 and out.count("Export the domain to") == 2
    # Enter after each refusal kept the defaults
    assert "1 story written to data/stories.yml" in out
    assert "added to domain.yml: intent mood_meh" in out
    assert not (project / "stories.md").exists() and not (project / "nlu.json").exists()


def test_undecodable_piped_input_is_one_garbled_message(project: Path) -> None:
    answers = "\n".join(NEW_EVERYTHING[1:]) + "\n/export\n"
    result = subprocess.run(
        [sys.executable, "-m", "dialogflowlite.cli.main", "interactive", "--project",
         str(project), "-m", "models", "--skip-visualization"],
        input=b"I feel m\xe9h\n" + answers.encode(), capture_output=True, timeout=120,
        env={**os.environ, "PYTHONIOENCODING": "utf-8"})
    stderr = result.stderr.decode("utf-8", "replace")
    assert result.returncode == 0, stderr
    assert "Traceback" not in stderr
    examples = {m.text: m.intent for m in load_project(project).nlu.examples}
    assert examples["I feel m\ufffdh"] == "mood_meh"


def test_ctrl_d_at_a_terminal_question_ends_its_line(monkeypatch, capsys) -> None:
    from dialogflowlite.dialogue.interactive import StreamPrompt

    def end_of_input(question: str) -> str:
        print(question, end="")
        raise EOFError

    monkeypatch.setattr("builtins.input", end_of_input)
    prompt = StreamPrompt()
    prompt.interactive = True  # as on a terminal
    with pytest.raises(EOFError):
        prompt.ask("Your message: ")
    prompt.show("Export the conversations before quitting? [Y/n] ")
    assert capsys.readouterr().out.splitlines() == [
        "Your message: ", "Export the conversations before quitting? [Y/n] "]


def test_images_and_custom_payloads_show_as_in_the_shell(project: Path) -> None:
    out = chat(project, ["/greet", "", "n", "utter_cheer_up", "n", "action_listen", "/stop",
                         "n"], port=None)
    assert "  bot: Here is something to cheer you up:" in out
    assert "       Image: https://i.imgur.com/nGF1K8f.jpg" in out
    # JSON, not a Python dict, so it can be pasted into a response
    assert '       Custom: {"kind": "gif", "loop": true}' in out


def test_a_domain_ending_in_a_comment_without_a_line_break(tmp_path: Path) -> None:
    from dialogflowlite.dialogue.interactive_export import DomainAdditions, write_domain

    path = tmp_path / "domain.yml"
    text = ('version: "3.1"\nintents:\n    - greet   # hello\n    - bye\n\n'
            "# responses come later\nactions:\n- action_a\n# the end")
    path.write_text(text, encoding="utf-8")
    notes: list[str] = []
    write_domain(DomainAdditions(intents=["ask"], actions=["action_b"]), path, notes)
    assert notes == []
    assert path.read_text(encoding="utf-8") == (
        'version: "3.1"\nintents:\n    - greet   # hello\n    - bye\n    - ask\n\n'
        "# responses come later\nactions:\n- action_a\n- action_b\n# the end\n")
