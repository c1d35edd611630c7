"""The slack channel: signed Events API and interactivity requests, replies to a stub Web API."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import itertools
import json
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

import pytest
from serving_helpers import StubHttpServer, request

from dialogflowlite.errors import ConfigError
from dialogflowlite.server.channels.loader import enabled_channels
from dialogflowlite.server.channels.slack import (
    SlackChannel,
    is_last_retry,
    plain_text,
    slack_messages,
)

SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
TOKEN = "xoxb-test-token"
BOT = "UBOT"
WEBHOOK = "/webhooks/slack/webhook"
CHOICE_BUTTONS = [{"title": "Red", "payload": '/choose{"colour": "red"}'},
                  {"title": "Blue", "payload": '/choose{"colour": "blue"}'}]


class SlackApi(StubHttpServer):
    """Slack's Web API: records each call; answers ``{"ok": true}`` unless told otherwise."""

    def __init__(self, answers: list[dict[str, Any]] | None = None) -> None:
        queued = list(answers or [])

        def answer(request: Any) -> tuple[int, dict[str, str], bytes]:
            body = queued.pop(0) if queued else {"ok": True}
            return 200, {"Content-Type": "application/json"}, json.dumps(body).encode()

        super().__init__(answer, path="/api")

    @property
    def posted(self) -> list[dict[str, Any]]:
        """The JSON bodies of the chat.postMessage calls, in order."""
        return [json.loads(r.body) for r in self.requests if r.path == "/api/chat.postMessage"]


@pytest.fixture
def slack_api() -> Iterator[SlackApi]:
    api = SlackApi()
    try:
        yield api
    finally:
        api.close()


def settings(api: SlackApi, **extra: Any) -> dict[str, Any]:
    return {"slack_token": TOKEN, "slack_signing_secret": SECRET, "api_url": api.url,
            "timeout": 5, **extra}


def signed(body: bytes, *, secret: str = SECRET, timestamp: int | None = None,
           content_type: str = "application/json", **headers: str) -> dict[str, str]:
    """Headers of a request to the webhook as Slack signs it."""
    stamp = str(int(time.time()) if timestamp is None else timestamp)
    digest = hmac.new(secret.encode(), f"v0:{stamp}:".encode() + body, hashlib.sha256)
    return {"Content-Type": content_type, "X-Slack-Request-Timestamp": stamp,
            "X-Slack-Signature": f"v0={digest.hexdigest()}", **headers}


#: every event Slack sends has an id of its own, the same in its retries
EVENT_IDS = itertools.count(1)


def event_body(text: str = "/greet", **event: Any) -> bytes:
    """An ``event_callback`` with a direct message from U1 (fields of ``event`` replaced)."""
    message = {"type": "message", "channel_type": "im", "channel": "D1", "user": "U1",
               "text": text, "ts": "1700000000.000100", "client_msg_id": "m-1", **event}
    payload = {"type": "event_callback", "team_id": "T1", "event_id": f"Ev{next(EVENT_IDS)}",
               "authorizations": [{"user_id": BOT, "is_bot": True}], "event": message}
    return json.dumps(payload).encode()


async def post_event(app: Any, body: bytes, **headers: str) -> Any:
    return await request(app, "post", WEBHOOK, content=body, headers=signed(body, **headers))


def stored(agent: Any, sender: str) -> list[dict[str, Any]]:
    """The stored events of a conversation (none when it was never stored)."""
    return asyncio.run(agent.tracker_store.load_events(sender)) or []


def user_texts(events: list[dict[str, Any]]) -> list[str]:
    return [e["text"] for e in events if e["event"] == "user"]


def test_a_direct_message_is_answered_in_its_channel(make_app, agent, slack_api) -> None:
    app = make_app(credentials={"slack": settings(slack_api)})
    response = asyncio.run(post_event(app, event_body("/greet")))
    assert (response.status, response.text) == (200, "")
    assert slack_api.posted == [{"channel": "D1", "text": "Hello! How can I help?"}]
    call = slack_api.requests[0]
    assert call.headers["Authorization"] == f"Bearer {TOKEN}"
    assert call.headers["Content-Type"].startswith("application/json")
    events = stored(agent, "U1")
    user = next(e for e in events if e["event"] == "user")
    assert user["input_channel"] == "slack" and user["text"] == "/greet"
    assert user["metadata"] == {"out_channel": "D1", "thread_id": "1700000000.000100",
                                "users": [BOT]}
    assert any(e["event"] == "bot" for e in events)


