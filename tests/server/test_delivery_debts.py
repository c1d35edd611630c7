"""What a channel owes the platform for each delivery: a turn that failed and stored
nothing is delivered again (even when the platform hung up before it failed); a
turn that was stored is never asked for again."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from contextlib import ExitStack, closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from failing_turns import GatedStore, user_texts
from serving_helpers import hang_ups_counted, request, serving, until
from test_telegram_channel import BotApi, credentials, text_update

from dialogflowlite.errors import TrackerStoreError
from dialogflowlite.stores.memory import MemoryLockStore, MemoryTrackerStore


class StoreDownMidTurn(GatedStore):
    """Its first write waits for the gate, then fails as an unreachable store's does (the
    turn stores nothing); the writes after it succeed."""

    def __init__(self) -> None:
        super().__init__()
        self.failed = False

    async def append_events(self, sender_id: str, events: list[dict[str, Any]]) -> None:
        if not self.failed:
            self.writing.set()
            await self.gate.wait()
            self.failed = True
            raise TrackerStoreError("Redis save failed: ConnectionError: connection refused")
        await MemoryTrackerStore.append_events(self, sender_id, events)


def test_a_turn_failing_after_telegram_hung_up_is_handled_when_it_comes_again(
        make_app, tiny_model: Path, telegram_api: BotApi, caplog) -> None:
    import aiohttp

    from dialogflowlite.agent import Agent

    store = StoreDownMidTurn()
    agent = Agent.load(tiny_model, tracker_store=store, lock_store=MemoryLockStore())
    app = make_app(agent=agent, credentials=credentials(telegram_api))
    update = text_update("/greet")

    async def scenario() -> int:
        async with serving(app) as url:
            webhook = f"{url}/webhooks/telegram/webhook"
            async with aiohttp.ClientSession() as session:
                posting = asyncio.create_task(session.post(webhook, json=update))
                await store.writing.wait()
                posting.cancel()  # Telegram gave up waiting
                with pytest.raises(asyncio.CancelledError):
                    await posting
            # Sanic notices the lost connection, cancels the handler
            await until(lambda: hang_ups_counted(app) == 1, "the hang-up to be noticed")
            store.gate.set()  # ... and then the store fails
            await app.ctx.handler.finish_turns(5)
            # Telegram delivers the update again: it is handled, not skipped as taken
            async with aiohttp.ClientSession() as session, \
                    session.post(webhook, json=update) as again:
                return again.status

    with caplog.at_level(logging.ERROR):
        status = asyncio.run(scenario())
    assert status == 200
    assert user_texts(asyncio.run(store.load_events("42"))) == ["/greet"]
    assert [c["text"] for c in telegram_api.sent("sendMessage")] == ["Hello! How can I help?"]
    assert "conversation '42'" in caplog.text and "connection refused" in caplog.text
    # the failure was settled where it happened, and not logged a second time as unread
    assert "caller had stopped waiting failed" not in caplog.text


def test_a_reply_hook_failing_after_the_turn_is_stored_is_no_reason_to_deliver_again(
        make_app, agent, telegram_api: BotApi, failing_reply_hook: Any,
        caplog) -> None:
    app = make_app(credentials=credentials(telegram_api))
    update = text_update("/greet")

    async def scenario() -> tuple[int, int]:
        first = await request(app, "post", "/webhooks/telegram/webhook", json=update)
        again = await request(app, "post", "/webhooks/telegram/webhook", json=update)
        return first.status, again.status

    with caplog.at_level(logging.ERROR):
        statuses = asyncio.run(scenario())
    # answered as a stored turn: Telegram does not send the update again, and the
    # update it sends all the same is skipped as taken
    assert statuses == (200, 200)
    assert failing_reply_hook.calls == 1
    assert user_texts(asyncio.run(agent.tracker_store.load_events("42"))) == ["/greet"]
    # the replies the hook did not see are not sent
    assert telegram_api.sent("sendMessage") == []
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert any("conversation '42'" in e and "dfl_replies_outgoing" in e
               and "masking service" in e for e in errors), errors
    assert not any("deliver it again" in e or "asked to deliver" in e for e in errors)


def test_the_turn_of_a_failing_reply_hook_is_stored_and_answers_no_replies(
        agent, failing_reply_hook: Any) -> None:
    from dialogflowlite.dialogue.messages import IncomingMessage

    result = asyncio.run(agent.handle_turn(IncomingMessage("/greet", "ada")))
    assert result.replies == []
    assert any(e.get("event") == "bot" for e in
               asyncio.run(agent.tracker_store.load_events("ada")) or [])


# ------------------------------------------------------------------ Slack's retries


def _slack_retry(number: int, reason: str = "http_timeout") -> dict[str, str]:
    return {"X-Slack-Retry-Num": str(number), "X-Slack-Retry-Reason": reason}


@pytest.fixture
def slack_api() -> Any:
    from test_slack_channel import SlackApi

    api = SlackApi()
    try:
        yield api
    finally:
        api.close()


def _slow_slack_delivery(make_app, tiny_model: Path, slack_api: Any, store: GatedStore,
                         monkeypatch, retries: list[int]) -> list[tuple[int, str | None]]:
    """Slack delivers an event whose turn outlasts its 3 s wait (the store is slow): it
    hangs up, and sends retry #1 while the turn still runs; then the store answers
    (fails or stores), and the later ``retries`` come. The answers to the retries
    (status, X-Slack-No-Retry)."""
    import aiohttp
    from test_slack_channel import event_body, settings, signed

    from dialogflowlite.agent import Agent
    from dialogflowlite.server.channels import slack

    monkeypatch.setattr(slack, "RETRY_WAIT", 0.2)
    agent = Agent.load(tiny_model, tracker_store=store, lock_store=MemoryLockStore())
    app = make_app(agent=agent, credentials={"slack": settings(slack_api)})
    body = event_body("/greet")

    async def post(session: Any, url: str, **headers: str) -> tuple[int, str | None]:
        async with session.post(url, data=body, headers=signed(body, **headers)) as answer:
            return answer.status, answer.headers.get("X-Slack-No-Retry")

    async def scenario() -> list[tuple[int, str | None]]:
        answers = []
        async with serving(app) as url, aiohttp.ClientSession() as session:
            webhook = f"{url}/webhooks/slack/webhook"
            first = asyncio.create_task(post(session, webhook))
            await store.writing.wait()
            first.cancel()  # Slack waited 3 s
            with pytest.raises(asyncio.CancelledError):
                await first
            answers.append(await post(session, webhook, **_slack_retry(1)))
            store.gate.set()
            await app.ctx.handler.finish_turns(5)
            for number in retries:
                answers.append(await post(session, webhook, **_slack_retry(number)))
        return answers

    return asyncio.run(scenario())


def test_a_slack_event_whose_slow_turn_fails_is_handled_at_slacks_next_retry(
        make_app, tiny_model: Path, slack_api: Any, monkeypatch, caplog) -> None:
    store = StoreDownMidTurn()
    with caplog.at_level(logging.INFO):
        answers = _slow_slack_delivery(make_app, tiny_model, slack_api, store, monkeypatch,
                                       retries=[2, 3])
    # retry #1 came while the turn ran: not acknowledged, so that Slack tries again;
    # the turn then failed and stored nothing, so retry #2 handles the event
    assert answers == [(503, None), (200, None), (201, "1")]
    assert user_texts(asyncio.run(store.load_events("U1"))) == ["/greet"]
    assert [m["text"] for m in slack_api.posted] == ["Hello! How can I help?"]
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR
              and r.name.startswith("dialogflowlite.server.channels")]
    assert any("conversation 'U1'" in e and "connection refused" in e
               and "Slack still has one of its three retries" in e for e in errors), errors


def test_a_slack_event_whose_slow_turn_is_stored_is_not_handled_again(
        make_app, tiny_model: Path, slack_api: Any, monkeypatch) -> None:
    store = GatedStore()
    answers = _slow_slack_delivery(make_app, tiny_model, slack_api, store, monkeypatch,
                                   retries=[2])
    assert answers == [(503, None), (201, "1")]
    assert user_texts(asyncio.run(store.load_events("U1"))) == ["/greet"]
    assert [m["text"] for m in slack_api.posted] == ["Hello! How can I help?"]


def test_slacks_last_retry_is_acknowledged_even_while_the_turn_runs(
        make_app, agent, slack_api: Any, monkeypatch, caplog) -> None:
    from test_slack_channel import event_body, post_event, settings

    from dialogflowlite.server.channels import slack

    monkeypatch.setattr(slack, "RETRY_WAIT", 0.05)
    app = make_app(credentials={"slack": settings(slack_api)})
    channel = next(c for c in app.ctx.channels if c.name() == "slack")
    body = event_body("/greet")
    event_id = json.loads(body)["event_id"]

    async def scenario() -> Any:
        # the turn of the first delivery runs in this process, and goes on running
        deliveries = channel.deliveries
        never = asyncio.Event()
        running = asyncio.create_task(deliveries.settled(None, event_id, "U1", never.wait()))
        await asyncio.sleep(0)
        try:
            return await post_event(app, body, **_slack_retry(3))
        finally:
            running.cancel()

    with caplog.at_level(logging.WARNING):
        answer = asyncio.run(scenario())
    assert (answer.status, answer.headers.get("x-slack-no-retry")) == (201, "1")
    assert "last retry (#3)" in caplog.text and "the message is lost" in caplog.text


def test_a_slack_retry_waits_less_than_slacks_three_seconds(slack_api: Any) -> None:
    from test_slack_channel import settings

    from dialogflowlite.server.channels.slack import SlackChannel

    # Slack retries when it has no answer within 3 s: the wait for a running turn, and
    # the 503 after it, must come before that
    assert SlackChannel(settings(slack_api)).deliveries.redelivery_wait < 3


def test_a_failed_turn_of_slacks_last_retry_is_logged_as_lost_not_answered_503(
        make_app, agent, slack_api: Any, caplog) -> None:
    from failing_turns import store_down_for
    from test_slack_channel import event_body, post_event, settings

    app = make_app(credentials={"slack": settings(slack_api)})
    store_down_for(agent)
    with caplog.at_level(logging.ERROR):
        answer = asyncio.run(post_event(app, event_body("/greet"),
                                        **_slack_retry(3, "http_error")))
    # no retry follows the third: a 503 would ask for one that never comes
    assert answer.status == 200
    assert user_texts(asyncio.run(agent.tracker_store.load_events("U1"))) == []
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert any("conversation 'U1'" in e and "is lost" in e for e in errors), errors
    assert not any("retries to send" in e for e in errors), errors


def test_a_slack_event_asked_for_again_logs_one_error_line(make_app, agent, slack_api: Any,
                                                           caplog) -> None:
    from failing_turns import store_down_for
    from test_slack_channel import event_body, post_event, settings

    app = make_app(credentials={"slack": settings(slack_api)})
    store_down_for(agent)
    with caplog.at_level(logging.ERROR):
        answer = asyncio.run(post_event(app, event_body("/greet")))
    assert answer.status == 503 and "x-slack-no-retry" not in answer.headers
    # the failure, where it happened; the 503 it answers is not a second error
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1 and "connection refused" in errors[0], errors


# ------------------------------------------------------------------ re-deliveries while the
# ------------------------------------------------------------------ first turn runs


@dataclass
class Platform:
    """A channel as a platform that delivers again talks to it: one delivery's body and
    headers, the conversation it is for, and the texts the bot sent back."""

    name: str
    credentials: dict[str, Any]
    body: bytes
    headers: dict[str, str]
    sender: str
    sent_texts: Callable[[], list[str]]


def _telegram(stack: ExitStack, register_plugin: Any) -> Platform:
    from test_telegram_channel import BotApi, credentials, text_update

    api = stack.enter_context(closing(BotApi()))
    return Platform("telegram", credentials(api), json.dumps(text_update("/greet")).encode(),
                    {"Content-Type": "application/json"}, "42",
                    lambda: [c["text"] for c in api.sent("sendMessage")])


def _facebook(stack: ExitStack, register_plugin: Any) -> Platform:
    from test_facebook_channel import USER, GraphApi, page_body, settings, signed, text_item

    graph = stack.enter_context(closing(GraphApi()))
    body = page_body(text_item("/greet"))
    return Platform("facebook", {"facebook": settings(graph)}, body, signed(body), USER,
                    lambda: [m.get("text") for m in graph.messages()])


def _botframework(stack: ExitStack, register_plugin: Any) -> Platform:
    from test_botframework_channel import USER, Microsoft, activity, connector_token, credentials

    microsoft = stack.enter_context(closing(Microsoft()))
    found = activity(microsoft)
    headers = {"Content-Type": "application/json",
               "Authorization": f"Bearer {connector_token(found['serviceUrl'])}"}
    return Platform("botframework", credentials(microsoft), json.dumps(found).encode(), headers,
                    USER, lambda: [a.get("text") for a in microsoft.sent()])


def _rocketchat(stack: ExitStack, register_plugin: Any) -> Platform:
    from test_rocketchat_channel import ROOM, RocketChatApi, outgoing, settings

    from dialogflowlite import hookimpl
    from dialogflowlite.server.channels.rocketchat import RocketChatChannel

    class Plugin:
        @hookimpl
        def dfl_register_channels(self) -> list[type]:
            return [RocketChatChannel]

    register_plugin(Plugin(), "rocketchat-channel")
    api = stack.enter_context(closing(RocketChatApi()))
    return Platform("rocketchat", {"rocketchat": settings(api)},
                    json.dumps(outgoing("/greet")).encode(),
                    {"Content-Type": "application/json"}, ROOM, api.texts)


def _twilio(stack: ExitStack, register_plugin: Any) -> Platform:
    from test_twilio_channel import USER, TwilioApi, credentials, sms

    api = stack.enter_context(closing(TwilioApi()))
    return Platform("twilio", credentials(api), urlencode(sms("/greet")).encode(),
                    {"Content-Type": "application/x-www-form-urlencoded"}, USER, api.bodies)


@pytest.fixture(params=[_telegram, _facebook, _botframework, _rocketchat, _twilio],
                ids=["telegram", "facebook", "botframework", "rocketchat", "twilio"])
def platform(request: Any, register_plugin: Any) -> Any:
    with ExitStack() as stack:
        yield request.param(stack, register_plugin)


def _deliveries_waiting_for_a_turn(deliveries: Any) -> list[str]:
    """The ids of the deliveries that found a turn of their message running in this
    process, each noted as it begins to wait for that turn (so that a test acts
    while it waits, however slow the machine)."""
    waiting: list[str] = []
    wait_for_earlier_turn = deliveries._wait_for_earlier_turn

    async def noting(key: str) -> bool:
        if deliveries.running(key) is not None:
            waiting.append(key)
        return await wait_for_earlier_turn(key)

    deliveries._wait_for_earlier_turn = noting
    return waiting


def _redelivered_while_running(make_app, tiny_model: Path, platform: Platform,
                               store: GatedStore, *, wait: float | None = None,
                               later: int = 0) -> list[int]:
    """The platform delivers a message whose turn is slow (the store is): it hangs up,
    and delivers the message again while the turn still runs; then the store answers
    (fails or stores). ``later`` more deliveries come once the turns are over. The
    statuses of the re-deliveries."""
    import aiohttp

    from dialogflowlite.agent import Agent

    agent = Agent.load(tiny_model, tracker_store=store, lock_store=MemoryLockStore())
    app = make_app(agent=agent, credentials=platform.credentials)
    channel = next(c for c in app.ctx.channels if c.name() == platform.name)
    if wait is not None:
        channel.deliveries.redelivery_wait = wait
    waiting = _deliveries_waiting_for_a_turn(channel.deliveries)

    async def post(session: Any, url: str) -> int:
        async with session.post(url, data=platform.body, headers=platform.headers) as answer:
            return answer.status

    async def scenario() -> list[int]:
        async with serving(app) as url, aiohttp.ClientSession() as session:
            webhook = f"{url}/webhooks/{platform.name}/webhook"
            first = asyncio.create_task(post(session, webhook))
            await store.writing.wait()
            first.cancel()  # the platform gave up waiting ...
            with pytest.raises(asyncio.CancelledError):
                await first
            again = asyncio.create_task(post(session, webhook))  # ... and delivers again
            try:
                # the re-delivery reaches the server and waits for the turn, which runs on
                await until(lambda: waiting, "the re-delivery to wait for the running turn")
                if wait is not None:  # a short wait: it is over while the turn still runs
                    await until(again.done, "the re-delivery to be answered")
            finally:
                store.gate.set()
            statuses = [await again]
            await app.ctx.handler.finish_turns(5)
            for _ in range(later):
                statuses.append(await post(session, webhook))
        return statuses

    return asyncio.run(scenario())


def test_a_redelivery_during_a_turn_that_then_fails_handles_the_message(
        make_app, tiny_model: Path, platform: Platform, caplog) -> None:
    store = StoreDownMidTurn()
    with caplog.at_level(logging.ERROR):
        statuses = _redelivered_while_running(make_app, tiny_model, platform, store)
    # the re-delivery waited for the turn, which failed and stored nothing: it handled
    # the message itself, once (acknowledged at once, the message would be lost)
    assert statuses == [200]
    assert user_texts(asyncio.run(store.load_events(platform.sender))) == ["/greet"]
    assert platform.sent_texts() == ["Hello! How can I help?"]
    assert "connection refused" in caplog.text


def test_a_redelivery_during_a_turn_that_is_stored_is_acknowledged(
        make_app, tiny_model: Path, platform: Platform) -> None:
    store = GatedStore()
    statuses = _redelivered_while_running(make_app, tiny_model, platform, store, later=1)
    assert statuses == [200, 200]
    assert user_texts(asyncio.run(store.load_events(platform.sender))) == ["/greet"]
    assert platform.sent_texts() == ["Hello! How can I help?"]


def test_a_redelivery_that_outwaits_the_turn_is_asked_for_again(
        make_app, tiny_model: Path, caplog) -> None:
    from test_telegram_channel import BotApi, credentials, text_update

    store = StoreDownMidTurn()
    with closing(BotApi()) as api, caplog.at_level(logging.INFO):
        platform = Platform("telegram", credentials(api),
                            json.dumps(text_update("/greet")).encode(),
                            {"Content-Type": "application/json"}, "42",
                            lambda: [c["text"] for c in api.sent("sendMessage")])
        statuses = _redelivered_while_running(make_app, tiny_model, platform, store,
                                              wait=0.1, later=2)
        sent = platform.sent_texts()
    # the turn still ran when the wait was over: 503, and Telegram's next delivery,
    # after the turn failed, is handled; the one after that is taken
    assert statuses == [503, 200, 200]
    assert user_texts(asyncio.run(store.load_events("42"))) == ["/greet"]
    assert sent == ["Hello! How can I help?"]
    assert "still running after" in caplog.text


# ------------------------------------------------------------------ refusals


def test_a_request_slack_did_not_sign_gets_a_401_naming_how_to_authenticate(
        make_app, agent, slack_api: Any) -> None:
    from test_slack_channel import WEBHOOK, event_body, settings, signed

    app = make_app(credentials={"slack": settings(slack_api)})
    body = event_body("/greet")
    response = asyncio.run(request(app, "post", WEBHOOK, content=body,
                                   headers=signed(body, secret="another-secret")))
    assert response.status == 401
    assert response.headers.get("www-authenticate") == 'Slack-Signature realm="slack"'


@pytest.mark.parametrize(("token", "challenge"), [
    (None, 'Bearer realm="hangouts"'),
    ("not-a-jwt", 'Bearer realm="hangouts", error="invalid_token"'),
])
def test_a_google_chat_request_without_a_valid_token_gets_a_bearer_challenge(
        make_app, agent, register_plugin, token: str | None, challenge: str) -> None:
    from test_hangouts_channel import (
        ChannelPlugin,
        Google,
        credentials,
        message_event,
        post_events,
    )

    register_plugin(ChannelPlugin(), "hangouts-channel")
    with Google() as google:
        app = make_app(credentials=credentials(google))
        [response], stored = post_events(app, agent, message_event(), token=token)
    assert response.status == 401 and stored is None
    assert response.headers.get("www-authenticate") == challenge


def test_a_bot_framework_request_without_a_valid_token_gets_a_bearer_challenge(
        make_app, agent) -> None:
    from test_botframework_channel import Microsoft, activity, credentials, post_activities

    with Microsoft() as microsoft:
        app = make_app(credentials=credentials(microsoft))
        [response], stored = post_activities(app, agent, activity(microsoft),
                                             token="not-a-jwt")
    assert response.status == 401 and stored is None
    assert response.headers.get("www-authenticate") == \
        'Bearer realm="botframework", error="invalid_token"'


def test_a_facebook_batch_whose_first_message_is_asked_for_again_keeps_its_order(
        make_app, tiny_model: Path, caplog) -> None:
    from test_facebook_channel import USER, GraphApi, page_body, settings, signed, text_item

    store = StoreDownMidTurn()
    with closing(GraphApi()) as graph, caplog.at_level(logging.INFO):
        # two messages of one user in one batch: the turn of the first is slow, Facebook
        # hangs up and delivers the batch again while it runs, past the (short) wait
        body = page_body(text_item("/greet"), text_item("/goodbye"))
        platform = Platform("facebook", {"facebook": settings(graph)}, body, signed(body),
                            USER, lambda: [m.get("text") for m in graph.messages()])
        statuses = _redelivered_while_running(make_app, tiny_model, platform, store,
                                              wait=0.1, later=2)
        sent = platform.sent_texts()
    # the first turn then failed and stored nothing: the next delivery handles both
    # messages, in the order the user sent them, and the one after that neither
    assert statuses == [503, 200, 200]
    assert user_texts(asyncio.run(store.load_events(USER))) == ["/greet", "/goodbye"]
    assert sent == ["Hello! How can I help?", "Bye!"]
    assert "still running after" in caplog.text
