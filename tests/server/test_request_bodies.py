"""JSON request bodies that parse in Python but must not be kept: NaN and Infinity,
numbers too large for a float, nesting deeper than the server accepts, and lone
surrogates."""

from __future__ import annotations

import asyncio
import json

import pytest
from serving_helpers import request

from dialogflowlite.shared.safe_json import MAX_DEPTH

#: a route that reads a JSON object, and a body for it with room for one more field
ROUTES = [
    ("/model/parse", '{"text": "/greet", "x": %s}'),
    ("/webhooks/rest/webhook", '{"sender": "pat", "message": "/greet", "metadata": {"x": %s}}'),
    ("/conversations/pat/tracker/events", '{"event": "slot", "name": "colour", "value": %s}'),
    ("/conversations/pat/messages", '{"text": "/greet", "sender": "user", "metadata": {"x": %s}}'),
]


def _post(app, path: str, body: str):
    return asyncio.run(request(app, "post", path, content=body.encode(),
                               headers={"content-type": "application/json"}))


def _nested(depth: int) -> str:
    return "[" * depth + "]" * depth


@pytest.mark.parametrize(("value", "problem"), [
    ("NaN", "NaN is not valid JSON"),
    ("Infinity", "Infinity is not valid JSON"),
    ("[-Infinity]", "-Infinity is not valid JSON"),
    ("1e400", "the number 1e400 is too large"),
])
def test_numbers_json_cannot_hold_are_400_on_every_route(make_app, agent, value,
                                                         problem) -> None:
    app = make_app()
    for path, template in ROUTES:
        response = _post(app, path, template % value)
        assert response.status == 400, (path, response.text)
        assert problem in response.json["message"], path
        assert response.json["details"]["parameter"] == "body"
    # nothing was stored: it would have been written back as invalid JSON
    assert "pat" not in asyncio.run(agent.tracker_store.keys())


def test_deep_nesting_is_400_naming_the_limit_on_every_route(make_app, agent) -> None:
    app = make_app()
    # 100,000 levels used to be a 500 (RecursionError), 500 levels were stored
    for depth in (100_000, 500, MAX_DEPTH):
        for path, template in ROUTES:
            response = _post(app, path, template % _nested(depth))
            assert response.status == 400, (path, depth, response.text)
            assert f"deeper than {MAX_DEPTH} levels" in response.json["message"]
    events_list = "[" + ROUTES[2][1] % _nested(200) + "]"  # one slot event, in a list
    response = asyncio.run(request(app, "put", "/conversations/pat/tracker/events",
                                   content=events_list.encode()))
    assert response.status == 400 and f"{MAX_DEPTH} levels" in response.json["message"]
    assert "pat" not in asyncio.run(agent.tracker_store.keys())


def test_nesting_within_the_limit_is_kept_and_the_conversation_stays_readable(
        make_app) -> None:
    app = make_app()
    # the body's object, "metadata" and "x" are three levels: the rest fills the limit
    body = ROUTES[1][1] % _nested(MAX_DEPTH - 3)
    assert _post(app, "/webhooks/rest/webhook", body).status == 200
    tracker = asyncio.run(request(app, "get", "/conversations/pat/tracker"))
    assert tracker.status == 200
    assert tracker.json["slots"]["session_started_metadata"]["x"] == \
        json.loads(_nested(MAX_DEPTH - 3))


def test_a_lone_surrogate_is_400_naming_the_field_and_nothing_runs(make_app, agent) -> None:
    app = make_app()
    # each used to be a 500 from the tracker store, after the turn had run
    fields = ("x", "metadata.x", "value", "metadata.x")
    for (path, template), field in zip(ROUTES, fields, strict=True):
        response = _post(app, path, template % '"x\\ud800"')
        assert response.status == 400, (path, response.text)
        assert f"the text at '{field}' holds a lone UTF-16 surrogate" in \
            response.json["message"], path
        assert response.json["details"]["parameter"] == field
    text_body = '{"sender": "pat", "message": "hi \\udc00"}'
    response = _post(app, "/webhooks/rest/webhook", text_body)
    assert response.status == 400 and "'message'" in response.json["message"]
    assert "pat" not in asyncio.run(agent.tracker_store.keys())
    # a whole pair is a character like any other
    response = _post(app, "/webhooks/rest/webhook",
                     '{"sender": "pat", "message": "hi \\ud83d\\ude00"}')
    assert response.status == 200
    tracker = asyncio.run(request(app, "get", "/conversations/pat/tracker"))
    assert any(e.get("text") == "hi \U0001F600" for e in tracker.json["events"])


@pytest.mark.parametrize(("sender", "stored"), [("1.5", "1.5"), ("42", "42")])
def test_a_number_sender_is_its_text_as_in_rasa(make_app, agent, sender: str,
                                                stored: str) -> None:
    # a float sender was a 400 "must be a string, not number" though the docs accept numbers
    response = _post(make_app(), "/webhooks/rest/webhook",
                     '{"sender": ' + sender + ', "message": "/greet"}')
    assert response.status == 200, response.text
    assert stored in asyncio.run(agent.tracker_store.keys())


def test_a_field_of_one_json_kind_names_it_once(make_app) -> None:
    response = _post(make_app(), "/conversations/pat/execute",
                     '{"name": "utter_greet", "confidence": "high"}')
    assert response.status == 400
    assert response.json["message"] == "the field 'confidence' must be a number, not string"
