"""``dialogflowlite interactive``: whole sessions with scripted answers against a tiny bot.

The bot's NLU is a whitespace tokenizer and a regex entity extractor (no
intent classifier): free text arrives without an intent, so the intent list
is exactly the domain's intents in order, and ``/intent`` messages arrive
with theirs. Rules answer greet, inform and goodbye. It trains in a second.
"""

from __future__ import annotations

import io
import re
import subprocess
import sys
import textwrap
from pathlib import Path

from keyword_bot import REGEX_CONFIG
from plain_data import trained_copies, write_files
from story_data import GREET_RULE, rules_yaml

from dialogflowlite.cli.interactive import run_interactive
from dialogflowlite.cli.main import main
from dialogflowlite.io.loader import load_project
from dialogflowlite.shared.stories import ActionStep, SlotStep, Story, UserStep

PROJECT = {
    "domain.yml": """
        version: "3.1"
        # the bot's domain: this comment stays when the session adds to it
        intents:
          - greet
          - inform
          - goodbye
        entities:
          - city
        slots:
          city:
            type: text
            mappings:
              - type: from_entity
                entity: city
        responses:
          utter_greet:
            - text: "Hello!"
          utter_noted:
            - text: "Noted: {city}."
          utter_goodbye:
            - text: "Bye!"
        """,
    "data/nlu.yml": """
        version: "3.1"
        nlu:
        - intent: greet
          examples: |
            - hi
            - hello
        - intent: inform
          examples: |
            - I live in [Oslo](city)
            - to [Rome](city)
        - intent: goodbye
          examples: |
            - bye
        - regex: city
          examples: |
            - Rome|Paris|Oslo|Berlin
        """,
    "data/rules.yml": rules_yaml(GREET_RULE, """\
- rule: inform
  steps:
  - intent: inform
  - action: utter_noted
- rule: bye
  steps:
  - intent: goodbye
  - action: utter_goodbye
"""),
    "config.yml": REGEX_CONFIG,
}

#: answers that confirm a greeting turn: the intent, utter_greet, action_listen
GREET = ["/greet", "", "", ""]


def write_project(root: Path) -> Path:
    return write_files(root, PROJECT)


#: the tiny bot trained once for this module, and a fresh copy of it for each test
trained, project = trained_copies(write_project, "interactive-bot")


def chat(project: Path, answers: list[str], **options):
    """Run a session on ``answers`` (one line each; the input ends after them).

    The stories and NLU examples go to files of their own (offered as the
    defaults of the export's questions), so that a test reads only what the
    session wrote.
    """
    options.setdefault("out_stories", "data/interactive_stories.yml")
    options.setdefault("out_nlu", "data/interactive_nlu.yml")
    stdout = io.StringIO()
    report = run_interactive(project, stdin=io.StringIO("".join(f"{a}\n" for a in answers)),
                             stdout=stdout, **options)
    return report, stdout.getvalue()


def steps(story: Story) -> list[str]:
    """A story's steps as short strings: ``inform city=Berlin``, ``utter_x``, ``slot c=v``."""
    shown = []
    for step in story.steps:
        if isinstance(step, UserStep):
            entities = " ".join(f"{e.entity}={e.value}" for e in step.entities)
            shown.append(f"{step.intent} {entities}".strip())
        elif isinstance(step, ActionStep):
            shown.append(step.name)
        elif isinstance(step, SlotStep):
            shown.append("slot " + " ".join(f"{k}={v}" for k, v in step.slots.items()))
    return shown


def interactive_stories(project: Path) -> dict[str, list[str]]:
    loaded = load_project(project)
    return {s.name: steps(s) for s in loaded.stories if s.name.startswith("interactive_story_")}


def examples(project: Path) -> dict[str, str]:
    """The NLU examples of data/interactive_nlu.yml as annotated text -> intent."""
    from dialogflowlite.shared.training_data import annotate

    loaded = load_project(project)
    return {annotate(m.text, m.entities): m.intent for m in loaded.nlu.examples
            if m.position and m.position.file.endswith("interactive_nlu.yml")}


# ---------------------------------------------------------------- turns


