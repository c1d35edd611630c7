"""The domain reader's checks of values that Rasa refuses or warns about: responses
with nothing to send, float slot ranges, a negative session expiry."""

from __future__ import annotations

from pathlib import Path

import pytest

from dialogflowlite.errors import Problem
from dialogflowlite.io.loader import Project, load_project


def loaded(write_project, domain: str) -> tuple[Project, list[Problem]]:
    root = write_project(domain=domain)
    project = load_project(root, strict=False)
    return project, project.problems


def found(problems: list[Problem]) -> list[tuple[str, int | None, str]]:
    return [(p.severity, p.position.line, p.message) for p in problems]


# ---------------------------------------------------------------- responses


def test_a_variation_with_nothing_to_send_is_an_error_at_its_line(write_project) -> None:
    # Rasa: "Missing 'text' or 'custom' key in response"; here the bot went silent
    project, problems = loaded(write_project, """
        version: "3.1"
        responses:
          utter_noworries:
          - text:
          - {}
          - channel: rest
          - text: "You're welcome!"
        """)
    assert found(problems) == [
        ("error", line, f"variation {n} of response 'utter_noworries' has no text and no "
         "custom payload (Rasa: \"Missing 'text' or 'custom' key in response\")")
        for n, line in ((1, 4), (2, 5), (3, 6))
    ]
    assert {p.code for p in problems} == {"DFL103"}
    assert problems[0].hint == "write `text: ...`, or put a channel's own payload under `custom:`"
    # the broken variations are left out; the one that says something stays
    assert project.domain.responses["utter_noworries"].variations == [
        {"text": "You're welcome!"}]


def test_an_image_or_buttons_alone_need_a_text_as_in_rasa(write_project) -> None:
    _, problems = loaded(write_project, """
        version: "3.1"
        responses:
          utter_menu:
          - image: https://example.org/menu.png
          - buttons: [{title: Yes, payload: /affirm}]
          - text: ""
            image: https://example.org/menu.png
          - custom: {blocks: []}
            text: Pick one
        """)
    assert [(p.severity, p.message.split(" (Rasa")[0]) for p in problems] == [
        ("error", "variation 1 of response 'utter_menu' has an image but no text and no "
                  "custom payload"),
        ("error", "variation 2 of response 'utter_menu' has buttons but no text and no "
                  "custom payload"),
    ]
    assert '`text: ""`' in problems[0].hint


def test_custom_alone_is_a_response_and_an_empty_text_alone_a_warning(write_project) -> None:
    project, problems = loaded(write_project, """
        version: "3.1"
        responses:
          utter_card:
          - custom: {type: card}
          utter_blank:
          - text: ""
          - "  "
        """)
    assert found(problems) == [
        ("warning", line, f"variation {n} of response 'utter_blank' has an empty text and "
                          "nothing else, so the bot sends an empty message")
        for n, line in ((1, 6), (2, 7))
    ]
    assert len(project.domain.responses["utter_blank"].variations) == 2


def test_a_response_without_variations_is_a_warning(write_project) -> None:
    _, problems = loaded(write_project, """
        version: "3.1"
        responses:
          utter_c2: []
        """)
    assert found(problems) == [
        ("warning", 3, "response 'utter_c2' has no variations, so it sends nothing")]


def test_retrieval_responses_in_data_files_are_checked_too(write_project) -> None:
    root = write_project(domain='version: "3.1"\nintents: [faq]\n', files={
        "data/faq.yml": 'version: "3.1"\nresponses:\n  utter_faq/ask_hours:\n  - {}\n'})
    [problem] = load_project(root, strict=False).problems
    assert problem.is_error and "no text and no custom payload" in problem.message
    assert (Path(problem.position.file).name, problem.position.line) == ("faq.yml", 4)


# ---------------------------------------------------------------- float slots


