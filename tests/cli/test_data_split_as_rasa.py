"""``data split stories`` writes Rasa's files: ``train_<file>`` and ``test_<file>`` per file."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from dialogflowlite.cli.data import split_stories
from dialogflowlite.cli.main import main
from dialogflowlite.errors import ProjectError
from dialogflowlite.io.yaml import read_yaml_file, to_plain

DOMAIN = """
version: "3.1"
intents: [greet, ask, bye]
responses:
  utter_greet: [{text: "Hi"}]
  utter_answer: [{text: "Here"}]
  utter_bye: [{text: "Bye"}]
"""


def stories(prefix: str, count: int, *, rules: bool = False, comment: str = "") -> str:
    lines = ['version: "3.1"', f"# {comment}" if comment else "", "stories:"]
    for number in range(count):
        lines += [
            f"- story: {prefix} {number}",
            "  steps:",
            "  - intent: greet",
            "  - action: utter_greet",
        ]
    if rules:
        lines += [
            "rules:",
            f"- rule: {prefix} rule",
            "  steps:",
            "  - intent: bye",
            "  - action: utter_bye",
        ]
    return "\n".join(lines) + "\n"


def names(path: Path, key: str = "stories") -> list[str]:
    return [
        entry.get("story") or entry.get("rule")
        for entry in to_plain(read_yaml_file(path)).get(key) or []
    ]


def test_each_stories_file_is_split_into_train_and_test_files_of_its_name(write_project) -> None:
    root = write_project(
        domain=DOMAIN,
        stories=stories("home", 10, rules=True),
        files={
            "data/more/faq.yml": stories("faq", 5),
            "data/rules.yml": 'version: "3.1"\nrules:\n- rule: r\n'
            "  steps:\n  - intent: bye\n  - action: utter_bye\n",
        },
    )
    results = split_stories(root, echo=io.StringIO())
    folder = root / "train_test_split"
    # a file without stories (rules.yml) is not split; nothing is merged across files
    assert sorted(p.name for p in folder.iterdir()) == [
        "test_faq.yml",
        "test_stories.yml",
        "train_faq.yml",
        "train_stories.yml",
    ]
    assert {(r.source.name, r.training.name, r.test.name) for r in results} == {
        ("faq.yml", "train_faq.yml", "test_faq.yml"),
        ("stories.yml", "train_stories.yml", "test_stories.yml"),
    }
    home_train, home_test = names(folder / "train_stories.yml"), names(folder / "test_stories.yml")
    faq_train, faq_test = names(folder / "train_faq.yml"), names(folder / "test_faq.yml")
    # the fraction holds out a fifth of each file's stories, and nothing is lost
    assert (len(home_test), len(faq_test)) == (2, 1)
    assert sorted(home_train + home_test) == sorted(f"home {n}" for n in range(10))
    assert sorted(faq_train + faq_test) == sorted(f"faq {n}" for n in range(5))
    # the training file keeps the rest of its source: the rules stay with it
    assert names(folder / "train_stories.yml", "rules") == ["home rule"]
    test_file = to_plain(read_yaml_file(folder / "test_stories.yml"))
    assert set(test_file) == {"version", "stories"}


def test_the_seed_and_fraction_choose_the_same_stories_again(write_project) -> None:
    root = write_project(domain=DOMAIN, stories=stories("s", 10))
    [first] = split_stories(root, out=root / "a", training_fraction=0.7, echo=io.StringIO())
    [again] = split_stories(root, out=root / "b", training_fraction=0.7, echo=io.StringIO())
    assert (first.training_stories, first.test_stories) == (7, 3)
    assert names(first.test) == names(again.test)
    draws = {
        tuple(
            names(
                split_stories(root, out=root / f"seed{seed}", seed=seed, echo=io.StringIO())[0].test
            )
        )
        for seed in range(5)
    }
    assert len(draws) > 1


def test_comments_and_layout_of_the_source_are_kept_in_the_training_file(write_project) -> None:
    root = write_project(domain=DOMAIN, stories=stories("s", 4, comment="written by hand"))
    [split] = split_stories(root, echo=io.StringIO())
    assert "# written by hand" in split.training.read_text(encoding="utf-8")


def test_a_file_with_one_story_trains_it_and_gets_no_test_file(write_project) -> None:
    root = write_project(
        domain=DOMAIN, stories=stories("s", 5), files={"data/single.yml": stories("alone", 1)}
    )
    echo = io.StringIO()
    results = {r.source.name: r for r in split_stories(root, echo=echo)}
    assert results["single.yml"].test is None
    assert names(results["single.yml"].training) == ["alone 0"]
    assert not (root / "train_test_split" / "test_single.yml").exists()
    assert "single.yml has too few stories without checkpoints" in echo.getvalue()
    assert results["stories.yml"].test_stories == 1


def test_files_of_the_same_name_are_refused_before_anything_is_written(write_project) -> None:
    root = write_project(
        domain=DOMAIN, stories=stories("s", 5), files={"data/more/stories.yml": stories("t", 5)}
    )
    with pytest.raises(
        ProjectError,
        match=r"data/more/stories.yml and .*data/stories.yml "
        r"have the same name",
    ) as info:
        split_stories(root, echo=io.StringIO())
    assert "--stories" in info.value.hint
    assert not (root / "train_test_split").exists()


def test_stories_spread_one_per_file_are_too_few_to_split(write_project) -> None:
    root = write_project(
        domain=DOMAIN, stories=stories("s", 1), files={"data/other.yml": stories("t", 1)}
    )
    with pytest.raises(ProjectError, match="each file is split on its own"):
        split_stories(root, echo=io.StringIO())
    assert not (root / "train_test_split").exists()


def test_the_command_writes_rasa_s_names(write_project) -> None:
    root = write_project(domain=DOMAIN, stories=stories("s", 5))
    assert (
        main(["data", "split", "stories", "--project", str(root), "-q", "-u", str(root / "data")])
        == 0
    )
    assert sorted(p.name for p in (root / "train_test_split").iterdir()) == [
        "test_stories.yml",
        "train_stories.yml",
    ]