def test_a_confirmed_turn_runs_the_bot_and_becomes_a_story(project: Path) -> None:
    report, out = chat(project, GREET)
    assert "  intent:  greet (1.00)" in out
    assert "Next action: utter_greet (1.00, RulePolicy)" in out
    assert "  bot: Hello!" in out
    assert "Next action: action_listen" in out
    # piped input that ends is exported to the paths offered
    assert "1 story written to data/interactive_stories.yml" in out
    assert report.stories == 1 and report.nlu_file is None  # /greet is no NLU example
    assert interactive_stories(project) == {"interactive_story_1": ["greet", "utter_greet"]}


def test_a_corrected_intent_from_the_numbered_list(project: Path) -> None:
    answers = ["/greet", "n",  # the parse is wrong:
               "2",  # the list is greet (the ranking), then inform, goodbye
               "", ""]  # utter_noted, action_listen
    _, out = chat(project, answers)
    assert "  1. greet (1.00)\n  2. inform\n  3. goodbye" in out
    assert "  intent:  inform (1.00)" in out
    assert "Next action: utter_noted (1.00, RulePolicy)" in out
    assert interactive_stories(project) == {"interactive_story_1": ["inform", "utter_noted"]}


def test_free_text_gets_its_intent_picked_and_becomes_an_nlu_example(project: Path) -> None:
    answers = ["I live in Berlin",  # no intent found: the list comes at once
               "inform", "",  # keep the entities the regex found
               "", ""]
    report, out = chat(project, answers)
    assert "  message: I live in [Berlin](city)" in out
    assert "The model found no intent for this message." in out
    assert "  slot city = 'Berlin'" in out and "  bot: Noted: Berlin." in out
    assert report.examples == 1
    assert examples(project) == {"I live in [Berlin](city)": "inform"}
    assert interactive_stories(project) == {
        "interactive_story_1": ["inform city=Berlin", "slot city=Berlin", "utter_noted"]}


def test_corrected_entities_are_retyped_in_markup(project: Path) -> None:
    answers = ["fly to Paris tomorrow", "inform",
               "fly to [Paris(city) [tomorrow](date)",  # broken markup: asked again
               "go to [Paris](city) [tomorrow](date)",  # other words: asked again
               "fly to [Paris](city) [tomorrow](date)",
               "", ""]
    _, out = chat(project, answers)
    assert "Entities: fly to [Paris](city) tomorrow" in out
    assert "That annotation does not read: unclosed '['" in out
    assert "The words must stay 'fly to Paris tomorrow'" in out
    assert "(new entity: date)" in out
    assert "  message: fly to [Paris](city) [tomorrow](date)" in out
    assert examples(project) == {"fly to [Paris](city) [tomorrow](date)": "inform"}
    loaded = load_project(project)
    assert "date" in loaded.domain.entities  # the new entity joins the domain
    first_step = interactive_stories(project)["interactive_story_1"][0]
    assert first_step == "inform city=Paris date=tomorrow"


def test_a_corrected_action_and_a_new_response(project: Path, caplog) -> None:
    answers = [*GREET[:2], "n", "utter_goodbye",  # the bot should say goodbye, not hello
               "n", "action_listen",  # nothing learned for what comes next: listen
               "how is the weather in Paris", "ask_weather", "y", "",  # a new intent
               "n", "utter_weather", "It is sunny in {city}.",  # a new response, typed
               "n", "action_listen"]
    with caplog.at_level("WARNING"):
        _, out = chat(project, answers)
    # the person just created the intent: no warning that the model's domain lacks it
    assert "which the domain does not list" not in caplog.text
    assert "Action (number or name, Enter to keep 'utter_greet'): utter_goodbye" in out
    assert "  bot: Bye!" in out
    assert "'ask_weather' is not an intent of the domain: add it as a new intent?" in out
    assert "  bot: It is sunny in {city}." in out
    assert interactive_stories(project) == {"interactive_story_1": [
        "greet", "utter_goodbye",
        "ask_weather city=Paris", "slot city=Paris", "utter_weather"]}
    assert "added to domain.yml: intent ask_weather; response utter_weather" in out
    loaded = load_project(project)
    assert "ask_weather" in loaded.domain.intents
    assert loaded.domain.responses["utter_weather"].variations == [
        {"text": "It is sunny in {city}."}]
    text = (project / "domain.yml").read_text(encoding="utf-8")
    assert "# the bot's domain: this comment stays" in text
    assert "  - goodbye\n  - ask_weather\n" in text  # the file's own indentation
    # the written project is consistent: data validate finds no error but one, that the
    # correction (greet -> utter_goodbye) contradicts the project's rule for greet,
    # which training would stop on too
    from dialogflowlite.io.validate import validate_project

    errors = [p for p in validate_project(load_project(project)) if p.is_error]
    assert [p.code for p in errors] == ["DFL148"]
    assert "rule 'greet'" in errors[0].message


