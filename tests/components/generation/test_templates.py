from __future__ import annotations

import logging

import pytest
from template_domains import (
    CHANNEL_RESPONSE,
    VERTICAL_BUTTONS_RESPONSE,
    VIP_STATUS_RESPONSE,
    custom_slot_domain,
)

from dialogflowlite.components.generation.messages import to_rest
from dialogflowlite.components.generation.templates import TemplateRenderer, interpolate
from dialogflowlite.errors import ConfigError
from dialogflowlite.io.loader import load_project
from dialogflowlite.shared.domain import Domain
from dialogflowlite.shared.events import BotUttered, Restarted, SessionStarted, SlotSet
from dialogflowlite.shared.tracker import DialogueStateTracker

DOMAIN = custom_slot_domain({"name": "text", "vip": "bool", "city": "text"}, """\
  utter_many:
  - text: "one"
  - text: "two"
  - text: "three"
  utter_hello:
  - text: "Hello {name}, welcome to {city}!"
""" + VIP_STATUS_RESPONSE + """\
  utter_city:
  - text: "Paris it is."
    condition:
    - type: slot
      name: city
      value: paris
  - text: "Somewhere."
""" + CHANNEL_RESPONSE + """\
  utter_rich:
  - text: "Pick one, {name}"
    buttons:
    - title: "Yes {name}"
      payload: '/affirm{{"name": "{name}"}}'
    - title: "No"
      payload: /deny
    image: "https://example.org/{city}.png"
    attachment: {type: file, url: "https://example.org/doc.pdf"}
    custom:
      kind: card
      items: [{label: "{city}"}]
    metadata: {priority: high}
  utter_quick:
  - text: "Quick?"
    quick_replies:
    - title: "A"
      payload: /a
""" + VERTICAL_BUTTONS_RESPONSE + """\
  utter_elements:
  - text: "Cards"
    elements:
    - title: "Card 1"
      subtitle: "first"
      buttons: [{title: go, payload: /go}]
""")


@pytest.fixture
def domain(write_project) -> Domain:
    return load_project(write_project(domain=DOMAIN)).domain


def tracker_with(domain: Domain, sender: str = "u1", **slots) -> DialogueStateTracker:
    tracker = DialogueStateTracker.for_domain(sender, domain)
    for name, value in slots.items():
        tracker.update(SlotSet(name=name, value=value))
    return tracker


def texts(renderer: TemplateRenderer, name: str, tracker, n: int, channel=None) -> list[str]:
    return [renderer.render(name, tracker, channel)[0]["text"] for _ in range(n)]


def test_random_selection_is_seeded_and_uses_every_variation(domain) -> None:
    tracker = tracker_with(domain)
    first = texts(TemplateRenderer(domain, seed=7), "utter_many", tracker, 30)
    second = texts(TemplateRenderer(domain, seed=7), "utter_many", tracker, 30)
    assert first == second
    assert set(first) == {"one", "two", "three"}
    other = texts(TemplateRenderer(domain, seed=8), "utter_many", tracker, 30)
    assert other != first


def test_sequential_selection_goes_in_turn_per_conversation(domain) -> None:
    renderer = TemplateRenderer(domain, selection="sequential")
    alice, bob = tracker_with(domain, "alice"), tracker_with(domain, "bob")
    assert texts(renderer, "utter_many", alice, 4) == ["one", "two", "three", "one"]
    assert texts(renderer, "utter_many", bob, 2) == ["one", "two"]


def test_sequential_selection_continues_from_stored_bot_events(domain) -> None:
    tracker = tracker_with(domain)
    for text in ("one", "two"):
        tracker.update(BotUttered(text=text, metadata={"utter_action": "utter_many"}))
    fresh = TemplateRenderer(domain, selection="sequential")  # e.g. after a restart
    assert fresh.render("utter_many", tracker)[0]["text"] == "three"


@pytest.mark.parametrize("reset", [Restarted(), SessionStarted()], ids=["restart", "session"])
def test_sequential_selection_starts_over_after_a_restart_or_new_session(domain, reset) -> None:
    renderer = TemplateRenderer(domain, selection="sequential")
    tracker = tracker_with(domain)
    for message in (renderer.render("utter_many", tracker)[0] for _ in range(2)):
        tracker.update(BotUttered(text=message["text"], metadata=message["metadata"]))
    tracker.update(reset)
    # a fresh process counts the bot events since then; the running one must agree
    fresh = TemplateRenderer(domain, selection="sequential")
    assert fresh.render("utter_many", tracker)[0]["text"] == "one"
    assert texts(renderer, "utter_many", tracker, 2) == ["one", "two"]


