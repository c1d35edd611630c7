"""Remote custom actions against a real action server on loopback (rasa-sdk's webhook JSON)."""

from __future__ import annotations

import asyncio
import logging
import socket
from typing import Any

import pytest
from action_servers import LoopbackServer, Route, converse, sdk_message, trip_form_domain
from aiohttp import web
from dialogue_doubles import FunctionPolicy, simple_rules

from dialogflowlite.dialogue.custom_actions import CustomActionExecutor
from dialogflowlite.dialogue.messages import IncomingMessage
from dialogflowlite.dialogue.remote_actions import (
    ActionEndpoint,
    RemoteActionClient,
    protocol_version,
)
from dialogflowlite.errors import ConfigError
from dialogflowlite.shared.domain import ACTION_LISTEN
from dialogflowlite.shared.events import ActionExecuted, ActionExecutionRejected
from dialogflowlite.shared.tracker import DialogueStateTracker

DOMAIN = trip_form_domain(
    ["greet", "hello", "slow", "garbage", "reject", "missing", "book", "inform"],
    ["action_hello", "action_slow", "action_garbage", "action_reject", "action_missing",
     "validate_trip_form"],
    responses="""\
  utter_greet:
  - text: "Hello {city}!"
""")


class ActionServer(LoopbackServer):
    """A tiny rasa-sdk-compatible action server."""

    def __init__(self) -> None:
        super().__init__()
        self.requests: list[dict[str, Any]] = []
        #: each request's headers and query parameters
        self.access: list[tuple[dict[str, str], dict[str, str]]] = []

    def routes(self) -> dict[str, Route]:
        return {"/webhook": self.webhook}

    async def webhook(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.requests.append(body)
        self.access.append((dict(request.headers), dict(request.query)))
        name = body["next_action"]
        if name == "action_hello":
            visits = int(body["tracker"]["slots"].get("visits") or 0) + 1
            return web.json_response({
                "events": [{"event": "slot", "timestamp": None, "name": "visits",
                            "value": visits}],
                "responses": [
                    sdk_message(f"Hi {body['sender_id']}, visit {visits}"),
                    sdk_message(template="utter_greet", response="utter_greet"),
                ]})
        if name == "action_slow":
            await asyncio.sleep(2)
            return web.json_response({"events": [], "responses": []})
        if name == "action_garbage":
            return web.Response(text="<html>oops</html>", content_type="text/html")
        if name == "action_reject":
            return web.json_response({"error": "no thanks", "action_name": name}, status=400)
        if name == "validate_trip_form":
            city = body["tracker"]["slots"].get("city")
            value = city.upper() if isinstance(city, str) else city
            return web.json_response({"events": [{"event": "slot", "name": "city",
                                                  "value": value}], "responses": []})
        return web.json_response({"error": f"No registered action found for name '{name}'.",
                                  "action_name": name}, status=404)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


RULES = simple_rules({"greet": ["utter_greet"], "hello": ["action_hello"], "slow": ["action_slow"],
                      "garbage": ["action_garbage"], "reject": ["action_reject"],
                      "missing": ["action_missing"], "book": ["trip_form"]},
                     after_loop_done={"trip_form": ["utter_done"]})


def _converse(bot, url: str | None, messages: list[str], timeout: float = 5.0,
              server: ActionServer | None = None, domain: str = DOMAIN,
              selective_domain: bool = False):
    return converse(bot, domain, RULES, messages, url=url, server=server, timeout=timeout,
                    selective_domain=selective_domain)


def test_a_remote_action_runs_with_rasa_sdk_json(bot) -> None:
    server = ActionServer()
    results = _converse(bot, None, ['/greet{"city": "Oslo"}', "/hello", "/hello"], server=server)
    assert [r["text"] for r in results[1].replies] == ["Hi ann, visit 1", "Hello Oslo!"]
    assert results[2].replies[0]["text"] == "Hi ann, visit 2"
    assert results[2].tracker.slots["visits"] == 2
    request = server.requests[0]
    assert set(request) == {"next_action", "sender_id", "tracker", "domain", "domain_digest",
                            "version"}
    assert request["next_action"] == "action_hello"
    assert request["sender_id"] == "ann"
    assert request["version"] == protocol_version()
    assert request["tracker"]["slots"]["city"] == "Oslo"
    assert request["tracker"]["latest_message"]["intent"]["name"] == "hello"
    assert any(e["event"] == "user" for e in request["tracker"]["events"])
    assert request["domain"]["forms"] == {"trip_form": {"required_slots": ["city"]}}
    assert "utter_greet" in request["domain"]["responses"]


def test_remote_form_validation(bot) -> None:
    server = ActionServer()
    results = _converse(bot, None, ["/book", '/inform{"city": "lima"}'], server=server)
    assert results[1].tracker.slots["city"] == "LIMA"
    assert [r["text"] for r in results[1].replies] == ["Going to LIMA"]
    validation = [r for r in server.requests if r["next_action"] == "validate_trip_form"][-1]
    trailing = validation["tracker"]["events"][-1]
    assert trailing == {**trailing, "event": "slot", "name": "city", "value": "lima"}


def _failed_turn(results, action: str) -> None:
    turn = results[-1]
    names = [e.name for e in turn.events if isinstance(e, ActionExecuted)]
    assert names[-2:] == [action, ACTION_LISTEN]  # logged, then the conversation goes on
    assert turn.replies == []


def test_a_dead_action_server_is_logged_and_the_conversation_goes_on(bot, caplog) -> None:
    url = f"http://127.0.0.1:{_free_port()}/webhook"
    with caplog.at_level(logging.ERROR):
        results = _converse(bot, url, ["/hello", "/greet"])
    _failed_turn(results[:1], "action_hello")
    assert "action_hello" in caplog.text and url in caplog.text
    assert "cannot be reached" in caplog.text
    assert results[1].replies[0]["text"].startswith("Hello")


def test_a_slow_action_server_times_out(bot, caplog) -> None:
    with caplog.at_level(logging.ERROR):
        results = _converse(bot, None, ["/slow"], timeout=0.3, server=ActionServer())
    _failed_turn(results, "action_slow")
    assert "did not answer within 0.3s" in caplog.text
    assert "action_slow" in caplog.text


def test_an_answer_that_is_not_json_is_an_error(bot, caplog) -> None:
    with caplog.at_level(logging.ERROR):
        results = _converse(bot, None, ["/garbage"], server=ActionServer())
    _failed_turn(results, "action_garbage")
    assert "did not answer a JSON object" in caplog.text


def test_an_unknown_remote_action_is_an_error(bot, caplog) -> None:
    with caplog.at_level(logging.ERROR):
        results = _converse(bot, None, ["/missing"], server=ActionServer())
    _failed_turn(results, "action_missing")
    assert "has no such action" in caplog.text


def test_a_400_answer_rejects_the_action(bot) -> None:
    results = _converse(bot, None, ["/reject"], server=ActionServer())
    events = results[0].events
    rejected = [e for e in events if isinstance(e, ActionExecutionRejected)]
    assert [e.name for e in rejected] == ["action_reject"]
    assert "action_reject" not in [e.name for e in events if isinstance(e, ActionExecuted)]


def test_in_process_actions_win_over_the_server(bot, register_plugin) -> None:
    from dialogflowlite import hookimpl

    class LocalHello:
        def name(self):
            return "action_hello"

        async def run(self, dispatcher, tracker, domain):
            dispatcher.utter_message(text="local hello")
            return []

    class Plugin:
        @hookimpl
        def dfl_register_actions(self):
            return [LocalHello]

    register_plugin(Plugin(), "local-hello")
    server = ActionServer()
    results = _converse(bot, None, ["/hello"], server=server)
    assert [r["text"] for r in results[0].replies] == ["local hello"]
    assert server.requests == []


def test_no_action_server_configured_is_a_clear_error(bot, caplog) -> None:
    processor = bot(DOMAIN, FunctionPolicy(
        lambda t, d: "action_hello" if t.latest_intent == "hello" and
        not isinstance(t.events[-1], ActionExecuted) else ACTION_LISTEN))
    with caplog.at_level(logging.ERROR):
        asyncio.run(processor.handle_message(IncomingMessage("/hello", "x")))
    assert "neither registered in-process nor is an action server configured" in caplog.text


def test_endpoint_config() -> None:
    endpoint = ActionEndpoint.from_config({"url": "http://a:5055/webhook", "timeout": 3,
                                           "token": "s3cret"})
    assert endpoint.timeout == 3.0 and endpoint.access.params == {"token": "s3cret"}
    assert ActionEndpoint.from_config("http://b/webhook").url == "http://b/webhook"
    assert ActionEndpoint.from_config(None) is None
    with pytest.raises(ConfigError, match="needs a `url`"):
        ActionEndpoint.from_config({"timeout": 3})
    with pytest.raises(ConfigError, match="timeout"):
        ActionEndpoint.from_config({"url": "http://a", "timeout": "soon"})
    # a misspelt key would otherwise be ignored
    with pytest.raises(ConfigError, match="unknown setting 'timout'") as error:
        ActionEndpoint.from_config({"url": "http://a", "timout": 3})
    assert error.value.hint == "did you mean 'timeout'?"
    with pytest.raises(ConfigError, match="`basic_auth` needs a `username` and a `password`"):
        ActionEndpoint.from_config({"url": "http://a", "basic_auth": {"username": "bot"}})
    with pytest.raises(ConfigError, match=r"`cafile` '/no/such\.pem' is not a file"):
        ActionEndpoint.from_config({"url": "https://a", "cafile": "/no/such.pem"})
    # an address without its scheme is found when the server starts, not at the first
    # custom action of a conversation
    for url in ("localhost:5055/webhook", "ftp://a/webhook"):
        with pytest.raises(ConfigError, match=r"is not an http\(s\) address") as error:
            ActionEndpoint.from_config({"url": url})
        assert "http://" in error.value.hint
    assert ActionEndpoint.from_config({"url": " HTTPS://a/webhook "}).url == "HTTPS://a/webhook"


def test_rasas_endpoint_settings_reach_the_action_server() -> None:
    server = ActionServer()

    async def call() -> dict[str, Any]:
        await server.start()
        try:
            endpoint = ActionEndpoint.from_config({
                "url": server.url, "headers": {"X-Api-Key": "k1"}, "params": {"region": "eu"},
                "token": "s3cret", "token_name": "auth",
                "basic_auth": {"username": "bot", "password": "pw"}})
            return await RemoteActionClient(endpoint).run(
                "action_hello", DialogueStateTracker("ann"), None)
        finally:
            await server.stop()

    answer = asyncio.run(call())
    assert answer["events"][0]["name"] == "visits"
    [(headers, query)] = server.access
    assert headers["X-Api-Key"] == "k1"
    assert headers["Authorization"] == "Basic Ym90OnB3"  # bot:pw
    assert query == {"region": "eu", "auth": "s3cret"}


def test_selective_domain_sends_the_domain_only_to_actions_that_ask_for_it(bot) -> None:
    domain = DOMAIN.replace("actions: [action_hello,", "actions: [{action_hello: {send_domain: "
                            "true}},")
    messages = ["/hello", "/book", '/inform{"city": "lima"}']
    server = ActionServer()
    results = _converse(bot, None, messages, server=server, domain=domain,
                        selective_domain=True)
    sent = {r["next_action"]: "domain" in r for r in server.requests}
    assert sent == {"action_hello": True, "validate_trip_form": False}
    hello = next(r for r in server.requests if r["next_action"] == "action_hello")
    assert "utter_greet" in hello["domain"]["responses"]
    assert results[2].tracker.slots["city"] == "LIMA"  # the call works without the domain
    # without enable_selective_domain every call carries the domain, as before
    server = ActionServer()
    _converse(bot, None, messages, server=server, domain=domain)
    assert all("domain" in r for r in server.requests) and len(server.requests) >= 2


def test_enable_selective_domain_is_read_from_endpoints() -> None:
    read = ActionEndpoint.from_config
    assert read({"url": "http://a/webhook"}).selective_domain is False
    assert read({"url": "http://a/webhook", "enable_selective_domain": True}).selective_domain
    # from ${ENV_VAR} it is text
    assert read({"url": "http://a/webhook", "enable_selective_domain": "false"}
                ).selective_domain is False
    with pytest.raises(ConfigError, match="enable_selective_domain must be true or false"):
        read({"url": "http://a/webhook", "enable_selective_domain": "sometimes"})


def test_events_an_action_answers_are_read_as_strictly_as_the_http_apis() -> None:
    from dialogflowlite.errors import ActionExecutionError

    # stored, a loop named 5 failed every later turn of the conversation
    for bad, field in (({"event": "active_loop", "name": 5}, "'name'"),
                       ({"event": "action", "name": "x", "confidence": "high"}, "'confidence'"),
                       ({"event": "slot", "name": "city", "metadata": [["a", "b"]]},
                        "'metadata'")):
        with pytest.raises(ActionExecutionError, match=f"action_hello.*bad event.*{field}"):
            CustomActionExecutor._events("action_hello", [bad])
    sdk_event = {"event": "slot", "timestamp": None, "name": "visits", "value": 1}
    assert CustomActionExecutor._events("action_hello", [sdk_event])[0].value == 1


def test_an_answer_with_nan_deep_nesting_or_a_lone_surrogate_is_refused() -> None:
    from dialogflowlite.dialogue.remote_actions import RemoteActionClient
    from dialogflowlite.errors import ActionExecutionError

    deep = '{"events": [], "responses": [], "x": ' + "[" * 100 + "]" * 100 + "}"
    for body, problem in (
            ('{"events": [{"event": "slot", "name": "visits", "value": NaN}]}', "NaN"),
            (deep, "deeper than"),
            ('{"events": [], "responses": [{"text": "hi \\ud800"}]}',
             "'responses[0].text' holds a lone UTF-16 surrogate")):
        with pytest.raises(ActionExecutionError, match="answered JSON that cannot be kept") as e:
            RemoteActionClient._read_answer("action_hello", "http://x/webhook", 200, body)
        assert problem in str(e.value)
    # an error status is still reported as such
    with pytest.raises(ActionExecutionError, match="answered HTTP 500"):
        RemoteActionClient._read_answer("action_hello", "http://x/webhook", 500,
                                        '{"error": NaN}')
