"""Rasa's command-line options on ``shell``, ``interactive``, ``data validate``, ``test``,
``visualize`` and ``export``: each one parsed and doing what it says.

The bot is tiny (a whitespace tokenizer and a regex entity extractor, no
intent classifier; rules answer), so it trains in well under a second: free
text gets no intent, and ``/intent`` messages get theirs.
"""

from __future__ import annotations

import asyncio
import io
import json
import re
import shutil
import textwrap
from pathlib import Path

import keyword_bot
import pytest
from plain_data import write_files
from story_data import GREET_RULE, LONG_STORY, SHORT_STORY, rules_yaml, stories_yaml

from dialogflowlite.cli.main import build_parser, main

NOTED = '  utter_noted: [{text: "Noted."}]\n'

DOMAIN = keyword_bot.domain("inform", city=True, responses=NOTED)

NLU = keyword_bot.nlu("""\
- intent: inform
  examples: |
    - to [Oslo](city)
    - to [Rome](city)
- regex: city
  examples: |
    - Rome|Oslo
""")

RULES = keyword_bot.rules("""\
- rule: inform
  steps:
  - intent: inform
  - action: utter_noted
""")

CONFIG = keyword_bot.REGEX_CONFIG

TESTS = keyword_bot.stories_to_test()

#: a test story whose text says bye while its label says greet
MISLABELLED = """
version: "3.1"
stories:
- story: text against label
  steps:
  - user: /bye
    intent: greet
  - action: utter_greet
"""

#: NLU test examples: the shortcut is classified right, free text is not (no classifier)
NLU_TESTS = """
version: "3.1"
nlu:
- intent: greet
  examples: |
    - /greet
    - hello
"""


def bot_files() -> dict[str, str]:
    return {"domain.yml": DOMAIN, "data/nlu.yml": NLU, "data/rules.yml": RULES,
            "config.yml": CONFIG, "tests/test_stories.yml": TESTS}


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Path:
    """The tiny bot's model, trained once for this module."""
    from dialogflowlite.training.trainer import TrainOptions, train

    root = write_files(tmp_path_factory.mktemp("rasa-flags-bot"), bot_files())
    return train(root, options=TrainOptions(progress=False)).model_path


@pytest.fixture
def bot(tmp_path: Path, trained: Path, monkeypatch) -> Path:
    root = write_files(tmp_path / "bot", bot_files())
    (root / "models").mkdir()
    shutil.copy(trained, root / "models" / trained.name)
    # run from the project: a relative --out is from the working folder, as in Rasa
    monkeypatch.chdir(root)
    return root


def parse(*argv: str):
    return build_parser().parse_args(list(argv))


# ---------------------------------------------------------------- shell


@pytest.mark.parametrize("option", ["--conversation-id", "--sender"])
def test_shell_conversation_id_names_the_conversation(option: str, bot: Path, tmp_path: Path,
                                                      monkeypatch) -> None:
    log = tmp_path / "events.log"
    (bot / "endpoints.yml").write_text(f"event_broker:\n  type: file\n  path: {log}\n",
                                       encoding="utf-8")
    monkeypatch.setattr("sys.stdin", io.StringIO("/greet\n"))
    assert main(["shell", "--project", str(bot), option, "pat-42",
                 "--history", str(tmp_path / "history")]) == 0
    senders = {json.loads(line)["sender_id"] for line in log.read_text().splitlines()}
    assert senders == {"pat-42"}


def test_shell_takes_both_spellings_as_one_option() -> None:
    assert parse("shell", "--conversation-id", "a").sender == "a"
    assert parse("shell", "--sender", "b").sender == "b"
    args = parse("shell", "-m", "models/x.tar", "--endpoints", "prod.yml")
    assert (args.model, args.endpoints) == ("models/x.tar", "prod.yml")


# ---------------------------------------------------------------- interactive


