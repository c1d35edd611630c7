"""Stories that give the bot's text (``bot: "..."``) instead of an action:
the policies learn each text as an action of its own, the live bot sends exactly
that text and logs it as Rasa does (``action_text``, no action name), the story
test passes, and a saved model keeps it all."""

from __future__ import annotations

import asyncio
from itertools import count
from pathlib import Path

import pytest
from policy_helpers import MEMOIZATION_CONFIG, said, tracker, trained
from story_data import stories_yaml

from dialogflowlite.agent import Agent
from dialogflowlite.artifact import ModelWriter, open_model
from dialogflowlite.components.policies.ensemble import PolicyEnsemble
from dialogflowlite.components.policies.memoization import MemoizationPolicy
from dialogflowlite.components.policies.training import CoreSection
from dialogflowlite.components.policies.transformer_policy import TransformerPolicy
from dialogflowlite.dialogue.messages import IncomingMessage
from dialogflowlite.evaluation.stories import evaluate_stories
from dialogflowlite.io.loader import load_project
from dialogflowlite.shared.domain import ACTION_LISTEN, ACTION_SEND_TEXT
from dialogflowlite.shared.events import ActionExecuted, BotUttered
from dialogflowlite.training.trainer import TrainingContext, TrainOptions

DOMAIN = """
version: "3.1"
intents: [greet, bye]
responses:
  utter_noworries: [{text: np}]
"""

#: the steps of the greeting and of the goodbye, each text a step of its own
GREET_STEPS = '  - intent: greet\n  - bot: "Hi there!"\n  - bot: "How can I help?"\n'
BYE_STEPS = '  - intent: bye\n  - bot: "See you soon."\n'

STORIES = stories_yaml("- story: greet\n  steps:\n" + GREET_STEPS,
                       "- story: bye\n  steps:\n" + BYE_STEPS)

TESTS = stories_yaml("- story: greet and leave\n  steps:\n" + GREET_STEPS + BYE_STEPS)

_models = count()


def train_model(project, tmp_path: Path) -> Path:
    writer = ModelWriter()
    try:
        context = TrainingContext(writer, None, TrainOptions(progress=False))
        writer.manifest.sections["core"] = CoreSection().train(project, context)
        return writer.save(tmp_path / f"model{next(_models)}.tar")
    finally:
        writer.close()


@pytest.fixture
def project(write_project):
    return load_project(write_project(domain=DOMAIN, stories=STORIES, tests=TESTS,
                                      config=MEMOIZATION_CONFIG), strict=True)


@pytest.fixture
def agent(project, tmp_path) -> Agent:
    """An agent whose policies come from a model saved and loaded again."""
    archive = open_model(train_model(project, tmp_path))
    try:
        ensemble = PolicyEnsemble.load(archive, project.domain)
    finally:
        archive.close()
    return Agent(project.domain, policies=ensemble)


def test_memoization_predicts_each_story_text(project) -> None:
    policy = trained(MemoizationPolicy({"max_history": 3}), project)
    domain = project.domain
    greet = policy.predict(tracker(domain, *said("greet")), domain)
    bye = policy.predict(tracker(domain, *said("bye")), domain)
    assert (greet.action_name, greet.action_text) == ("Hi there!", "Hi there!")
    assert (bye.action_name, bye.action_text) == ("See you soon.", "See you soon.")


def test_the_transformer_learns_texts_as_actions_of_their_own(project) -> None:
    policy = trained(TransformerPolicy({"hidden_size": 16, "num_heads": 2, "epochs": 40}),
                     project)
    assert ACTION_SEND_TEXT not in set(policy.actions) - set(project.domain.action_names)
    texts = {"Hi there!", "How can I help?", "See you soon."}
    assert texts <= set(policy.actions)
    assert policy.action_texts == texts
    domain = project.domain
    greet = policy.predict(tracker(domain, *said("greet")), domain)
    assert greet.action_text == greet.action_name


def test_the_ensemble_decides_to_send_the_text(agent, project) -> None:
    domain = project.domain
    decision = agent.policies.predict_next_action(tracker(domain, *said("bye")), domain)
    assert (decision.action_name, decision.action_text) == (ACTION_SEND_TEXT, "See you soon.")
    assert decision.policy_name == "AugmentedMemoizationPolicy"


def test_the_live_bot_sends_each_right_text(agent) -> None:
    async def chat() -> list[list[dict]]:
        return [await agent.handle_text(text, "someone")
                for text in ("/greet", "/bye", "/greet")]

    replies = asyncio.run(chat())
    assert [[reply.get("text") for reply in turn] for turn in replies] == [
        ["Hi there!", "How can I help?"], ["See you soon."], ["Hi there!", "How can I help?"]]


def test_the_sent_text_is_logged_as_rasa_logs_it(agent) -> None:
    events = asyncio.run(agent.handle_turn(IncomingMessage("/greet", "someone"))).events
    sent = [e for e in events if isinstance(e, ActionExecuted) and e.action_text]
    assert len(sent) == 2
    assert (sent[0].name, sent[0].action_text, sent[0].policy) == (
        "", "Hi there!", "AugmentedMemoizationPolicy")
    assert sent[0].as_dict()["name"] is None
    after = events[events.index(sent[0]) + 1]
    assert isinstance(after, BotUttered) and after.text == "Hi there!"
    # the bot then listens: the logged text reads as the story's step to the policies
    assert [e.name for e in events if isinstance(e, ActionExecuted)][-1] == ACTION_LISTEN


def test_a_test_story_with_bot_steps_passes(agent, project) -> None:
    evaluation = asyncio.run(evaluate_stories(agent, project.test_stories))
    [outcome] = evaluation.outcomes
    assert outcome.passed
    assert [c.predicted for c in outcome.actions] == [
        "Hi there!", "How can I help?", ACTION_LISTEN, "See you soon.", ACTION_LISTEN]


@pytest.mark.parametrize("logged_name", [None, "", ACTION_SEND_TEXT])
def test_a_logged_text_reads_as_the_story_step(agent, project, logged_name) -> None:
    """Live (no name), read back from a store (an empty name) or as a story writes it:
    the text that was sent leads to the text the story sends next."""
    domain = project.domain
    sent = ActionExecuted(name=logged_name, action_text="Hi there!")  # type: ignore[arg-type]
    decision = agent.policies.predict_next_action(tracker(domain, *said("greet"), sent),
                                                  domain)
    assert (decision.action_name, decision.action_text) == (ACTION_SEND_TEXT,
                                                           "How can I help?")
