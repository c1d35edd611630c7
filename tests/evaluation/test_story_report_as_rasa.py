"""The story test's results as Rasa writes them: a `bot:` step scored by its text,
`action_unlikely_intent` predicted as a warning, not an error, and
`stories_with_warnings.yml` beside the other results (unless --no-warnings), the
most severe first; no `conversation_accuracy` without conversations."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from types import SimpleNamespace

import keyword_bot
import pytest
from plain_data import train_model, with_model, write_files
from story_data import GREET_DOMAIN, domain_yaml

from dialogflowlite.agent import Agent
from dialogflowlite.cli.main import build_parser, main
from dialogflowlite.evaluation.stories import (
    StoryEvaluation,
    evaluate_stories,
    rasa_story_result,
    write_story_results,
)
from dialogflowlite.io.loader import load_project
from dialogflowlite.io.yaml import read_yaml
from dialogflowlite.shared.domain import ACTION_LISTEN, ACTION_SEND_TEXT, ACTION_UNLIKELY_INTENT
from dialogflowlite.shared.events import ActionExecuted, UserUttered

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


# ------------------------------------------------------- action_unlikely_intent

UNLIKELY_DOMAIN = domain_yaml(["greet", "bye"], utter_greet="hi", utter_bye="bye")


class UnlikelyIntentPolicy:
    """Right after the user says one of ``flagged``, `action_unlikely_intent` (as Rasa's
    UnexpecTEDIntentPolicy would); else ``answers`` to the intent, then listening."""

    def __init__(self, flagged: set[str], answers: dict[str, str]) -> None:
        self.flagged = flagged
        self.answers = answers

    def predict_next_action(self, tracker, domain):
        latest = tracker.events[-1]
        if isinstance(latest, UserUttered) and latest.intent_name in self.flagged:
            name = ACTION_UNLIKELY_INTENT
        else:
            last = next(e for e in reversed(tracker.events) if isinstance(e, ActionExecuted))
            after_user = last.name in (ACTION_LISTEN, ACTION_UNLIKELY_INTENT)
            name = self.answers[tracker.latest_intent] if after_user else ACTION_LISTEN
        return SimpleNamespace(action_name=name, confidence=0.7, policy_name="UnlikelyPolicy")


ANSWERS = {"greet": "utter_greet", "bye": "utter_bye"}


def stories_file(*stories: tuple[str, list[str]]) -> str:
    """A test-stories file: each story a name and its steps (``intent`` / ``action``)."""
    lines = ['version: "3.1"', "stories:"]
    for name, steps in stories:
        lines += [f"- story: {name}", "  steps:"]
        lines += [f"  - {'intent' if s in ANSWERS else 'action'}: {s}" for s in steps]
    return "\n".join(lines) + "\n"


def unlikely_results(write_project, tmp_path: Path, tests: str, flagged: set[str],
                     answers: dict[str, str] = ANSWERS):
    project = load_project(write_project(domain=UNLIKELY_DOMAIN, tests=tests))
    agent = Agent(project.domain, policies=UnlikelyIntentPolicy(flagged, answers))
    evaluation = asyncio.run(evaluate_stories(agent, project.test_stories))
    written = write_story_results(evaluation, tmp_path / "results", plots=False,
                                  successes=True)
    report = json.loads(written["report"].read_text(encoding="utf-8"))
    texts = {kind: path.read_text(encoding="utf-8") for kind, path in written.items()}
    return evaluation, report, texts


def test_an_unlikely_intent_is_a_warning_and_the_policies_choose_again(
        write_project, tmp_path: Path) -> None:
    tests = stories_file(("flagged", ["greet", "utter_greet", "bye", "utter_bye"]),
                         ("plain", ["bye", "utter_bye"]))
    evaluation, report, texts = unlikely_results(write_project, tmp_path, tests, {"greet"})
    flagged, plain = evaluation.outcomes
    assert flagged.passed and plain.passed
    # the second choice is the one scored; action_unlikely_intent is no label of the report
    assert [(c.expected, c.predicted, c.after_unlikely_intent) for c in flagged.actions] == [
        ("utter_greet", "utter_greet", True), (ACTION_LISTEN, ACTION_LISTEN, False),
        ("utter_bye", "utter_bye", False), (ACTION_LISTEN, ACTION_LISTEN, False)]
    assert ACTION_UNLIKELY_INTENT not in report
    assert report["accuracy"] == 1.0
    assert report["conversation_accuracy"] == {"accuracy": 1.0, "correct": 2,
                                               "with_warnings": 1, "total": 2}
    # only the passed story with the warning is listed, its step commented as Rasa does,
    # and without the action_unlikely_intent the story does not have
    warned = read_yaml(texts["warnings"], "stories_with_warnings.yml")
    [story] = warned["stories"]
    assert story["story"].startswith("flagged (")
    assert "- action: utter_greet  # predicted: action_unlikely_intent" in texts["warnings"]
    assert f"action: {ACTION_UNLIKELY_INTENT}" not in texts["warnings"]
    assert "# predicted: action_unlikely_intent" in texts["successes"]
    assert texts["failed"] == "# None of the test stories failed - all good!\n"
    assert "1 of them with action_unlikely_intent warnings" in evaluation.table()


def test_a_wrong_action_after_an_unlikely_intent_fails_the_story(write_project,
                                                                 tmp_path: Path) -> None:
    tests = stories_file(("wrong", ["greet", "utter_bye"]))
    evaluation, report, texts = unlikely_results(write_project, tmp_path, tests, {"greet"})
    [outcome] = evaluation.outcomes
    assert not outcome.passed
    assert report["conversation_accuracy"] == {"accuracy": 0.0, "correct": 0,
                                               "with_warnings": 0, "total": 1}
    assert report["utter_bye"]["confused_with"] == {"utter_greet": 1}
    assert ("- action: utter_bye  # predicted: utter_greet after action_unlikely_intent"
            in texts["failed"])
    assert report["failed_stories"][0]["first_error"] == (
        "predicted: utter_greet after action_unlikely_intent")
    # a failed story is not a story with warnings
    assert texts["warnings"] == "# No warnings for test stories\n"


def test_a_failed_story_shows_its_warnings_beside_its_errors(write_project,
                                                             tmp_path: Path) -> None:
    tests = stories_file(("warned then wrong", ["greet", "utter_greet", "bye", "utter_greet"]))
    evaluation, report, texts = unlikely_results(write_project, tmp_path, tests, {"greet"})
    [outcome] = evaluation.outcomes
    assert outcome.warned and not outcome.passed
    assert report["conversation_accuracy"]["with_warnings"] == 0
    assert "- action: utter_greet  # predicted: action_unlikely_intent" in texts["failed"]
    assert "- action: utter_greet  # predicted: utter_bye" in texts["failed"]
    # the warning is no error: the story's first error is the wrong prediction
    assert report["failed_stories"][0]["first_error"] == "predicted: utter_bye"


def test_an_unlikely_intent_the_story_has_is_a_right_prediction(write_project,
                                                                tmp_path: Path) -> None:
    tests = stories_file(("expected", ["greet", ACTION_UNLIKELY_INTENT, "utter_greet"]))
    evaluation, report, texts = unlikely_results(write_project, tmp_path, tests, {"greet"})
    [outcome] = evaluation.outcomes
    assert outcome.passed and not outcome.warned
    assert report[ACTION_UNLIKELY_INTENT]["support"] == 1
    assert report["conversation_accuracy"] == {"accuracy": 1.0, "correct": 1,
                                               "with_warnings": 0, "total": 1}
    assert texts["warnings"] == "# No warnings for test stories\n"


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
    assert main(["test", "core", "--project", str(root), "--out", str(root / "with")]) == 0
    note = (root / "with" / "stories_with_warnings.yml").read_text(encoding="utf-8")
    assert note == "# No warnings for test stories\n"
    assert main(["test", "--project", str(root), "--out", str(root / "without"),
                 "--no-warnings"]) == 0
    assert not (root / "without" / "stories_with_warnings.yml").exists()
    assert (root / "without" / "story_report.json").is_file()
    assert build_parser().parse_args(["test", "core", "--no-warnings"]).no_warnings


def test_memoization_follows_the_story_after_an_unlikely_intent(write_project,
                                                                tmp_path: Path) -> None:
    """A plugin policy flags the greeting; memoization, which leaves out the state right
    after action_unlikely_intent as Rasa's does, still recognises the story."""
    from dialogflowlite.components.policies.base import Policy, PolicyContext, PolicyPrediction
    from dialogflowlite.components.policies.ensemble import PolicyEnsemble
    from dialogflowlite.components.policies.memoization import MemoizationPolicy
    from dialogflowlite.components.policies.training import training_paths

    class FlaggingPolicy(Policy):
        """Right after a greeting, action_unlikely_intent; else nothing (a plugin)."""

        name = "FlaggingPolicy"
        default_priority = 5

        def predict(self, tracker, domain):
            latest = tracker.events[-1]
            if isinstance(latest, UserUttered) and latest.intent_name == "greet":
                return self.prediction({ACTION_UNLIKELY_INTENT: 1.0})
            return PolicyPrediction.nothing(self)

    story = [("flagged", ["greet", "utter_greet", "bye", "utter_bye"])]
    project = load_project(write_project(
        domain=UNLIKELY_DOMAIN, stories=stories_file(*story).replace("flagged", "trained"),
        tests=stories_file(*story)))
    memoization = MemoizationPolicy()
    memoization.train(training_paths(project), project.domain, PolicyContext(progress=False))
    agent = Agent(project.domain, policies=PolicyEnsemble([FlaggingPolicy(), memoization]))
    evaluation = asyncio.run(evaluate_stories(agent, project.test_stories))
    [outcome] = evaluation.outcomes
    assert outcome.passed and outcome.warned
    assert [(c.expected, c.predicted, c.policy, c.after_unlikely_intent)
            for c in outcome.actions] == [
        ("utter_greet", "utter_greet", "MemoizationPolicy", True),
        (ACTION_LISTEN, ACTION_LISTEN, "MemoizationPolicy", False),
        ("utter_bye", "utter_bye", "MemoizationPolicy", False),
        (ACTION_LISTEN, ACTION_LISTEN, "MemoizationPolicy", False)]