class _Stores:
    """Keeps the in-memory tracker stores ``interactive`` makes, to look inside afterwards."""

    def __init__(self, monkeypatch) -> None:
        from dialogflowlite.stores import memory

        self.made: list = []
        stores = self

        class Recorded(memory.MemoryTrackerStore):
            def __init__(self, *args, **kwargs) -> None:
                super().__init__(*args, **kwargs)
                stores.made.append(self)

        monkeypatch.setattr(memory, "MemoryTrackerStore", Recorded)

    def conversations(self) -> list[str]:
        [store] = self.made
        return sorted(asyncio.run(store.keys()))


#: greet and confirm (intent, utter_greet, listen), restart, greet again, then export
SESSION = "/greet\n\n\n\n/restart\n/greet\n\n\n\n/export\n"


def test_interactive_conversation_id_names_the_conversations(bot: Path, monkeypatch) -> None:
    stores = _Stores(monkeypatch)
    monkeypatch.setattr("sys.stdin", io.StringIO(SESSION))
    assert main(["interactive", "--project", str(bot), "--conversation-id", "pat",
                 "--skip-visualization"]) == 0
    assert stores.conversations() == ["pat", "pat-2"]
    assert "utter_greet" in (bot / "data" / "stories.yml").read_text()


def test_interactive_without_an_id_numbers_the_conversations(bot: Path, monkeypatch) -> None:
    from dialogflowlite.cli.interactive import run_interactive

    stores = _Stores(monkeypatch)
    run_interactive(bot, stdin=io.StringIO(SESSION), stdout=io.StringIO())
    assert stores.conversations() == ["interactive-1", "interactive-2"]


def test_interactive_options(capsys) -> None:
    args = parse("interactive", "--skip-visualization", "-m", "models", "--endpoints", "e.yml",
                 "--e2e")
    assert args.skip_visualization and (args.model, args.endpoints) == ("models", "e.yml")
    assert args.e2e
    with pytest.raises(SystemExit):
        main(["interactive", "--help"])
    help_text = " ".join(capsys.readouterr().out.split())
    assert "--skip-visualization serve no story graph" in help_text
    assert "http://localhost:PORT/visualization.html (default: 5006, Rasa's address;" in help_text
    assert parse("interactive", "-p", "6001").port == 6001
    assert "--e2e write the stories in the end-to-end format" in help_text


# ---------------------------------------------------------------- data validate

VALIDATE_DOMAIN = """
version: "3.1"
intents: [greet, inform, goodbye, unused]
responses:
  utter_greet: [{text: Hello!}]
  utter_goodbye: [{text: Bye!}]
"""

VALIDATE_NLU = """
version: "3.1"
nlu:
- intent: greet
  examples: |
    - hi
- intent: inform
  examples: |
    - to Rome
- intent: goodbye
  examples: |
    - bye
"""

#: the stories differ only two turns back: a contradiction with max_history 1, not with 2
VALIDATE_STORIES = stories_yaml(LONG_STORY, SHORT_STORY)

VALIDATE_CONFIG = """
language: en
pipeline: []
policies:
- name: MemoizationPolicy
  max_history: {}
"""


def validation_project(tmp_path: Path, config_history: int) -> Path:
    return write_files(tmp_path / f"validate-{config_history}", {
        "domain.yml": VALIDATE_DOMAIN, "data/nlu.yml": VALIDATE_NLU,
        "data/stories.yml": VALIDATE_STORIES,
        "config.yml": VALIDATE_CONFIG.replace("{}", str(config_history))})


def validate(capsys, *argv: str) -> tuple[int, str]:
    code = main(["data", "validate", *argv])
    return code, capsys.readouterr().out