def test_a_float_slot_needs_min_value_below_max_value(write_project) -> None:
    # Rasa's InvalidSlotConfigError; here every value featurised as the same number
    project, problems = loaded(write_project, """
        version: "3.1"
        slots:
          level:
            type: float
            min_value: 5
            max_value: 1
            mappings: []
          same:
            type: float
            max_value: 0
            mappings: []
        """)
    assert found(problems) == [
        ("error", 5, "float slot 'level' has min_value 5 and max_value 1; min_value must be "
                     "below max_value"),
        ("error", 10, "float slot 'same' has min_value 0 and max_value 0; min_value must be "
                      "below max_value"),
    ]
    level = project.domain.slots["level"]
    assert (level.min_value, level.max_value) == (0.0, 1.0)


def test_an_initial_value_outside_the_range_is_a_warning(write_project) -> None:
    project, problems = loaded(write_project, """
        version: "3.1"
        slots:
          level:
            type: float
            min_value: 1
            max_value: 5
            initial_value: 7
            mappings: []
          inside:
            type: float
            min_value: -3
            max_value: 3
            initial_value: -2.5
            mappings: []
          text_slot:
            type: text
            min_value: 5
            max_value: 1
            mappings: []
        """)
    assert found(problems) == [
        ("warning", 7, "initial_value 7 of float slot 'level' is outside its range 1 to 5; "
                       "the policies read it as 5")]
    assert project.domain.slots["level"].initial_value == 7


# ---------------------------------------------------------------- session_config


@pytest.mark.parametrize(("value", "expected"), [(-5, None), (0, 0.0), (2.5, 2.5)])
def test_a_negative_session_expiration_time_is_an_error(write_project, value,
                                                        expected) -> None:
    project, problems = loaded(write_project, f"""
        version: "3.1"
        intents: [greet]
        session_config:
          session_expiration_time: {value}
        """)
    if expected is None:
        assert found(problems) == [
            ("error", 4, "session_expiration_time must be 0 or more minutes, not -5")]
        assert "session_expiration_time" in problems[0].message
        # the default, not "never expire" as before
        assert project.domain.session_config.session_expiration_time == 60.0
    else:
        assert problems == []
        assert project.domain.session_config.session_expiration_time == expected


def test_session_settings_left_empty_take_rasas_defaults(write_project) -> None:
    # Rasa's schema lets both be null and then uses 60 minutes and carry-over
    project, problems = loaded(write_project, """
        version: "3.1"
        intents: [greet]
        session_config:
          session_expiration_time:
          carry_over_slots_to_new_session:
        """)
    assert problems == []
    config = project.domain.session_config
    assert (config.session_expiration_time, config.carry_over_slots_to_new_session) == (60.0,
                                                                                        True)


def test_buttons_that_are_no_list_of_mappings_are_errors_at_their_line(write_project) -> None:
    # before: no report, then the console stopped on `.get` of a string and the REST
    # channel sent the text "/greet" as six buttons, one letter each
    _, problems = loaded(write_project, """
        version: "3.1"
        responses:
          utter_a:
          - text: a
            buttons: "/greet"
          utter_b:
          - text: b
            quick_replies: {title: a, payload: /b}
          utter_c:
          - text: c
            buttons: ["plain text", 42, {title: ok, payload: /affirm}]
        """)
    assert found(problems) == [
        ("error", 5, "`buttons` of response 'utter_a' must be a list, not text"),
        ("error", 8, "`quick_replies` of response 'utter_b' must be a list, not mapping"),
        ("error", 11, "a button of response 'utter_c' must be a mapping, not text"),
        ("error", 11, "a button of response 'utter_c' must be a mapping, not number"),
    ]


