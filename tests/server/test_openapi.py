"""The OpenAPI file the server serves describes exactly the server's routes."""

from __future__ import annotations

import asyncio
import re

from serving_helpers import request

from dialogflowlite.io.yaml import read_yaml, to_plain
from dialogflowlite.server.routes.openapi import OPENAPI_FILE

METHODS = ("get", "post", "put", "delete", "patch")


def _spec() -> dict:
    return to_plain(read_yaml(OPENAPI_FILE.read_text(encoding="utf-8"), OPENAPI_FILE))


def _normalise(path: str) -> str:
    path = re.sub(r"<(\w+)(:[^>]*)?>", r"{\1}", "/" + path.lstrip("/"))
    return path.rstrip("/") or "/"


def test_every_route_is_documented_and_every_documented_route_exists(make_app) -> None:
    app = make_app(auth_token="t", credentials={})
    served = {}
    for route in app.router.routes:
        for method in route.methods:
            if method not in ("HEAD", "OPTIONS"):
                served[(method, _normalise(route.path))] = bool(getattr(route.ctx, "auth", False))
    documented = {}
    for path, operations in _spec()["paths"].items():
        for method, operation in operations.items():
            if method in METHODS:
                documented[(method.upper(), _normalise(path))] = bool(operation.get("security"))
    assert set(served) == set(documented)
    # The spec marks exactly the protected routes as needing credentials.
    assert served == documented


def test_the_server_serves_the_file(make_app) -> None:
    response = asyncio.run(request(make_app(), "get", "/openapi.yml"))
    assert response.status == 200
    assert response.body == OPENAPI_FILE.read_bytes()
    assert _spec()["openapi"].startswith("3.")


def test_every_reference_resolves() -> None:
    spec = _spec()
    text = OPENAPI_FILE.read_text(encoding="utf-8")
    for reference in set(re.findall(r'\$ref: "#/([^"]+)"', text)):
        node = spec
        for part in reference.split("/"):
            assert part in node, f"unresolved $ref #/{reference}"
            node = node[part]


def test_the_rest_webhook_body_lists_every_field_the_channel_reads(make_app, agent) -> None:
    operation = _spec()["paths"]["/webhooks/rest/webhook"]["post"]
    schema = operation["requestBody"]["content"]["application/json"]["schema"]
    assert set(schema["properties"]) == {"sender", "message", "metadata", "message_id",
                                         "input_channel"}
    # every listed field is taken as documented
    body = {"sender": "ole", "message": "/greet", "metadata": {"page": "home"},
            "message_id": "m-1", "input_channel": "my-bridge"}
    response = asyncio.run(request(make_app(), "post", "/webhooks/rest/webhook", json=body))
    assert response.status == 200
    [user] = [e for e in asyncio.run(agent.tracker_store.load_events("ole"))
              if e["event"] == "user"]
    assert (user["input_channel"], user["message_id"], user["metadata"]) == (
        "my-bridge", "m-1", {"page": "home"})


def test_the_routes_that_push_messages_document_output_channel() -> None:
    paths = _spec()["paths"]
    parameters = _spec()["components"]["parameters"]

    def query(path: str) -> set[str]:
        refs = [p["$ref"].rsplit("/", 1)[-1] for p in paths[path]["post"]["parameters"]]
        return {parameters[ref]["name"] for ref in refs if parameters[ref]["in"] == "query"}

    for route in ("trigger_intent", "execute", "tracker/events"):
        assert "output_channel" in query(f"/conversations/{{conversation_id}}/{route}"), route
    assert "execute_side_effects" in query("/conversations/{conversation_id}/tracker/events")