def test_max_history_overrides_the_config(tmp_path: Path, capsys) -> None:
    long_config = validation_project(tmp_path, 3)
    code, out = validate(capsys, "--project", str(long_config))
    assert code == 0 and "DFL119" not in out and "contradicts" not in out
    code, out = validate(capsys, "--project", str(long_config), "--max-history", "1")
    assert code == 1
    assert "story 'short' contradicts story 'long'" in out
    assert "after the same last 1 turn(s)" in out

    short_config = validation_project(tmp_path, 1)
    assert validate(capsys, "--project", str(short_config))[0] == 1
    code, out = validate(capsys, "--project", str(short_config), "--max-history", "2")
    assert code == 0 and "contradicts" not in out


def test_max_history_must_be_positive(tmp_path: Path, capsys) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["data", "validate", "--project", str(tmp_path), "--max-history", "0"])
    assert exited.value.code == 2
    assert "must be 1 or more, not 0" in capsys.readouterr().err


def test_validate_stories_runs_only_the_story_structure_checks(tmp_path: Path, capsys) -> None:
    root = validation_project(tmp_path, 3)
    # everything: the intent `unused` has no examples, a warning
    code, out = validate(capsys, "--project", str(root), "--fail-on-warnings")
    assert code == 1 and "intent 'unused'" in out
    # the stories only: that warning is not theirs
    code, out = validate(capsys, "stories", "--project", str(root), "--fail-on-warnings")
    assert code == 0 and "unused" not in out
    assert out.startswith("0 error(s), 0 warning(s)")
    code, out = validate(capsys, "stories", "--project", str(root), "--max-history", "1")
    assert code == 1
    problems = out.splitlines()[:-1]
    assert problems and all("contradicts" in line for line in problems)


def test_validate_stories_still_reports_unreadable_files(tmp_path: Path, capsys) -> None:
    root = validation_project(tmp_path, 3)
    (root / "data" / "more.yml").write_text("stories:\n  - story: x\n   steps: []\n")
    code, out = validate(capsys, "stories", "--project", str(root))
    assert code == 1 and "invalid YAML" in out


def test_validate_reads_other_domain_data_and_config(tmp_path: Path, capsys) -> None:
    root = validation_project(tmp_path, 3)
    other = write_files(tmp_path / "other", {
        "domain.yml": VALIDATE_DOMAIN.replace(", unused]", "]"),
        "nlu.yml": VALIDATE_NLU,
        "stories.yml": stories_yaml(LONG_STORY),
        # without the short story, a rule uses greet (else it is reported unused)
        "rules.yml": rules_yaml(GREET_RULE),
        "config.yml": VALIDATE_CONFIG.replace("{}", "1"),
    })
    # the project's own domain has the `unused` intent: a warning
    assert validate(capsys, "--project", str(root), "--fail-on-warnings")[0] == 1
    code, out = validate(capsys, "--project", str(root), "--fail-on-warnings",
                         "-d", str(other / "domain.yml"),
                         "--data", str(other / "nlu.yml"), str(other / "stories.yml"),
                         str(other / "rules.yml"), "-c", str(other / "config.yml"))
    assert code == 0, out
    assert "3 intents, 3 examples" in out and "1 stories" in out
    # with the project's stories and the other config's max_history 1, they contradict
    code, out = validate(capsys, "--project", str(root), "--config", str(other / "config.yml"))
    assert code == 1 and "after the same last 1 turn(s)" in out
    code, out = validate(capsys, "--project", str(root), "--config", "nowhere.yml")
    assert code == 1 and "the config file nowhere.yml does not exist" in out
    assert "--config" in out


# ---------------------------------------------------------------- test


def test_e2e_is_accepted_and_stories_are_always_tested_end_to_end(bot: Path, capsys) -> None:
    (bot / "mislabelled.yml").write_text(MISLABELLED, encoding="utf-8")
    for extra in ([], ["--e2e"], ["--end-to-end"]):
        out_dir = f"results{len(extra)}{extra[0] if extra else ''}"
        assert main(["test", "core", "--project", str(bot), "--stories", "mislabelled.yml",
                     "--out", out_dir, *extra]) == 0
        assert "Stories: 0 / 1 correct" in capsys.readouterr().out
        failed = (bot / out_dir / "failed_test_stories.yml").read_text(encoding="utf-8")
        # the text was parsed: the NLU read /bye, not the label greet
        assert "predicted: bye: /bye" in failed
    assert parse("test", "--e2e").e2e and parse("test", "core", "--end-to-end").e2e


