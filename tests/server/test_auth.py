"""Every API and admin route needs the token or a valid JWT; public routes stay public."""

from __future__ import annotations

import asyncio
import time

import jwt
import pytest
from serving_helpers import request

TOKEN = "s3cret-token"
SECRET = "jwt-signing-secret-of-at-least-32-bytes!"
OTHER_SECRET = "another-secret-of-at-least-32-bytes!!"

#: every route that must be protected, as (method, path pattern)
PROTECTED = {
    ("GET", "/status"),
    ("POST", "/model/parse"),
    ("POST", "/model/predict"),
    ("POST", "/model/train"),
    ("POST", "/model/test/intents"),
    ("POST", "/model/test/stories"),
    ("PUT", "/model"),
    ("DELETE", "/model"),
    ("GET", "/domain"),
    ("GET", "/metrics"),
    ("GET", "/conversations/<conversation_id:str>/tracker"),
    ("POST", "/conversations/<conversation_id:str>/tracker/events"),
    ("PUT", "/conversations/<conversation_id:str>/tracker/events"),
    ("GET", "/conversations/<conversation_id:str>/story"),
    ("POST", "/conversations/<conversation_id:str>/messages"),
    ("POST", "/conversations/<conversation_id:str>/trigger_intent"),
    ("POST", "/conversations/<conversation_id:str>/predict"),
    ("POST", "/conversations/<conversation_id:str>/execute"),
}

#: routes anyone may call (health checks, channels, the chat page, the API description)
PUBLIC = {
    ("GET", "/"), ("GET", "/version"), ("GET", "/health"), ("GET", "/openapi.yml"),
    ("GET", "/chat"), ("GET", "/chat/"), ("GET", "/chat/static/<name:str>"),
    ("GET", "/webhooks/rest"), ("POST", "/webhooks/rest/webhook"),
    ("GET", "/webhooks/websocket"), ("GET", "/webhooks/websocket/ws"),
}


def _routes(app) -> dict[tuple[str, str], bool]:
    found = {}
    for route in app.router.routes:
        path = "/" + route.path.lstrip("/")
        for method in route.methods:
            if method in ("HEAD", "OPTIONS"):
                continue
            found[(method, path)] = bool(getattr(route.ctx, "auth", False))
    return found


def _concrete(path: str, conversation: str = "alice") -> str:
    return path.replace("<conversation_id:str>", conversation).replace("<name:str>", "chat.js")


#: a valid body per protected route, so only the credentials decide the answer
BODIES = {
    "/model/parse": {"text": "/greet"},
    "/model": {"model_file": "models/does-not-exist.tar"},
    "/tracker/events": [{"event": "slot", "name": "colour", "value": "red"}],
    "/messages": {"text": "/greet", "sender": "user"},
    "/trigger_intent": {"name": "greet"},
    "/execute": {"name": "action_listen"},
}


def _body(method: str, path: str):
    if method in ("GET", "DELETE"):
        return None
    return next((body for suffix, body in BODIES.items() if path.endswith(suffix)), None)


async def _call(app, method: str, path: str, *, query: str = "", headers=None,
                conversation: str = "alice"):
    url = _concrete(path, conversation) + query
    kwargs = {"headers": headers or {}}
    body = _body(method, path)
    if body is not None:
        kwargs["json"] = body
    return await request(app, method.lower(), url, **kwargs)


def test_the_route_table_is_exactly_the_protected_and_public_sets(make_app) -> None:
    routes = _routes(make_app(auth_token=TOKEN))
    assert {key for key, protected in routes.items() if protected} == PROTECTED
    assert {key for key, protected in routes.items() if not protected} == PUBLIC


@pytest.mark.parametrize(("method", "path"), sorted(PROTECTED))
def test_protected_route_refuses_missing_or_wrong_token(make_app, method, path) -> None:
    app = make_app(auth_token=TOKEN)

    async def main() -> None:
        for query, headers in (("", None), ("?token=wrong", None),
                               ("", {"Authorization": "Bearer wrong"}),
                               ("", {"Authorization": f"Token {TOKEN}"})):
            response = await _call(app, method, path, query=query, headers=headers)
            # as in Rasa: not authenticated is 401, which clients tell from 403
            assert response.status == 401, (query, headers, response.text)
            body = response.json
            assert body["status"] == "failure" and body["reason"] == "NotAuthenticated"
            assert body["code"] == 401
            assert response.headers.get("www-authenticate") == "Bearer"
        for query, headers in ((f"?token={TOKEN}", None),
                               ("", {"Authorization": f"Bearer {TOKEN}"})):
            response = await _call(app, method, path, query=query, headers=headers)
            assert response.status not in (401, 403), (method, path, response.text)
            assert response.status < 500, response.text

    asyncio.run(main())


