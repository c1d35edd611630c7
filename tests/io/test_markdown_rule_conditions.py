"""Rasa 2.0 Markdown rules get the checks YAML rules get: what a condition may hold,
and no checkpoints."""

from __future__ import annotations

from pathlib import Path

from plain_data import write

from dialogflowlite.io.markdown_reader import read_markdown_stories
from dialogflowlite.io.problems import ProblemLog
from dialogflowlite.shared.stories import ActionStep, ActiveLoopStep, SlotStep, UserStep


def read(path: Path) -> tuple[list, list[str]]:
    log = ProblemLog()
    found = read_markdown_stories(path, log)
    return found, [str(p) for p in log.problems]


def test_a_condition_of_form_and_slot_events_is_kept(tmp_path: Path) -> None:
    path = write(tmp_path, "rules.md", """
        >> ask while the form runs
          - form{"name": "travel_form"}
          - slot{"requested_slot": "city"}
          - ...
        * inform
          - travel_form
        """)
    [rule], problems = read(path)
    assert problems == []
    assert [type(s) for s in rule.condition] == [ActiveLoopStep, SlotStep]


def test_user_steps_and_actions_in_a_condition_leave_the_rule_out(tmp_path: Path) -> None:
    path = write(tmp_path, "rules.md", """
        >> too wide
        * greet
          - utter_hi
          - slot{"name": "x"}
          - ...
        * bye
          - utter_bye

        >> alternatives
        * greet OR bye
          - ...
          - utter_bye

        >> fine
        * bye
          - utter_bye
        """)
    found, problems = read(path)
    assert [r.name for r in found] == ["fine"]
    assert [p.split(": error: ")[0] for p in problems] == [
        f"{path}:2:3", f"{path}:3:5", f"{path}:10:1"]
    assert "a user step (`* intent`) in the condition of rule 'too wide'" in problems[0]
    assert "an action in the condition of rule 'too wide'" in problems[1]
    assert "an `OR` of user steps in the condition of rule 'alternatives'" in problems[2]
    assert "write one rule per alternative" in problems[2]


def test_a_checkpoint_in_a_rule_is_skipped_with_a_warning(tmp_path: Path) -> None:
    # Rasa 2 read such a rule without a word; as in a YAML rule, the checkpoint is
    # skipped with a report at its line and the rule's other steps are kept
    path = write(tmp_path, "rules.md", """
        >> joined
        > started
          - ...
        * bye
          - utter_bye

        >> joined later
        * bye
          - utter_bye
        > finished
        """)
    found, problems = read(path)
    assert [(r.name, [type(s) for s in r.steps]) for r in found] == [
        ("joined", [UserStep, ActionStep]), ("joined later", [UserStep, ActionStep])]
    assert found[0].condition == [] and not found[0].conversation_start
    assert [p.split(": warning: ")[0] for p in problems] == [f"{path}:2:1", f"{path}:10:1"]
    assert all("rule '" in p and "has a checkpoint, but rules cannot have any; the "
               "checkpoint is skipped" in p for p in problems)