def test_no_errors_leaves_out_the_failed_stories(bot: Path, capsys) -> None:
    (bot / "mislabelled.yml").write_text(MISLABELLED, encoding="utf-8")
    args = ["test", "core", "--project", str(bot), "-s", "mislabelled.yml"]
    assert main([*args, "--out", "with"]) == 0
    assert (bot / "with" / "failed_test_stories.yml").is_file()
    assert main([*args, "--out", "without", "--no-errors"]) == 0
    assert "Stories: 0 / 1 correct" in capsys.readouterr().out
    assert not (bot / "without" / "failed_test_stories.yml").exists()
    report = json.loads((bot / "without" / "story_report.json").read_text())
    assert report["conversation_accuracy"]["correct"] == 0


def test_test_core_draws_the_action_confusion_matrix_unless_no_plot(bot: Path) -> None:
    (bot / "mislabelled.yml").write_text(MISLABELLED, encoding="utf-8")
    args = ["test", "core", "--project", str(bot), "-s", "mislabelled.yml"]
    assert main([*args, "--out", "plotted"]) == 0
    png = bot / "plotted" / "story_confusion_matrix.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert main([*args, "--out", "unplotted", "--no-plot"]) == 0
    assert not list((bot / "unplotted").glob("*.png"))
    assert (bot / "unplotted" / "story_report.json").is_file()


def test_max_stories_tests_the_first_stories_only(bot: Path, capsys) -> None:
    (bot / "mislabelled.yml").write_text(MISLABELLED, encoding="utf-8")
    (bot / "both.yml").write_text(TESTS + MISLABELLED.split("stories:\n", 1)[1],
                                  encoding="utf-8")
    args = ["test", "core", "--project", str(bot), "-s", "both.yml"]
    assert main([*args, "--out", "all"]) == 0
    assert "Stories: 1 / 2 correct" in capsys.readouterr().out
    assert main([*args, "--out", "first", "--max-stories", "1"]) == 0
    out = capsys.readouterr().out
    assert "Testing the first 1 of 2 test stories" in out
    assert "Stories: 1 / 1 correct" in out
    report = json.loads((bot / "first" / "story_report.json").read_text())
    assert report["conversation_accuracy"]["total"] == 1
    with pytest.raises(SystemExit) as exited:
        main([*args, "--max-stories", "0"])
    assert exited.value.code == 2


def test_nlu_no_errors_and_successes(bot: Path, capsys) -> None:
    (bot / "nlu_tests.yml").write_text(NLU_TESTS, encoding="utf-8")
    args = ["test", "nlu", "--project", str(bot), "-u", "nlu_tests.yml"]
    assert main([*args, "--out", "plain"]) == 0
    errors = json.loads((bot / "plain" / "intent_errors.json").read_text())
    assert [e["text"] for e in errors] == ["hello"]
    assert not (bot / "plain" / "intent_successes.json").exists()
    assert (bot / "plain" / "intent_confusion_matrix.png").is_file()
    assert main([*args, "--out", "unplotted", "--no-plot"]) == 0
    assert not list((bot / "unplotted").glob("*.png"))
    assert (bot / "unplotted" / "intent_errors.json").is_file()

    stale = bot / "quiet" / "intent_errors.json"
    stale.parent.mkdir()
    stale.write_text("from an earlier run", encoding="utf-8")
    capsys.readouterr()
    assert main([*args, "--out", "quiet", "--no-errors", "--successes"]) == 0
    out = capsys.readouterr().out
    assert "NLU evaluation on 2 messages" in out
    written = out.split("results written to ")[1]
    assert "intent_report.json" in written and "intent_errors.json" not in written
    assert stale.read_text(encoding="utf-8") == "from an earlier run"  # not written
    assert not (bot / "quiet" / "entity_errors.json").exists()
    assert (bot / "quiet" / "intent_report.json").is_file()
    successes = json.loads((bot / "quiet" / "intent_successes.json").read_text())
    assert successes == [{"text": "/greet", "intent": "greet",
                          "intent_prediction": {"name": "greet", "confidence": 1.0}}]