def test_the_health_route(make_app, slack_api) -> None:
    app = make_app(credentials={"slack": settings(slack_api)})
    response = asyncio.run(request(app, "get", "/webhooks/slack/"))
    assert response.status == 200 and response.json == {"status": "ok"}


@pytest.mark.parametrize("break_it", ["wrong secret", "stale", "future", "no signature",
                                      "body changed"])
def test_an_unsigned_or_stale_request_is_refused(make_app, agent, slack_api, caplog,
                                                 break_it: str) -> None:
    app = make_app(credentials={"slack": settings(slack_api)})
    body = event_body("/greet", user="UX")
    headers = {"wrong secret": signed(body, secret="another-secret"),
               "stale": signed(body, timestamp=int(time.time()) - 6 * 60),
               "future": signed(body, timestamp=int(time.time()) + 6 * 60),
               "no signature": {"Content-Type": "application/json"},
               "body changed": signed(body.replace(b"/greet", b"/ask_choice"))}[break_it]
    with caplog.at_level("WARNING"):
        response = asyncio.run(request(app, "post", WEBHOOK, content=body, headers=headers))
    assert response.status == 401
    assert "slack channel: a request from" in caplog.text and "was refused" in caplog.text
    assert slack_api.requests == []
    assert user_texts(stored(agent, "UX")) == []


def test_the_signature_check_agrees_with_another_implementation() -> None:
    # a signature computed by Rasa's test suite for this secret, time and body
    channel = SlackChannel({"slack_token": TOKEN, "slack_signing_secret": "foobar"})
    headers = {"x-slack-request-timestamp": "1604586653", "x-slack-signature":
               "v0=80a3bd62ce5af04d8d80781134f165df185b90342d467abf5c74a27d2d0dd1f5"}
    body = b'{"foo": "bar"}'
    assert channel.signature_problem(headers, body, now=1604586653) is None
    assert channel.signature_problem(headers, body + b" ", now=1604586653) is not None
    assert "off this server's clock" in channel.signature_problem(headers, body,
                                                                  now=1604586653 + 301)
    assert "not a number" in channel.signature_problem(
        {**headers, "x-slack-request-timestamp": "soon"}, body)


def test_url_verification_answers_the_challenge(make_app, slack_api) -> None:
    app = make_app(credentials={"slack": settings(slack_api)})
    body = json.dumps({"type": "url_verification", "token": "t",
                       "challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"})
    response = asyncio.run(post_event(app, body.encode()))
    assert response.status == 200
    assert response.json == {"challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"}
    assert slack_api.requests == []


def test_a_timeout_retry_is_not_handled_again(make_app, agent, slack_api) -> None:
    app = make_app(credentials={"slack": settings(slack_api)})
    body = event_body("/greet")

    async def main() -> tuple[Any, Any]:
        first = await post_event(app, body)
        retry = await post_event(app, body, **{"X-Slack-Retry-Num": "1",
                                               "X-Slack-Retry-Reason": "http_timeout"})
        return first, retry

    first, retry = asyncio.run(main())
    assert first.status == 200
    assert retry.status == 201 and retry.headers["x-slack-no-retry"] == "1"
    # Sanic's empty() sent `content-type: None` with a 201
    assert retry.headers["content-type"].startswith("text/plain")
    assert slack_api.posted == [{"channel": "D1", "text": "Hello! How can I help?"}]
    assert user_texts(stored(agent, "U1")) == ["/greet"]


def test_which_retries_are_handled_again_is_configurable(make_app, agent, slack_api) -> None:
    # as in Rasa: retries for reasons in errors_ignore_retry are dropped, others handled
    app = make_app(credentials={"slack": settings(slack_api,
                                                  errors_ignore_retry=["http_error"])})

    async def main() -> list[int]:
        statuses = []
        for reason in ("http_error", "http_timeout"):
            response = await post_event(app, event_body("/greet"),
                                        **{"X-Slack-Retry-Num": "2",
                                           "X-Slack-Retry-Reason": reason})
            statuses.append(response.status)
        return statuses

    assert asyncio.run(main()) == [201, 200]
    assert len(slack_api.posted) == 1
    assert user_texts(stored(agent, "U1")) == ["/greet"]


