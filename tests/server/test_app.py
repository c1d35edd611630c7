"""Server basics: information routes, the REST channel, and the one error shape."""

from __future__ import annotations

import asyncio
import json

import pytest
from serving_helpers import CARDS, QUICK_REPLIES, greet_with, request

from dialogflowlite import __version__

ERROR_KEYS = {"version", "status", "message", "reason", "code"}


def assert_error(response, status: int, reason: str) -> dict:
    assert response.status == status, response.text
    body = response.json
    assert set(body) >= ERROR_KEYS
    assert body["status"] == "failure" and body["code"] == status and body["reason"] == reason
    assert body["version"] == __version__
    return body


def test_information_routes(make_app) -> None:
    app = make_app()

    async def main() -> None:
        root = await request(app, "get", "/")
        assert root.status == 200 and root.text == f"Hello from dialogflowlite: {__version__}"
        version = await request(app, "get", "/version")
        assert version.json == {"version": __version__, "minimum_compatible_version": "0.1.0"}
        assert (await request(app, "get", "/health")).json == {"status": "ok"}
        status = (await request(app, "get", "/status")).json
        assert status["model_file"].endswith(".tar") and status["num_active_training_jobs"] == 0
        # each component's fingerprint, from the manifest of the model served
        served = app.ctx.agent.archive.manifest.components
        assert status["fingerprint"] == {c.key: c.fingerprint for c in served} != {}
        assert (await request(app, "get", "/webhooks/rest/")).json == {"status": "ok"}

    asyncio.run(main())


def test_rest_channel_holds_a_conversation_with_buttons(make_app, agent) -> None:
    app = make_app()

    async def main() -> None:
        hello = await request(app, "post", "/webhooks/rest/webhook",
                              json={"sender": "alice", "message": "/greet"})
        assert hello.json == [{"recipient_id": "alice", "text": "Hello! How can I help?"}]
        choice = (await request(app, "post", "/webhooks/rest/webhook",
                                json={"sender": "alice", "message": "/ask_choice"})).json
        assert choice[0]["text"] == "Pick a colour"
        assert [b["title"] for b in choice[0]["buttons"]] == ["Red", "Blue"]
        chosen = (await request(app, "post", "/webhooks/rest/webhook",
                                json={"sender": "alice",
                                      "message": choice[0]["buttons"][1]["payload"]})).json
        assert chosen == [{"recipient_id": "alice", "text": "You chose blue."}]
        tracker = await agent.tracker_store.retrieve("alice")
        texts = [e.text for e in tracker.events if e.type_name == "user"]
        assert texts == ["/greet", "/ask_choice", '/choose{"colour": "blue"}']
        assert tracker.slots["colour"] == "blue"
        assert all(e.input_channel == "rest" for e in tracker.events if e.type_name == "user")

    asyncio.run(main())


#: the cards and quick replies as Rasa's REST channel answers them, key order included
REST_CARDS = [
    {"recipient_id": "ann", "text": "Our cats"},
    {"recipient_id": "ann", "text": "Tom : grey",
     "buttons": [{"title": "Adopt", "payload": "/choose"}]},
    {"recipient_id": "ann", "text": "Kit : black", "buttons": []}]
REST_QUICK_REPLIES = [{"recipient_id": "ann", "text": "Which size?", "buttons": [
    {"title": "Small", "payload": "/choose"}, {"title": "Large", "payload": "/goodbye"}]}]


def _in_order(replies: list[dict]) -> list[list[tuple]]:
    return [list(reply.items()) for reply in replies]


@pytest.mark.parametrize(("response", "expected"), [
    (CARDS, REST_CARDS), ({**QUICK_REPLIES, "button_type": "vertical"}, REST_QUICK_REPLIES),
], ids=["cards", "quick-replies"])
def test_rest_replies_flatten_cards_and_quick_replies_as_rasa(make_app, agent, response,
                                                              expected) -> None:
    # the REST webhook, the conversation routes and the Agent API all answer Rasa's shape
    greet_with(agent, response)
    app = make_app()

    async def main() -> list[list[dict]]:
        # the Agent API keeps a response's button_type for the channels that style buttons
        handled = await agent.handle_text("/greet", sender_id="ann")
        webhook = await request(app, "post", "/webhooks/rest/webhook",
                                json={"sender": "ann", "message": "/greet"})
        triggered = await request(app, "post", "/conversations/ann/trigger_intent",
                                  json={"name": "greet"})
        executed = await request(app, "post", "/conversations/ann/execute",
                                 json={"name": "utter_greet"})
        return [webhook.json, triggered.json["messages"], executed.json["messages"],
                [{k: v for k, v in r.items() if k != "button_type"} for r in handled]]

    for replies in asyncio.run(main()):
        assert _in_order(replies) == _in_order(expected)