def test_cross_validation_takes_the_config_and_data_given(bot: Path, capsys) -> None:
    no_entities = bot / "no_entities.yml"
    no_entities.write_text(CONFIG.replace("- name: RegexEntityExtractor\n", ""),
                           encoding="utf-8")
    only_inform = bot / "inform.yml"
    only_inform.write_text(textwrap.dedent(NLU).split("- intent: greet")[0]
                           + "- intent: inform\n  examples: |\n    - to [Oslo](city)\n"
                           "    - to [Rome](city)\n    - off to [Rome](city)\n"
                           "    - back to [Oslo](city)\n- regex: city\n  examples: |\n"
                           "    - Rome|Oslo\n", encoding="utf-8")
    args = ["test", "nlu", "--project", str(bot), "--cross-validation", "-f", "2",
            "--nlu", "inform.yml"]
    assert main([*args, "--out", "own"]) == 0
    assert "2 folds (4 messages)" in capsys.readouterr().out
    own = json.loads((bot / "own" / "cross_validation.json").read_text())
    assert own["mean"]["entity_f1"] == 1.0
    assert main([*args, "--out", "other", "-c", "no_entities.yml"]) == 0
    other = json.loads((bot / "other" / "cross_validation.json").read_text())
    assert other["mean"]["entity_f1"] == 0.0

    assert main([*args, "-c", "no_entities.yml", "config.yml"]) == 1
    assert "--cross-validation takes one config" in capsys.readouterr().err
    assert main(["test", "--project", str(bot), "-c", "config.yml", "nlu"]) == 1
    assert "write `test nlu` before the options" in capsys.readouterr().err
    assert main([*args, "-c", "nowhere.yml"]) == 1
    assert "check the path given to --config" in capsys.readouterr().err


def test_a_test_file_that_cannot_be_read_is_an_error_not_left_out(bot: Path, capsys) -> None:
    (bot / "tests" / "broken.yml").write_text("stories:\n- story: [x\n", encoding="utf-8")
    for part in ("core", "nlu"):
        assert main(["test", part, "--project", str(bot), "--out", part]) == 1
        err = capsys.readouterr().err
        assert "broken.yml:3:1: error: invalid YAML" in err
        assert "one that cannot be read would be left out of the test" in err
        assert not (bot / part).exists()
    # the whole test with its stories given: the NLU part is not skipped as if
    # tests/ held no examples
    assert main(["test", "--project", str(bot), "--stories", "tests/test_stories.yml",
                 "--out", "whole"]) == 1
    assert "broken.yml:3:1: error: invalid YAML" in capsys.readouterr().err


def test_test_out_folder(bot: Path, tmp_path: Path, monkeypatch) -> None:
    assert main(["test", "core", "--project", str(bot), "--out", "elsewhere"]) == 0
    assert (bot / "elsewhere" / "story_report.json").is_file()
    # from another folder: a relative --out is from there, as Rasa reads it (a folder
    # not made yet went under the project: --out bot/ci wrote bot/bot/ci)
    monkeypatch.chdir(tmp_path)
    assert main(["test", "core", "--project", "bot", "--out", "bot/ci"]) == 0
    assert (bot / "ci" / "story_report.json").is_file()
    assert not (bot / "bot").exists()
    assert main(["test", "--project", "bot"]) == 0  # without --out: the project's results/
    assert (bot / "results" / "story_report.json").is_file()
    assert not (tmp_path / "results").exists()