def test_a_new_action_can_be_chosen_again_from_the_list(project: Path) -> None:
    answers = [*GREET[:2], "n", "utter_hi", "Hi there!", "n", "action_listen",
               *GREET[:2], "n", "18", "n", "action_listen"]  # utter_hi is last in the list
    _, out = chat(project, answers)
    assert "  18. utter_hi" in out
    assert out.count("  bot: Hi there!") == 2
    assert interactive_stories(project)["interactive_story_1"] == [
        "greet", "utter_hi", "greet", "utter_hi"]


def test_the_export_offers_the_domain_given_with_domain(project: Path) -> None:
    from dialogflowlite.io.loader import ProjectSources

    other = project / "other_domain.yml"
    other.write_text((project / "domain.yml").read_text(encoding="utf-8"), encoding="utf-8")
    answers = [*GREET[:2], "n", "utter_hi", "Hi there!", "n", "action_listen", "/export",
               "", "", ""]
    _, out = chat(project, answers, sources=ProjectSources(domain="other_domain.yml"))
    assert "Export the domain to (an existing file is added to) [other_domain.yml]: " in out
    assert "utter_hi" in other.read_text(encoding="utf-8")
    assert "utter_hi" not in (project / "domain.yml").read_text(encoding="utf-8")


def test_a_confirmed_fallback_says_that_it_takes_the_message_back(project: Path) -> None:
    # after a new response the policies know nothing better than the fallback
    answers = [*GREET[:2], "n", "utter_hi", "Hi there!", "", ""]
    report, out = chat(project, answers)
    assert "Next action: action_default_fallback" in out
    assert ("(action_default_fallback takes back your message: the turn stays out of the "
            "story and the NLU examples; answer n to pick what the bot should do)") in out
    assert "(your last message is taken back: it is not written to the story" in out
    assert report is None or report.stories == 0


# ---------------------------------------------------------------- commands


def test_undo_takes_back_the_last_message_and_what_followed(project: Path) -> None:
    answers = [*GREET, "/goodbye", "", "", "", "/undo",
               "/inform", "/undo",  # at a question: the message being corrected is dropped
               "/inform", "", "/undo"]  # after it was logged: it is taken back
    _, out = chat(project, answers)
    assert "Undone: '/goodbye' and what followed it." in out
    assert "Dropped '/inform'." in out
    assert "Undone: '/inform' and what followed it." in out
    assert interactive_stories(project) == {"interactive_story_1": ["greet", "utter_greet"]}


def test_restart_gives_one_story_per_conversation(project: Path) -> None:
    answers = [*GREET, "/restart", "/goodbye", "", "", ""]
    _, out = chat(project, answers)
    assert "Conversation 1 is finished; conversation 2 starts." in out
    assert "2 stories written" in out
    assert interactive_stories(project) == {"interactive_story_1": ["greet", "utter_greet"],
                                            "interactive_story_2": ["goodbye", "utter_goodbye"]}


def test_stop_asks_before_writing(project: Path) -> None:
    report, out = chat(project, [*GREET, "/stop", "n"])
    assert "Export the conversations before quitting? [Y/n] n" in out
    assert report is None and "Nothing was written." in out
    assert not (project / "data" / "interactive_stories.yml").exists()
    report, out = chat(project, [*GREET, "/stop", "y"])
    assert report.stories == 1


def test_export_writes_and_quits(project: Path) -> None:
    report, out = chat(project, [*GREET, "/export", "/goodbye"])
    assert report.stories == 1
    assert "Your message: /goodbye" not in out  # nothing is read after /export


def test_nothing_to_export_writes_nothing(project: Path) -> None:
    report, out = chat(project, ["/stop"])
    assert report is None and "Nothing to export" in out
    assert not (project / "data" / "interactive_stories.yml").exists()


def test_bad_answers_are_asked_again(project: Path) -> None:
    answers = ["/fly", "/greet", "maybe", "n",
               "9", "two words", "greet",  # out of range, not a name, then a name
               "", "", ""]
    report, out = chat(project, answers)
    assert "Unknown command /fly. Commands: /undo, /restart, /export, /stop" in out
    assert "Please answer y or n." in out
    assert "There is no 9 in the list: type a number from 1 to 3, or a name." in out
    assert "'two words' is not a name" in out
    assert report.stories == 1