@pytest.mark.parametrize("event", [
    {"bot_id": "B1"},
    {"subtype": "bot_message"},
    {"subtype": "message_changed"},
    {"subtype": "channel_join"},
    {"user": BOT},
    {"channel_type": "channel", "channel": "C9"},
    {"type": "reaction_added"},
    {"text": ""},
], ids=["bot_id", "bot_message", "message_changed", "channel_join", "own", "other channel",
        "not a message", "no text"])
def test_messages_not_for_the_bot_are_skipped(make_app, agent, slack_api,
                                              event: dict[str, Any]) -> None:
    app = make_app(credentials={"slack": settings(slack_api)})
    response = asyncio.run(post_event(app, event_body(**{"text": "/greet", **event})))
    assert response.status == 200
    assert slack_api.requests == []
    assert user_texts(stored(agent, event.get("user", "U1"))) == []


def test_an_app_mention_is_answered_without_the_mention(make_app, agent, slack_api) -> None:
    app = make_app(credentials={"slack": settings(slack_api)})
    body = event_body(f"<@{BOT}> /greet", type="app_mention", channel="C5",
                      channel_type=None)
    response = asyncio.run(post_event(app, body))
    assert response.status == 200
    assert slack_api.posted == [{"channel": "C5", "text": "Hello! How can I help?"}]
    assert user_texts(stored(agent, "U1")) == ["/greet"]


def test_slack_channel_messages_are_answered_once(make_app, agent, slack_api) -> None:
    # a mention in slack_channel arrives twice, as a message and as an app_mention
    app = make_app(credentials={"slack": settings(slack_api, slack_channel="C7")})

    async def main() -> None:
        await post_event(app, event_body("/greet", channel="C7", channel_type="channel"))
        await post_event(app, event_body(f"<@{BOT}> /goodbye", channel="C7",
                                         channel_type="channel"))
        await post_event(app, event_body(f"<@{BOT}> /goodbye", type="app_mention",
                                         channel="C7", channel_type=None))

    asyncio.run(main())
    assert [p["text"] for p in slack_api.posted] == ["Hello! How can I help?", "Bye!"]
    assert user_texts(stored(agent, "U1")) == ["/greet", "/goodbye"]


def test_slack_markup_becomes_plain_text() -> None:
    assert plain_text("&lt;b&gt; fish &amp; chips &amp;lt;") == "<b> fish & chips &lt;"
    assert plain_text("write to <mailto:ann@example.org|ann@example.org> or see "
                      "<https://example.org/a?b=1&amp;c=2|example.org> and "
                      "<http://x.org>") == ("write to ann@example.org or see example.org "
                                            "and http://x.org")
    assert plain_text(f"Hey <@{BOT}>, sit here<@{BOT}>!", [BOT]) == "Hey, sit here !"
    assert plain_text(f"<@{BOT}> hi <@U2>", [BOT]) == "hi <@U2>"


def test_an_email_message_fills_the_slot(make_app, agent, slack_api) -> None:
    app = make_app(credentials={"slack": settings(slack_api)})
    body = event_body('/inform_email{"email": "<mailto:ann@example.org|ann@example.org>"}')
    asyncio.run(post_event(app, body))
    assert user_texts(stored(agent, "U1")) == ['/inform_email{"email": "ann@example.org"}']
    assert slack_api.posted[0]["text"] == "Noted, I will write to ann@example.org."


def test_buttons_become_block_kit_buttons(make_app, slack_api) -> None:
    app = make_app(credentials={"slack": settings(slack_api)})
    asyncio.run(post_event(app, event_body("/ask_choice")))
    assert slack_api.posted == [{
        "channel": "D1", "text": "Pick a colour",
        "blocks": [
            {"type": "section", "text": {"type": "plain_text", "text": "Pick a colour"}},
            {"type": "actions", "elements": [
                {"type": "button", "text": {"type": "plain_text", "text": b["title"]},
                 "value": b["payload"]} for b in CHOICE_BUTTONS]}]}]


