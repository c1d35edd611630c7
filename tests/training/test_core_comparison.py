"""``train core -c A B`` and ``test core --evaluate-model-directory``: policies compared
on less and less of the stories."""

from __future__ import annotations

import json
from pathlib import Path

import keyword_bot
import pytest

from dialogflowlite.cli.main import main
from dialogflowlite.training.core_comparison import GRAPH, MANIFEST, RESULTS

#: six questions, each answered by its own response: a policy that memorises
#: stories answers exactly the questions of the stories it was trained on
TOPICS = "abcdef"

DOMAIN = (
    'version: "3.1"\n'
    f"intents: [{', '.join(f'ask_{t}' for t in TOPICS)}, bye]\n"
    "responses:\n"
    + "".join(f'  utter_{t}: [{{text: "About {t}."}}]\n' for t in TOPICS)
    + '  utter_bye: [{text: "Bye!"}]\n'
)

STORIES = 'version: "3.1"\nstories:\n' + "".join(
    f"- story: {t}\n  steps:\n  - intent: ask_{t}\n  - action: utter_{t}\n" for t in TOPICS)

RULES = keyword_bot.VERSION + "rules:\n" + keyword_bot.BYE_RULE

#: FormPolicy is one of Rasa's, left out here with a notice
MEMO = """
policies:
- name: MemoizationPolicy
- name: RulePolicy
- name: FormPolicy
"""

RULES_ONLY = """
policies:
- name: RulePolicy
"""


@pytest.fixture
def bot(write_project, monkeypatch) -> Path:
    root = write_project(domain=DOMAIN, stories=STORIES, rules=RULES, config=MEMO,
                         tests=STORIES, name="bot",
                         files={"configs/memo.yml": MEMO, "configs/rules_only.yml": RULES_ONLY})
    # run from the project: a relative --out is from the working folder, as in Rasa
    monkeypatch.chdir(root)
    return root


def test_policies_compared_on_fewer_stories(bot: Path, capsys) -> None:
    code = main(["train", "core", "--project", str(bot), "-c", "configs/memo.yml",
                 "configs/rules_only.yml", "--runs", "2", "--percentages", "50", "0",
                 "--out", "compared"])
    assert code == 0
    captured = capsys.readouterr()
    printed = captured.out
    assert "[8/8] run 2, 50% left out: training rules_only on 3 of 6 stories" in printed
    assert captured.err.count("FormPolicy is not used") == 1  # not once per training
    # the data is validated for each config, and its warnings are logged once
    assert captured.err.count("intent 'ask_a' has no NLU examples") == 1
    folder = bot / "compared"
    manifest = json.loads((folder / MANIFEST).read_text())
    assert manifest["configs"] == ["memo", "rules_only"]
    assert manifest["excluded_percentages"] == [0, 50] and manifest["stories"] == 6
    assert len(manifest["models"]) == 8
    for entry in manifest["models"]:
        assert (folder / entry["file"]).is_file()
    assert (folder / "run_2" / "memo_excluded_50.tar").is_file()
    assert not (bot / "models").exists()  # the bot's own models are left alone

    code = main(["test", "core", "--project", str(bot), "--model", "compared",
                 "--evaluate-model-directory", "--out", "cmp"])
    assert code == 0
    printed = capsys.readouterr().out
    assert "2 configs, 2 runs, 6 test stories" in printed
    results = json.loads((bot / "cmp" / RESULTS).read_text())
    memo = results["curves"]["memo"]["correct_stories"]
    rules_only = results["curves"]["rules_only"]["correct_stories"]
    # memorised stories are answered, the others not; rules alone answer none of them
    assert [(p["train_stories"], p["mean"], p["std"]) for p in memo] == [(6, 6, 0), (3, 3, 0)]
    assert [p["mean"] for p in rules_only] == [0, 0]
    assert results["curves"]["memo"]["story_accuracy"][1]["mean"] == 0.5
    assert (bot / "cmp" / GRAPH).stat().st_size > 0
    row = next(line for line in printed.splitlines() if line.startswith("memo") and "50%" in line)
    assert "3.00 ± 0.00" in row and "0.50 ± 0.00" in row