def test_a_missing_model_is_said_first_and_missing_test_stories_only_stop_test_core(
        bot: Path, capsys) -> None:
    shutil.rmtree(bot / "tests")
    assert main(["test", "core", "--project", str(bot), "-m", "nope.tar"]) == 1
    assert "no model at" in capsys.readouterr().err
    assert main(["test", "core", "--project", str(bot)]) == 1
    assert "no test stories in" in capsys.readouterr().err
    # the whole test says what it skipped and goes on
    assert main(["test", "--project", str(bot), "--out", "whole"]) == 0
    out = capsys.readouterr().out
    assert "Stories: no test stories under tests/" in out
    assert "NLU: no test examples under tests/" in out


def test_a_misspelt_stories_key_in_a_test_file_stops_the_test(bot: Path, capsys) -> None:
    # its stories were left out: "28 / 28 correct", exit 0, with --fail-on-prediction-errors
    (bot / "tests" / "test_more.yml").write_text(
        'version: "3.1"\nstorys:\n- story: fails\n  steps:\n  - intent: greet\n'
        "  - action: utter_bye\n", encoding="utf-8")
    assert main(["test", "core", "--project", str(bot), "--fail-on-prediction-errors"]) == 1
    err = capsys.readouterr().err
    assert "test_more.yml:2:1: error: unknown key 'storys' in a data file" in err
    assert "did you mean 'stories'?" in err
    # a folder given with --stories: the same, from the file's own reading
    assert main(["test", "core", "--project", str(bot), "--stories", "tests"]) == 1
    err = capsys.readouterr().err
    assert "test_more.yml:2:1: error: unknown key 'storys' in a data file" in err


def test_another_tools_yaml_under_tests_is_a_warning_not_an_error(bot: Path, capsys) -> None:
    # as Rasa, which reads only the files holding test data: a key close to no known
    # one is no misspelling, and the test still runs
    (bot / "tests" / "ci.yml").write_text(
        "jobs:\n  check:\n    image: x\n", encoding="utf-8")
    assert main(["test", "core", "--project", str(bot)]) == 0
    err = capsys.readouterr().err
    assert "error" not in err


def test_stories_given_without_any_are_named_not_tests(bot: Path, capsys) -> None:
    assert main(["test", "core", "--project", str(bot), "-s", "domain.yml"]) == 1
    err = capsys.readouterr().err
    assert "no test stories in domain.yml" in err  # (found from the working folder)
    assert "with a `stories:` section" in err
    assert "tests" not in err.split("(hint")[0]


# ---------------------------------------------------------------- visualize

GRAPH_DOMAIN = keyword_bot.domain("inform", "deny", sections="entities: [city]\n",
                                  responses=NOTED)

#: utter_greet is followed by different steps in the two stories
GRAPH_STORIES = """
version: "3.1"
stories:
- story: greet then inform
  steps:
  - intent: greet
  - action: utter_greet
  - intent: inform
    entities:
    - city: Rome
  - action: utter_noted
- story: bye then deny
  steps:
  - intent: bye
  - action: utter_greet
  - intent: deny
  - action: utter_bye
"""


@pytest.fixture
def graph_project(tmp_path: Path) -> Path:
    return write_files(tmp_path / "graph", {
        "domain.yml": GRAPH_DOMAIN, "data/stories.yml": GRAPH_STORIES,
        "config.yml": "language: en\npipeline: []\npolicies: []\n"})


def dot(root: Path, *argv: str) -> str:
    out = root / "g.dot"
    assert main(["visualize", "--project", str(root), "--out", str(out), *argv]) == 0
    return out.read_text(encoding="utf-8")


def node_count(graph: str, label: str) -> int:
    return len(re.findall(rf'\[label="{re.escape(label)}"', graph))


