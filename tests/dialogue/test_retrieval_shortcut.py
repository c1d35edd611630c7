"""A ``/faq/ask_hours`` message (a button's payload) is answered as its retrieval intent."""

from __future__ import annotations

import asyncio
import textwrap
from pathlib import Path

import keyword_bot
import pytest

from dialogflowlite.agent import Agent
from dialogflowlite.training.trainer import train

FILES = {
    "domain.yml": """
        version: "3.1"
        intents: [greet, faq]
        responses:
          utter_greet: [{text: "Hello!"}]
          utter_faq/ask_hours: [{text: "We open at nine."}]
          utter_faq/ask_parking: [{text: "Park behind the building."}]
        """,
    "data/nlu.yml": """
        version: "3.1"
        nlu:
        - intent: greet
          examples: |
            - hello
        - intent: faq/ask_hours
          examples: |
            - when do you open
        - intent: faq/ask_parking
          examples: |
            - where can I park
        """,
    "data/rules.yml": """
        version: "3.1"
        rules:
        - rule: faq
          steps:
          - intent: faq
          - action: utter_faq
        """,
    # the keyword bot's: whitespace tokens, a keyword classifier, rules
    "config.yml": keyword_bot.CONFIG,
}


@pytest.fixture(scope="module")
def agent(tmp_path_factory) -> Agent:
    root: Path = tmp_path_factory.mktemp("faq")
    for name, text in FILES.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return Agent.load(train(root).model_path)


@pytest.mark.parametrize(("payload", "answer"), [
    ("/faq/ask_hours", "We open at nine."), ("/faq/ask_parking@0.9", "Park behind the building.")])
def test_a_retrieval_intent_payload_gets_its_answer(agent: Agent, payload: str,
                                                    answer: str) -> None:
    async def talk():
        replies = await agent.handle_text(payload, sender_id=payload)
        return replies, await agent.get_tracker(payload)

    replies, tracker = asyncio.run(talk())
    # it was the unknown intent `faq/ask_hours` to the rules: no answer at all
    assert [reply["text"] for reply in replies] == [answer]
    parse = tracker.latest_message.parse_data
    assert parse["intent"]["name"] == "faq"
    key = payload[1:].split("@")[0]
    assert parse["response_selector"]["faq"]["response"]["intent_response_key"] == key


def test_a_retrieval_intent_posted_as_an_event_counts_as_its_base_intent(agent: Agent) -> None:
    from dialogflowlite.shared.events import ActionExecuted, UserUttered

    async def predict():
        tracker = await agent.get_tracker("posted")
        tracker.update(ActionExecuted(name="action_listen"))
        tracker.update(UserUttered(text="hours?", parse_data={
            "intent": {"name": "faq/ask_hours", "confidence": 1.0}, "entities": []}))
        return agent.processor.predict_next_action(tracker)

    assert asyncio.run(predict()).action_name == "utter_faq"
