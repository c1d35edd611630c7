"""Templated responses case by case against what Rasa 3's response generator and
REST channel produce for the same domain and slots."""

from __future__ import annotations

import re
from typing import Any

import pytest
from template_domains import custom_slot_domain

from dialogflowlite.components.generation.messages import channel_replies, rasa_replies
from dialogflowlite.components.generation.templates import TemplateRenderer
from dialogflowlite.errors import ProjectError
from dialogflowlite.io.loader import load_project
from dialogflowlite.shared.domain import Domain
from dialogflowlite.shared.events import SlotSet
from dialogflowlite.shared.tracker import DialogueStateTracker

SLOTS = {"name": "text", "count": "float", "number": "float", "vip": "bool",
         "tags": "list", "info": "any", "tier": "text", "city": "text"}

RESPONSES = """\
  utter_value:
  - text: "value: {info}!"
  utter_rich:
  - text: "Hi {name}"
    buttons:
    - title: "Stay in {city}"
      payload: '/inform{{"city": "{city}"}}'
    image: "https://img.example/{city}.png"
    attachment: {type: file, payload: {src: "https://files.example/{city}.pdf"}}
    custom:
      blocks:
      - {type: section, text: "Weather in {city}", fields: ["{name}", 3, "{{raw}}"]}
      nested: {deeper: {label: "{name}@{city}"}}
  utter_quick:
  - text: "Pick, {name}"
    quick_replies:
    - {title: "{city}", payload: "/go"}
    button_type: vertical
  utter_braces_only:
  - text: "{{name}} is written {{like this}}"
  utter_surrounded:
  - text: "Dear {name}, welcome to {city}!"
  utter_escaped:
  - text: "{{name}} is written {{like this}}, and {name} is {name}"
  utter_jinja:
  - text: "Hello {{ name }}{% if vip %}, our guest of honour{% endif %}: {{ tags|join(' + ') }}"
    buttons:
    - {title: "{{ city|upper }}", payload: "/go"}
    metadata: {template: jinja}
  utter_format_doubled:
  - text: "Hello {{ name }}"
  utter_all:
  - text: "gold in Oslo"
    condition:
    - {type: slot, name: tier, value: gold}
    - {type: slot, name: city, value: Oslo}
  - text: "anyone"
  utter_unset:
  - text: "no tier yet"
    condition: [{type: slot, name: tier, value: null}]
  - text: "tier known"
  utter_conditional_first:
  - text: "plain"
  - text: "gold one"
    condition: [{type: slot, name: tier, value: gold}]
  - text: "gold two"
    condition: [{type: slot, name: tier, value: gold}]
  utter_channels:
  - text: "conditional for every channel"
    condition: [{type: slot, name: tier, value: gold}]
  - text: "plain for every channel"
  - text: "plain for slack"
    channel: slack
  - text: "conditional for slack"
    channel: slack
    condition: [{type: slot, name: tier, value: gold}]
  - text: "conditional for telegram"
    channel: telegram
    condition: [{type: slot, name: tier, value: silver}]
  utter_channel_first:
  - text: "for guests of honour, every channel"
    condition: [{type: slot, name: vip, value: true}]
  - text: "plain for slack"
    channel: slack
  - text: "plain"
  utter_channel_only:
  - text: "default"
  - text: "for slack"
    channel: slack
  utter_ids:
  - id: greet_1
    text: "Hello"
    metadata: {rephrase: true, tone: warm}
    button_type: inline
    buttons: [{title: "ok", payload: "/ok"}]
  utter_buttons_only:
  - text: ""
    buttons: [{title: "{name}", payload: "/me"}]
  utter_image_only:
  - text: ""
    image: "https://img.example/{city}.png"
  utter_paragraphs:
  - text: "First, {name}.\\n\\nSecond."
  utter_cards:
  - text: "Cards"
    elements:
    - {title: "Card {city}", subtitle: "first", buttons: [{title: "Go", payload: "/go"}]}
    - {title: "Bare", subtitle: "second"}
"""


@pytest.fixture
def domain(write_project) -> Domain:
    return load_project(write_project(domain=custom_slot_domain(SLOTS, RESPONSES))).domain


def tracker_with(domain: Domain, **slots: Any) -> DialogueStateTracker:
    return DialogueStateTracker.for_domain(
        "u1", domain, [SlotSet(name=name, value=value) for name, value in slots.items()])


