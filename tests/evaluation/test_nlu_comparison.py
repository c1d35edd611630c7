"""``test nlu --config A B``: NLU pipelines compared on the same splits, with learning curves."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dialogflowlite.cli.main import main
from dialogflowlite.errors import ConfigError
from dialogflowlite.evaluation.comparison import check_percentages, config_names
from dialogflowlite.evaluation.nlu_comparison import (
    COMPARISON_GRAPH,
    COMPARISON_RESULTS,
    kept_for_exclusion,
)
from dialogflowlite.shared.message import Message

DOMAIN = """
version: "3.1"
intents: [greet, bye, inform]
entities: [city]
"""

#: eight examples per intent: a fifth (five parts) of 24 is tested in each run
NLU = """
version: "3.1"
nlu:
- intent: greet
  examples: |
    - hello
    - hi
    - hello there
    - hi there
    - hey
    - hey there
    - good morning
    - good evening
- intent: bye
  examples: |
    - bye
    - goodbye
    - bye bye
    - see you
    - see you later
    - good night
    - farewell
    - ciao
- intent: inform
  examples: |
    - to [Oslo](city)
    - to [Rome](city)
    - off to [Oslo](city)
    - going to [Rome](city)
    - flying to [Oslo](city)
    - a trip to [Rome](city)
    - to [Oslo](city) please
    - to [Rome](city) please
- regex: city
  examples: |
    - Rome|Oslo
"""

#: a small intent classifier next to the regex extractor
LEARNT = """
language: en
pipeline:
- name: WhitespaceTokenizer
- name: RegexEntityExtractor
- name: ScratchTransformerClassifier
  epochs: 40
  hidden_size: 32
  num_heads: 2
  ff_size: 64
  num_layers: 1
  learning_rate: 0.01
  batch_size: 8
