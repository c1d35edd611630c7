"""The masking plugin: personal data never reaches the tracker store or the logs."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Iterator

import pytest
from serving_helpers import request

from dialogflowlite.errors import ConfigError
from dialogflowlite.plugins.builtin import masking
from dialogflowlite.plugins.builtin.masking import Masker

ENABLED = {"enabled": True, "patterns": [{"name": "order_id", "pattern": "ORD-[0-9]{6}"}]}


@pytest.fixture(autouse=True)
def masking_off_afterwards() -> Iterator[None]:
    try:
        yield
    finally:
        masking.configure(None)


@pytest.mark.parametrize(("text", "masked"), [
    ("write to jo.doe+bots@mail.example.co.uk today", "write to [EMAIL] today"),
    ("call +49 30 1234567", "call [PHONE]"),
    ("my number is (555) 123-4567.", "my number is [PHONE]."),
    ("card 4111 1111 1111 1111 expires soon", "card [CARD] expires soon"),
    ("card 4111-1111-1111-1111", "card [CARD]"),
    ("order ORD-123456 is late", "order [ORDER_ID] is late"),
    ("a table for 4 at 19:30 on 2024-05-01", "a table for 4 at 19:30 on 2024-05-01"),
    ("room 12345678", "room 12345678"),
])
def test_what_is_masked(text: str, masked: str) -> None:
    assert Masker.from_config(ENABLED).mask(text) == masked


def test_kinds_can_be_switched_off_and_masking_is_off_by_default() -> None:
    assert Masker.from_config(None) is None
    assert Masker.from_config({"email": True}) is None  # not enabled
    no_email = Masker.from_config({"enabled": True, "email": False})
    assert no_email.mask("jo@example.com") == "jo@example.com"


def test_configuration_errors_name_the_field() -> None:
    with pytest.raises(ConfigError, match=r"patterns\[0\].pattern is not a valid"):
        Masker.from_config({"enabled": True, "patterns": [{"name": "x", "pattern": "("}]})
    with pytest.raises(ConfigError, match=r"patterns\[1\] needs a `name`"):
        Masker.from_config({"enabled": True, "patterns": [{"name": "a", "pattern": "a"},
                                                          {"pattern": "b"}]})
    with pytest.raises(ConfigError, match="no setting 'emial'") as error:
        Masker.from_config({"enabled": True, "emial": False})
    assert "email" in str(error.value.hint)


def test_the_store_holds_masked_data_while_nlu_and_the_user_see_the_original(make_app,
                                                                             agent) -> None:
    app = make_app(endpoints={"masking": ENABLED})
    text = '/inform_email{"email": "jo@example.com"}'

    async def main() -> list[dict]:
        response = await request(app, "post", "/webhooks/rest/webhook",
                                 json={"sender": "mia", "message": text,
                                       "metadata": {"phone": "+44 20 7946 0958"}})
        return response.json

    replies = asyncio.run(main())
    # The user gets the answer built from the original value ...
    assert replies == [{"recipient_id": "mia", "text": "Noted, I will write to jo@example.com."}]
    # ... while nothing stored holds it.
    stored = asyncio.run(agent.tracker_store.load_events("mia"))
    dumped = json.dumps(stored)
    assert "jo@example.com" not in dumped and "7946" not in dumped
    user = next(e for e in stored if e["event"] == "user")
    assert user["text"] == '/inform_email{"email": "[EMAIL]"}'
    assert user["parse_data"]["intent"]["name"] == "inform_email"
    assert user["parse_data"]["entities"][0]["value"] == "[EMAIL]"
    assert user["metadata"] == {"phone": "[PHONE]"}
    assert {"event": "slot", "name": "email", "value": "[EMAIL]"}.items() <= next(
        e for e in stored if e["event"] == "slot" and e["name"] == "email").items()
    bot = next(e for e in stored if e["event"] == "bot")
    assert bot["text"] == "Noted, I will write to [EMAIL]."


def test_without_masking_the_store_keeps_the_text(make_app, agent) -> None:
    app = make_app()
    asyncio.run(request(app, "post", "/webhooks/rest/webhook",
                        json={"sender": "ned", "message": '/inform_email{"email": "n@x.io"}'}))
    assert "n@x.io" in json.dumps(asyncio.run(agent.tracker_store.load_events("ned")))


def test_log_messages_are_masked(caplog) -> None:
    masking.configure(ENABLED)
    logger = logging.getLogger("dialogflowlite.test_masking")
    with caplog.at_level(logging.INFO):
        logger.info("message from %s about %s", "jo@example.com", "ORD-654321")
    assert "jo@example.com" not in caplog.text and "ORD-654321" not in caplog.text
    assert "message from [EMAIL] about [ORDER_ID]" in caplog.text
    masking.configure(None)
    with caplog.at_level(logging.INFO):
        logger.info("now %s", "jo@example.com")
    assert "now jo@example.com" in caplog.text


def test_events_posted_through_the_api_are_masked_too(make_app, agent) -> None:
    app = make_app(endpoints={"masking": ENABLED})
    asyncio.run(request(app, "post", "/conversations/olga/tracker/events",
                        json={"event": "slot", "name": "email", "value": "o@x.io"}))
    stored = asyncio.run(agent.tracker_store.load_events("olga"))
    # (after the events that started the new conversation's session)
    [slot] = [event for event in stored if event["event"] == "slot"]
    assert slot["value"] == "[EMAIL]"
