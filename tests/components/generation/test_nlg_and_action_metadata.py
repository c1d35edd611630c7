"""What an NLG server and a custom action's messages put on the bot event, as Rasa does.

Rasa's ``create_bot_utterance`` makes everything of a message that is not
shown (text, buttons, image, ...) the bot event's metadata: a ``metadata``
object stays whole under the key ``metadata``, next to ``utter_action``.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from dialogflowlite.components.generation.messages import (
    channel_replies,
    flatten_reply,
    to_rest,
)
from dialogflowlite.components.generation.nlg_server import (
    NlgServer,
    server_message,
    variation_id,
)
from dialogflowlite.dialogue.actions import response_messages
from dialogflowlite.dialogue.messages import bot_message, bot_uttered
from dialogflowlite.shared.tracker import DialogueStateTracker

# ---------------------------------------------------------------- NLG server answers


def test_an_nlg_answer_s_metadata_object_stays_whole_under_metadata() -> None:
    answer = {"text": "Hola", "lang": "es", "id": "greet_es",
              "metadata": {"tone": "warm", "lang": "en"}}
    message = server_message(answer)
    assert message == {"text": "Hola", "metadata": {
        "lang": "es", "id": "greet_es", "metadata": {"tone": "warm", "lang": "en"}}}
    event = bot_uttered(message)
    assert event.metadata["metadata"] == {"tone": "warm", "lang": "en"}
    assert event.metadata["lang"] == "es"  # its own top-level key, not the nested one


# ---------------------------------------------------------------- NLG server requests


def test_the_request_names_the_variation_id() -> None:
    tracker = DialogueStateTracker("ann")
    body = NlgServer.request_body("utter_greet", tracker, "rest", {"name": "Ann"}, "greet_1")
    assert body["id"] == "greet_1"
    assert body["response"] == "utter_greet" and body["arguments"] == {"name": "Ann"}
    # Rasa sends the key with null when no variation has an id
    assert NlgServer.request_body("utter_greet", tracker, "rest")["id"] is None


def test_the_variation_id_is_the_first_applicable_one_s_unless_ids_repeat() -> None:
    assert variation_id([{"text": "a", "id": "g1"}, {"text": "b", "id": "g2"}]) == "g1"
    assert variation_id([{"text": "a"}, {"text": "b", "id": "g2"}]) is None
    assert variation_id([]) is None
    assert variation_id([{"text": "a", "id": "g1"}, {"text": "b", "id": "g1"}]) is None


@pytest.fixture
def nlg_url() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    bodies: list[dict[str, Any]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            bodies.append(json.loads(self.rfile.read(length)))
            answer = json.dumps({"text": "Hi", "metadata": {"tone": "warm"}}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/nlg", bodies
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_generate_sends_the_id_and_keeps_the_answer_s_metadata_nested(nlg_url) -> None:
    url, bodies = nlg_url
    server = NlgServer(url, 5.0)
    message = asyncio.run(server.generate("utter_greet", DialogueStateTracker("ann"), "rest",
                                          response_id="greet_1"))
    assert [body["id"] for body in bodies] == ["greet_1"]
    assert message == {"text": "Hi", "metadata": {"metadata": {"tone": "warm"}}}


# ---------------------------------------------------------------- custom actions


class TemplatesContext:
    """Renders ``utter_greet`` as the templates do: the variation's rest in metadata."""

    async def render(self, name: str, tracker: DialogueStateTracker,
                     arguments: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        return [{"text": "Hi Ann", "metadata": {"id": "greet_1", "metadata": {"tone": "warm"},
                                                "utter_action": name}}]


def sdk_message(**kwargs: Any) -> dict[str, Any]:
    """A message as rasa-sdk's ``dispatcher.utter_message(**kwargs)`` sends it."""
    message = {"text": None, "buttons": [], "elements": [], "custom": {}, "template": None,
               "response": None, "image": None, "attachment": None}
    message.update({key: value for key, value in kwargs.items() if key != "response"})
    if "response" in kwargs:
        message["template"] = message["response"] = kwargs["response"]
    return message


def events_for(*messages: dict[str, Any]) -> list[Any]:
    tracker = DialogueStateTracker("ann")
    context: Any = TemplatesContext()
    sent = asyncio.run(response_messages(messages, tracker, context))
    return [bot_uttered(message) for message in sent]


def test_an_action_s_metadata_stays_whole_under_metadata() -> None:
    [event] = events_for(sdk_message(text="Your order", metadata={"order": 7}, lang="es"))
    assert event.text == "Your order"
    assert event.metadata == {"metadata": {"order": 7}, "lang": "es"}


def test_an_action_s_metadata_replaces_the_named_response_s_own() -> None:
    # Rasa updates the rendered response with the action's message: its `metadata`
    # key takes the place of the variation's, utter_action and id stay
    [event] = events_for(sdk_message(response="utter_greet", metadata={"order": 7}))
    assert event.text == "Hi Ann"
    assert event.metadata == {"id": "greet_1", "metadata": {"order": 7},
                              "utter_action": "utter_greet"}


def test_a_named_response_without_action_metadata_keeps_its_own() -> None:
    [event] = events_for(sdk_message(response="utter_greet"))
    assert event.metadata == {"id": "greet_1", "metadata": {"tone": "warm"},
                              "utter_action": "utter_greet"}


def test_a_button_type_keyword_still_reaches_the_channels() -> None:
    buttons = [{"title": "Yes", "payload": "/affirm"}]
    [event] = events_for(sdk_message(text="Sure?", buttons=buttons, button_type="vertical",
                                     metadata={"order": 7}))
    [reply] = channel_replies(bot_message(event), "ann")
    assert reply == {"recipient_id": "ann", "text": "Sure?", "buttons": buttons,
                     "button_type": "vertical"}


# ---------------------------------------------------------------- text with cards


CARDS = [{"title": "Pasta", "subtitle": "12 EUR",
          "buttons": [{"title": "Order", "payload": "/order"}]},
         {"title": "Soup", "subtitle": "6 EUR"}]


def test_a_reply_with_text_and_cards_keeps_the_text_first() -> None:
    reply = {"recipient_id": "ann", "text": "Today's menu", "elements": CARDS}
    assert flatten_reply(reply) == [
        {"recipient_id": "ann", "text": "Today's menu"},
        {"recipient_id": "ann", "text": "Pasta : 12 EUR",
         "buttons": [{"title": "Order", "payload": "/order"}]},
        {"recipient_id": "ann", "text": "Soup : 6 EUR", "buttons": []},
    ]


def test_a_reply_with_text_buttons_and_cards_sends_the_buttons_with_the_text() -> None:
    buttons = [{"title": "Help", "payload": "/help"}]
    reply = {"recipient_id": "ann", "text": "Menu", "buttons": buttons, "elements": CARDS[1:]}
    assert flatten_reply(reply) == [
        {"recipient_id": "ann", "text": "Menu", "buttons": buttons},
        {"recipient_id": "ann", "text": "Soup : 6 EUR", "buttons": []},
    ]


def test_cards_alone_are_one_reply_each() -> None:
    assert flatten_reply({"recipient_id": "ann", "elements": CARDS[1:]}) == [
        {"recipient_id": "ann", "text": "Soup : 6 EUR", "buttons": []}]
    assert to_rest({"text": "Menu", "elements": CARDS[1:]}, "ann") == [
        {"recipient_id": "ann", "text": "Menu"},
        {"recipient_id": "ann", "text": "Soup : 6 EUR", "buttons": []}]


IDS_DOMAIN = """
version: "3.1"
intents: [greet]
slots:
  vip:
    type: bool
    mappings: [{type: custom}]
responses:
  utter_greet:
  - text: "Hello"
    id: greet_plain
  - text: "Welcome back"
    id: greet_vip
    condition: [{type: slot, name: vip, value: true}]
"""


class CapturingNlg:
    """An NLG server stand-in that records the ``id`` it is asked for."""

    def __init__(self) -> None:
        self.ids: list[str | None] = []

    async def generate(self, response: str, tracker: Any, channel: str | None,
                       arguments: dict[str, Any] | None = None,
                       response_id: str | None = None) -> dict[str, Any]:
        self.ids.append(response_id)
        return {"text": "from the server"}


def test_the_responder_names_the_variation_that_applies(write_project) -> None:
    from dialogflowlite.components.generation.responder import Responder
    from dialogflowlite.io.loader import load_project
    from dialogflowlite.shared.events import SlotSet

    domain = load_project(write_project(domain=IDS_DOMAIN)).domain
    nlg = CapturingNlg()
    responder = Responder(domain, nlg_server=nlg)  # type: ignore[arg-type]
    tracker = DialogueStateTracker.for_domain("u1", domain)
    asyncio.run(responder.respond("utter_greet", tracker, "rest"))
    tracker.update(SlotSet(name="vip", value=True))
    asyncio.run(responder.respond("utter_greet", tracker, "rest"))
    # as Rasa: the first variation the templates would choose among (conditional first)
    assert nlg.ids == ["greet_plain", "greet_vip"]
