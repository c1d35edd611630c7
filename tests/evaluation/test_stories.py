"""Test-story evaluation: predictions compared step by step, reports and failed stories."""

from __future__ import annotations

import asyncio
import json
import textwrap
from pathlib import Path

import pytest

from dialogflowlite.agent import Agent
from dialogflowlite.evaluation.stories import (
    evaluate_stories,
    load_test_stories,
    write_story_results,
)
from dialogflowlite.io.loader import load_project
from dialogflowlite.io.yaml import read_yaml
from dialogflowlite.shared.domain import ACTION_LISTEN
from dialogflowlite.shared.events import ActionExecuted, ActionExecutionRejected, UserUttered
from dialogflowlite.shared.message import Entity, IntentPrediction, Message

DOMAIN = """
version: "3.1"
intents: [greet, bye, book, inform, chitchat]
entities: [city]
slots:
  city:
    type: text
    influence_conversation: false
    mappings: [{type: from_entity, entity: city}]
forms:
  trip_form:
    required_slots: [city]
responses:
  utter_greet: [{text: hi}]
  utter_bye: [{text: bye}]
  utter_chitchat: [{text: chat}]
  utter_done: [{text: done}]
  utter_ask_city: [{text: where?}]
"""

TESTS = """
version: "3.1"
stories:
- story: greet and leave
  steps:
  - user: |
      hello there
    intent: greet
  - action: utter_greet
  - user: |
      see you
    intent: bye
  - action: utter_bye
- story: book with a chitchat in between
  steps:
  - intent: book
  - action: trip_form
  - active_loop: trip_form
  - user: |
      what a nice day
    intent: chitchat
  - action: utter_chitchat
  - action: trip_form
  - active_loop: trip_form
  - user: |
      to [Rome](city)
    intent: inform
  - action: trip_form
  - active_loop: null
  - action: utter_done
- story: the bot does not know this one
  steps:
  - intent: greet
  - action: utter_bye
- story: nlu gets the intent wrong
  steps:
  - user: |
      bonjour
    intent: greet
  - action: utter_greet
"""

# what the NLU double understands
NLU = {"hello there": ("greet", []), "see you": ("bye", []),
       "what a nice day": ("chitchat", []), "to Rome": ("inform", [("city", 3, 7, "Rome")]),
       "bonjour": ("bye", [])}


class TableParser:
    async def parse(self, texts):
        messages = []
        for text in texts:
            intent, entities = NLU.get(text, (None, []))
            message = Message(text=text, entities=[Entity(e, s, t, v) for e, s, t, v in entities])
            if intent:
                message.set_intent([IntentPrediction(intent, 0.9)])
            messages.append(message)
        return messages


class StoryPolicy:
    """Answers like rules: greet -> utter_greet, bye -> utter_bye, book -> form, ..."""

    def predict_next_action(self, tracker, domain):
        from types import SimpleNamespace

        last = next(e for e in reversed(tracker.events)
                    if isinstance(e, (ActionExecuted, ActionExecutionRejected)))
        intent = tracker.latest_intent
        loop = tracker.active_loop_name
        answers = {"greet": "utter_greet", "bye": "utter_bye", "book": "trip_form",
                   "chitchat": "utter_chitchat"}
        if isinstance(last, ActionExecutionRejected):
            name = answers.get(intent, ACTION_LISTEN)
        elif last.name == ACTION_LISTEN:
            name = loop or answers.get(intent, ACTION_LISTEN)
        elif last.name == "trip_form" and loop is None:
            name = "utter_done"
        elif last.name == "utter_chitchat" and loop:
            name = loop
        else:
            name = ACTION_LISTEN
        return SimpleNamespace(action_name=name, confidence=0.8, policy_name="StoryPolicy")


@pytest.fixture
def agent_and_stories(write_project):
    root = write_project(domain=DOMAIN, tests=TESTS)
    project = load_project(root)
    agent = Agent(project.domain, policies=StoryPolicy(), parser=TableParser())
    return agent, project.test_stories


def test_stories_pass_and_fail_for_the_right_reasons(agent_and_stories) -> None:
    agent, stories = agent_and_stories
    evaluation = asyncio.run(evaluate_stories(agent, stories))

    results = {o.name: o.passed for o in evaluation.outcomes}
    assert results == {"greet and leave": True, "book with a chitchat in between": True,
                       "the bot does not know this one": False,
                       "nlu gets the intent wrong": False}
    assert evaluation.correct == 2 and evaluation.accuracy == 0.5
    wrong_nlu = evaluation.outcomes[3]
    assert [(u.expected_intent, u.predicted_intent) for u in wrong_nlu.users] == [("greet", "bye")]
    # the form's rejection was emulated where the story goes elsewhere
    booked = evaluation.outcomes[1]
    assert any(isinstance(e, ActionExecutionRejected) for e in booked.events)
    assert any(isinstance(e, UserUttered) and e.text == "to Rome" for e in booked.events)


