"""`dialogflowlite train` and `dialogflowlite test` on a small project."""

from __future__ import annotations

import json
from pathlib import Path

import keyword_bot
import pytest

from dialogflowlite.cli.main import main

DOMAIN = keyword_bot.domain(
    "thanks", "book", "inform", city=True,
    sections="""\
forms:
  trip_form:
    required_slots: [city]
""",
    responses="""\
  utter_welcome: [{text: "You are welcome."}]
  utter_ask_city: [{text: "Where to?"}]
  utter_booked: [{text: "Booked a trip to {city}."}]
""")

NLU = keyword_bot.nlu("""\
- intent: thanks
  examples: |
    - thanks
- intent: book
  examples: |
    - book a trip
- intent: inform
  examples: |
    - to [Rome](city)
- regex: city
  examples: |
    - Rome|Paris|Oslo
""")

RULES = keyword_bot.rules("""\
- rule: thanks
  steps:
  - intent: thanks
  - action: utter_welcome
- rule: start the form
  steps:
  - intent: book
  - action: trip_form
  - active_loop: trip_form
- rule: form done
  condition:
  - active_loop: trip_form
  steps:
  - action: trip_form
  - active_loop: null
  - slot_was_set:
    - requested_slot: null
  - action: utter_booked
""")

STORIES = """
version: "3.1"
stories:
- story: greet, book and leave
  steps:
  - intent: greet
  - action: utter_greet
  - intent: book
  - action: trip_form
  - active_loop: trip_form
  - intent: inform
    entities:
    - city: Rome
  - slot_was_set:
    - city: Rome
  - action: trip_form
  - active_loop: null
  - slot_was_set:
    - requested_slot: null
  - action: utter_booked
  - intent: thanks
  - action: utter_welcome
"""

TESTS = keyword_bot.stories_to_test("""\
- story: book a trip
  steps:
  - intent: book
  - action: trip_form
  - active_loop: trip_form
  - intent: inform
    entities:
    - city: Oslo
  - action: trip_form
  - active_loop: null
  - action: utter_booked
  - intent: thanks
  - action: utter_welcome
""")

WRONG_TEST = """
version: "3.1"
stories:
- story: a story the bot cannot pass
  steps:
  - intent: greet
  - action: utter_bye
"""


@pytest.fixture
def project(write_project) -> Path:
    return write_project(domain=DOMAIN, nlu=NLU, rules=RULES, stories=STORIES, tests=TESTS,
                         config=keyword_bot.REGEX_CONFIG)


def test_train_then_retrain_reuses_everything(project: Path, capsys) -> None:
    assert main(["train", "--project", str(project), "--fixed-model-name", "first"]) == 0
    first = capsys.readouterr().out
    assert "model: " in first and "first.tar" in first
    assert "reused (0)" in first
    assert (project / "models" / "first.tar").is_file()

    assert main(["train", "--project", str(project)]) == 0
    second = capsys.readouterr().out
    assert "trained (0): -" in second
    assert "time: " in second


def test_train_core_trains_only_the_policies(project: Path, capsys) -> None:
    assert main(["train", "core", "--project", str(project), "--out",
                 str(project / "core_models")]) == 0
    out = capsys.readouterr().out
    assert "core_models" in out
    assert "nlu/" not in out.split("reused")[0]


def test_test_core_passes_and_writes_reports(project: Path, capsys) -> None:
    assert main(["train", "--project", str(project)]) == 0
    capsys.readouterr()
    assert main(["test", "core", "--project", str(project)]) == 0
    out = capsys.readouterr().out
    assert "Stories: 2 / 2 correct (accuracy 1.000)" in out
    assert "utter_booked" in out
    report = json.loads((project / "results" / "story_report.json").read_text())
    assert report["conversation_accuracy"]["correct"] == 2
    assert report["utter_greet"]["f1-score"] == 1.0
    assert (project / "results" / "failed_test_stories.yml").read_text().startswith("# None")


