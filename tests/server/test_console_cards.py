"""Cards (``elements``) in the console: listed as Rasa's console lists them, and, in the
shell, flattened as Rasa's REST channel flattens them for ``rasa shell``."""

from __future__ import annotations

import io
import json

from dialogflowlite.components.generation.messages import channel_replies
from dialogflowlite.server.channels.console import ConsoleChannel, format_reply

CARDS = {"text": "Our rooms",
         "elements": [{"title": "Café", "subtitle": "Open till 6",
                       "image_url": "https://example.org/cafe.png",
                       "buttons": [{"title": "Book", "payload": "/book_cafe"}]},
                      {"subtitle": "No title"},
                      "not a card"]}


def test_format_reply_lists_the_cards_under_elements() -> None:
    lines = format_reply(CARDS)
    assert lines[:2] == ["Our rooms", "Elements:"]
    first, second = lines[2:]
    number, rest = first.split(" - ", 1)
    assert number == "1: Café"
    assert json.loads(rest) == {"subtitle": "Open till 6",
                                "image_url": "https://example.org/cafe.png",
                                "buttons": [{"title": "Book", "payload": "/book_cafe"}]}
    assert list(json.loads(rest)) == sorted(json.loads(rest))  # keys in order, as Rasa
    assert second == '2:  - {"subtitle": "No title"}'
    # the message is left as it was
    assert CARDS["elements"][0]["title"] == "Café"


def test_a_reply_without_cards_shows_no_elements_heading() -> None:
    assert "Elements:" not in format_reply({"text": "Hi", "elements": []})
    assert "Elements:" not in format_reply({"text": "Hi", "elements": ["junk"]})


def test_the_shell_shows_each_card_with_its_buttons_to_pick() -> None:
    channel = ConsoleChannel(sender_id="me", stdout=io.StringIO(), history_file=None)
    # a response's text and its cards, as the bot sends them: one reply each
    text, cards = channel_replies(CARDS, "me")
    lines = channel.show([text, cards])
    assert lines[:4] == ["Our rooms", "Café : Open till 6", "  1: Book", " : No title"]
    assert channel.resolve_choice("1") == "/book_cafe"


def test_an_attachment_shows_as_json_or_as_written() -> None:
    # it showed Python's repr, {'type': 'file', 'url': 'u'}
    assert format_reply({"attachment": {"type": "file", "url": "u"}}) == [
        'Attachment: {"type": "file", "url": "u"}']
    assert format_reply({"attachment": "https://x/doc.pdf"}) == [
        "Attachment: https://x/doc.pdf"]
