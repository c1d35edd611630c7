"""A YAML rule has no `bot` step, as Rasa's rule schema has none; stories may."""

from __future__ import annotations

from pathlib import Path

from plain_data import write

from dialogflowlite.io.problems import ProblemLog
from dialogflowlite.io.story_reader import StoryReader
from dialogflowlite.io.yaml import read_yaml
from dialogflowlite.shared.stories import ActionStep, UserStep


def read(path: Path, key: str) -> tuple[list, list[str]]:
    log = ProblemLog()
    data = read_yaml(path)
    found = StoryReader(log).read(path, data, key, data[key], "story")
    return found, [str(p) for p in log.problems]


def test_a_bot_step_in_a_rule_is_an_error_at_its_line(tmp_path: Path) -> None:
    path = write(tmp_path, "rules.yml", """
        rules:
        - rule: say hi
          steps:
          - intent: greet
          - bot: Hello there
        - rule: alternatives
          steps:
          - or:
            - intent: greet
            - bot: hey
          - action: utter_hi
        """)
    [say_hi, _], problems = read(path, "rules")
    assert [type(s) for s in say_hi.steps] == [UserStep]
    assert problems == [
        f"{path}:5:5: error: rule 'say hi' has a `bot` step, but rules cannot have any "
        "(hint: write the response's name as `- action: utter_...`, or make it a story)",
        f"{path}:10:7: error: rule 'alternatives' has a `bot` step, but rules cannot have "
        "any (hint: write the response's name as `- action: utter_...`, or make it a story)",
    ]


def test_a_bot_step_in_a_story_is_read(tmp_path: Path) -> None:
    path = write(tmp_path, "stories.yml", """
        stories:
        - story: say hi
          steps:
          - intent: greet
          - bot: Hello there
        """)
    [story], problems = read(path, "stories")
    assert problems == []
    assert isinstance(story.steps[1], ActionStep) and story.steps[1].bot_text == "Hello there"


def test_a_step_without_a_step_key_names_the_keys_it_may_have(tmp_path: Path) -> None:
    path = write(tmp_path, "stories.yml", """
        stories:
        - story: say hi
          steps:
          - intent: greet
          - actoin: utter_greet
        """)
    _, problems = read(path, "stories")
    # one problem, not also a warning of the unknown key on the same line
    assert problems == [
        f"{path}:5:5: error: step of 'say hi' has none of the step keys `intent`, `user`, "
        "`action`, `bot`, `slot_was_set`, `active_loop`, `checkpoint` or `or` "
        "(hint: did you mean 'action'?)"
    ]