@pytest.mark.parametrize(("body", "field"), [
    ({"sender": "alice"}, "message"),
    ({"sender": "alice", "message": 42}, "message"),
    ({"sender": "alice", "message": "hi", "metadata": "x"}, "metadata"),
    ({"sender": ["alice"], "message": "hi"}, "sender"),
    ({"sender": "alice\nINFO forged log line", "message": "hi"}, "sender"),
    ({"sender": "alice\u202eevil", "message": "hi"}, "sender"),
    ({"sender": " alice", "message": "hi"}, "sender"),
    ({"sender": "", "message": "hi"}, "sender"),
    ({"sender": "a" * 256, "message": "hi"}, "sender"),
])
def test_wrong_fields_are_400_naming_the_field(make_app, body, field) -> None:
    app = make_app()
    response = asyncio.run(request(app, "post", "/webhooks/rest/webhook", json=body))
    error = assert_error(response, 400, "BadRequest")
    assert field in error["message"] and error["details"]["parameter"] == field


def test_a_sender_with_a_lone_surrogate_is_400(make_app) -> None:
    # valid JSON, but no UTF-8 text: no store could keep it
    body = b'{"sender": "alice\\ud800", "message": "hi"}'
    response = asyncio.run(request(make_app(), "post", "/webhooks/rest/webhook", content=body,
                                   headers={"Content-Type": "application/json"}))
    assert response.status == 400 and response.json["details"]["parameter"] == "sender"


@pytest.mark.parametrize("raw", [b"{not json", b"[1, 2]", b"", b"\xff\xfe"])
def test_malformed_bodies_are_400(make_app, raw) -> None:
    app = make_app()
    for path in ("/webhooks/rest/webhook", "/model/parse",
                 "/conversations/alice/trigger_intent"):
        response = asyncio.run(request(app, "post", path, content=raw,
                                       headers={"content-type": "application/json"}))
        assert_error(response, 400, "BadRequest")


def test_size_limits(make_app) -> None:
    app = make_app(max_message_chars=100, max_request_bytes=10_000)

    async def main() -> None:
        long_text = await request(app, "post", "/webhooks/rest/webhook",
                                  json={"sender": "a", "message": "x" * 101})
        assert "at most 100" in assert_error(long_text, 413, "PayloadTooLarge")["message"]
        huge = await request(app, "post", "/webhooks/rest/webhook",
                             content=json.dumps({"sender": "a", "message": "x" * 20_000}))
        assert_error(huge, 413, "PayloadTooLarge")
        fine = await request(app, "post", "/webhooks/rest/webhook",
                             json={"sender": "a", "message": "/greet"})
        assert fine.status == 200

    asyncio.run(main())


def test_unknown_routes_and_methods(make_app) -> None:
    app = make_app()

    async def main() -> None:
        missing = assert_error(await request(app, "get", "/nothing/here"), 404, "NotFound")
        assert missing["message"] == "Requested URL /nothing/here not found"
        assert_error(await request(app, "delete", "/version"), 405, "MethodNotAllowed")
        assert_error(await request(app, "get", "/domain", headers={"accept": "text/html"}),
                     406, "NotAcceptable")

    asyncio.run(main())


def test_a_wrong_method_names_the_whole_path_and_the_allowed_methods(make_app) -> None:
    app = make_app()

    async def main() -> None:
        parse = await request(app, "get", "/model/parse")
        body = assert_error(parse, 405, "MethodNotAllowed")
        assert body["message"] == "Method GET not allowed for URL /model/parse (allowed: POST)"
        assert parse.headers["allow"] == "POST"
        events = assert_error(await request(app, "delete", "/conversations/ann/tracker/events"),
                              405, "MethodNotAllowed")
        assert events["message"] == ("Method DELETE not allowed for URL "
                                     "/conversations/ann/tracker/events (allowed: POST, PUT)")

    asyncio.run(main())


