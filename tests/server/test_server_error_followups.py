"""Requests that end without the server failing: a client that hangs up, appended events
whose replies cannot go out, and Bot Framework tokens checked while Microsoft's keys
cannot be fetched."""

from __future__ import annotations

import asyncio
import logging
import re
from typing import Any

import aiohttp
import pytest
from failing_turns import GatedStore
from serving_helpers import hang_ups_counted, request, serving, until

from dialogflowlite.stores.memory import MemoryLockStore

# ------------------------------------------------------------------ a client hanging up


def _statuses_counted(app: Any, route_end: str) -> set[str]:
    """The statuses ``/metrics`` counted for the routes whose pattern ends in ``route_end``."""
    found = set()
    for line in app.ctx.metrics.render().splitlines():
        if line.startswith("dfl_http_requests_total{"):
            labels = dict(re.findall(r'(\w+)="([^"]*)"', line))
            if labels["route"].endswith(route_end):
                found.add(labels["status"])
    return found


def test_a_client_hanging_up_is_logged_in_one_line_and_not_counted_as_a_server_error(
        make_app, tiny_model, caplog) -> None:
    from dialogflowlite.agent import Agent

    store = GatedStore()
    agent = Agent.load(tiny_model, tracker_store=store, lock_store=MemoryLockStore())
    app = make_app(agent=agent)

    async def scenario() -> None:
        async with serving(app) as url:
            async with aiohttp.ClientSession() as session:
                posting = asyncio.create_task(session.post(
                    f"{url}/conversations/ann/trigger_intent", json={"name": "greet"}))
                await store.writing.wait()
                posting.cancel()  # the client gives up waiting
                with pytest.raises(asyncio.CancelledError):
                    await posting
            # Sanic notices the lost connection, cancels the handler
            await until(lambda: hang_ups_counted(app) == 1, "the hang-up to be noticed")
            store.gate.set()
            await app.ctx.handler.finish_turns(5)

    with caplog.at_level(logging.DEBUG):
        asyncio.run(scenario())
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], caplog.text
    [hang_up] = [r for r in caplog.records if "trigger_intent" in r.getMessage()]
    assert hang_up.levelno == logging.INFO and hang_up.exc_info is None
    assert "conversation 'ann'" in hang_up.getMessage()
    assert "closed the connection" in hang_up.getMessage()
    # counted as a client's hang-up, not as an error of the server
    assert _statuses_counted(app, "/trigger_intent") == {"499"}


def test_a_response_timeout_is_a_503_logged_in_one_line(make_app, monkeypatch,
                                                        caplog) -> None:
    from dialogflowlite.server.handling import MessageHandler

    handle = MessageHandler.handle

    async def slow_handle(self, *args: Any, **kwargs: Any) -> Any:
        await asyncio.sleep(1.6)
        return await handle(self, *args, **kwargs)

    monkeypatch.setattr(MessageHandler, "handle", slow_handle)
    app = make_app(response_timeout=1)

    async def scenario() -> int:
        async with serving(app) as url, aiohttp.ClientSession() as session, \
                session.post(f"{url}/webhooks/rest/webhook",
                             json={"sender": "slow", "message": "/greet"}) as response:
            await response.read()
            await app.ctx.handler.finish_turns(5)
            return response.status

    with caplog.at_level(logging.INFO):
        assert asyncio.run(scenario()) == 503
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], caplog.text
    [timeout] = [r for r in caplog.records if "/webhooks/rest/webhook" in r.getMessage()]
    assert timeout.levelno == logging.WARNING and timeout.exc_info is None
    assert "response_timeout (1 s)" in timeout.getMessage()
    assert _statuses_counted(app, "/webhooks/rest/webhook") == {"503"}


# ------------------------------------------------------------------ appended events' side effects


BOT_EVENT = [{"event": "bot", "text": "Your table is ready."}]


def _append_with_side_effects(app: Any) -> Any:
    return asyncio.run(request(app, "post", "/conversations/42/tracker/events",
                               json=BOT_EVENT, params={"execute_side_effects": "true",
                                                       "output_channel": "telegram"}))


def _bot_texts(agent: Any, sender: str) -> list[str]:
    events = asyncio.run(agent.tracker_store.load_events(sender)) or []
    return [e["text"] for e in events if e["event"] == "bot"]