def test_reports_and_failed_stories_are_written(agent_and_stories, tmp_path: Path) -> None:
    agent, stories = agent_and_stories
    evaluation = asyncio.run(evaluate_stories(agent, stories))
    written = write_story_results(evaluation, tmp_path / "results")

    report = json.loads(written["report"].read_text())
    # no policy predicted action_unlikely_intent: no story passed with warnings
    assert report["conversation_accuracy"] == {"accuracy": 0.5, "correct": 2,
                                               "with_warnings": 0, "total": 4}
    assert report["utter_bye"]["support"] == 2
    assert report["utter_greet"]["precision"] == pytest.approx(2 / 3)
    assert report["utter_greet"]["recall"] == 1.0
    assert report["utter_bye"]["recall"] == 0.5
    assert report["user_turns"]["intent_errors"] == 1
    failed_text = written["failed"].read_text()
    failed = read_yaml(failed_text)
    names = [s["story"] for s in failed["stories"]]
    assert len(names) == 2 and names[0].startswith("the bot does not know this one (")
    assert "- action: utter_bye  # predicted: utter_greet" in failed_text
    assert "- intent: greet  # predicted: bye: bonjour" in failed_text
    table = evaluation.table()
    assert "Stories: 2 / 4 correct (accuracy 0.500)" in table
    assert "utter_greet" in table and "weighted avg" in table
    assert written["confusion_matrix"].name == "story_confusion_matrix.png"
    assert written["confusion_matrix"].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    unplotted = write_story_results(evaluation, tmp_path / "unplotted", plots=False)
    assert "confusion_matrix" not in unplotted
    assert not list((tmp_path / "unplotted").glob("*.png"))


def test_entity_mistakes_fail_a_story(agent_and_stories) -> None:
    agent, stories = agent_and_stories
    NLU["to Rome"] = ("inform", [("city", 0, 2, "to")])
    try:
        evaluation = asyncio.run(evaluate_stories(agent, stories[1:2]))
    finally:
        NLU["to Rome"] = ("inform", [("city", 3, 7, "Rome")])
    outcome = evaluation.outcomes[0]
    assert not outcome.passed
    assert all(a.correct for a in outcome.actions)
    assert outcome.users[-1].intent_correct and not outcome.users[-1].entities_correct


def test_all_good_writes_a_note(agent_and_stories, tmp_path: Path) -> None:
    agent, stories = agent_and_stories
    evaluation = asyncio.run(evaluate_stories(agent, stories[:2]))
    written = write_story_results(evaluation, tmp_path)
    assert written["failed"].read_text().startswith("# None of the test stories failed")


def test_load_test_stories_from_a_file(tmp_path: Path) -> None:
    file = tmp_path / "more.yml"
    file.write_text(textwrap.dedent(TESTS), encoding="utf-8")
    stories = load_test_stories(file)
    assert [s.name for s in stories][:1] == ["greet and leave"]
    assert all(s.kind == "test" for s in stories)
    assert len(load_test_stories(tmp_path)) == 4


FAQ_DOMAIN = """
version: "3.1"
intents: [faq, greet]
responses:
  utter_greet: [{text: hi}]
  utter_faq/ask_hours: [{text: "9 to 5"}]
  utter_faq/ask_parking: [{text: "behind the house"}]
"""

FAQ_TESTS = """
version: "3.1"
stories:
- story: the wrong question answered
  steps:
  - user: |
      when are you open
    intent: faq/ask_parking
  - action: utter_faq
- story: the right one
  steps:
  - user: |
      when are you open
    intent: faq/ask_hours
  - action: utter_faq
  - user: |
      bye now
  - bot: see you
"""


class FaqParser:
    """Every text is `faq`; the default response selector picks ask_hours."""

    async def parse(self, texts):
        messages = []
        for text in texts:
            message = Message(text=text)
            message.set_intent([IntentPrediction("faq", 0.9)])
            message.response_selector = {"default": {"response": {
                "intent_response_key": "faq/ask_hours", "confidence": 0.8}}}
            messages.append(message)
        return messages