def rendered(domain: Domain, response: str, channel: str | None = "rest",
             **slots: Any) -> dict[str, Any]:
    renderer = TemplateRenderer(domain, selection="sequential")
    return renderer.render(response, tracker_with(domain, **slots), channel)[0]


def rest(message: dict[str, Any]) -> list[dict[str, Any]]:
    """The message as the REST channel's JSON (``POST /webhooks/rest/webhook``)."""
    return rasa_replies(channel_replies(message, "u1"))


def rasa_fills(template: str, values: dict[str, Any]) -> str:
    """What Rasa's format interpolator makes of ``template``: each ``{name}`` becomes
    ``{0[name]}`` and Python's ``str.format`` fills it from the slot values; when a
    doubled brace kept one unfilled, the template is formatted with nothing instead,
    and when that fails it is sent as written."""
    try:
        text = re.sub(r"\{([^\n{}]+?)\}", r"{0[\1]}", template).format(values)
        return template.format() if "0[" in text else text
    except (KeyError, IndexError):
        return template


# ------------------------------------------------------------ {slot} values


@pytest.mark.parametrize("value", [3, 7, True, False, {"a": 1, "b": [2]}, "Oslo", 2.5])
def test_values_read_as_rasas_str_format_gives_them(domain, value) -> None:
    expected = rasa_fills("value: {info}!", {"info": value})
    assert rendered(domain, "utter_value", info=value)["text"] == expected


def test_lists_and_whole_floats_read_as_people_write_them(domain) -> None:
    # Rasa writes Python's repr ("['red', 'blue']", "3.0"); ours is the documented difference
    assert rasa_fills("{info}", {"info": ["red", "blue"]}) == "['red', 'blue']"
    assert rendered(domain, "utter_value", info=["red", "blue"])["text"] == "value: red, blue!"
    assert rasa_fills("{info}", {"info": 3.0}) == "3.0"
    assert rendered(domain, "utter_value", info=3.0)["text"] == "value: 3!"


def test_placeholders_are_filled_in_every_part_rasa_fills(domain) -> None:
    message = rendered(domain, "utter_rich", name="Ann", city="Oslo")
    assert message["text"] == "Hi Ann"
    assert message["buttons"] == [{"title": "Stay in Oslo", "payload": '/inform{"city": "Oslo"}'}]
    assert message["image"] == "https://img.example/Oslo.png"
    assert message["attachment"] == {"type": "file",
                                     "payload": {"src": "https://files.example/Oslo.pdf"}}
    # custom payloads recursively, through dicts and lists; numbers stay numbers
    assert message["custom"] == {
        "blocks": [{"type": "section", "text": "Weather in Oslo", "fields": ["Ann", 3, "{raw}"]}],
        "nested": {"deeper": {"label": "Ann@Oslo"}}}


def test_quick_replies_are_filled_and_go_out_as_buttons_on_rest(domain) -> None:
    message = rendered(domain, "utter_quick", name="Ann", city="Oslo")
    assert message["quick_replies"] == [{"title": "Oslo", "payload": "/go"}]
    # Rasa's collecting channel sends quick replies as buttons, without button_type
    assert rest(message) == [{"recipient_id": "u1", "text": "Pick, Ann",
                              "buttons": [{"title": "Oslo", "payload": "/go"}]}]


def test_doubled_braces_and_surrounding_text_as_rasa(domain) -> None:
    for response, template in (("utter_braces_only", "{{name}} is written {{like this}}"),
                               ("utter_surrounded", "Dear {name}, welcome to {city}!")):
        expected = rasa_fills(template, {"name": "Ann", "city": "Oslo"})
        assert rendered(domain, response, name="Ann", city="Oslo")["text"] == expected
    assert rendered(domain, "utter_braces_only")["text"] == "{name} is written {like this}"


def test_doubled_braces_next_to_a_placeholder_are_still_filled(domain) -> None:
    # Rasa gives up on the whole string here and sends it as written (the documented
    # difference): its doubled braces and its placeholder both reach the user
    template = "{{name}} is written {{like this}}, and {name} is {name}"
    assert rasa_fills(template, {"name": "Ann"}) == template
    message = rendered(domain, "utter_escaped", name="Ann")
    assert message["text"] == "{name} is written {like this}, and Ann is Ann"