# ------------------------------------------------ severity, repeats, no stories


def flagging_ensemble(severities: dict[str, float], *, repeat: bool = False,
                      flagged: frozenset[str] = frozenset(ANSWERS)):
    """Plugin policies in an ensemble: one flags the ``flagged`` intents with
    `action_unlikely_intent` (with Rasa's `action_metadata` where ``severities`` has a
    severity for the intent; with ``repeat`` again right after it), the other answers."""
    from dialogflowlite.components.policies.base import Policy, PolicyPrediction
    from dialogflowlite.components.policies.ensemble import PolicyEnsemble

    class FlaggingPolicy(Policy):
        name = "FlaggingPolicy"
        default_priority = 5

        def predict(self, tracker, domain):
            last = next(e for e in reversed(tracker.events) if isinstance(e, ActionExecuted))
            flags_after = (ACTION_LISTEN, ACTION_UNLIKELY_INTENT) if repeat else (ACTION_LISTEN,)
            intent = tracker.latest_intent
            if last.name not in flags_after or intent not in flagged:
                return PolicyPrediction.nothing(self)
            metadata = ({"query_intent": {"name": intent, "severity": severities[intent]}}
                        if intent in severities else None)
            return self.prediction({ACTION_UNLIKELY_INTENT: 1.0}, action_metadata=metadata)

    class AnsweringPolicy(Policy):
        name = "AnsweringPolicy"
        default_priority = 1

        def predict(self, tracker, domain):
            last = next(e for e in reversed(tracker.events) if isinstance(e, ActionExecuted))
            after_user = last.name in (ACTION_LISTEN, ACTION_UNLIKELY_INTENT)
            return self.prediction({ANSWERS[tracker.latest_intent] if after_user
                                    else ACTION_LISTEN: 0.8})

    return PolicyEnsemble([FlaggingPolicy(), AnsweringPolicy()])