def test_unknown_selection_mode_is_a_config_error(domain) -> None:
    with pytest.raises(ConfigError, match="response_selection"):
        TemplateRenderer(domain, selection="roundrobin")


def test_slots_are_interpolated(domain) -> None:
    tracker = tracker_with(domain, name="Ada", city="Paris")
    [message] = TemplateRenderer(domain).render("utter_hello", tracker)
    assert message["text"] == "Hello Ada, welcome to Paris!"
    assert message["metadata"] == {"utter_action": "utter_hello"}


def test_missing_slot_keeps_placeholder_and_warns(domain, caplog) -> None:
    tracker = tracker_with(domain, name="Ada")
    with caplog.at_level(logging.WARNING):
        [message] = TemplateRenderer(domain).render("utter_hello", tracker)
    assert message["text"] == "Hello Ada, welcome to {city}!"
    assert any("{city}" in r.getMessage() and "utter_hello" in r.getMessage()
               for r in caplog.records)


def test_a_missing_slot_is_warned_about_once_a_message(domain, caplog) -> None:
    # utter_rich uses {name} in its text, a button title and a payload: three warnings
    # a message, every message
    with caplog.at_level(logging.WARNING):
        TemplateRenderer(domain).render("utter_rich", tracker_with(domain))
        TemplateRenderer(domain).render("utter_rich", tracker_with(domain))
    warned = [r for r in caplog.records if "uses {name}" in r.getMessage()]
    assert len(warned) == 2


def test_interpolate_leaves_json_braces_alone(caplog) -> None:
    with caplog.at_level(logging.WARNING):
        assert interpolate('{"a": 1} {x}', {"x": 2}) == '{"a": 1} 2'
    assert caplog.records == []  # JSON is no slot: nothing to warn about
    # doubled braces write one brace, as Python's format (and so Rasa) reads them
    assert interpolate("{{Order Number}}", {}) == "{Order Number}"
    assert interpolate("{{name}} is {name}", {"name": "Ada"}) == "{name} is Ada"
    # any name without braces or line breaks is a placeholder, as in Rasa
    assert interpolate("{user.name} / {prénom}", {"user.name": "Jo", "prénom": "Zoé"}) == (
        "Jo / Zoé")
    assert interpolate("{n} items", {"n": 3.0}) == "3 items"
    assert interpolate("{xs}", {"xs": ["a", "b"]}) == "a, b"


def test_conditional_variation_wins_when_its_slot_matches(domain) -> None:
    renderer = TemplateRenderer(domain, seed=1)
    vip = tracker_with(domain, vip=True)
    regular = tracker_with(domain, vip=False)
    assert set(texts(renderer, "utter_status", vip, 10)) == {"Welcome back, valued guest."}
    assert set(texts(renderer, "utter_status", regular, 10)) == {"Welcome."}


def test_conditions_compare_text_ignoring_case_as_rasa_does(domain) -> None:
    renderer = TemplateRenderer(domain, seed=1)
    assert set(texts(renderer, "utter_city", tracker_with(domain, city="Paris"), 5)) == {
        "Paris it is."}
    assert set(texts(renderer, "utter_city", tracker_with(domain, city="Lyon"), 5)) == {
        "Somewhere."}


def test_channel_specific_variation(domain) -> None:
    renderer = TemplateRenderer(domain, seed=1)
    tracker = tracker_with(domain)
    assert set(texts(renderer, "utter_channel", tracker, 10, channel="slack")) == {
        "slack version"}
    assert set(texts(renderer, "utter_channel", tracker, 10, channel="rest")) == {"plain"}
    assert set(texts(renderer, "utter_channel", tracker, 10)) == {"plain"}


def test_rich_parts_are_interpolated_and_kept(domain) -> None:
    tracker = tracker_with(domain, name="Ada", city="Oslo")
    [message] = TemplateRenderer(domain).render("utter_rich", tracker)
    assert message["text"] == "Pick one, Ada"
    assert message["buttons"] == [
        # Rasa's escaped braces: the payload the NLU reads as an intent with entities
        {"title": "Yes Ada", "payload": '/affirm{"name": "Ada"}'},
        {"title": "No", "payload": "/deny"},
    ]
    assert message["image"] == "https://example.org/Oslo.png"
    assert message["attachment"] == {"type": "file", "url": "https://example.org/doc.pdf"}
    assert message["custom"] == {"kind": "card", "items": [{"label": "Oslo"}]}
    # as in Rasa, the response's own metadata stays one object in the bot event's
    assert message["metadata"] == {"metadata": {"priority": "high"}, "utter_action": "utter_rich"}