def test_response_texts_that_yaml_reads_as_other_things_are_errors(write_project) -> None:
    # a date stopped training after NLU had trained (not JSON serializable); a number was
    # sent as a JSON number and its stored bot event no longer read; Rasa's schema: str
    project, problems = loaded(write_project, """
        version: "3.1"
        responses:
          utter_a:
          - text: 2024-01-01
          - text: 42
          - text: fine
            image: 5
          - text: ok
            custom: "a string"
          - text: "ok"
            buttons:
            - title: true
              payload: /affirm
        """)
    assert found(problems) == [
        ("error", 4, "`text` of variation 1 of response 'utter_a' must be text, not a date "
                     "(2024-01-01)"),
        ("error", 5, "`text` of variation 2 of response 'utter_a' must be text, not a number "
                     "(42)"),
        ("error", 7, "`image` of variation 3 of response 'utter_a' must be text, not a "
                     "number (5)"),
        ("error", 9, "`custom` of variation 4 of response 'utter_a' must be a mapping, not "
                     "text"),
        ("error", 12, "`title` of button 1 of response 'utter_a' must be text, not a boolean "
                      "(True)"),
    ]
    assert problems[0].hint.startswith('put it in quotes (`text: "..."`)')
    # the broken variations are left out
    assert [v["text"] for v in project.domain.responses["utter_a"].variations] == ["ok"]


def test_list_items_run_together_by_indentation_are_one_error_at_their_line(
        write_project) -> None:
    # YAML reads `- faq` and a deeper `- ask_takeaway` as the one name
    # `faq - ask_takeaway`: every use of either name was reported missing elsewhere
    project, problems = loaded(write_project, """
        version: "3.1"
        intents:
          - greet
          - faq
            - ask_takeaway
        entities:
          - party_size
            - time
        """)
    assert found(problems) == [
        ("error", 4, "intent 'faq - ask_takeaway' looks like 2 list items run together: "
                     "`- ask_takeaway` is indented deeper than the `- faq` above it, so YAML "
                     "reads one name"),
        ("error", 7, "entity 'party_size - time' looks like 2 list items run together: "
                     "`- time` is indented deeper than the `- party_size` above it, so YAML "
                     "reads one name"),
    ]
    # both names are declared, so nothing else is reported about them
    assert {"greet", "faq", "ask_takeaway"} <= set(project.domain.intents)
    assert set(project.domain.entities) == {"party_size", "time"}


def test_a_name_with_a_dash_written_on_one_line_is_a_name(write_project) -> None:
    project, problems = loaded(write_project, """
        version: "3.1"
        intents:
          - "ask - hours"
        """)
    assert problems == []
    assert list(project.domain.intents) == ["ask - hours"]


def test_a_models_stored_domain_is_read_as_it_was_trained() -> None:
    from dialogflowlite.dialogue.domain_json import domain_from_dict

    # a model trained before these checks has such values; it must still load (it
    # was refused with "retrain the model"), its numbers sent as text
    domain = domain_from_dict({
        "intents": ["menu", "faq - ask_x"],
        "responses": {"utter_menu": [{"text": 42, "buttons": [
            {"title": 1, "payload": "/menu"}]}]}})
    assert list(domain.intents) == ["menu", "faq - ask_x"]
    assert domain.responses["utter_menu"].variations == [
        {"text": "42", "buttons": [{"title": "1", "payload": "/menu"}]}]


def test_an_empty_use_entities_is_none_and_text_is_an_error(write_project) -> None:
    project, problems = loaded(write_project, """
        version: "3.1"
        intents:
          - goodbye: {use_entities: }
          - thanks: {use_entities: party_size}
          - greet: {use_entities: false}
        entities: [party_size]
        """)
    # Rasa reads an empty use_entities as none of them ("this covers False, None and [])
    assert project.domain.intents["goodbye"].use_entities == []
    assert project.domain.intents["greet"].use_entities is False
    assert found(problems) == [
        ("error", 4, "use_entities of intent 'thanks' must be true, false or a list of "
                     "entity names, not 'party_size'")]
    assert problems[0].hint == "write `use_entities: [party_size]`"


