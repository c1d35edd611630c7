"""endpoints.yml ``nlg``: how variations are chosen, and an external NLG server."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from serving_helpers import StubHttpServer

from dialogflowlite.components.generation.nlg_server import NlgServer
from dialogflowlite.errors import ConfigError


class FakeNlg(StubHttpServer):
    """A local NLG server: ``answer(request_body) -> (status, body text)``."""

    def __init__(self, answer: Callable[[dict], tuple[int, str]]) -> None:
        def reply(request: Any) -> tuple[int, dict, bytes]:
            status, text = answer(json.loads(request.body))
            return status, {"Content-Type": "application/json"}, text.encode()

        super().__init__(reply, path="/nlg")

    @property
    def bodies(self) -> list[dict]:
        return [json.loads(r.body) for r in self.requests]


@pytest.fixture
def nlg() -> Iterator[Callable[..., FakeNlg]]:
    servers: list[FakeNlg] = []

    def start(answer: Callable[[dict], tuple[int, str]]) -> FakeNlg:
        servers.append(FakeNlg(answer))
        return servers[-1]

    try:
        yield start
    finally:
        for server in servers:
            server.close()


def load(model: Path, endpoints: dict[str, Any]) -> Any:
    from dialogflowlite.agent import Agent

    return Agent.load(model, endpoints=endpoints)


def say(agent: Any, text: str, sender: str = "nia", channel: str | None = "rest") -> list[dict]:
    return asyncio.run(agent.handle_text(text, sender, channel=channel))


def test_the_nlg_section_reaches_the_running_bot(tiny_model: Path) -> None:
    agent = load(tiny_model, {"nlg": {"response_selection": "sequential", "seed": 4}})
    assert agent.responder.templates.selection == "sequential"
    assert agent.responder.nlg_server is None


def test_an_nlg_server_writes_the_responses(tiny_model: Path, nlg) -> None:
    server = nlg(lambda body: (200, json.dumps({
        "text": f"NLG says {body['response']} on {body['channel']['name']}",
        "buttons": [{"title": "ok", "payload": "/goodbye"}]})))
    agent = load(tiny_model, {"nlg": {"url": server.url}})
    replies = say(agent, "/greet")
    assert replies == [{"recipient_id": "nia", "text": "NLG says utter_greet on rest",
                        "buttons": [{"title": "ok", "payload": "/goodbye"}]}]
    [request] = server.bodies
    assert request["response"] == "utter_greet" and request["arguments"] == {}
    assert request["tracker"]["sender_id"] == "nia"
    assert request["tracker"]["latest_message"]["intent"]["name"] == "greet"
    stored = asyncio.run(agent.tracker_store.load_events("nia"))
    bot = next(e for e in stored if e["event"] == "bot")
    assert bot["metadata"]["utter_action"] == "utter_greet"


@pytest.mark.parametrize(("status", "body"), [
    (500, "{}"), (200, "not json"), (200, '{"text": ""}'), (200, '["Hello"]'),
    # answers of the wrong shape would reach every channel as they are
    (200, '{"text": 42}'), (200, '{"text": "Hi", "buttons": "yes/no"}'),
    (200, '{"text": "Hi", "buttons": ["yes"]}'), (200, '{"image": {"url": "x"}}'),
    (200, '{"text": "Hi", "metadata": "m"}'),
    # JSON that would break the stored bot event
    (200, '{"text": "Hi \\ud800"}'), (200, '{"text": "Hi", "metadata": {"x": NaN}}')])
def test_the_template_answers_when_the_server_does_not(tiny_model: Path, nlg, caplog,
                                                       status: int, body: str) -> None:
    server = nlg(lambda _: (status, body))
    agent = load(tiny_model, {"nlg": {"url": server.url}})
    with caplog.at_level("ERROR"):
        replies = say(agent, "/greet")
    assert replies == [{"recipient_id": "nia", "text": "Hello! How can I help?"}]
    assert f"NLG server {server.url}" in caplog.text and "sending the template" in caplog.text


def test_an_unreachable_server_falls_back_too(tiny_model: Path, caplog) -> None:
    agent = load(tiny_model, {"nlg": {"url": "http://127.0.0.1:9/nlg", "timeout": 2}})
    with caplog.at_level("ERROR"):
        assert say(agent, "/greet")[0]["text"] == "Hello! How can I help?"
    assert "gave no answer for utter_greet" in caplog.text


def test_settings_are_checked() -> None:
    assert NlgServer.from_config({"response_selection": "sequential"}) is None
    with pytest.raises(ConfigError, match="is not an http"):
        NlgServer.from_config({"url": "localhost:5056"})
    with pytest.raises(ConfigError, match="timeout must be a number"):
        NlgServer.from_config({"url": "http://x", "timeout": "soon"})
    server = NlgServer.from_config({"url": "https://nlg.example/x", "headers": {"K": 1}})
    assert server is not None and server.access.headers == {"K": "1"}


def test_an_unknown_nlg_key_is_an_error_with_the_closest_key() -> None:
    with pytest.raises(ConfigError) as info:
        NlgServer.from_config({"url": "http://x", "timeoutt": 5})
    assert info.value.message == "endpoints.yml nlg: unknown setting 'timeoutt'"
    assert info.value.hint == "did you mean 'timeout'?"
    # the settings of how variations are chosen are checked too
    with pytest.raises(ConfigError, match="'response_selektion'"):
        NlgServer.from_config({"response_selektion": "sequential"})


def test_rasa_s_endpoint_settings_load() -> None:
    server = NlgServer.from_config({
        "url": "http://x/nlg", "type": "callback", "params": {"lang": "en"},
        "token": "s3cret", "token_name": "key",
        "basic_auth": {"username": "bot", "password": "pw"}})
    assert server is not None
    assert server.access.params == {"lang": "en", "key": "s3cret"}
    assert server.access.basic_auth == ("bot", "pw")
    # Rasa's `type: response` means the domain's templates, with no server
    assert NlgServer.from_config({"url": "http://x/nlg", "type": "response"}) is None
    # a generator class of the user's own takes settings of its own
    assert NlgServer.from_config({"type": "my_nlg.Generator", "model_path": "m"}) is None


def test_the_token_params_and_basic_auth_reach_the_server(tiny_model: Path, nlg) -> None:
    server = nlg(lambda _: (200, json.dumps({"text": "from the server"})))
    agent = load(tiny_model, {"nlg": {"url": server.url, "params": {"lang": "en"},
                                      "token": "s3cret",
                                      "basic_auth": {"username": "bot", "password": "pw"}}})
    assert say(agent, "/greet")[0]["text"] == "from the server"
    [request] = server.requests
    assert sorted(request.path.split("?", 1)[1].split("&")) == ["lang=en", "token=s3cret"]
    assert request.headers["Authorization"] == "Basic Ym90OnB3"


def test_a_custom_actions_arguments_reach_the_server(tiny_model: Path, nlg) -> None:
    from dialogflowlite.shared.tracker import DialogueStateTracker

    server = nlg(lambda body: (200, json.dumps({"text": f"Hi {body['arguments']['name']}"})))
    agent = load(tiny_model, {"nlg": {"url": server.url}})
    messages = asyncio.run(agent.responder.respond(
        "utter_greet", DialogueStateTracker("ida"), "rest", arguments={"name": "Ann"}))
    assert [m["text"] for m in messages] == ["Hi Ann"]
    assert server.bodies[0]["arguments"] == {"name": "Ann"}


def test_the_shape_problem_is_named() -> None:
    from dialogflowlite.components.generation.nlg_server import message_problem

    assert message_problem({"text": "Hi", "buttons": [{"title": "ok"}], "custom": 7}) is None
    assert message_problem({"text": "Hi", "buttons": "yes/no"}) == (
        "'buttons' must be a list of objects, not 'yes/no'")
    assert message_problem({"text": 42}) == "'text' must be text, not 42"
    assert message_problem({"text": "Hi", "image": ""}) is None  # empty values are dropped


def test_other_keys_of_the_answer_become_the_bot_event_s_metadata(tiny_model: Path,
                                                                  nlg) -> None:
    # Rasa builds the bot event from the answer: what is not part of the message
    # (text, buttons, image, ...) is the event's metadata
    server = nlg(lambda _: (200, json.dumps({
        "text": "Hola", "lang": "es", "response_ids": ["r7"], "button_type": "vertical",
        "generated": True, "metadata": {"tone": "warm", "lang": "en"}})))
    agent = load(tiny_model, {"nlg": {"url": server.url}})
    assert say(agent, "/greet") == [{"recipient_id": "nia", "text": "Hola"}]
    stored = asyncio.run(agent.tracker_store.load_events("nia"))
    bot = next(e for e in stored if e["event"] == "bot")
    assert bot["text"] == "Hola"
    # the answer's metadata object stays whole under `metadata`, as in Rasa;
    # generated stays the generator's
    assert bot["metadata"] == {"lang": "es", "response_ids": ["r7"],
                               "button_type": "vertical",
                               "metadata": {"tone": "warm", "lang": "en"},
                               "utter_action": "utter_greet"}