def block_actions(value: str | None, action_type: str = "button") -> bytes:
    action: dict[str, Any] = {"type": action_type, "action_id": "a1", "block_id": "b1"}
    if value is not None:
        action["value"] = value
    payload = {"type": "block_actions", "user": {"id": "U1", "username": "ann"},
               "channel": {"id": "C3"}, "message": {"type": "message", "ts": "1700000001.5"},
               "actions": [action]}
    return urlencode({"payload": json.dumps(payload)}).encode()


def test_a_button_click_is_handled_as_its_value(make_app, agent, slack_api) -> None:
    app = make_app(credentials={"slack": settings(slack_api)})
    body = block_actions('/choose{"colour": "red"}')
    response = asyncio.run(post_event(app, body,
                                      content_type="application/x-www-form-urlencoded"))
    assert (response.status, response.text) == (200, "")
    assert slack_api.posted == [{"channel": "C3", "text": "You chose red."}]
    events = stored(agent, "U1")
    assert user_texts(events) == ['/choose{"colour": "red"}']
    user = next(e for e in events if e["event"] == "user")
    assert user["metadata"] == {"out_channel": "C3", "thread_id": "1700000001.5",
                                "users": ["U1"]}


def test_a_link_button_click_is_not_a_message(make_app, agent, slack_api) -> None:
    app = make_app(credentials={"slack": settings(slack_api)})
    response = asyncio.run(post_event(app, block_actions(None),
                                      content_type="application/x-www-form-urlencoded"))
    assert response.status == 200
    assert slack_api.requests == [] and user_texts(stored(agent, "U1")) == []


def test_use_threads_answers_in_the_thread(make_app, agent, slack_api) -> None:
    app = make_app(credentials={"slack": settings(slack_api, use_threads=True)})

    async def main() -> None:
        await post_event(app, event_body("/greet", ts="1700000000.1"))
        await post_event(app, event_body("/goodbye", ts="1700000009.9",
                                         thread_ts="1700000000.1"))

    asyncio.run(main())
    assert slack_api.posted == [
        {"channel": "D1", "text": "Hello! How can I help?", "thread_ts": "1700000000.1"},
        {"channel": "D1", "text": "Bye!", "thread_ts": "1700000000.1"}]


@pytest.mark.parametrize(("granularity", "sender"), [
    ("sender", "U1"), ("channel", "U1_C2"), ("thread", "U1_C2_1700000000.1")])
def test_conversation_granularity_sets_the_sender_id(make_app, agent, slack_api,
                                                     granularity: str, sender: str) -> None:
    app = make_app(credentials={"slack": settings(
        slack_api, slack_channel="C2", conversation_granularity=granularity)})
    body = event_body("/greet", channel="C2", channel_type="channel",
                      ts="1700000005.0", thread_ts="1700000000.1")
    asyncio.run(post_event(app, body))
    assert user_texts(stored(agent, sender)) == ["/greet"]
    # without use_threads the answer goes to the channel itself
    assert slack_api.posted == [{"channel": "C2", "text": "Hello! How can I help?"}]


def test_a_refusal_by_slack_is_logged_and_the_turn_kept(make_app, agent, caplog) -> None:
    refusing = SlackApi([{"ok": False, "error": "channel_not_found"}])
    try:
        app = make_app(credentials={"slack": settings(refusing)})
        with caplog.at_level("ERROR"):
            response = asyncio.run(post_event(app, event_body("/greet")))
    finally:
        refusing.close()
    assert response.status == 200
    assert len(refusing.posted) == 1
    assert "a reply to 'U1' was not posted in Slack channel D1" in caplog.text
    assert "channel_not_found" in caplog.text
    assert any(e["event"] == "bot" for e in stored(agent, "U1"))


def test_later_replies_are_tried_after_a_refusal(caplog) -> None:
    api = SlackApi([{"ok": False, "error": "invalid_blocks"}, {"ok": True}])
    try:
        channel = SlackChannel(settings(api))
        replies = [{"recipient_id": "U1", "text": "one", "buttons": CHOICE_BUTTONS},
                   {"recipient_id": "U1", "text": "two"}]
        with caplog.at_level("ERROR"):
            posted = asyncio.run(channel.post_replies(replies, "C1", "17.5"))
    finally:
        api.close()
    assert posted == 1
    assert [p["text"] for p in api.posted] == ["one", "two"]
    assert all(p["thread_ts"] == "17.5" for p in api.posted)
    assert "invalid_blocks" in caplog.text


