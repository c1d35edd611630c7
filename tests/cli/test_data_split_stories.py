"""``data split stories`` and ``train --stories``: held-out stories for ``test core``."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from dialogflowlite.cli.data import split_stories
from dialogflowlite.errors import ProjectError
from dialogflowlite.evaluation.stories import load_test_stories

DOMAIN = """
version: "3.1"
intents: [greet, ask, thanks, bye]
responses:
  utter_greet: [{text: "Hi"}]
  utter_answer: [{text: "Here"}]
  utter_welcome: [{text: "Welcome"}]
  utter_bye: [{text: "Bye"}]
"""


def stories_yaml(count: int, joined: bool = False) -> str:
    lines = ['version: "3.1"', "stories:"]
    for number in range(count):
        lines += [f"- story: story {number}", "  steps:", "  - intent: greet",
                  "  - action: utter_greet", f"  - intent: {'ask' if number % 2 else 'bye'}",
                  f"  - action: {'utter_answer' if number % 2 else 'utter_bye'}"]
    if joined:
        lines += ["- story: first half", "  steps:", "  - intent: ask",
                  "  - action: utter_answer", "  - checkpoint: asked",
                  "- story: second half", "  steps:", "  - checkpoint: asked",
                  "  - intent: thanks", "  - action: utter_welcome"]
    return "\n".join(lines) + "\n"


RULES = """
version: "3.1"
rules:
- rule: say bye
  steps:
  - intent: bye
  - action: utter_bye
"""


def names(path: Path) -> list[str]:
    return [story.name for story in load_test_stories(path, kind="story")]


def test_the_stories_are_split_by_the_seed_and_nothing_is_lost(write_project) -> None:
    root = write_project(domain=DOMAIN, stories=stories_yaml(10, joined=True), rules=RULES)
    out = io.StringIO()
    [split] = split_stories(root, echo=out)  # rules.yml has no stories: nothing to split there
    training, test = split.training, split.test
    assert (training, test) == (root / "train_test_split" / "train_stories.yml",
                                root / "train_test_split" / "test_stories.yml")
    trained, tested = names(training), names(test)
    assert len(tested) == 2  # a fifth of the 10 stories without checkpoints
    # stories joined by checkpoints only make sense together: both halves train
    assert {"first half", "second half"} <= set(trained)
    assert sorted(trained + tested) == sorted([f"story {n}" for n in range(10)]
                                              + ["first half", "second half"])
    assert "say bye" not in trained + tested  # rules are not examples to hold out
    assert "2 stories joined by checkpoints kept for training only" in out.getvalue()
    [again] = split_stories(root, out=root / "again", echo=io.StringIO())
    assert names(again.test) == tested
    [other] = split_stories(root, seed=7, out=root / "other", echo=io.StringIO())
    assert names(other.test) != tested or names(other.training) != trained


def test_too_few_stories_are_an_error(write_project) -> None:
    root = write_project(domain=DOMAIN, stories=stories_yaml(1, joined=True))
    with pytest.raises(ProjectError, match="1 story without checkpoints: too few to split"):
        split_stories(root, echo=io.StringIO())


def test_a_stories_file_that_cannot_be_read_is_an_error_not_left_out(write_project) -> None:
    from dialogflowlite.errors import ProjectValidationError

    root = write_project(domain=DOMAIN, stories=stories_yaml(10), rules=RULES,
                         files={"data/more_stories.yml": "stories:\n- story: [x\n"})
    with pytest.raises(ProjectValidationError, match=r"more_stories.yml:3:1: error") as info:
        split_stories(root, echo=io.StringIO())
    assert "fix the files under data/" in info.value.hint
    assert not (root / "train_test_split").exists()


@pytest.mark.parametrize("given", [None, "data/stories.yml", "data"])
def test_each_stories_file_is_read_once(write_project, monkeypatch, given) -> None:
    # before, the loader parsed it, then the split parsed it again to write its parts
    import dialogflowlite.io.yaml as yaml_module

    parsed: list[str] = []
    parse = yaml_module.read_yaml

    def counting(text: str, file: str | Path = "<string>"):
        parsed.append(Path(file).name)
        return parse(text, file)

    monkeypatch.setattr(yaml_module, "read_yaml", counting)
    root = write_project(domain=DOMAIN, stories=stories_yaml(10), rules=RULES)
    [split] = split_stories(root, stories=given, echo=io.StringIO())
    assert parsed.count("stories.yml") == 1
    assert (split.training_stories, split.test_stories) == (8, 2)


def test_training_on_the_split_uses_only_its_stories(write_project) -> None:
    from dialogflowlite.artifact import open_model
    from dialogflowlite.cli.main import main

    root = write_project(domain=DOMAIN, stories=stories_yaml(10), rules=RULES)
    (root / "config.yml").write_text(
        'version: "3.1"\nlanguage: en\npolicies:\n- name: MemoizationPolicy\n'
        "- name: RulePolicy\n", encoding="utf-8")
    assert main(["data", "split", "stories", "--project", str(root), "-q",
                 "--training-fraction", "0.7"]) == 0
    assert main(["train", "core", "--project", str(root), "-q", "--fixed-model-name", "held",
                 "--stories", "train_test_split/train_stories.yml"]) == 0
    with open_model(root / "models" / "held.tar") as archive:
        core = archive.manifest.sections["core"]
    assert (core["stories"], core["rules"]) == (7, 1)
    assert main(["test", "core", "--project", str(root), "-q", "-m", "models/held.tar",
                 "--stories", "train_test_split/test_stories.yml"]) == 0