# ------------------------------------------------------------ jinja responses


def test_a_jinja_response_renders_its_templates(domain) -> None:
    message = rendered(domain, "utter_jinja", name="Ann", vip=True, tags=["a", "b"],
                       city="Oslo")
    assert message["text"] == "Hello Ann, our guest of honour: a + b"
    assert message["buttons"] == [{"title": "OSLO", "payload": "/go"}]
    plain = rendered(domain, "utter_jinja", name="Bo", vip=False, tags=["c"], city="Rome")
    assert plain["text"] == "Hello Bo: c"


def test_a_jinja_response_reads_an_unset_slot_as_none_as_rasa(domain) -> None:
    # Rasa hands jinja every slot of the domain, None when unset
    assert rendered(domain, "utter_jinja", tags=[])["text"] == "Hello None: "


def test_a_jinja_filter_given_the_wrong_type_sends_the_text_as_written(domain, caplog) -> None:
    # `join` of an unset slot (None) raises TypeError inside jinja
    with caplog.at_level("WARNING"):
        message = rendered(domain, "utter_jinja", name="Ann", city="Oslo")
    assert message["text"] == ("Hello {{ name }}{% if vip %}, our guest of honour{% endif %}: "
                               "{{ tags|join(' + ') }}")
    assert message["buttons"] == [{"title": "OSLO", "payload": "/go"}]
    assert "response 'utter_jinja': jinja could not fill" in caplog.text


def test_without_the_jinja_engine_doubled_braces_are_literal(domain) -> None:
    assert rendered(domain, "utter_format_doubled", name="Ann")["text"] == "Hello { name }"


@pytest.mark.parametrize(("text", "engine"), [
    ("Hi {name}", "mustache"),     # an engine that is not known
    ("Hi {{ name ", "jinja"),      # a jinja template that does not parse
], ids=["unknown-engine", "jinja-that-does-not-parse"])
def test_a_template_that_cannot_be_rendered_is_refused_naming_the_response(
        write_project, text, engine) -> None:
    variation = f"""\
  utter_hi:
  - text: "{text}"
    metadata: {{template: {engine}}}
"""
    bad = custom_slot_domain({"name": "text"}, variation)
    # reading the domain reports it at the variation's line (before, only a bot loading
    # the trained model found it, naming the model file)
    project = load_project(write_project(domain=bad), strict=False)
    [problem] = [p for p in project.problems if "utter_hi" in p.message]
    assert problem.severity == "error"
    assert problem.message.startswith("variation 1 of response 'utter_hi': ")
    assert engine in problem.message or "does not parse" in problem.message
    lines = bad.splitlines()
    assert lines[problem.position.line - 1].strip() == f'- text: "{text}"'
    assert project.domain.responses["utter_hi"].variations == []
    # a domain that was not read by this reader (an older model's) is still refused
    project.domain.responses["utter_hi"].variations.append(
        {"text": text, "metadata": {"template": engine}})
    with pytest.raises(ProjectError, match=rf"utter_hi.*{engine}"):
        TemplateRenderer(project.domain)


# ------------------------------------------------------------ conditional variations


def test_every_condition_must_hold(domain) -> None:
    assert rendered(domain, "utter_all", tier="gold", city="Oslo")["text"] == "gold in Oslo"
    assert rendered(domain, "utter_all", tier="gold", city="Rome")["text"] == "anyone"
    assert rendered(domain, "utter_all", city="Oslo")["text"] == "anyone"


def test_a_condition_on_null_holds_for_an_unset_slot(domain) -> None:
    assert rendered(domain, "utter_unset")["text"] == "no tier yet"
    assert rendered(domain, "utter_unset", tier="gold")["text"] == "tier known"


def test_matching_conditional_variations_go_before_plain_ones(domain) -> None:
    renderer = TemplateRenderer(domain, selection="sequential")
    tracker = tracker_with(domain, tier="gold")
    said = {renderer.render("utter_conditional_first", tracker, "rest")[0]["text"]
            for _ in range(4)}
    assert said == {"gold one", "gold two"}
    assert rendered(domain, "utter_conditional_first", tier="silver")["text"] == "plain"