def test_failed_stories_set_the_exit_code_only_when_asked(project: Path, capsys) -> None:
    assert main(["train", "--project", str(project)]) == 0
    wrong = project / "wrong.yml"
    wrong.write_text(WRONG_TEST, encoding="utf-8")
    args = ["test", "core", "--project", str(project), "--stories", str(wrong),
            "--out", str(project / "wrong_results")]
    assert main(args) == 0
    assert main([*args, "--fail-on-prediction-errors"]) == 1
    out = capsys.readouterr().out
    assert "Stories: 0 / 1 correct" in out
    failed = (project / "wrong_results" / "failed_test_stories.yml").read_text()
    assert "- action: utter_bye  # predicted: utter_greet" in failed


def test_plain_test_runs_core_and_says_why_nlu_was_skipped(project: Path, capsys) -> None:
    assert main(["train", "--project", str(project)]) == 0
    capsys.readouterr()
    assert main(["test", "--project", str(project)]) == 0
    out = capsys.readouterr().out
    assert "Stories: 2 / 2 correct" in out
    assert "NLU: no test examples under tests/" in out
    # a bot without a generator or held-out pairs hears nothing of the generator test
    assert "Generation" not in out


def test_test_without_a_model_is_a_clear_error(project: Path, capsys) -> None:
    assert main(["test", "core", "--project", str(project)]) == 1
    assert "no model" in capsys.readouterr().err


def test_test_stories_on_an_nlu_only_model(project: Path, capsys) -> None:
    assert main(["train", "nlu", "--project", str(project)]) == 0
    [model] = (project / "models").glob("*.tar")
    assert model.name.startswith("nlu-")
    capsys.readouterr()
    assert main(["test", "core", "--project", str(project)]) == 1
    err = capsys.readouterr().err
    assert f"{model.name} has no dialogue policies: test stories need them" in err
    assert "dialogflowlite train" in err
    # a plain `test` says why it skipped the stories and goes on
    assert main(["test", "--project", str(project)]) == 0
    out = capsys.readouterr().out
    assert f"Stories: skipped, {model.name} has no dialogue policies" in out
    assert "NLU: no test examples under tests/" in out
    assert not (project / "results" / "story_report.json").exists()


def test_split_then_train_and_test_on_the_parts(project: Path, capsys) -> None:
    # a second `inform` example, so that the training part has a city to learn the regex for
    (project / "data" / "more_nlu.yml").write_text(
        'version: "3.1"\nnlu:\n- intent: inform\n  examples: |\n    - to [Paris](city)\n',
        encoding="utf-8")
    assert main(["data", "split", "nlu", "--project", str(project),
                 "--training-fraction", "0.5"]) == 0
    out = capsys.readouterr().out
    folder = project / "train_test_split"
    # as in Rasa, an intent with one example is tested, and the regexes go to both files
    assert f"training: {folder / 'training_data.yml'} (3 examples, 3 intents)" in out
    assert f"test:     {folder / 'test_data.yml'} (5 examples, 5 intents)" in out
    assert "2 intent(s) with one example, written to the test file only: book, thanks" in out
    assert "- regex: city" in (folder / "training_data.yml").read_text()
    assert "- regex: city" in (folder / "test_data.yml").read_text()

    # training on another NLU file: its regex, not the project's, finds the city
    only_oslo = project / "only_oslo.yml"
    only_oslo.write_text((folder / "training_data.yml").read_text().replace(
        "Rome|Paris|Oslo", "Oslo"), encoding="utf-8")
    assert main(["train", "nlu", "--project", str(project), "--nlu", "only_oslo.yml",
                 "--fixed-model-name", "split"]) == 0
    capsys.readouterr()
    from dialogflowlite.agent import Agent

    agent = Agent.load(project / "models" / "split.tar")
    try:
        import asyncio

        rome, oslo = (asyncio.run(agent.parse_message(t)) for t in ("to Rome", "to Oslo"))
    finally:
        agent.close()
    assert rome["entities"] == []
    assert [e["value"] for e in oslo["entities"]] == ["Oslo"]

    assert main(["test", "nlu", "--project", str(project), "--model", "models/split.tar",
                 "--nlu", str(folder / "test_data.yml")]) == 0
    assert "NLU evaluation on 5 messages" in capsys.readouterr().out