def test_comparison_errors(bot: Path, capsys) -> None:
    args = ["--project", str(bot), "-c", "configs/memo.yml", "configs/rules_only.yml"]
    assert main(["train", *args]) == 1
    assert "`train core` compares dialogue policies" in capsys.readouterr().err
    assert main(["train", "core", *args, "--dry-run"]) == 1
    assert "--dry-run does not go with comparing configs" in capsys.readouterr().err
    # every config is validated before anything trains
    (bot / "broken.yml").write_text("policies:\n- name: NoSuchPolicy\n", encoding="utf-8")
    assert main(["train", "core", "--project", str(bot), "-c", "configs/memo.yml",
                 "broken.yml", "--out", "compared"]) == 1
    assert "NoSuchPolicy" in capsys.readouterr().err
    assert not (bot / "compared").exists()
    assert main(["test", "core", "--project", str(bot), "--evaluate-model-directory"]) == 1
    assert "is not a folder of compared models" in capsys.readouterr().err
    (bot / "plain").mkdir()
    assert main(["test", "core", "--project", str(bot), "-m", "plain",
                 "--evaluate-model-directory"]) == 1
    assert "has no comparison.json" in capsys.readouterr().err
    (bot / "plain" / MANIFEST).write_text('{"configs": [], "runs": 1}')
    assert main(["test", "core", "--project", str(bot), "-m", "plain",
                 "--evaluate-model-directory"]) == 1
    assert "is not a comparison manifest: it needs the keys" in capsys.readouterr().err
    assert main(["test", "nlu", "--project", str(bot), "--evaluate-model-directory"]) == 1
    assert "it goes with `test core`" in capsys.readouterr().err
    with pytest.raises(SystemExit) as info:
        main(["train", "core", *args, "--percentages", "100"])
    assert info.value.code == 2
    # one config trains as usual, and says that --runs changes nothing
    assert main(["train", "core", "--project", str(bot), "-c", "configs/memo.yml",
                 "--runs", "2"]) == 0
    captured = capsys.readouterr()
    assert "apply only when --config names several configs" in captured.err
    assert len(list((bot / "models").glob("core-*.tar"))) == 1
    # a part written after one config is still the part, as when --config took one file
    assert main(["train", "--project", str(bot), "-c", "configs/memo.yml", "core",
                 "--force", "--fixed-model-name", "memo-core"]) == 0
    assert (bot / "models" / "memo-core.tar").is_file()
    trained = next(line for line in capsys.readouterr().out.splitlines()
                   if line.startswith("trained"))
    assert "(2)" in trained and "MemoizationPolicy" in trained  # memo.yml's policies


def test_a_test_story_with_or_is_counted_as_test_core_counts_it(bot: Path, capsys) -> None:
    (bot / "tests" / "or.yml").write_text(
        'version: "3.1"\nstories:\n- story: a or b\n  steps:\n  - or:\n'
        "    - intent: ask_a\n    - intent: ask_b\n  - action: utter_a\n", encoding="utf-8")
    stories = ["--stories", "tests/or.yml"]
    assert main(["train", "core", "--project", str(bot), "-c", "configs/memo.yml",
                 "configs/rules_only.yml", "--runs", "1", "--percentages", "0",
                 "--out", "compared"]) == 0
    assert main(["test", "core", "--project", str(bot), "--model", "compared",
                 "--evaluate-model-directory", "--out", "cmp", *stories]) == 0
    printed = capsys.readouterr().out
    assert "1 run, 2 test stories (1 test story as written: each `or:` alternative" in printed
    results = json.loads((bot / "cmp" / RESULTS).read_text())
    assert results["test_stories"] == 2 and results["test_stories_as_written"] == 1
    # memorised: the `ask_a` alternative passes, the `ask_b` one does not
    [memo] = results["curves"]["memo"]["correct_stories"]
    assert memo["mean"] == 1 and results["curves"]["memo"]["story_accuracy"][0]["mean"] == 0.5