def _jwt(payload: dict, secret: str = SECRET) -> dict[str, str]:
    return {"Authorization": f"Bearer {jwt.encode(payload, secret, algorithm='HS256')}"}


@pytest.mark.parametrize(("method", "path"), sorted(PROTECTED))
def test_protected_route_with_jwt(make_app, method, path) -> None:
    app = make_app(jwt_secret=SECRET)
    admin = {"user": {"username": "ops", "role": "admin"}}
    alice = {"user": {"username": "alice", "role": "user"}}

    async def main() -> None:
        ok = await _call(app, method, path, headers=_jwt(admin))
        assert ok.status not in (401, 403) and ok.status < 500, ok.text
        # a JWT that cannot be trusted authenticates nobody (401, as in Rasa) ...
        forged = await _call(app, method, path, headers=_jwt(admin, secret=OTHER_SECRET))
        assert forged.status == 401 and forged.json["reason"] == "NotAuthenticated"
        expired = await _call(app, method, path,
                              headers=_jwt({**admin, "exp": int(time.time()) - 10}))
        assert expired.status == 401
        missing = await _call(app, method, path)
        assert missing.status == 401
        # ... while a valid one without the role for the route is refused (403)
        no_role = await _call(app, method, path, headers=_jwt({"sub": "x"}))
        assert no_role.status == 403 and no_role.json["reason"] == "NotAuthorized"
        own = await _call(app, method, path, headers=_jwt(alice), conversation="alice")
        other = await _call(app, method, path, headers=_jwt(alice), conversation="bob")
        if "<conversation_id" in path:
            # A user may use their own conversation only.
            assert own.status not in (401, 403) and other.status == 403
        else:
            assert own.status == 403

    asyncio.run(main())


def test_with_a_token_and_a_jwt_secret_either_credential_passes(make_app) -> None:
    app = make_app(auth_token=TOKEN, jwt_secret=SECRET)

    async def main():
        return [(await request(app, "get", "/domain", **extra)).status for extra in (
            {"params": {"token": TOKEN}}, {"headers": {"Authorization": f"Bearer {TOKEN}"}},
            {"headers": _jwt({"user": {"role": "admin"}})}, {"params": {"token": "wrong"}},
            {"headers": _jwt({"user": {"role": "admin"}}, secret=OTHER_SECRET)})]

    assert asyncio.run(main()) == [200, 200, 200, 401, 401]


def test_a_user_jwt_reaches_its_conversation_by_the_encoded_id(make_app) -> None:
    # the JWT names the id itself; the path carries it percent-encoded
    app = make_app(jwt_secret=SECRET)
    muller = _jwt({"user": {"username": "müller", "role": "user"}})

    async def main() -> None:
        own = await request(app, "get", "/conversations/m%C3%BCller/tracker", headers=muller)
        assert own.status == 200 and own.json["sender_id"] == "müller"
        other = await request(app, "get", "/conversations/m%C3%BCllers/tracker", headers=muller)
        assert other.status == 403

    asyncio.run(main())


def test_without_a_token_or_secret_the_api_is_open(make_app) -> None:
    app = make_app()
    response = asyncio.run(request(app, "get", "/conversations/alice/tracker"))
    assert response.status == 200


def test_public_routes_need_no_credentials_when_auth_is_on(make_app) -> None:
    app = make_app(auth_token=TOKEN)

    async def main() -> None:
        for path in ("/", "/version", "/health", "/openapi.yml", "/chat", "/webhooks/rest/"):
            assert (await request(app, "get", path)).status == 200, path
        reply = await request(app, "post", "/webhooks/rest/webhook",
                              json={"sender": "a", "message": "/greet"})
        assert reply.status == 200

    asyncio.run(main())