class FaqPolicy:
    def predict_next_action(self, tracker, domain):
        from types import SimpleNamespace

        last = next(e for e in reversed(tracker.events) if isinstance(e, ActionExecuted))
        name = "utter_faq" if last.name == ACTION_LISTEN else ACTION_LISTEN
        return SimpleNamespace(action_name=name, confidence=0.8, policy_name="FaqPolicy")


def test_a_retrieval_intent_is_checked_and_written_back_in_full(write_project,
                                                                 tmp_path: Path) -> None:
    project = load_project(write_project(domain=FAQ_DOMAIN, tests=FAQ_TESTS))
    agent = Agent(project.domain, policies=FaqPolicy(), parser=FaqParser())
    evaluation = asyncio.run(evaluate_stories(agent, project.test_stories[:1]))
    [outcome] = evaluation.outcomes
    assert not outcome.passed
    assert [(u.expected_intent, u.predicted_intent) for u in outcome.users] == [
        ("faq/ask_parking", "faq/ask_hours")]
    written = write_story_results(evaluation, tmp_path, successes=True)
    failed_text = written["failed"].read_text()
    assert '- intent: "faq/ask_parking"  # predicted: faq/ask_hours' in failed_text
    assert written["successes"].read_text() == "# None of the test stories succeeded :(\n"


class GreetParser:
    """Every text is `greet`, though the default response selector still answers."""

    async def parse(self, texts):
        messages = await FaqParser().parse(texts)
        for message in messages:
            message.set_intent([IntentPrediction("greet", 0.9)])
        return messages


def test_a_selector_answer_for_another_intent_is_no_retrieval_intent(write_project) -> None:
    # the `default` selector answers every message; NLU said greet, not faq
    project = load_project(write_project(domain=FAQ_DOMAIN, tests=FAQ_TESTS))
    agent = Agent(project.domain, policies=FaqPolicy(), parser=GreetParser())
    story = project.test_stories[1]
    evaluation = asyncio.run(evaluate_stories(agent, [story]))
    [outcome] = evaluation.outcomes
    assert [(u.expected_intent, u.predicted_intent, u.correct) for u in outcome.users] == [
        ("faq/ask_hours", "greet", False), (None, "greet", True)]


def test_a_bot_step_is_written_back_as_a_bot_step(write_project, tmp_path: Path) -> None:
    project = load_project(write_project(domain=FAQ_DOMAIN, tests=FAQ_TESTS))
    agent = Agent(project.domain, policies=FaqPolicy(), parser=FaqParser())
    evaluation = asyncio.run(evaluate_stories(agent, project.test_stories[1:]))
    [outcome] = evaluation.outcomes
    assert outcome.users[0].intent_correct
    written = write_story_results(evaluation, tmp_path)
    failed_text = written["failed"].read_text()
    assert '- bot: "see you"  # predicted: utter_faq' in failed_text
    assert "action_send_text" not in failed_text
    # a text-only step is written back as text: NLU's reading of it is no label
    assert "  - action: utter_faq\n  - user: |-\n      bye now\n" in failed_text
    assert load_test_stories(written["failed"])  # the file reads back as test stories


def test_test_stories_joined_by_a_checkpoint_are_one_conversation(agent_and_stories,
                                                                   tmp_path: Path) -> None:
    agent, _ = agent_and_stories
    file = tmp_path / "joined.yml"
    file.write_text(textwrap.dedent("""
        version: "3.1"
        stories:
        - story: part one
          steps:
          - intent: greet
          - action: utter_greet
          - checkpoint: greeted
        - story: part two
          steps:
          - checkpoint: greeted
          - intent: bye
          - action: utter_bye
        """), encoding="utf-8")
    evaluation = asyncio.run(evaluate_stories(agent, load_test_stories(file)))
    [outcome] = evaluation.outcomes
    assert outcome.name == "part one > part two" and outcome.passed
    assert [e.intent_name for e in outcome.events if isinstance(e, UserUttered)] == [
        "greet", "bye"]


def test_a_story_with_or_counts_once_per_alternative(agent_and_stories,
                                                     tmp_path: Path) -> None:
    agent, _ = agent_and_stories
    file = tmp_path / "or.yml"
    file.write_text(textwrap.dedent("""
        version: "3.1"
        stories:
        - story: greet or say bye
          steps:
          - or:
            - intent: greet
            - intent: bye
          - action: utter_greet
        """), encoding="utf-8")
    evaluation = asyncio.run(evaluate_stories(agent, load_test_stories(file)))
    assert [o.passed for o in evaluation.outcomes] == [True, False]
    assert evaluation.written_stories == 1
    # the conversations are the unit, and the summary says where they came from
    assert ("Stories: 1 / 2 correct (accuracy 0.500; 1 test story as written: each `or:` "
            "alternative and each checkpoint-joined path counts as one)") in evaluation.table()