def test_an_unreachable_api_is_logged(caplog) -> None:
    channel = SlackChannel({"slack_token": TOKEN, "slack_signing_secret": SECRET,
                            "api_url": "http://127.0.0.1:9/api", "timeout": 2})
    with caplog.at_level("ERROR"):
        posted = asyncio.run(channel.post_replies([{"recipient_id": "U1", "text": "hi"}], "D1"))
    assert posted == 0
    assert "a reply to 'U1' was not posted in Slack channel D1" in caplog.text


def test_each_reply_part_becomes_a_slack_message() -> None:
    reply = {"text": "first\n\nsecond", "custom": {"blocks": [{"type": "divider"}]},
             "image": "https://example.org/cat.png",
             "attachment": {"title": "Report", "title_link": "https://example.org/r"}}
    assert slack_messages(reply) == [
        {"text": "first"}, {"text": "second"},
        {"blocks": [{"type": "divider"}]},
        {"text": "https://example.org/cat.png", "blocks": [
            {"type": "image", "image_url": "https://example.org/cat.png",
             "alt_text": "https://example.org/cat.png"}]},
        {"attachments": [{"title": "Report", "title_link": "https://example.org/r"}]}]
    many = [{"title": str(i), "payload": f"/p{i}"} for i in range(30)]
    blocks = slack_messages({"buttons": many})[0]["blocks"]
    assert [len(b["elements"]) for b in blocks] == [25, 5]


def test_custom_json_keeps_its_own_channel(slack_api) -> None:
    channel = SlackChannel(settings(slack_api))
    replies = [{"recipient_id": "U1", "custom": {"channel": "C42", "text": "elsewhere"}},
               {"recipient_id": "U1", "custom": {"text": "here"}}]
    assert asyncio.run(channel.post_replies(replies, "D1")) == 2
    assert slack_api.posted == [{"channel": "C42", "text": "elsewhere"},
                                {"channel": "D1", "text": "here"}]


def test_bad_settings_are_config_errors() -> None:
    good = {"slack_token": TOKEN, "slack_signing_secret": SECRET}
    with pytest.raises(ConfigError, match=r"credentials.yml slack: `slack_token` is missing"):
        enabled_channels({"slack": {"slack_signing_secret": SECRET}})
    with pytest.raises(ConfigError,
                       match=r"credentials.yml slack: `slack_signing_secret` is missing") as e:
        enabled_channels({"slack": {"slack_token": TOKEN}})
    assert e.value.hint and "slack_signing_secret" in e.value.hint
    with pytest.raises(ConfigError, match="conversation_granularity 'user' is not one of") as e:
        enabled_channels({"slack": {**good, "conversation_granularity": "user"}})
    assert e.value.hint
    with pytest.raises(ConfigError, match="no setting 'slack_tokn'") as e:
        enabled_channels({"slack": {**good, "slack_tokn": "x"}})
    assert "slack_token" in (e.value.hint or "")
    with pytest.raises(ConfigError, match="`timeout` must be a positive number of seconds"):
        enabled_channels({"slack": {**good, "timeout": "soon"}})
    with pytest.raises(ConfigError, match="api_url"):
        enabled_channels({"slack": {**good, "api_url": "slack.com/api"}})
    channel = enabled_channels({"slack": {**good, "errors_ignore_retry": None,
                                          "use_threads": None}})[0]
    assert channel.errors_ignore_retry == ["http_timeout"] and channel.use_threads is False
    # text from ${ENV_VAR}, or YAML 1.2's `no`, is read by its meaning, not as Python's truth
    for given, meaning in (("false", False), ("no", False), ("True", True), ("on", True)):
        channel = enabled_channels({"slack": {**good, "use_threads": given}})[0]
        assert channel.use_threads is meaning
    with pytest.raises(ConfigError, match="`use_threads` must be true or false, not 'often'"):
        enabled_channels({"slack": {**good, "use_threads": "often"}})


