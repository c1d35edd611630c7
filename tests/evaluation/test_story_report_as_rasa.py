"""The story test's results as Rasa writes them: a `bot:` step scored by its text,
and `stories_with_warnings.yml` beside the other results (unless --no-warnings)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from types import SimpleNamespace

import keyword_bot
import pytest
from plain_data import train_model, with_model, write_files
from story_data import GREET_DOMAIN

from dialogflowlite.agent import Agent
from dialogflowlite.cli.main import build_parser, main
from dialogflowlite.evaluation.stories import (
    evaluate_stories,
    rasa_story_result,
    write_story_results,
)
from dialogflowlite.io.loader import load_project
from dialogflowlite.shared.domain import ACTION_LISTEN, ACTION_SEND_TEXT
from dialogflowlite.shared.events import ActionExecuted

DOMAIN = GREET_DOMAIN

TESTS = """
version: "3.1"
stories:
- story: a bot text
  steps:
  - intent: greet
  - bot: Hi there!
"""


class SendTextPolicy:
    """After the user spoke, `action_send_text` for ``text`` (None: for no text named)."""

    def __init__(self, text: str | None) -> None:
        self.text = text

    def predict_next_action(self, tracker, domain):
        last = next(e for e in reversed(tracker.events) if isinstance(e, ActionExecuted))
        if last.name == ACTION_LISTEN:
            return SimpleNamespace(action_name=ACTION_SEND_TEXT, action_text=self.text,
                                   confidence=0.9, policy_name="SendTextPolicy")
        return SimpleNamespace(action_name=ACTION_LISTEN, confidence=0.9,
                               policy_name="SendTextPolicy")


def run_story(write_project, text: str | None):
    project = load_project(write_project(domain=DOMAIN, tests=TESTS))
    agent = Agent(project.domain, policies=SendTextPolicy(text))
    return asyncio.run(evaluate_stories(agent, project.test_stories))


def test_the_right_bot_text_is_scored_by_its_text(write_project, tmp_path: Path) -> None:
    evaluation = run_story(write_project, "Hi there!")
    [outcome] = evaluation.outcomes
    assert outcome.passed
    assert [(c.expected, c.predicted) for c in outcome.actions] == [
        ("Hi there!", "Hi there!"), (ACTION_LISTEN, ACTION_LISTEN)]
    report = json.loads(write_story_results(evaluation, tmp_path, plots=False)["report"]
                        .read_text(encoding="utf-8"))
    assert report["Hi there!"]["f1-score"] == 1.0
    assert ACTION_SEND_TEXT not in report


def test_a_wrong_bot_text_fails_and_is_commented(write_project, tmp_path: Path) -> None:
    evaluation = run_story(write_project, "Hello!")
    [outcome] = evaluation.outcomes
    assert not outcome.passed
    first = outcome.actions[0]
    assert (first.expected, first.predicted) == ("Hi there!", "Hello!")
    written = write_story_results(evaluation, tmp_path, plots=False)
    failed = written["failed"].read_text(encoding="utf-8")
    [bot_line] = [line for line in failed.splitlines() if "- bot:" in line]
    assert "Hi there!" in bot_line and bot_line.endswith("# predicted: Hello!")
    report = json.loads(written["report"].read_text(encoding="utf-8"))
    assert report["Hi there!"]["recall"] == 0.0
    assert report["Hi there!"]["confused_with"] == {"Hello!": 1}
    # the HTTP API's answer lists the same labels, as Rasa's does
    assert rasa_story_result(evaluation, end_to_end=True)["actions"][0]["predicted"] == "Hello!"


def test_sending_a_text_without_naming_it_does_not_match_a_bot_step(write_project) -> None:
    evaluation = run_story(write_project, None)
    [outcome] = evaluation.outcomes
    assert not outcome.passed
    first = outcome.actions[0]
    assert (first.expected, first.predicted) == ("Hi there!", ACTION_SEND_TEXT)


def test_the_warnings_file_is_written_with_rasas_note(write_project, tmp_path: Path) -> None:
    evaluation = run_story(write_project, "Hi there!")
    written = write_story_results(evaluation, tmp_path / "with", plots=False)
    assert written["warnings"].name == "stories_with_warnings.yml"
    assert written["warnings"].read_text(encoding="utf-8") == (
        "# No warnings for test stories\n")
    without = write_story_results(evaluation, tmp_path / "without", plots=False,
                                  warnings=False)
    assert "warnings" not in without
    assert not (tmp_path / "without" / "stories_with_warnings.yml").exists()


# ---------------------------------------------------------------- the command


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Path:
    """The tiny keyword bot's model, trained once for this module."""
    return train_model(write_files(tmp_path_factory.mktemp("warnings-bot"), keyword_files()))


def keyword_files() -> dict[str, str]:
    return {"domain.yml": keyword_bot.DOMAIN, "data/nlu.yml": keyword_bot.NLU,
            "data/rules.yml": keyword_bot.RULES, "config.yml": keyword_bot.CONFIG,
            "tests/test_stories.yml": keyword_bot.stories_to_test()}


def test_test_core_writes_the_warnings_file_unless_no_warnings(tmp_path: Path,
                                                               trained: Path) -> None:
    root = with_model(write_files(tmp_path / "bot", keyword_files()), trained)
    assert main(["test", "core", "--project", str(root), "--out", "with"]) == 0
    note = (root / "with" / "stories_with_warnings.yml").read_text(encoding="utf-8")
    assert note == "# No warnings for test stories\n"
    assert main(["test", "--project", str(root), "--out", "without", "--no-warnings"]) == 0
    assert not (root / "without" / "stories_with_warnings.yml").exists()
    assert (root / "without" / "story_report.json").is_file()
    assert build_parser().parse_args(["test", "core", "--no-warnings"]).no_warnings