# ---------------------------------------------------------------- files


def test_existing_output_files_keep_their_content(project: Path) -> None:
    stories = project / "data" / "interactive_stories.yml"
    stories.write_text(textwrap.dedent("""\
        version: "3.1"
        # stories from an earlier session
        stories:
          - story: interactive_story_1
            steps:
              - intent: goodbye
              - action: utter_goodbye
        """), encoding="utf-8")
    nlu = project / "data" / "interactive_nlu.yml"
    nlu.write_text(textwrap.dedent("""\
        version: "3.1"
        nlu:
        # earlier corrections
        - intent: inform
          examples: |
            - I am from [Paris](city)
        """), encoding="utf-8")
    chat(project, ["I live in Berlin", "inform", "", "", ""])
    assert interactive_stories(project) == {
        "interactive_story_1": ["goodbye", "utter_goodbye"],
        "interactive_story_2": ["inform city=Berlin", "slot city=Berlin", "utter_noted"]}
    assert examples(project) == {"I am from [Paris](city)": "inform",
                                 "I live in [Berlin](city)": "inform"}
    assert "# stories from an earlier session" in stories.read_text(encoding="utf-8")
    assert "# earlier corrections" in nlu.read_text(encoding="utf-8")
    # the second example joined the intent's block instead of a second entry
    assert nlu.read_text(encoding="utf-8").count("- intent: inform") == 1
    assert main(["data", "validate", "--project", str(project)]) == 0


def test_messages_already_in_the_training_data_are_not_repeated(project: Path) -> None:
    report, out = chat(project, ["hello", "greet", "", "", ""])
    assert report.examples == 0 and report.known_examples == 1
    assert "no new NLU examples (1 message already in the training data)" in out
    assert not (project / "data" / "interactive_nlu.yml").exists()


def test_other_output_files(project: Path, tmp_path: Path) -> None:
    report, out = chat(project, ["I live in Berlin", "inform", "", "", ""],
                       out_stories="data/learned/stories.yml",
                       out_nlu=tmp_path / "elsewhere" / "nlu.yml")
    assert report.stories_file == project / "data" / "learned" / "stories.yml"
    assert (tmp_path / "elsewhere" / "nlu.yml").exists()
    assert "outside data/, so training does not read it" in out
    assert list(interactive_stories(project)) == ["interactive_story_1"]


# ---------------------------------------------------------------- the command


def test_without_model_the_project_is_trained_first_as_rasa_does(tmp_path: Path, monkeypatch,
                                                                  capsys) -> None:
    root = write_project(tmp_path / "bot")
    monkeypatch.setattr(sys, "stdin", io.StringIO("\n".join(GREET) + "\n"))
    assert main(["interactive", "--project", str(root)]) == 0
    out = capsys.readouterr().out
    assert "Training the project first" in out
    [model] = (root / "models").glob("*.tar")
    assert f"model: {model}" in out
    assert "  bot: Hello!" in out
    # data given elsewhere is what gets trained on: here no stories or rules at all
    assert main(["interactive", "--project", str(root), "--data", "data/nlu.yml"]) == 1
    assert "has no dialogue policies" in capsys.readouterr().err


def test_a_models_folder_takes_its_newest_without_training(project: Path, monkeypatch,
                                                           capsys) -> None:
    before = sorted((project / "models").glob("*.tar"))
    monkeypatch.setattr(sys, "stdin", io.StringIO("\n".join(GREET) + "\n"))
    assert main(["interactive", "--project", str(project), "-m", str(project / "models")]) == 0
    assert "Training" not in capsys.readouterr().out
    assert sorted((project / "models").glob("*.tar")) == before


def test_an_nlu_only_model_is_refused(project: Path, capsys) -> None:
    from dialogflowlite.training.trainer import TrainOptions, train

    nlu_model = train(project, sections=("nlu",), options=TrainOptions(progress=False)).model_path
    assert main(["interactive", "--project", str(project), "--model", str(nlu_model)]) == 1
    assert "has no dialogue policies" in capsys.readouterr().err


def test_the_command_in_a_subprocess(project: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "dialogflowlite.cli.main", "interactive", "--project",
         str(project)],
        input="\n".join(GREET) + "\n", capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "  bot: Hello!" in result.stdout
    # the end of the input answers the export's questions with their defaults
    assert "1 story written to data/stories.yml" in result.stdout
    assert interactive_stories(project) == {"interactive_story_1": ["greet", "utter_greet"]}