@pytest.mark.parametrize(("channel", "tier", "expected"), [
    # Rasa: conditional for the channel, then plain for the channel, then conditional
    # for every channel, then plain for every channel
    ("slack", "gold", "conditional for slack"),
    ("slack", "silver", "plain for slack"),
    ("rest", "gold", "conditional for every channel"),
    ("rest", "silver", "plain for every channel"),
    ("telegram", "silver", "conditional for telegram"),
    ("telegram", "gold", "conditional for every channel"),
    (None, "gold", "conditional for every channel"),
])
def test_channel_and_condition_precedence_as_rasa(domain, channel, tier, expected) -> None:
    assert rendered(domain, "utter_channels", channel, tier=tier)["text"] == expected


def test_a_channels_plain_variation_wins_over_a_conditional_one_for_every_channel(
        domain) -> None:
    # the one case where the order differs from "conditional first": Rasa keeps the
    # channel's own wording
    assert rendered(domain, "utter_channel_first", "slack", vip=True)["text"] == "plain for slack"
    assert rendered(domain, "utter_channel_first", "rest", vip=True)["text"] == (
        "for guests of honour, every channel")
    assert rendered(domain, "utter_channel_first", "rest", vip=False)["text"] == "plain"


def test_a_channel_without_variations_gets_the_default_ones_only(domain) -> None:
    assert rendered(domain, "utter_channel_only", "slack")["text"] == "for slack"
    for channel in ("rest", "telegram", None):
        texts = {TemplateRenderer(domain, seed=seed).render(
            "utter_channel_only", tracker_with(domain), channel)[0]["text"] for seed in range(6)}
        assert texts == {"default"}


# ------------------------------------------------------------ id, metadata, rich parts on REST


def test_id_metadata_and_button_type_stay_out_of_the_rest_json(domain) -> None:
    message = rendered(domain, "utter_ids")
    # the variation's metadata travels with the message (and onto the bot event)
    assert message["metadata"]["metadata"] == {"rephrase": True, "tone": "warm"}
    assert message["metadata"]["utter_action"] == "utter_ids"
    # Rasa's collecting channel writes only recipient_id, text, image, buttons,
    # attachment and custom
    assert rest(message) == [{"recipient_id": "u1", "text": "Hello",
                              "buttons": [{"title": "ok", "payload": "/ok"}]}]


def test_rich_parts_on_rest_in_rasas_order_and_shape(domain) -> None:
    message = rendered(domain, "utter_rich", name="Ann", city="Oslo")
    assert rest(message) == [
        {"recipient_id": "u1", "text": "Hi Ann",
         "buttons": [{"title": "Stay in Oslo", "payload": '/inform{"city": "Oslo"}'}]},
        {"recipient_id": "u1", "custom": message["custom"]},
        {"recipient_id": "u1", "image": "https://img.example/Oslo.png"},
        {"recipient_id": "u1", "attachment": message["attachment"]},
    ]


def test_cards_on_rest_carry_their_buttons(domain) -> None:
    message = rendered(domain, "utter_cards", city="Oslo")
    assert rest(message) == [
        {"recipient_id": "u1", "text": "Cards"},
        # filled here; Rasa leaves elements unfilled (the documented difference)
        {"recipient_id": "u1", "text": "Card Oslo : first",
         "buttons": [{"title": "Go", "payload": "/go"}]},
        # a card without buttons has "buttons": [], as Rasa's collecting channel sends it
        {"recipient_id": "u1", "text": "Bare : second", "buttons": []},
    ]


def test_buttons_without_text_images_alone_and_paragraphs_on_rest(domain) -> None:
    # Rasa hands the empty text to its buttons sender, which keeps it (only None is
    # dropped); an image alone is no attachment too; a plain text goes out one reply
    # per paragraph
    assert rest(rendered(domain, "utter_buttons_only", name="Ann")) == [
        {"recipient_id": "u1", "text": "", "buttons": [{"title": "Ann", "payload": "/me"}]}]
    assert rest(rendered(domain, "utter_image_only", city="Oslo")) == [
        {"recipient_id": "u1", "image": "https://img.example/Oslo.png"}]
    assert rest(rendered(domain, "utter_paragraphs", name="Ann")) == [
        {"recipient_id": "u1", "text": "First, Ann."}, {"recipient_id": "u1", "text": "Second."}]