def test_split_and_train_name_a_broken_nlu_file(project: Path, capsys) -> None:
    broken = project / "broken.yml"
    # (a bracket never closed is text, as in Rasa; an annotation cut short is an error)
    broken.write_text('nlu:\n- intent: greet\n  examples: |\n    - hi [there(greeting)\n',
                      encoding="utf-8")
    assert main(["data", "split", "nlu", "--project", str(project), "--nlu", str(broken)]) == 1
    assert "broken.yml:4" in capsys.readouterr().err
    assert main(["train", "nlu", "--project", str(project), "--nlu", str(broken)]) == 1
    assert "broken.yml:4" in capsys.readouterr().err
    assert not (project / "train_test_split").exists()
    with pytest.raises(SystemExit) as exited:
        main(["data", "split", "nlu", "--project", str(project), "--training-fraction", "1"])
    assert exited.value.code == 2
    assert "must be between 0 and 1 (exclusive), not 1" in capsys.readouterr().err


def test_run_and_shell_serve_the_newest_whole_model(project: Path, capsys,
                                                    monkeypatch) -> None:
    import os

    from dialogflowlite.server.app import ServerConfig
    from dialogflowlite.server.models import resolve_model_path

    assert main(["train", "--project", str(project), "--fixed-model-name", "whole"]) == 0
    assert main(["train", "nlu", "--project", str(project)]) == 0
    [nlu_only] = (project / "models").glob("nlu-*.tar")
    whole = project / "models" / "whole.tar"
    os.utime(whole, (1, 1))  # older, whatever the clock's resolution
    capsys.readouterr()
    monkeypatch.chdir(project)
    chosen = resolve_model_path(ServerConfig(project=str(project)))
    assert chosen == whole
    # main() set up logging to stderr; the --model it suggests is a path that names the model
    assert (f"serving whole.tar, the newest model that holds conversations: {nlu_only.name} "
            f"is newer but has only nlu (pass --model models/{nlu_only.name} to serve it)"
            ) in capsys.readouterr().err
    # asked for by name, or with no whole model left, the NLU-only model is served
    assert resolve_model_path(ServerConfig(project=str(project),
                                           model_path=f"models/{nlu_only.name}")) == nlu_only
    whole.unlink()
    assert resolve_model_path(ServerConfig(project=str(project))) == nlu_only


def test_test_core_takes_the_newest_whole_model_over_a_newer_nlu_one(project: Path,
                                                                     capsys) -> None:
    import os

    assert main(["train", "--project", str(project), "--fixed-model-name", "whole"]) == 0
    assert main(["train", "nlu", "--project", str(project)]) == 0
    [nlu_only] = (project / "models").glob("nlu-*.tar")
    os.utime(project / "models" / "whole.tar", (1, 1))  # older, whatever the clock says
    capsys.readouterr()
    # it took the newer NLU-only model and failed: "has no dialogue policies"
    assert main(["test", "core", "--project", str(project)]) == 0
    captured = capsys.readouterr()
    assert "Stories: 2 / 2 correct" in captured.out
    assert (f"testing whole.tar, the newest model with core: {nlu_only.name} is newer but has "
            "only nlu") in captured.err
    # named with --model, the NLU-only model is the one tested
    assert main(["test", "core", "--project", str(project), "--model",
                 f"models/{nlu_only.name}"]) == 1
    assert "has no dialogue policies" in capsys.readouterr().err


def test_held_out_pairs_without_a_generator_are_named(project: Path, capsys) -> None:
    assert main(["train", "--project", str(project)]) == 0
    (project / "tests" / "pairs.jsonl").write_text(
        '{"act": "utter_greet", "response": "Hi!"}\n', encoding="utf-8")
    capsys.readouterr()
    assert main(["test", "--project", str(project)]) == 0
    assert ("Generation: the model has no response generator to test the held-out pairs"
            in capsys.readouterr().out)