SEVERITY_TESTS = stories_file(("bye only", ["bye", "utter_bye"]),
                              ("greet only", ["greet", "utter_greet"]),
                              ("both", ["greet", "utter_greet", "bye", "utter_bye"]))


@pytest.mark.parametrize(("severities", "order"), [
    # the highest severity of a story first; equal ones keep the test order
    ({"greet": 1.0, "bye": 3.0}, ["bye only", "both", "greet only"]),
    ({"greet": 5.0, "bye": 3.0}, ["greet only", "both", "bye only"]),
    # a story without a severity counts as 0, after the others, as in Rasa
    ({"greet": 2.0}, ["greet only", "both", "bye only"]),
    ({}, ["bye only", "greet only", "both"]),
])
def test_stories_with_warnings_are_sorted_by_severity(write_project, tmp_path: Path,
                                                      severities, order) -> None:
    project = load_project(write_project(domain=UNLIKELY_DOMAIN, tests=SEVERITY_TESTS))
    agent = Agent(project.domain, policies=flagging_ensemble(severities))
    evaluation = asyncio.run(evaluate_stories(agent, project.test_stories))
    assert all(o.passed and o.warned for o in evaluation.outcomes)
    written = write_story_results(evaluation, tmp_path, plots=False)
    warned = read_yaml(written["warnings"].read_text(encoding="utf-8"), "warnings")
    assert [story["story"].split(" (")[0] for story in warned["stories"]] == order
    report = json.loads(written["report"].read_text(encoding="utf-8"))
    assert report["conversation_accuracy"]["with_warnings"] == 3