def test_retry_reasons_and_proxy_are_checked_at_start() -> None:
    good = {"slack_token": TOKEN, "slack_signing_secret": SECRET}
    with pytest.raises(ConfigError, match="`errors_ignore_retry` must be a list"):
        enabled_channels({"slack": {**good, "errors_ignore_retry": 3}})
    assert enabled_channels({"slack": {**good, "errors_ignore_retry": "http_error"}}
                            )[0].errors_ignore_retry == ["http_error"]
    with pytest.raises(ConfigError, match="`proxy` must be an http"):
        enabled_channels({"slack": {**good, "proxy": "proxy:3128"}})
    assert enabled_channels({"slack": {**good, "proxy": "http://proxy:3128"}}
                            )[0].proxy == "http://proxy:3128"


def test_an_interactive_payload_of_odd_shape_is_not_a_server_error(make_app, agent,
                                                                    slack_api) -> None:
    app = make_app(credentials={"slack": settings(slack_api)})
    odd = [{"type": "block_actions", "user": "U1", "actions": [{"type": "button",
                                                                "value": "/greet"}]},
           {"type": "block_actions", "user": {"id": "U1"}, "actions": {"type": "button"}},
           {"type": "block_actions", "user": {"id": "U1"}, "channel": "C1", "message": 1,
            "actions": [{"type": "button", "value": "/greet"}]}]
    statuses = []
    for payload in odd:
        body = urlencode({"payload": json.dumps(payload)}).encode()
        response = asyncio.run(post_event(app, body,
                                          content_type="application/x-www-form-urlencoded"))
        statuses.append(response.status)
    assert statuses == [200, 200, 200]
    # the last one still names a user and a button: it is answered, in the user's DMs
    assert slack_api.posted == [{"channel": "U1", "text": "Hello! How can I help?"}]


def test_a_resent_event_this_server_took_is_not_handled_twice(make_app, agent,
                                                              slack_api) -> None:
    app = make_app(credentials={"slack": settings(slack_api)})
    body = event_body("/greet")
    first = asyncio.run(post_event(app, body))
    # a proxy in front timed out, so Slack resends with a reason it does not ignore
    again = asyncio.run(post_event(app, body, **{"X-Slack-Retry-Num": "1",
                                                 "X-Slack-Retry-Reason": "http_error"}))
    assert first.status == 200
    assert (again.status, again.headers.get("x-slack-no-retry")) == (201, "1")
    assert user_texts(stored(agent, "U1")) == ["/greet"]
    assert slack_api.posted == [{"channel": "D1", "text": "Hello! How can I help?"}]


def test_an_event_the_store_could_not_keep_is_handled_when_slack_retries(
        make_app, agent, slack_api) -> None:
    from failing_turns import store_down_for

    app = make_app(credentials={"slack": settings(slack_api)})
    body = event_body("/greet")
    store_down_for(agent)

    async def main() -> tuple[Any, Any]:
        failed = await post_event(app, body)
        retry = await post_event(app, body, **{"X-Slack-Retry-Num": "1",
                                               "X-Slack-Retry-Reason": "http_error"})
        return failed, retry

    failed, retry = asyncio.run(main())
    # a 5xx without X-Slack-No-Retry: Slack sends the event again, and it is handled
    assert failed.status == 503 and "x-slack-no-retry" not in failed.headers
    assert retry.status == 200
    assert slack_api.posted == [{"channel": "D1", "text": "Hello! How can I help?"}]
    assert user_texts(stored(agent, "U1")) == ["/greet"]


def test_an_event_that_fails_for_good_is_logged_as_lost(make_app, agent, slack_api,
                                                        caplog) -> None:
    from failing_turns import bot_broken_for

    app = make_app(credentials={"slack": settings(slack_api)})
    bot_broken_for(agent)
    with caplog.at_level("ERROR"):
        response = asyncio.run(post_event(app, event_body("/greet")))
    assert response.status == 200 and user_texts(stored(agent, "U1")) == []
    assert "conversation 'U1'" in caplog.text and "is lost" in caplog.text


@pytest.mark.parametrize(("number", "last"), [
    (None, False), ("1", False), (" 3 ", True), ("12", True),
    # digits int() cannot read, or reads though Slack never sends them
    ("³", False), ("٣", False), ("1_0", False), ("+3", False), ("", False),
])
def test_only_a_retry_number_of_ascii_digits_can_be_the_last_retry(number, last) -> None:
    # before, "³" passed isdigit() and int("³") raised: a 500 on a signed request
    assert is_last_retry(number) is last