def test_messages_carry_only_set_keys(domain) -> None:
    [message] = TemplateRenderer(domain).render("utter_many", tracker_with(domain))
    assert set(message) == {"text", "metadata"}


def test_unknown_response_renders_nothing(domain, caplog) -> None:
    with caplog.at_level(logging.WARNING):
        assert TemplateRenderer(domain).render("utter_nope", tracker_with(domain)) == []
    assert "utter_nope" in caplog.text


def test_rest_shape(domain) -> None:
    renderer = TemplateRenderer(domain)
    tracker = tracker_with(domain, name="Ada", city="Oslo")
    [rich] = renderer.render("utter_rich", tracker)
    # as Rasa's collecting channel: the text with its buttons, then custom, image and
    # attachment each on its own
    assert [set(out) - {"recipient_id"} for out in to_rest(rich, "u1")] == [
        {"text", "buttons"}, {"custom"}, {"image"}, {"attachment"}]
    assert to_rest({"text": "One.\n\nTwo.\n"}) == [{"text": "One."}, {"text": "Two."}]
    # text with buttons stays whole
    assert len(to_rest({"text": "A\n\nB", "buttons": [{"title": "x", "payload": "/x"}]})) == 1
    [quick] = to_rest(renderer.render("utter_quick", tracker)[0])
    assert quick == {"text": "Quick?", "buttons": [{"title": "A", "payload": "/a"}]}
    cards = to_rest(renderer.render("utter_elements", tracker)[0], "u1")
    assert cards == [
        {"recipient_id": "u1", "text": "Cards"},
        {"recipient_id": "u1", "text": "Card 1 : first",
         "buttons": [{"title": "go", "payload": "/go"}]},
    ]


def test_channel_replies_keep_quick_replies_and_cards_for_the_channels(domain) -> None:
    from dialogflowlite.components.generation.messages import (
        channel_replies,
        flatten_replies,
        rasa_replies,
    )

    renderer = TemplateRenderer(domain)
    tracker = tracker_with(domain)
    quick = channel_replies(renderer.render("utter_quick", tracker)[0], "u1")
    assert quick == [{"recipient_id": "u1", "text": "Quick?",
                      "quick_replies": [{"title": "A", "payload": "/a"}]}]
    cards = channel_replies({"text": "Cards", "elements": [
        {"title": "Card 1", "subtitle": "first"}, "not a card", {"title": "Card 2"}]}, "u1")
    assert cards == [{"recipient_id": "u1", "text": "Cards"},
                     {"recipient_id": "u1", "elements": [{"title": "Card 1", "subtitle": "first"},
                                                         {"title": "Card 2"}]}]
    # Rasa's REST shape of them: quick replies as buttons, a text per card
    assert rasa_replies(quick + cards) == [
        {"recipient_id": "u1", "text": "Quick?", "buttons": [{"title": "A", "payload": "/a"}]},
        {"recipient_id": "u1", "text": "Cards"},
        {"recipient_id": "u1", "text": "Card 1 : first", "buttons": []},
        {"recipient_id": "u1", "text": "Card 2 : ", "buttons": []}]
    # replies already in the REST shape stay as they are
    flat = flatten_replies(quick + cards)
    assert flatten_replies(flat) == flat and rasa_replies(flat) == flat


def test_a_responses_button_type_reaches_channels_but_not_rest_json(domain) -> None:
    from dialogflowlite.components.generation.messages import rasa_shape

    tracker = tracker_with(domain)
    [message] = TemplateRenderer(domain).render("utter_vertical", tracker)
    [reply] = to_rest(message, "u1")
    assert reply["button_type"] == "vertical"  # what Telegram and Webex read
    assert rasa_shape(reply) == {"recipient_id": "u1", "text": "Which one?",
                                 "buttons": [{"title": "A", "payload": "/a"}]}
    # without buttons there is nothing to style
    assert "button_type" not in to_rest({"text": "hi", "button_type": "vertical"})[0]