class SendTextPolicy:
    """`utter_faq` after a question, `action_send_text` after `bye now`, then listen."""

    def predict_next_action(self, tracker, domain):
        from types import SimpleNamespace

        last = next(e for e in reversed(tracker.events) if isinstance(e, ActionExecuted))
        if last.name != ACTION_LISTEN:
            name = ACTION_LISTEN
        elif tracker.latest_message.text.startswith("bye"):
            name = "action_send_text"
        else:
            name = "utter_faq"
        return SimpleNamespace(action_name=name, confidence=0.8, policy_name="SendTextPolicy")


def test_a_bot_step_is_scored_by_its_text(write_project, tmp_path: Path) -> None:
    # as in Rasa: the step's text is the label, and choosing action_send_text without
    # naming that text does not match it
    project = load_project(write_project(domain=FAQ_DOMAIN, tests=FAQ_TESTS))
    agent = Agent(project.domain, policies=SendTextPolicy(), parser=FaqParser())
    evaluation = asyncio.run(evaluate_stories(agent, project.test_stories[1:]))
    [outcome] = evaluation.outcomes
    assert not outcome.passed
    assert ("see you", "action_send_text") in [
        (c.expected, c.predicted) for c in outcome.actions]
    written = write_story_results(evaluation, tmp_path, plots=False)
    report = json.loads(written["report"].read_text(encoding="utf-8"))
    assert report["see you"]["support"] == 1
    assert report["see you"]["recall"] == 0.0
    assert "action_send_text" not in report
    assert '- bot: "see you"  # predicted: action_send_text' in written["failed"].read_text()


def test_a_story_naming_what_the_domain_lacks_fails_naming_it(agent_and_stories,
                                                              tmp_path: Path) -> None:
    agent, _ = agent_and_stories
    (tmp_path / "bad.yml").write_text(textwrap.dedent("""\
        version: "3.1"
        stories:
        - story: an unknown slot
          steps:
          - intent: greet
          - action: utter_greet
          - slot_was_set:
            - nosuch: 1
        - story: an unknown intent and response
          steps:
          - intent: grete
          - action: utter_greett
        """), encoding="utf-8")
    stories = load_test_stories(tmp_path / "bad.yml")
    evaluation = asyncio.run(evaluate_stories(agent, stories))
    # before, the first passed: its slot step was dropped with an error in the log
    assert [o.passed for o in evaluation.outcomes] == [False, False]
    first, second = evaluation.outcomes
    assert all(a.correct for a in first.actions)
    assert first.problems == [
        f"test story 'an unknown slot' sets slot 'nosuch' that the domain lacks "
        f"({tmp_path / 'bad.yml'}:7:5)"]
    assert first.first_error == first.problems[0]
    story = "test story 'an unknown intent and response'"
    assert len(second.problems) == 2
    assert second.problems[0].startswith(f"{story} uses intent 'grete' that the domain lacks")
    assert second.problems[1].startswith(
        f"{story} runs 'utter_greett' but no response of that name exists")
    assert "FAILED" in evaluation.table() and "sets slot 'nosuch'" in evaluation.table()
    assert first.has_prediction_errors  # --fail-on-prediction-errors fails on it too
    written = write_story_results(evaluation, tmp_path / "results", plots=False)
    failed = written["failed"].read_text()
    assert "# test story 'an unknown slot' sets slot 'nosuch' that the domain lacks" in failed


def test_a_story_joined_by_a_checkpoint_has_the_problems_of_every_part(
        agent_and_stories, tmp_path: Path) -> None:
    agent, _ = agent_and_stories
    (tmp_path / "joined.yml").write_text(textwrap.dedent("""\
        version: "3.1"
        stories:
        - story: first part
          steps:
          - intent: greet
          - action: utter_greet
          - checkpoint: greeted
        - story: second part
          steps:
          - checkpoint: greeted
          - slot_was_set:
            - unknwn: x
        """), encoding="utf-8")
    evaluation = asyncio.run(evaluate_stories(agent, load_test_stories(tmp_path / "joined.yml")))
    [outcome] = evaluation.outcomes
    assert outcome.name == "first part > second part"
    assert not outcome.passed
    assert [p.split(" that ")[0] for p in outcome.problems] == [
        "test story 'second part' sets slot 'unknwn'"]