def test_a_severity_that_is_no_number_counts_as_none(write_project, caplog) -> None:
    project = load_project(write_project(domain=UNLIKELY_DOMAIN, tests=SEVERITY_TESTS))
    agent = Agent(project.domain, policies=flagging_ensemble({"greet": "high", "bye": 1.0}))
    evaluation = asyncio.run(evaluate_stories(agent, project.test_stories))
    assert [o.name for o in evaluation.with_warnings] == ["bye only", "both", "greet only"]
    assert "FlaggingPolicy: the severity of action_unlikely_intent" in caplog.text


REPEATED_TESTS = stories_file(("repeated", ["greet", "utter_greet"]))


def test_an_unlikely_intent_predicted_twice_fails_the_story_only(write_project,
                                                                 tmp_path: Path) -> None:
    project = load_project(write_project(domain=UNLIKELY_DOMAIN, tests=REPEATED_TESTS))
    agent = Agent(project.domain, policies=flagging_ensemble({}, repeat=True))
    evaluation = asyncio.run(evaluate_stories(agent, project.test_stories))
    [outcome] = evaluation.outcomes
    # scored as Rasa scores it: a wrong step, but no prediction error
    assert not outcome.passed and not outcome.has_prediction_errors
    assert evaluation.failed == [outcome] and evaluation.with_prediction_errors == []
    assert outcome.first_error == (
        "predicted: action_unlikely_intent after action_unlikely_intent")


def test_fail_on_prediction_errors_passes_a_repeated_unlikely_intent(
        write_project, tmp_path: Path, trained: Path, monkeypatch) -> None:
    tests = stories_file(("repeated", ["greet", "utter_greet"]),
                         ("wrong", ["bye", "utter_greet"]))
    root = with_model(write_project(domain=UNLIKELY_DOMAIN, tests=REPEATED_TESTS), trained)
    project = load_project(root)
    agent = Agent(project.domain, policies=flagging_ensemble({}, repeat=True,
                                                             flagged=frozenset({"greet"})))
    monkeypatch.setattr(Agent, "load", classmethod(lambda cls, *args, **kwargs: agent))
    args = ["test", "core", "--project", str(root), "--fail-on-prediction-errors"]
    assert main(args) == 0
    failed = (root / "results" / "failed_test_stories.yml").read_text(encoding="utf-8")
    assert "# predicted: action_unlikely_intent after action_unlikely_intent" in failed
    # a wrong action beside it still fails the command
    (root / "tests" / "test_stories.yml").write_text(tests, encoding="utf-8")
    assert main(args) == 1


def test_no_conversation_accuracy_without_conversations(write_project,
                                                        tmp_path: Path) -> None:
    project = load_project(write_project(domain=UNLIKELY_DOMAIN))
    agent = Agent(project.domain, policies=flagging_ensemble({}))
    evaluation = asyncio.run(evaluate_stories(agent, []))
    written = write_story_results(evaluation, tmp_path, plots=False)
    report = json.loads(written["report"].read_text(encoding="utf-8"))
    assert "conversation_accuracy" not in report
    assert "conversation_accuracy" not in rasa_story_result(evaluation,
                                                            end_to_end=False)["report"]
    # the printed summary still says 0 of 0, as Rasa's log does
    assert "Stories: 0 / 0 correct" in evaluation.table()
    assert "conversation_accuracy" not in StoryEvaluation().report()


def test_the_rasa_answer_has_the_share_of_actions_predicted_from_memory() -> None:
    from dialogflowlite.evaluation.stories import ActionCheck, StoryOutcome

    policies = ("RulePolicy", "MemoizationPolicy", "policy_2_AugmentedMemoizationPolicy",
                "TEDPolicy", None)
    checks = [ActionCheck("utter_greet", "utter_greet", policy, 1.0) for policy in policies]
    evaluation = StoryEvaluation([StoryOutcome("greet", "tests/stories.yml:3", actions=checks)])
    # Rasa's in_training_data_fraction: the actions the rule and memoization policies
    # predicted, over all predicted actions (the key was missing)
    assert rasa_story_result(evaluation, end_to_end=False)["in_training_data_fraction"] == 3 / 5
    assert rasa_story_result(StoryEvaluation(),
                             end_to_end=False)["in_training_data_fraction"] == 0
