"""The Agent: loading a trained model and talking to it."""

from __future__ import annotations

import asyncio
import logging
import shutil
from pathlib import Path

import pytest

from dialogflowlite import hookimpl
from dialogflowlite.agent import Agent, load_model_domain, read_endpoints, resolve_model_path
from dialogflowlite.artifact import open_model
from dialogflowlite.dialogue.messages import IncomingMessage
from dialogflowlite.errors import ConfigError, ModelLoadError
from dialogflowlite.stores.memory import MemoryLockStore, MemoryTrackerStore
from dialogflowlite.training.trainer import train

PROJECT = {
    "domain": """
        version: "3.1"
        intents: [greet, inform]
        entities: [city]
        slots:
          city:
            type: text
            influence_conversation: false
            mappings: [{type: from_entity, entity: city}]
        responses:
          utter_greet: [{text: "Hello {city}!"}]
          utter_noted: [{text: "Noted."}]
        actions: [action_check_city]
        """,
    "nlu": """
        version: "3.1"
        nlu:
        - intent: greet
          examples: |
            - hi
        - intent: inform
          examples: |
            - to [Rome](city)
        - regex: city
          examples: |
            - Rome|Paris|Oslo
        """,
    "rules": """
        version: "3.1"
        rules:
        - rule: greet
          steps:
          - intent: greet
          - action: utter_greet
        - rule: inform
          steps:
          - intent: inform
          - action: utter_noted
        """,
    "config": """
        language: en
        pipeline:
        - name: WhitespaceTokenizer
        - name: RegexEntityExtractor
        policies:
        - name: RulePolicy
        """,
}


@pytest.fixture(scope="module")
def model(tmp_path_factory) -> Path:
    import textwrap

    root = tmp_path_factory.mktemp("agent") / "project"
    for name, text in PROJECT.items():
        relative = {"domain": "domain.yml", "nlu": "data/nlu.yml", "rules": "data/rules.yml",
                    "config": "config.yml"}[name]
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return train(root).model_path


def test_load_a_folder_or_a_file(model: Path) -> None:
    from_folder = Agent.load(model.parent)
    from_file = Agent.load(model)
    assert from_folder.model_path == from_file.model_path == model
    assert "utter_greet" in from_file.domain.responses
    assert isinstance(from_file.tracker_store, MemoryTrackerStore)
    assert isinstance(from_file.lock_store, MemoryLockStore)
    assert from_file.is_ready()


def test_conversation_through_nlu_policies_and_responses(model: Path) -> None:
    agent = Agent.load(model)

    async def talk():
        first = await agent.handle_text('/inform{"city": "Oslo"}', sender_id="ann")
        second = await agent.handle_message(IncomingMessage("/greet", "ann"))
        return first, second, await agent.get_tracker("ann")

    first, second, tracker = asyncio.run(talk())
    assert first == [{"recipient_id": "ann", "text": "Noted."}]
    assert second == [{"recipient_id": "ann", "text": "Hello Oslo!"}]
    assert tracker.slots["city"] == "Oslo"


def test_parse_messages_in_a_batch(model: Path) -> None:
    agent = Agent.load(model)
    one = asyncio.run(agent.parse_message("to Paris"))
    batch = asyncio.run(agent.parse_messages(["to Paris", "/greet"]))
    assert one["entities"][0]["value"] == "Paris"
    assert batch[0]["entities"] == one["entities"]
    assert batch[1]["intent"] == {"name": "greet", "confidence": 1.0}


def test_trigger_intent_and_predict_next(model: Path) -> None:
    agent = Agent.load(model)
    replies = asyncio.run(agent.trigger_intent("bob", "greet", {"city": "Rome"}))
    assert replies == [{"recipient_id": "bob", "text": "Hello Rome!"}]
    prediction = asyncio.run(agent.predict_next("bob"))
    # after listening, the latest message is still the greeting: the rule answers it again
    assert max(prediction["scores"], key=lambda s: s["score"])["action"] == "utter_greet"
    assert prediction["policy"] == "RulePolicy"
    assert prediction["tracker"]["latest_message"]["intent"]["name"] == "greet"


def test_given_stores_and_endpoints_are_used(model: Path, tmp_path: Path) -> None:
    store, locks = MemoryTrackerStore(), MemoryLockStore()
    endpoints = tmp_path / "endpoints.yml"
    endpoints.write_text('action_endpoint:\n  url: "http://127.0.0.1:1/webhook"\n  timeout: 2\n')
    agent = Agent.load(model, tracker_store=store, lock_store=locks, endpoints=endpoints)
    assert agent.tracker_store is store and agent.lock_store is locks
    assert store.domain is agent.domain
    assert agent.action_endpoint.url == "http://127.0.0.1:1/webhook"
    assert agent.action_endpoint.timeout == 2.0
    explicit = Agent.load(model, action_endpoint="http://other/webhook", endpoints=endpoints)
    assert explicit.action_endpoint.url == "http://other/webhook"


def test_missing_models_and_files_are_clear_errors(tmp_path: Path, model: Path) -> None:
    with pytest.raises(ModelLoadError, match="no model in"):
        resolve_model_path(tmp_path)
    with pytest.raises(ModelLoadError, match="no model at"):
        Agent.load(tmp_path / "nowhere.tar")
    with pytest.raises(ConfigError, match="does not exist"):
        read_endpoints(tmp_path / "endpoints.yml")
    unpacked = tmp_path / "unpacked"
    shutil.copytree(open_model(model).root, unpacked)
    shutil.rmtree(unpacked / "domain")
    with pytest.raises(ModelLoadError, match="holds no domain"):
        load_model_domain(open_model(unpacked))


def test_custom_actions_that_cannot_run_are_named_once_loaded(
        model: Path, caplog: pytest.LogCaptureFixture, register_plugin) -> None:
    with caplog.at_level(logging.WARNING, logger="dialogflowlite.agent"):
        Agent.load(model).warn_about_unreachable_actions()
    assert "1 custom action(s) of the domain cannot run" in caplog.text
    assert "action_check_city" in caplog.text and "run actions" in caplog.text
    # the in-process way was named only in later errors
    assert "dfl_register_actions" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="dialogflowlite.agent"):
        Agent.load(model, action_endpoint="http://127.0.0.1:1/webhook") \
            .warn_about_unreachable_actions()
    assert "cannot run" not in caplog.text

    class CheckCity:
        def name(self) -> str:
            return "action_check_city"

        def run(self, dispatcher, tracker, domain):
            return []

    class Plugin:
        @hookimpl
        def dfl_register_actions(self):
            return [CheckCity()]

    register_plugin(Plugin(), "check-city")
    with caplog.at_level(logging.WARNING, logger="dialogflowlite.agent"):
        Agent.load(model).warn_about_unreachable_actions()
    assert "cannot run" not in caplog.text


def test_a_model_without_nlu_says_only_intents_are_understood(
        model: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    # written elsewhere: the module's other tests load the newest model of the project
    core_only = train(model.parent.parent, sections=("core",), output=tmp_path).model_path
    # text reached the policies with no intent, and the bot answered as if nothing was said
    with caplog.at_level(logging.WARNING, logger="dialogflowlite.agent"):
        Agent.load(core_only).warn_about_missing_nlu()
    assert f"{core_only.name} has no NLU part: only messages written as /intent" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="dialogflowlite.agent"):
        Agent.load(model).warn_about_missing_nlu()
    assert "no NLU part" not in caplog.text