def test_max_history_merges_alike_steps(graph_project: Path) -> None:
    assert node_count(dot(graph_project), "utter_greet") == 2
    assert node_count(dot(graph_project, "--max-history", "2"), "utter_greet") == 2
    merged = dot(graph_project, "--max-history", "1")
    assert node_count(merged, "utter_greet") == 1
    # the one utter_greet comes after both intents and goes on to both
    node = re.search(r'(n\d+) \[label="utter_greet"', merged).group(1)
    assert len(re.findall(rf"-> {node};", merged)) == 2
    assert len(re.findall(rf"{node} -> ", merged)) == 2


def test_merging_never_makes_a_loop() -> None:
    from dialogflowlite.dialogue.story_graph import Node, StoryGraph
    from dialogflowlite.dialogue.story_graph_merge import merge_alike_steps

    # START -> a -> b -> a -> END: the two a's are on one path and stay two nodes
    graph = StoryGraph([Node(0, "START", "start"), Node(1, "END", "end"),
                        Node(2, "a", "action"), Node(3, "b", "action"),
                        Node(4, "a", "action")], {(0, 2), (2, 3), (3, 4), (4, 1)})
    merged = merge_alike_steps(graph, 1)
    assert [n.label for n in merged.nodes].count("a") == 2


def test_nlu_draws_example_messages(graph_project: Path) -> None:
    nlu = graph_project / "examples.yml"
    nlu.write_text(textwrap.dedent("""\
        version: "3.1"
        nlu:
        - intent: greet
          examples: |
            - hello there
        - intent: inform
          examples: |
            - to [Oslo](city)
            - to [Rome](city)
        """), encoding="utf-8")
    graph = dot(graph_project, "-u", str(nlu))
    assert 'label="\\"hello there\\""' in graph
    assert '"\\"to Rome\\" (city)"' in graph and "to Oslo" not in graph  # same entity value
    assert 'label="bye"' in graph  # no example: the intent stays
    assert 'label="greet"' not in graph


def test_visualize_reads_other_stories_domain_and_config(graph_project: Path,
                                                         capsys) -> None:
    other = write_files(graph_project / "other", {
        "domain.yml": GRAPH_DOMAIN,
        "config.yml": "language: en\npipeline: []\npolicies: []\n",
        "stories.yml": GRAPH_STORIES.split("- story: bye then deny")[0]})
    (graph_project / "domain.yml").write_text("intents: [greet\n", encoding="utf-8")
    (graph_project / "config.yml").write_text("pipeline: [\n", encoding="utf-8")
    assert main(["visualize", "--project", str(graph_project)]) == 1
    graph = dot(graph_project, "-d", str(other / "domain.yml"), "-c", str(other / "config.yml"),
                "-s", str(other / "stories.yml"))
    assert 'label="greet"' in graph and 'label="deny"' not in graph
    assert main(["visualize", "--project", str(graph_project), "-d", str(other / "domain.yml"),
                 "-c", str(other / "config.yml"), "-s", "nowhere.yml"]) == 1
    assert "check the path given to --stories" in capsys.readouterr().err


# ---------------------------------------------------------------- export


def test_export_takes_rasas_options() -> None:
    args = parse("export", "--endpoints", "e.yml", "--minimum-timestamp", "1.5",
                 "--maximum-timestamp", "9", "--conversation-ids", "a,b")
    assert (args.endpoints, args.minimum_timestamp, args.maximum_timestamp,
            args.conversation_ids) == ("e.yml", 1.5, 9.0, ["a", "b"])


CHECKPOINT_STORIES = """
version: "3.1"
stories:
- story: greeting
  steps:
  - intent: greet
  - action: utter_greet
  - checkpoint: greeted
- story: after the greeting
  steps:
  - checkpoint: greeted
  - intent: bye
  - action: utter_bye
"""