"""

#: the regex extractor alone: entities right, no intents
REGEX_ONLY = """
language: en
pipeline:
- name: WhitespaceTokenizer
- name: RegexEntityExtractor
"""


@pytest.fixture
def bot(write_project, monkeypatch) -> Path:
    root = write_project(domain=DOMAIN, nlu=NLU, config=LEARNT, name="bot",
                         files={"configs/learnt.yml": LEARNT,
                                "configs/regex_only.yml": REGEX_ONLY})
    # run from the project: a relative --out is from the working folder, as in Rasa
    monkeypatch.chdir(root)
    return root


def messages(counts: dict[str, int]) -> list[Message]:
    return [Message(f"{intent} {i}", intent=intent)
            for intent, count in counts.items() for i in range(count)]


def test_exclusion_keeps_nested_shares_of_every_intent() -> None:
    examples = messages({"a": 10, "b": 4, "c": 1})
    kept = kept_for_exclusion(range(15), examples, [0, 25, 50, 90], seed=3)
    assert kept[0] == list(range(15))
    # each intent keeps its share, at least one example
    counts = {p: {i: sum(examples[k].intent == i for k in kept[p]) for i in "abc"}
              for p in kept}
    assert counts[50] == {"a": 5, "b": 2, "c": 1}
    assert counts[90] == {"a": 1, "b": 1, "c": 1}
    # what a larger percentage keeps is part of what a smaller one keeps
    assert set(kept[90]) <= set(kept[50]) <= set(kept[25]) <= set(kept[0])
    assert kept_for_exclusion(range(15), examples, [50], seed=4)[50] != kept[50]


def test_percentages_and_names_are_checked(tmp_path: Path) -> None:
    assert check_percentages([50, 0, 50, 25]) == [0, 25, 50]
    with pytest.raises(ConfigError, match="100 is not a percentage"):
        check_percentages([0, 100])
    with pytest.raises(ConfigError, match="both named 'config'") as info:
        config_names([tmp_path / "a" / "config.yml", tmp_path / "b" / "config.yml"])
    assert "rename one" in info.value.hint


def test_comparing_two_configs(bot: Path, capsys) -> None:
    code = main(["test", "nlu", "--project", str(bot), "-c", "configs/learnt.yml",
                 "configs/regex_only.yml", "--runs", "2", "--percentages", "50", "0"])
    assert code == 0
    printed = capsys.readouterr().out
    assert "[8/8] run 2, 50% left out" in printed
    assert "2 configs, 2 runs, 24 messages (5 tested per run)" in printed
    results = bot / "results"
    saved = json.loads((results / COMPARISON_RESULTS).read_text())
    assert saved["configs"] == ["learnt", "regex_only"]
    assert saved["excluded_percentages"] == [0, 50]
    assert len(saved["points"]) == 8
    # every config trained on the same examples in each run and percentage
    for point in saved["points"]:
        twin = next(p for p in saved["points"] if p["config"] != point["config"]
                    and p["run"] == point["run"] and p["excluded"] == point["excluded"])
        assert twin["train_examples"] == point["train_examples"]
    learnt = saved["curves"]["learnt"]["intent_f1_weighted"]
    regex_only = saved["curves"]["regex_only"]["intent_f1_weighted"]
    # 6 + 6 + 7 training examples per run (a fifth is tested), half of each intent's with 50%
    assert [p["train_examples"] for p in learnt] == [19, 10]
    # a classifier beats none; both find the regex's entities
    assert learnt[0]["mean"] > 0.3 and regex_only[0]["mean"] == 0.0
    assert saved["curves"]["regex_only"]["entity_f1"][0]["mean"] == 1.0
    assert (results / COMPARISON_GRAPH).stat().st_size > 0
    report = json.loads((results / "run_2" / "excluded_50" / "learnt"
                         / "intent_report.json").read_text())
    assert report["weighted avg"]["support"] == 5
    row = next(line for line in printed.splitlines() if line.startswith("regex_only")
               and " 0%" in line)
    assert "0.000 ± 0.000" in row and "1.000 ± 0.000" in row


def test_a_folder_of_configs_is_compared(bot: Path, capsys) -> None:
    code = main(["test", "nlu", "--project", str(bot), "-c", "configs", "-r", "1", "-p", "0",
                 "--no-plot", "--out", "compared"])
    assert code == 0
    assert "2 configs, 1 run, 24 messages" in capsys.readouterr().out
    saved = json.loads((bot / "compared" / COMPARISON_RESULTS).read_text())
    assert saved["configs"] == ["learnt", "regex_only"] and saved["runs"] == 1
    assert not (bot / "compared" / COMPARISON_GRAPH).exists()


def test_comparison_errors(bot: Path, capsys) -> None:
    args = ["test", "nlu", "--project", str(bot)]
    assert main([*args, "-c", "config.yml", "configs/learnt.yml", "--cross-validation"]) == 1
    assert "--cross-validation takes one config" in capsys.readouterr().err
    (bot / "other").mkdir()
    (bot / "other" / "learnt.yml").write_text(LEARNT, encoding="utf-8")
    assert main([*args, "-c", "configs/learnt.yml", "other/learnt.yml"]) == 1
    assert "both named 'learnt'" in capsys.readouterr().err
    # a config that cannot be read, or names what is not installed, stops it before
    # anything trains (never the default pipeline in its place)
    (bot / "broken.yml").write_text("pipeline:\n  - name: [broken\n", encoding="utf-8")
    (bot / "unknown.yml").write_text("pipeline:\n  - name: NoSuchThing\n", encoding="utf-8")
    for config, message in (("broken.yml", "broken.yml:3:1: error: invalid YAML"),
                            ("unknown.yml", "unknown component 'NoSuchThing'")):
        assert main([*args, "-c", "configs/regex_only.yml", config]) == 1
        captured = capsys.readouterr()
        assert message in captured.err and "training" not in captured.out
    assert main([*args, "-c", "broken.yml", "--cross-validation"]) == 1
    assert "invalid YAML" in capsys.readouterr().err
    (bot / "empty").mkdir()
    assert main([*args, "-c", "empty"]) == 1
    assert "holds no .yml files" in capsys.readouterr().err
    for wrong, message in ((["-r", "0"], "must be 1 or more"),
                           (["-p", "0", "100"], "100 is not a percentage")):
        with pytest.raises(SystemExit) as exit_info:
            main([*args, "-c", "configs", *wrong])
        assert exit_info.value.code == 2
        assert message in capsys.readouterr().err
    assert not (bot / "results").exists()  # nothing was trained or written

    capsys.readouterr()
    assert main([*args, "--cross-validation", "-f", "2", "-r", "2", "--no-plot"]) == 0
    assert "apply only when --config names several configs" in capsys.readouterr().err


def test_a_short_intent_is_named_once_in_the_callers_words(caplog) -> None:
    from dialogflowlite.evaluation.nlu import stratified_folds

    examples = messages({"big": 10, "small": 2})
    with caplog.at_level("WARNING"):
        stratified_folds(examples, 5, 1, short_intent_note="some runs test without it")
        stratified_folds(examples, 5, 2, short_intent_note=None)
        stratified_folds(examples, 5, 3)
    assert [r.getMessage() for r in caplog.records] == [
        "intent 'small' has 2 examples, fewer than the 5 parts: some runs test without it",
        "intent 'small' has 2 examples, fewer than the 5 parts: some folds are tested "
        "without it"]