def test_unexpected_errors_reveal_no_traceback_or_path(make_app, agent, monkeypatch) -> None:
    async def broken(message):
        raise RuntimeError("boom in /srv/secret/dialogflowlite/agent.py line 12")

    monkeypatch.setattr(agent, "handle_turn", broken)
    app = make_app()
    response = asyncio.run(request(app, "post", "/webhooks/rest/webhook",
                                   json={"sender": "a", "message": "/greet"}))
    body = assert_error(response, 500, "ServerError")
    assert body["message"] == "An unexpected error occurred."
    for leak in ("Traceback", "/srv", "agent.py", "boom", "RuntimeError"):
        assert leak not in response.text


def test_framework_errors_keep_their_message_but_not_folders(make_app) -> None:
    app = make_app()
    response = asyncio.run(request(app, "put", "/model",
                                   json={"model_file": "/srv/secret/models/missing.tar"}))
    body = assert_error(response, 400, "LoadingError")
    assert "missing.tar" in body["message"] and "/srv/secret" not in response.text


@pytest.mark.parametrize("model_file", ["", "   ", 5, [], None])
def test_replacing_the_model_needs_a_model_file(make_app, agent, tiny_project,
                                               model_file) -> None:
    # an empty name used to load the project's newest model again and answer 204
    app = make_app(project=str(tiny_project))
    body = {} if model_file is None else {"model_file": model_file}
    response = asyncio.run(request(app, "put", "/model", json=body))
    error = assert_error(response, 400, "BadRequest")
    assert error["details"] == {"parameter": "model_file", "in": "body"}
    assert "model_file" in error["message"] and app.ctx.agent is agent


def test_without_the_api_only_public_routes_and_channels_are_served(make_app) -> None:
    app = make_app(enable_api=False)

    async def main() -> None:
        for path in ("/status", "/domain", "/conversations/a/tracker"):
            assert_error(await request(app, "get", path), 404, "NotFound")
        parse = assert_error(await request(app, "post", "/model/parse", json={"text": "hi"}),
                             404, "NotFound")
        assert parse["message"] == ("Requested URL /model/parse not found (the HTTP API is "
                                    "off: start the server with --enable-api)")
        for path in ("/nothing", "/domains", "/models/x"):
            other = assert_error(await request(app, "get", path), 404, "NotFound")
            assert other["message"] == f"Requested URL {path} not found"
        status = assert_error(await request(app, "get", "/status"), 404, "NotFound")
        assert status["message"].endswith("start the server with --enable-api)")
        assert (await request(app, "get", "/health")).status == 200
        reply = await request(app, "post", "/webhooks/rest/webhook",
                              json={"sender": "a", "message": "/greet"})
        assert reply.status == 200

    asyncio.run(main())


def test_parse_route_returns_rasas_parse_result(make_app) -> None:
    app = make_app()
    response = asyncio.run(request(app, "post", "/model/parse",
                                   json={"text": '/choose{"colour": "red"}', "message_id": "m1"}))
    assert response.status == 200
    body = response.json
    assert body["text"] == '/choose{"colour": "red"}' and body["message_id"] == "m1"
    assert body["intent"]["name"] == "choose"
    assert [(e["entity"], e["value"]) for e in body["entities"]] == [("colour", "red")]


def test_domain_route_as_json_and_yaml(make_app) -> None:
    app = make_app()

    async def main() -> None:
        as_json = (await request(app, "get", "/domain")).json
        assert "choose" in [i if isinstance(i, str) else next(iter(i))
                            for i in as_json["intents"]]
        assert as_json["responses"]["utter_greet"][0]["text"] == "Hello! How can I help?"
        as_yaml = await request(app, "get", "/domain", headers={"accept": "application/yaml"})
        assert as_yaml.status == 200 and "utter_greet:" in as_yaml.text

    asyncio.run(main())


def test_sanic_logs_through_the_servers_handlers_only(make_app) -> None:
    import logging

    make_app()
    # Sanic's own handlers printed each of its lines a second time, beside the root
    # handler that carries the log format, --log-file and syslog
    for name in ("sanic.root", "sanic.error", "sanic.access", "sanic.server"):
        assert logging.getLogger(name).handlers == [], name