# ---------------------------------------------------------------- the story graph page


def test_the_story_graph_page_follows_the_session(tmp_path: Path, monkeypatch,
                                                  capsys) -> None:
    import urllib.request

    from dialogflowlite.dialogue.interactive_graph import SessionGraphServer

    root = write_project(tmp_path / "bot")
    (root / "data" / "stories.yml").write_text(
        "stories:\n- story: farewell\n  steps:\n  - intent: goodbye\n"
        "  - action: utter_goodbye\n", encoding="utf-8")
    pages: list[str] = []
    close = SessionGraphServer.close

    def read_then_close(server: SessionGraphServer) -> None:
        with urllib.request.urlopen(server.url, timeout=10) as response:
            pages.append(response.read().decode("utf-8"))
        close(server)

    monkeypatch.setattr(SessionGraphServer, "close", read_then_close)
    monkeypatch.setattr(sys, "stdin", io.StringIO("\n".join([*GREET, "/export"]) + "\n"))
    assert main(["interactive", "--project", str(root), "--port", "0"]) == 0
    # localhost where both loopback addresses are served, else 127.0.0.1
    assert re.search(r"The story graph of this session is at "
                     r"http://(localhost|127\.0\.0\.1):\d+/visualization\.html",
                     capsys.readouterr().out)
    page = pages[0]
    # the project's story and the session's conversation, whose steps are filled in
    assert ">utter_goodbye</text>" in page
    assert re.search(r'<title>greet</title><rect [^>]*fill="#fff59d"', page)
    assert re.search(r'<title>utter_greet</title><rect [^>]*fill="#fff59d"', page)
    assert not re.search(r'<title>goodbye</title><rect [^>]*fill="#fff59d"', page)
    # with --data, the page draws the stories of that data: here none
    monkeypatch.setattr(sys, "stdin", io.StringIO("\n".join([*GREET, "/export"]) + "\n"))
    assert main(["interactive", "--project", str(root), "--port", "0", "-m",
                 str(root / "models"), "--data", str(root / "data" / "nlu.yml"),
                 str(root / "data" / "rules.yml")]) == 0
    assert ">utter_goodbye</text>" not in pages[-1] and ">utter_greet</text>" in pages[-1]


def test_a_port_in_use_leaves_the_page_out_and_the_session_goes_on(project: Path, monkeypatch,
                                                                   capsys) -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("localhost", 0))
        taken.listen()
        port = taken.getsockname()[1]
        monkeypatch.setattr(sys, "stdin", io.StringIO("\n".join(GREET) + "\n"))
        assert main(["interactive", "--project", str(project), "-m", str(project / "models"),
                     "--port", str(port)]) == 0
    captured = capsys.readouterr()
    assert f"the story graph is not served: port {port} cannot be used" in captured.err
    assert "  bot: Hello!" in captured.out
    monkeypatch.setattr(sys, "stdin", io.StringIO("\n".join(GREET) + "\n"))
    assert main(["interactive", "--project", str(project), "-m", str(project / "models"),
                 "--skip-visualization"]) == 0
    assert "story graph" not in capsys.readouterr().out


def test_the_story_graph_is_served_where_rasa_serves_it_unless_a_port_is_given() -> None:
    # Rasa's interactive serves its HTTP server on 5005 and the graph one port above
    from dialogflowlite.cli.main import build_parser

    parser = build_parser()
    assert parser.parse_args(["interactive"]).port == 5006
    assert parser.parse_args(["interactive", "-p", "7000"]).port == 7000


def test_an_intent_created_in_the_session_can_be_typed_as_slash_intent(project: Path,
                                                                      caplog) -> None:
    # the bot's parser knows the domain's intents only: the session takes its own new
    # ones as written (before, `/ask_weather` was read as text, with a warning)
    answers = ["how is the weather in Paris", "ask_weather", "y", "",
               "n", "utter_weather", "It is sunny in {city}.", "n", "action_listen",
               '/ask_weather{"city": "Rome"}', ""]
    with caplog.at_level("WARNING"):
        _, out = chat(project, answers)
    assert "which the domain does not have" not in caplog.text
    second = out[out.index('/ask_weather{"city": "Rome"}'):]
    assert second.splitlines()[1:3] == ["  intent:  ask_weather (1.00)",
                                        "  entities: city='Rome'"]