def test_a_reply_hook_failing_after_the_events_are_stored_answers_them_as_stored(
        make_app, agent, telegram_api, failing_reply_hook, caplog) -> None:
    from test_telegram_channel import credentials

    app = make_app(credentials=credentials(telegram_api))
    with caplog.at_level(logging.ERROR):
        response = _append_with_side_effects(app)
    # stored, and answered so: a client that took a 500 would append them again
    assert response.status == 200, response.text
    assert [e["event"] for e in response.json["events"]][-1] == "bot"
    assert failing_reply_hook.calls == 1
    assert _bot_texts(agent, "42") == ["Your table is ready."]
    # the replies the hook did not see are not sent
    assert telegram_api.sent("sendMessage") == []
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert any("conversation '42'" in e and "dfl_replies_outgoing" in e
               and "masking service" in e for e in errors), errors


def test_an_output_channel_failing_to_send_appended_events_answers_them_as_stored(
        make_app, agent, telegram_api, monkeypatch, caplog) -> None:
    from test_telegram_channel import credentials

    from dialogflowlite.server.channels.telegram import TelegramChannel

    async def broken_send_to(self: Any, sender_id: str, replies: list[dict[str, Any]]) -> bool:
        raise RuntimeError("the channel broke")

    monkeypatch.setattr(TelegramChannel, "send_to", broken_send_to)
    app = make_app(credentials=credentials(telegram_api))
    with caplog.at_level(logging.ERROR):
        response = _append_with_side_effects(app)
    assert response.status == 200, response.text
    assert _bot_texts(agent, "42") == ["Your table is ready."]
    assert "'42'" in caplog.text and "the channel broke" in caplog.text


# ------------------------------------------------------------------ Bot Framework's signing keys


@pytest.fixture
def microsoft() -> Any:
    from test_botframework_channel import Microsoft

    found = Microsoft()
    try:
        yield found
    finally:
        found.close()


UNREACHABLE = "http://127.0.0.1:9/openid"


def _verifier(microsoft: Any, now: list[float]) -> Any:
    from test_botframework_channel import APP_ID

    from dialogflowlite.server.channels.botframework_auth import TokenVerifier

    return TokenVerifier(APP_ID, microsoft.base + "/openid", clock=lambda: now[0])


def test_a_key_the_bot_lacks_while_the_keys_cannot_be_fetched_is_a_503_not_a_401(
        microsoft) -> None:
    from test_botframework_channel import STRANGER_KEY, connector_token

    from dialogflowlite.server.channels.botframework_auth import (
        REFETCH_AFTER,
        SigningKeysUnavailable,
    )

    now = [1000.0]
    verifier = _verifier(microsoft, now)
    signed = "Bearer " + connector_token(microsoft.service_url)
    assert asyncio.run(verifier.problem(signed, microsoft.service_url)) is None
    # Microsoft rolled its keys while the bot cannot reach it: the new key cannot be told
    # from a forged one, and the failure is the bot's own
    rolled = "Bearer " + connector_token(microsoft.service_url, key=STRANGER_KEY, kid="key-2")
    verifier.openid_url = UNREACHABLE
    now[0] += REFETCH_AFTER + 1
    with pytest.raises(SigningKeysUnavailable) as refused:
        asyncio.run(verifier.problem(rolled, microsoft.service_url))
    assert refused.value.status == 503
    assert 1 <= int(refused.value.headers["Retry-After"]) <= 30
    # the keys it has still check the tokens signed with them, good or bad
    assert asyncio.run(verifier.problem(signed, microsoft.service_url)) is None
    forged = "Bearer " + connector_token(microsoft.service_url, aud="someone-else")
    assert "not valid" in asyncio.run(verifier.problem(forged, microsoft.service_url))


def test_keys_kept_from_an_earlier_fetch_stay_in_use_when_a_day_later_none_come(
        microsoft) -> None:
    from test_botframework_channel import connector_token

    from dialogflowlite.server.channels.botframework_auth import KEYS_TTL

    now = [1000.0]
    verifier = _verifier(microsoft, now)
    signed = "Bearer " + connector_token(microsoft.service_url)
    assert asyncio.run(verifier.problem(signed, microsoft.service_url)) is None
    verifier.openid_url = UNREACHABLE
    now[0] += KEYS_TTL + 1
    assert asyncio.run(verifier.problem(signed, microsoft.service_url)) is None


def test_once_the_keys_come_again_an_unknown_key_is_a_401_again(microsoft) -> None:
    from test_botframework_channel import STRANGER_KEY, connector_token

    from dialogflowlite.server.channels.botframework_auth import (
        RETRY_AFTER_FAILURE,
        SigningKeysUnavailable,
    )

    now = [1000.0]
    verifier = _verifier(microsoft, now)
    working = verifier.openid_url
    verifier.openid_url = UNREACHABLE
    stranger = "Bearer " + connector_token(microsoft.service_url, key=STRANGER_KEY,
                                           kid="key-9")
    with pytest.raises(SigningKeysUnavailable):
        asyncio.run(verifier.problem(stranger, microsoft.service_url))
    verifier.openid_url = working
    now[0] += RETRY_AFTER_FAILURE + 1
    problem = asyncio.run(verifier.problem(stranger, microsoft.service_url))
    assert problem is not None and "not one Bot Framework publishes" in problem


