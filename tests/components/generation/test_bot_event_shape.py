"""The ``bot`` event a domain response becomes, in Rasa's JSON.

Rasa keeps the rich parts of the chosen variation in the event's ``data`` and
every other key of it (``id``, ``button_type``, ``channel``, ``condition``, the
response's own ``metadata`` object) in the event's ``metadata``, next to
``utter_action``; tracker stores, the event broker and analytics read them there.
"""

from __future__ import annotations

import asyncio
import json

import pytest
from template_domains import (
    CHANNEL_RESPONSE,
    VERTICAL_BUTTONS_RESPONSE,
    VIP_STATUS_RESPONSE,
    custom_slot_domain,
)

from dialogflowlite.components.generation.messages import rasa_replies
from dialogflowlite.components.generation.responder import Responder
from dialogflowlite.dialogue.actions import ActionContext, ResponseAction
from dialogflowlite.dialogue.messages import bot_message, channel_replies
from dialogflowlite.io.loader import load_project
from dialogflowlite.shared.domain import Domain
from dialogflowlite.shared.events import BotUttered, SlotSet
from dialogflowlite.shared.tracker import DialogueStateTracker

DOMAIN = custom_slot_domain({"vip": "bool"}, """\
  utter_plain:
  - text: "Hello"
  utter_with_id:
  - id: greet_1
    text: "Hi"
""" + VERTICAL_BUTTONS_RESPONSE + """\
  utter_with_metadata:
  - text: "Tagged"
    metadata: {foo: 1}
""" + VIP_STATUS_RESPONSE + CHANNEL_RESPONSE + """\
  utter_tagged:
  - text: "Tagged"
    tone: warm
""")

NO_DATA = {"elements": None, "quick_replies": None, "buttons": None,
           "attachment": None, "image": None, "custom": None}


@pytest.fixture
def domain(write_project) -> Domain:
    return load_project(write_project(domain=DOMAIN)).domain


def bot_event(domain: Domain, name: str, channel: str | None = None, **slots) -> BotUttered:
    """The event the response action ``name`` records on ``channel``."""
    tracker = DialogueStateTracker.for_domain("u1", domain)
    for slot, value in slots.items():
        tracker.update(SlotSet(name=slot, value=value))
    context = ActionContext(domain, responder=Responder(domain), channel=channel)
    [event] = asyncio.run(ResponseAction(name).run(tracker, context))
    assert isinstance(event, BotUttered)
    return event


def event_json(event: BotUttered) -> dict:
    """The event as stored and published, without its timestamp."""
    stored = json.loads(json.dumps(event.as_dict()))
    del stored["timestamp"]
    return stored


def test_plain_text_response(domain) -> None:
    assert event_json(bot_event(domain, "utter_plain")) == {
        "event": "bot", "text": "Hello", "data": NO_DATA,
        "metadata": {"utter_action": "utter_plain"}}


def test_id_goes_into_the_metadata(domain) -> None:
    assert event_json(bot_event(domain, "utter_with_id")) == {
        "event": "bot", "text": "Hi", "data": NO_DATA,
        "metadata": {"id": "greet_1", "utter_action": "utter_with_id"}}


def test_button_type_goes_into_the_metadata(domain) -> None:
    buttons = [{"title": "A", "payload": "/a"}]
    assert event_json(bot_event(domain, "utter_vertical")) == {
        "event": "bot", "text": "Which one?", "data": {**NO_DATA, "buttons": buttons},
        "metadata": {"button_type": "vertical", "utter_action": "utter_vertical"}}


def test_response_metadata_stays_one_object(domain) -> None:
    # Rasa does not spread the response's metadata: its keys stay under ``metadata``
    assert event_json(bot_event(domain, "utter_with_metadata")) == {
        "event": "bot", "text": "Tagged", "data": NO_DATA,
        "metadata": {"metadata": {"foo": 1}, "utter_action": "utter_with_metadata"}}


def test_condition_of_the_chosen_variation_goes_into_the_metadata(domain) -> None:
    assert event_json(bot_event(domain, "utter_status", vip=True))["metadata"] == {
        "condition": [{"type": "slot", "name": "vip", "value": True}],
        "utter_action": "utter_status"}
    # the plain variation has no condition to record
    assert event_json(bot_event(domain, "utter_status", vip=False))["metadata"] == {
        "utter_action": "utter_status"}


def test_channel_of_the_chosen_variation_goes_into_the_metadata(domain) -> None:
    assert event_json(bot_event(domain, "utter_channel", "slack"))["metadata"] == {
        "channel": "slack", "utter_action": "utter_channel"}
    assert event_json(bot_event(domain, "utter_channel", "telegram"))["metadata"] == {
        "utter_action": "utter_channel"}


def test_a_key_of_the_authors_own_goes_into_the_metadata(domain) -> None:
    assert event_json(bot_event(domain, "utter_tagged"))["metadata"] == {
        "tone": "warm", "utter_action": "utter_tagged"}


def test_stored_event_still_gives_channels_their_button_type(domain) -> None:
    # read back from the store, the event's message hands button_type to the channels
    stored = BotUttered.from_payload(event_json(bot_event(domain, "utter_vertical")))
    replies = channel_replies("u1", bot_message(stored))
    assert replies == [{"recipient_id": "u1", "text": "Which one?",
                        "buttons": [{"title": "A", "payload": "/a"}],
                        "button_type": "vertical"}]
    # Rasa's REST channel sends neither button_type nor any metadata
    assert rasa_replies(replies) == [{"recipient_id": "u1", "text": "Which one?",
                                      "buttons": [{"title": "A", "payload": "/a"}]}]


def test_replies_carry_no_response_metadata(domain) -> None:
    for name in ("utter_with_metadata", "utter_with_id", "utter_channel"):
        message = bot_message(bot_event(domain, name, "slack"))
        for reply in channel_replies("u1", message):
            assert set(reply) == {"recipient_id", "text"}