def test_train_debug_plots_draws_the_stories_joined_at_checkpoints(tmp_path: Path,
                                                                   capsys) -> None:
    root = write_files(tmp_path / "plots", {
        "domain.yml": GRAPH_DOMAIN, "data/stories.yml": CHECKPOINT_STORIES,
        "config.yml": "language: en\npipeline: []\npolicies:\n- name: MemoizationPolicy\n"})
    assert main(["train", "core", "--project", str(root), "--debug-plots"]) == 0
    out = capsys.readouterr().out
    plot = root / "story_blocks_connections.html"
    assert f"2 stories drawn as 6 steps into {plot}" in out
    page = plot.read_text(encoding="utf-8")
    # one path START -> greet -> utter_greet -> bye -> utter_bye -> END: the checkpoint
    # joined the two stories and is no step of its own
    for label in ("greet", "utter_greet", "bye", "utter_bye"):
        assert f">{label}</text>" in page
    assert "greeted" not in page
    assert list((root / "models").glob("*.tar"))

    # a dry run draws nothing; comparing configs does not take it
    plot.unlink()
    assert main(["train", "core", "--project", str(root), "--debug-plots", "--dry-run"]) == 0
    assert not plot.exists()
    (root / "other.yml").write_text("policies:\n- name: RulePolicy\n", encoding="utf-8")
    assert main(["train", "core", "--project", str(root), "--debug-plots",
                 "-c", "config.yml", "other.yml"]) == 1
    assert "--debug-plots does not go with comparing configs" in capsys.readouterr().err


def test_train_persist_nlu_data_keeps_the_training_data_in_the_model(bot: Path,
                                                                     capsys) -> None:
    from dialogflowlite.evaluation.nlu import load_nlu_data
    from dialogflowlite.training.persisted_data import read_persisted_nlu_data

    assert main(["train", "nlu", "--project", str(bot), "--persist-nlu-data",
                 "--fixed-model-name", "kept"]) == 0
    kept = read_persisted_nlu_data(bot / "models" / "kept.tar")
    trained_on = load_nlu_data(bot / "data" / "nlu.yml")
    assert [(m.text, m.intent, m.entities) for m in kept.examples] == [
        (m.text, m.intent, m.entities) for m in trained_on.examples]
    assert [r.pattern for r in kept.regexes] == [r.pattern for r in trained_on.regexes]
    # without the option the model holds none; a model without NLU holds none and says so
    assert main(["train", "nlu", "--project", str(bot), "--force",
                 "--fixed-model-name", "plain"]) == 0
    assert read_persisted_nlu_data(bot / "models" / "plain.tar") is None
    assert main(["train", "core", "--project", str(bot), "--persist-nlu-data",
                 "--fixed-model-name", "core"]) == 0
    assert read_persisted_nlu_data(bot / "models" / "core.tar") is None
    assert "this model has no NLU part" in capsys.readouterr().err


@pytest.mark.parametrize(("argv", "error"), [
    (["run", "--port", "99999"], "a port is 0 to 65535, not 99999"),
    (["run", "--port", "http"], "not a port number: 'http'"),
    (["run", "--workers", "0"], "must be 1 or more, not 0"),
    (["interactive", "--port", "-1"], "a port is 0 to 65535, not -1"),
])
def test_ports_and_workers_out_of_range_are_usage_errors(argv: list[str], error: str,
                                                         capsys) -> None:
    # they were an OverflowError and a ZeroDivisionError with their tracebacks
    with pytest.raises(SystemExit) as exit_code:
        parse(*argv)
    assert exit_code.value.code == 2
    assert error in capsys.readouterr().err


def test_serve_refuses_zero_workers_before_anything_else(tmp_path: Path) -> None:
    from dialogflowlite.errors import ConfigError
    from dialogflowlite.server.app import ServerConfig
    from dialogflowlite.server.serve import serve

    with pytest.raises(ConfigError, match="--workers must be at least 1"):
        serve(ServerConfig(project=str(tmp_path)), workers=0)