def test_no_token_while_the_keys_cannot_be_fetched_is_still_a_401(make_app, agent,
                                                                    microsoft) -> None:
    from test_botframework_channel import activity, credentials, post_activities

    app = make_app(credentials=credentials(microsoft, openid_url=UNREACHABLE))
    [response], stored = post_activities(app, agent, activity(microsoft), token=None)
    assert response.status == 401 and stored is None


@pytest.mark.parametrize(("error", "expected"), [
    ("hang-up", (499, logging.INFO)),
    ("response timeout", (503, logging.WARNING)),
    ("cancelled", (503, logging.WARNING)),
    ("other 503", None),
    ("bug", None),
])
def test_which_errors_end_a_request_without_a_fault_of_the_server(error, expected) -> None:
    from types import SimpleNamespace

    from sanic.exceptions import RequestCancelled, ServiceUnavailable

    from dialogflowlite.server.errors import cut_short

    raised = {"hang-up": RequestCancelled(), "cancelled": asyncio.CancelledError(),
              "response timeout": ServiceUnavailable("Response Timeout"),
              "other 503": ServiceUnavailable("the store is down"),
              "bug": KeyError("x")}[error]
    request = SimpleNamespace(app=SimpleNamespace(config=SimpleNamespace(RESPONSE_TIMEOUT=60)))
    found = cut_short(request, raised)
    assert (found and found[:2]) == expected


def test_a_signing_key_outage_is_logged_once_not_with_each_refused_request(
        make_app, agent, microsoft, caplog) -> None:
    from test_botframework_channel import activity, connector_token, credentials

    from dialogflowlite.server.channels.botframework_auth import RETRY_AFTER_FAILURE

    app = make_app(credentials=credentials(microsoft, openid_url=UNREACHABLE))
    verifier = next(c for c in app.ctx.channels if c.name() == "botframework").verifier
    now = [1000.0]
    verifier.clock = lambda: now[0]

    async def post() -> int:
        found = activity(microsoft)
        headers = {"Content-Type": "application/json",
                   "Authorization": f"Bearer {connector_token(found['serviceUrl'])}"}
        response = await request(app, "post", "/webhooks/botframework/webhook",
                                 json=found, headers=headers)
        return response.status

    async def scenario() -> list[int]:
        statuses = []
        # five refused requests, across three tries to fetch the keys
        for step in (0, 1, RETRY_AFTER_FAILURE, 1, RETRY_AFTER_FAILURE):
            now[0] += step
            statuses.append(await post())
        verifier.openid_url = microsoft.base + "/openid"
        now[0] += RETRY_AFTER_FAILURE
        statuses.append(await post())
        return statuses

    with caplog.at_level(logging.DEBUG):
        statuses = asyncio.run(scenario())
    assert statuses == [503] * 5 + [200]
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1 and "signing keys could not be fetched" in errors[0], errors
    [back] = [r for r in caplog.records if "fetched again" in r.getMessage()]
    assert back.levelno == logging.WARNING
    assert "after 92 s" in back.getMessage() and "5 request(s)" in back.getMessage()
    # each refusal is still there for whoever debugs
    refusals = [r for r in caplog.records if "SigningKeysUnavailable on" in r.getMessage()]
    assert [r.levelno for r in refusals] == [logging.DEBUG] * 5


@pytest.mark.parametrize(("level", "logged_at"), [
    (logging.DEBUG, logging.DEBUG), ("loud", logging.ERROR), (True, logging.ERROR),
])
def test_an_error_s_own_log_level_is_used_only_when_it_is_a_level(level, logged_at,
                                                                 caplog) -> None:
    # before, a plugin's error with a log_level that is no number made the error handler
    # itself raise TypeError
    from sanic import Sanic

    from dialogflowlite.errors import DialogueError
    from dialogflowlite.server.errors import install_error_handler

    class PluginError(DialogueError):
        log_level = level

    app = Sanic(f"log_level_{type(level).__name__}")
    install_error_handler(app)

    @app.get("/fails")
    async def fails(_request: Any) -> None:
        raise PluginError("the plugin failed")

    with caplog.at_level(logging.DEBUG, logger="dialogflowlite"):
        response = asyncio.run(request(app, "get", "/fails"))
    assert response.status == 500 and response.json["reason"] == "ConversationError"
    [logged] = [r for r in caplog.records if "the plugin failed" in r.getMessage()]
    assert logged.levelno == logged_at