def test_categorical_values_given_as_a_mapping_are_an_error(write_project) -> None:
    project, problems = loaded(write_project, """
        version: "3.1"
        slots:
          size:
            type: categorical
            values: {small: 1, large: 2}
            mappings: [{type: custom}]
        """)
    assert ("error", 5, "values of slot 'size' must be a list, not a mapping") in \
        found(problems)
    # before: one value, the mapping itself
    assert project.domain.slots["size"].values == []


def test_3x_mappings_in_a_2_0_domain_get_no_auto_fill_beside_them(write_project) -> None:
    # before: 2.0's auto-fill added an unconditioned from_entity mapping, which filled
    # the slot while the form asked for another one, past the author's conditions
    project, problems = loaded(write_project, """
        version: "2.0"
        entities: [party_size]
        slots:
          party_size:
            type: text
            mappings:
            - type: from_entity
              entity: party_size
              conditions:
              - active_loop: table_form
                requested_slot: party_size
          plain:
            type: text
        forms:
          table_form:
            required_slots: [party_size]
        """)
    mappings = project.domain.slots["party_size"].mappings
    assert len(mappings) == 1 and mappings[0].conditions
    [warning] = [p for p in problems if "party_size" in p.message]
    assert warning.severity == "warning" and warning.position.line == 6
    assert "`mappings:`, which are 3.x, in a domain of version 2.x" in warning.message


def test_a_misspelt_slot_type_is_an_error_and_a_custom_class_a_warning(write_project) -> None:
    project, problems = loaded(write_project, """
        version: "3.1"
        slots:
          size:
            type: floot
            influence_conversation: false
            mappings: [{type: custom}]
          mood:
            type: addons.slots.MoodSlot
            influence_conversation: false
            mappings: [{type: custom}]
          kept:
            type: rasa.shared.core.slots.TextSlot
            mappings: [{type: custom}]
        """)
    assert found(problems) == [
        ("error", 4, "slot 'size' has unknown type 'floot'"),
        ("warning", 8, "slot 'mood' has the custom type 'addons.slots.MoodSlot', a Python "
                       "class that is not run here; it is treated as 'any'"),
    ]
    assert problems[0].hint == "did you mean 'float'?"
    assert project.domain.slots["kept"].type == "text"


def test_a_misspelt_required_slots_in_a_3x_form_is_one_error_naming_it(write_project) -> None:
    # before: "form 'f' requires slot 'requird_slots' that the domain lacks", and more
    project, problems = loaded(write_project, """
        version: "3.1"
        slots:
          time: {type: text, mappings: [{type: from_text}]}
        forms:
          f:
            requird_slots: [time]
        responses:
          utter_ask_time: [{text: when?}]
        """)
    assert found(problems) == [
        ("error", 6, "form 'f' has no required_slots, and 'requird_slots' is no key of a 3.x "
                     "form")]
    assert problems[0].hint == "did you mean 'required_slots'?"
    assert project.domain.forms["f"].required_slots == []


def test_an_action_entry_that_is_a_mapping_of_text_is_an_error(write_project) -> None:
    project, problems = loaded(write_project, """
        version: "3.1"
        actions:
          - {name: action_y}
          - action_z: {send_domain: true}
          - action_w:
        """)
    assert found(problems) == [
        ("error", 3, "action entry {'name': 'action_y'} is neither a name nor "
                     "`action_name: {send_domain: true}`")]
    assert problems[0].hint == "write `- action_y`"
    assert project.domain.custom_actions == ["action_z", "action_w"]
    # entries of no or several keys are no names either (and do not stop the reader)
    _, problems = loaded(write_project, """
        version: "3.1"
        actions:
          - {}
          - {action_a: null, action_b: null}
        """)
    assert [(p.severity, p.position.line, p.message.endswith(" is not a name"))
            for p in problems] == [("error", 3, True), ("error", 4, True)]

