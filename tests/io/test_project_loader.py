"""The project loader: format 2.0 and 3.x, domain folders, data files anywhere, NLU extras."""

from __future__ import annotations

import pytest
from story_data import domain_yaml

from dialogflowlite.errors import ProjectNotFoundError
from dialogflowlite.io.loader import load_project
from dialogflowlite.io.validate import validate_project
from dialogflowlite.shared.domain import MappingCondition
from dialogflowlite.shared.stories import (
    ActionStep,
    ActiveLoopStep,
    CheckpointStep,
    OrStep,
    SlotStep,
    UserStep,
)

DOMAIN_2 = """
version: "2.0"
config:
  store_entities_as_slots: true
intents:
  - request_table:
      use_entities: []
  - inform
  - affirm
entities:
  - cuisine
  - number
  - seating
slots:
  cuisine:
    type: rasa.shared.core.slots.TextSlot
    influence_conversation: false
  num_people:
    type: rasa.shared.core.slots.FloatSlot
    auto_fill: false
  seating:
    type: text
    auto_fill: false
  note:
    type: unfeaturized
responses:
  utter_ask_cuisine: [{text: Which cuisine?}]
  utter_ask_num_people: [{text: For how many?}]
  utter_ask_seating: [{text: Outside?}]
forms:
  table_form:
    required_slots:
      num_people:
        - type: from_entity
          entity: number
          intent: [inform, request_table]
      seating:
        - type: from_entity
          entity: seating
        - type: from_intent
          intent: affirm
          value: true
"""


def test_format_2_slot_types_auto_fill_and_form_mappings(write_project) -> None:
    project = load_project(write_project(domain=DOMAIN_2), strict=False)
    assert project.problems == []
    domain = project.domain
    assert domain.version == "2.0"
    # Class paths and the old names become slot types; unfeaturized slots never influence.
    assert {n: s.type for n, s in domain.slots.items() if s.declared} == {
        "cuisine": "text",
        "num_people": "float",
        "seating": "text",
        "note": "any",
    }
    assert not domain.slots["note"].influence_conversation
    assert not domain.slots["cuisine"].influence_conversation
    assert domain.slots["num_people"].influence_conversation
    # auto_fill (on by default) fills `cuisine` from the entity of the same name...
    [auto] = domain.slots["cuisine"].mappings
    assert (auto.type, auto.entity, auto.conditions) == ("from_entity", "cuisine", [])
    # ...but not a slot with auto_fill: false, which only its form mappings fill.
    assert domain.forms["table_form"].required_slots == ["num_people", "seating"]
    [number] = domain.slots["num_people"].mappings
    assert (number.entity, number.intent) == ("number", ["inform", "request_table"])
    # from_entity mappings of a 2.0 form apply whenever the form is active,
    # other mappings only while their slot is requested.
    assert number.conditions == [MappingCondition("table_form", None)]
    entity_mapping, intent_mapping = domain.slots["seating"].mappings
    assert entity_mapping.conditions == [MappingCondition("table_form", None)]
    assert (intent_mapping.type, intent_mapping.value) == ("from_intent", True)
    assert intent_mapping.conditions == [MappingCondition("table_form", "seating")]
    # Forms bring the requested_slot slot, which the counts leave out.
    assert "requested_slot" in domain.slots
    assert project.counts()["slots"] == 4
    assert domain.intents["request_table"].use_entities == []


def test_format_2_auto_fill_also_fills_a_slot_its_form_maps_from_the_entity(
    write_project,
) -> None:
    # Rasa 2 filled the slot from its entity in any message, form or not.
    domain = """
        version: "2.0"
        intents: [inform]
        entities: [city]
        slots:
          city: {type: text}
        responses:
          utter_ask_city: [{text: Where?}]
        forms:
          city_form:
            required_slots:
              city: [{type: from_entity, entity: city}]
    """
    project = load_project(write_project(domain=domain), strict=False)
    in_form, everywhere = project.domain.slots["city"].mappings
    assert in_form.conditions == [MappingCondition("city_form", None)]
    assert (everywhere.type, everywhere.entity, everywhere.conditions) == (
        "from_entity", "city", [])


def test_format_2_auto_fill_needs_store_entities_as_slots(write_project) -> None:
    domain = DOMAIN_2.replace("store_entities_as_slots: true", "store_entities_as_slots: false")
    project = load_project(write_project(domain=domain), strict=False)
    assert project.domain.slots["cuisine"].mappings == []


def test_format_2_form_with_mappings_directly_under_its_name(write_project) -> None:
    domain = """
        version: "2.0"
        intents: [inform]
        entities: [city]
        slots:
          city: {type: text, auto_fill: false}
        responses:
          utter_ask_city: [{text: Where?}]
        forms:
          city_form:
            city:
              - type: from_text
        """
    project = load_project(write_project(domain=domain), strict=False)
    assert project.problems == []
    assert project.domain.forms["city_form"].required_slots == ["city"]
    [mapping] = project.domain.slots["city"].mappings
    assert mapping.type == "from_text"
    assert mapping.conditions == [MappingCondition("city_form", "city")]


def test_format_3_slot_mappings_with_conditions(write_project) -> None:
    domain = """
        version: "3.1"
        intents: [inform, deny]
        entities: [city]
        slots:
          city:
            type: text
            mappings:
              - type: from_entity
                entity: city
                conditions:
                  - active_loop: city_form
                    requested_slot: city
              - type: from_intent
                intent: deny
                value: none
          note:
            type: text
        forms:
          city_form:
            required_slots: [city]
        """
    project = load_project(write_project(domain=domain), strict=False)
    entity_mapping, intent_mapping = project.domain.slots["city"].mappings
    assert entity_mapping.conditions == [MappingCondition("city_form", "city")]
    assert (intent_mapping.type, intent_mapping.intent, intent_mapping.value) == (
        "from_intent",
        ["deny"],
        "none",
    )
    # 3.x fills no slot implicitly: a slot without mappings is worth a warning.
    [problem] = project.problems
    assert problem.severity == "warning"
    assert problem.message.startswith("slot 'note' has no mappings")
    assert problem.position.line == 16


def test_domain_folder_files_are_merged(write_project) -> None:
    root = write_project(
        files={
            "domain/intents.yml": """
            version: "3.1"
            intents: [greet, goodbye]
            """,
            "domain/nested/responses.yaml": """
            version: "3.1"
            intents: [thank]
            responses:
              utter_greet: [{text: Hi}]
              utter_goodbye: [{text: Bye}]
            """,
            "domain/slots.yml": """
            version: "3.1"
            entities: [name]
            slots:
              name:
                type: text
                mappings: [{type: from_entity, entity: name}]
            """,
        }
    )
    project = load_project(root)
    assert list(project.domain.intents) == ["greet", "goodbye", "thank"]
    assert sorted(project.domain.responses) == ["utter_goodbye", "utter_greet"]
    assert list(project.domain.slots) == ["name"]
    assert project.domain.intents["thank"].position.file == str(
        root / "domain/nested/responses.yaml"
    )


def test_anything_declared_twice_is_a_warning_naming_both_places(write_project) -> None:
    root = write_project(
        files={
            "domain/a.yml": """
            version: "3.1"
            intents: [greet]
            entities: [city, city]
            slots:
              city: {type: text, mappings: [{type: from_entity, entity: city}]}
            responses:
              utter_greet: [{text: Hello from a}]
            forms:
              trip: {required_slots: [city]}
            """,
            "domain/b.yml": """
            version: "3.1"
            intents: [greet]
            slots:
              city: {type: text, influence_conversation: false, mappings: []}
            responses:
              utter_greet: [{text: Hello from b}]
            forms:
              trip: {required_slots: []}
            """,
        }
    )
    project = load_project(root, strict=False)
    twice = sorted(p.message.split(" is declared")[0] for p in project.problems
                   if "declared twice" in p.message)
    assert twice == ["entity 'city'", "form 'trip'", "intent 'greet'", "response 'utter_greet'",
                     "slot 'city'"]
    [response] = [p for p in project.problems if p.message.startswith("response")]
    assert response.position.file == str(root / "domain/b.yml")
    assert f"(also at {root / 'domain/a.yml'}:" in response.message
    # the declaration read last is the one used, as the warnings say
    assert project.domain.responses["utter_greet"].variations == [{"text": "Hello from b"}]
    assert project.domain.forms["trip"].required_slots == []


def test_data_files_with_any_names_in_nested_folders(write_project) -> None:
    root = write_project(
        domain=domain_yaml(["greet", "goodbye"], utter_greet="Hi", utter_goodbye="Bye"),
        files={
            "data/a/b/c/whatever.yaml": """
                version: "3.1"
                nlu:
                  - intent: greet
                    examples: |
                      - hello
                stories:
                  - story: greet
                    steps:
                      - intent: greet
                      - action: utter_greet
                """,
            "data/zz-mixed.yml": """
                nlu:
                  - intent: goodbye
                    examples: |
                      - bye
                rules:
                  - rule: bye
                    steps:
                      - intent: goodbye
                      - action: utter_goodbye
                """,
            "data/.hidden/ignored.yml": "nlu: [{intent: greet, examples: '- ignored'}]\n",
            "data/notes.txt": "not data\n",
        },
    )
    project = load_project(root)
    assert sorted(m.text for m in project.nlu.examples) == ["bye", "hello"]
    assert [s.name for s in project.stories] == ["greet"]
    assert [r.name for r in project.rules] == ["bye"]


def test_markdown_training_data_is_read_with_a_deprecation_warning(write_project) -> None:
    root = write_project(
        domain='version: "3.1"\nintents: [greet]\n',
        files={"data/nlu.md": "## intent:greet\n- hi\n", "data/README.md": "# About\n* one\n"},
    )
    project = load_project(root, strict=False)
    [problem] = project.problems
    assert problem.severity == "warning"
    assert problem.message == (
        "nlu.md holds Markdown NLU data, a deprecated format: it is read, but convert it"
    )
    assert problem.hint == (
        "`dialogflowlite data convert nlu --data data/nlu.md --out data/nlu.yml`, "
        "then delete data/nlu.md"
    )
    assert problem.position.file == str(root / "data/nlu.md")
    assert [(m.text, m.intent) for m in project.nlu.examples] == [("hi", "greet")]
    assert root / "data/README.md" not in project.files


def test_retrieval_intents_and_responses_in_data_files(write_project) -> None:
    root = write_project(
        domain="""
        version: "3.1"
        intents: [faq, greet]
        responses:
          utter_greet: [{text: Hi}]
        """,
        nlu="""
        version: "3.1"
        nlu:
          - intent: faq/ask_hours
            examples: |
              - when are you open
              - opening hours?
          - intent: faq/ask_price
            examples: |
              - how much is it
          - intent: greet
            examples: |
              - hi
        responses:
          utter_faq/ask_hours:
            - text: From nine to five.
          utter_faq/ask_price:
            - text: Ten euros.
            - text: It costs ten euros.
        """,
    )
    project = load_project(root)
    assert project.nlu.retrieval_intents == ["faq"]
    assert project.nlu.intents == ["faq", "greet"]
    assert project.nlu.full_intents == ["faq/ask_hours", "faq/ask_price", "greet"]
    assert project.domain.retrieval_intents == ["faq"]
    assert "utter_faq" in project.domain.action_names
    assert len(project.domain.responses["utter_faq/ask_price"].variations) == 2
    assert project.domain.responses["utter_faq/ask_hours"].position.file == str(
        root / "data/nlu.yml"
    )
    assert project.counts()["responses"] == 3


def test_synonyms_regexes_and_lookup_tables(write_project) -> None:
    root = write_project(
        domain="""
        version: "3.1"
        intents: [inform]
        entities: [city, zipcode]
        """,
        nlu="""
        version: "3.1"
        nlu:
          - intent: inform
            examples: |
              - to [NYC](city:New York)
              - zip [10115](zipcode)
          - synonym: Berlin
            examples: |
              - berlin
              - BER
          - regex: zipcode
            examples: |
              - \\b\\d{5}\\b
              - DE-\\d{5}
          - lookup: city
            examples: |
              - Paris
              - Tokyo
              - São Paulo
        """,
    )
    project = load_project(root)
    nlu = project.nlu
    assert [(s.value, s.variants) for s in nlu.synonyms] == [("Berlin", ["berlin", "BER"])]
    assert [(r.name, r.pattern) for r in nlu.regexes] == [
        ("zipcode", r"\b\d{5}\b"),
        ("zipcode", r"DE-\d{5}"),
    ]
    assert [(t.name, t.elements) for t in nlu.lookups] == [
        ("city", ["Paris", "Tokyo", "São Paulo"])
    ]
    assert nlu.synonym_map() == {"nyc": "New York", "berlin": "Berlin", "ber": "Berlin"}
    counts = project.counts()
    assert (counts["synonyms"], counts["regexes"], counts["lookups"]) == (1, 2, 1)
    assert nlu.regexes[1].position.line == 14


def test_stories_rules_and_test_stories_steps(write_project) -> None:
    root = write_project(
        domain="""
        version: "3.1"
        intents: [greet, inform]
        entities: [city]
        slots:
          city: {type: text, mappings: [{type: from_entity, entity: city}]}
        responses:
          utter_greet: [{text: Hi}]
        """,
        stories="""
        version: "3.1"
        stories:
          - story: branching
            steps:
              - checkpoint: start
              - or:
                  - intent: greet
                  - intent: inform
                    entities:
                      - city: Paris
              - slot_was_set:
                  - city: Paris
              - action: utter_greet
        """,
        rules="""
        version: "3.1"
        rules:
          - rule: greet once
            conversation_start: true
            wait_for_user_input: false
            condition:
              - slot_was_set:
                  - city
            steps:
              - intent: greet
              - action: utter_greet
        """,
        tests="""
        stories:
          - story: end to end
            steps:
              - user: |
                  I live in [Paris](city)
                intent: inform
              - bot: Nice!
        """,
    )
    project = load_project(root)
    [story] = project.stories
    checkpoint, either, slots, action = story.steps
    assert isinstance(checkpoint, CheckpointStep) and checkpoint.name == "start"
    assert isinstance(either, OrStep)
    assert [a.intent for a in either.alternatives] == ["greet", "inform"]
    assert [(e.entity, e.value) for e in either.alternatives[1].entities] == [("city", "Paris")]
    assert isinstance(slots, SlotStep) and slots.slots == {"city": "Paris"}
    assert isinstance(action, ActionStep) and action.name == "utter_greet"
    [rule] = project.rules
    assert rule.kind == "rule" and rule.conversation_start and not rule.wait_for_user_input
    [condition] = rule.condition
    assert isinstance(condition, SlotStep) and list(condition.slots) == ["city"]
    [test] = project.test_stories
    user, bot = test.steps
    assert isinstance(user, UserStep)
    assert (user.text, user.intent) == ("I live in Paris", "inform")
    assert [(e.entity, e.start, e.end) for e in user.entities] == [("city", 10, 15)]
    assert bot.bot_text == "Nice!"
    assert test.is_end_to_end


def test_nlu_under_tests_is_test_data(write_project) -> None:
    root = write_project(
        domain='version: "3.1"\nintents: [greet]\n',
        nlu='version: "3.1"\nnlu:\n  - intent: greet\n    examples: |\n      - hi\n',
        files={"tests/nlu_test.yml": "nlu:\n  - intent: greet\n    examples: |\n      - hey\n"},
    )
    project = load_project(root)
    assert [m.text for m in project.nlu.examples] == ["hi"]
    assert [m.text for m in project.test_nlu.examples] == ["hey"]


def test_unsupported_version_and_non_mapping_data_file(write_project) -> None:
    root = write_project(
        domain='version: "1.0"\nintents: [greet]\n',
        files={"data/list.yml": "- just\n- a list\n"},
    )
    problems = load_project(root, strict=False).problems
    assert [(p.severity, p.message) for p in problems] == [
        ("error", "unsupported format version '1.0'"),
        (
            "error",
            "a data file must be a mapping with `nlu:`, `stories:`, `rules:` or `responses:`",
        ),
    ]
    assert problems[0].position.line == 1


def test_missing_project_and_missing_domain(tmp_path, write_project) -> None:
    with pytest.raises(ProjectNotFoundError):
        load_project(tmp_path / "nowhere")
    root = write_project(nlu="nlu: []\n")
    [problem] = load_project(root, strict=False).problems
    assert problem.message == "the project has no domain"


def test_responses_in_a_data_file_leave_the_domain_version_alone(write_project) -> None:
    root = write_project(
        domain='version: "2.0"\nintents: [greet]\nresponses:\n',
        files={"data/responses.yml": 'version: "3.1"\nresponses:\n  utter_hi: [{text: Hi}]\n'},
    )
    project = load_project(root)
    assert project.domain.version == "2.0"
    assert list(project.domain.responses) == ["utter_hi"]
    assert project.domain.position.file == str(root / "domain.yml")


def test_wrong_types_are_named_in_yaml_words(write_project) -> None:
    root = write_project(
        domain="""
        version: "3.1"
        intents: [greet]
        slots:
          size:
            type: float
            max_value: large
            mappings: [{type: custom}]
        entities: {city: {}}
        """,
        stories='stories:\n  - story: s\n    steps: "greet then bye"\n',
    )
    problems = load_project(root, strict=False).problems
    assert [(p.position.line, p.message) for p in problems] == [
        (6, "max_value of slot 'size' must be a number, not 'large'"),
        (8, "'entities' must be a list, not mapping"),
        (3, "steps of 's' must be a list, not text"),
    ]


def test_true_false_settings_written_as_words_are_read_by_their_meaning(write_project) -> None:
    # YAML 1.2 reads `no`, `off` and quoted words as text, which Python calls true
    root = write_project(
        domain="""
        version: "3.1"
        intents: [greet]
        entities:
          - city: {influence_conversation: no}
        slots:
          kind:
            type: text
            influence_conversation: "false"
            mappings: []
          mood:
            type: bool
            influence_conversation: maybe
            mappings: []
        session_config:
          carry_over_slots_to_new_session: off
        """,
        files={"data/rules.yml": """
        version: "3.1"
        rules:
        - rule: hello
          conversation_start: yes
          wait_for_user_input: "no"
          steps:
          - intent: greet
          - action: utter_greet
        """},
    )
    project = load_project(root, strict=False)
    domain = project.domain
    assert domain.entities["city"].influence_conversation is False
    assert domain.slots["kind"].influence_conversation is False
    assert domain.slots["mood"].influence_conversation is True  # not understood: the default
    assert domain.session_config.carry_over_slots_to_new_session is False
    (rule,) = project.rules
    assert (rule.conversation_start, rule.wait_for_user_input) == (True, False)
    found = [p.message for p in project.problems if "true" in p.message or "read as" in p.message]
    assert len(found) == 6
    assert "influence_conversation of slot 'mood' must be true or false, not 'maybe'" in found[2]


def test_block_lines_without_a_dash_are_read_with_a_warning(write_project) -> None:
    root = write_project(
        domain="""
        version: "3.1"
        intents: [inform]
        """,
        nlu="""
        version: "3.1"
        nlu:
          - intent: inform
            examples: |
              - I want to go to Oslo
                tomorrow morning
              - to Rome
          - lookup: city
            examples: data/cities.txt
        """,
    )
    project = load_project(root, strict=False)
    assert [m.text for m in project.nlu.examples] == [
        "I want to go to Oslo", "tomorrow morning", "to Rome"]
    assert project.nlu.lookups[0].elements == ["data/cities.txt"]
    found = [p for p in project.problems if "does not start with" in p.message]
    assert [(p.position.line, p.message.split(" of ")[0]) for p in found] == [
        (6, "line 'tomorrow morning'"), (9, "line 'data/cities.txt'")]
    assert "Markdown and JSON" in found[1].hint


def test_a_step_s_entities_or_action_of_the_wrong_shape(write_project) -> None:
    root = write_project(
        domain="""
        version: "3.1"
        intents: [greet]
        entities: [city]
        responses:
          utter_greet: [{text: Hi}]
        """,
        stories="""
        version: "3.1"
        stories:
        - story: odd
          steps:
          - intent: greet
            entities: city
          - action: [utter_greet]
        """,
    )
    project = load_project(root, strict=False)
    (story,) = project.stories
    # one entity named city, not four named c, i, t and y
    assert [e.entity for e in story.steps[0].entities] == ["city"]
    found = {p.severity: p.message for p in project.problems}
    assert "are not a list; read as one entity" in found["warning"]
    assert "must be one name, not a list" in found["error"]


def test_a_button_without_a_title_or_payload_is_a_warning(write_project) -> None:
    root = write_project(domain="""
        version: "3.1"
        intents: [greet]
        responses:
          utter_pick:
          - text: Pick one
            buttons:
            - title: one
            - payload: /greet
            - {title: three, payload: /greet}
        """)
    project = load_project(root, strict=False)
    found = [p.message for p in project.problems if "button" in p.message]
    assert found == ["button 'one' of response 'utter_pick' has no payload",
                     "button '/greet' of response 'utter_pick' has no title"]
    # the response keeps its buttons as written
    assert len(project.domain.responses["utter_pick"].variations[0]["buttons"]) == 3


def test_rasa_1_pipeline_templates_and_graph_recipes_are_named(write_project) -> None:
    root = write_project(files={"config.yml": """
        recipe: graph.v1
        language: en
        pipeline: supervised_embeddings
        policies:
        - name: RulePolicy
        """})
    project = load_project(root, strict=False)
    found = {p.severity: p for p in project.problems if p.position.file.endswith("config.yml")}
    assert "a Rasa 1 template name" in found["error"].message
    assert "- name: WhitespaceTokenizer" in found["error"].hint
    assert "recipe 'graph.v1' is not read here" in found["warning"].message
    assert [c.name for c in project.config.policies] == ["RulePolicy"]
    # Rasa 3's own recipe is the one this framework reads: no warning
    root = write_project(files={"config.yml": "recipe: default.v1\nlanguage: en\n"})
    assert not [p for p in load_project(root, strict=False).problems if "recipe" in p.message]


def test_a_slot_s_initial_value_is_checked_against_its_type(write_project) -> None:
    root = write_project(domain="""
        version: "3.1"
        intents: [greet]
        slots:
          amount: {type: float, initial_value: abc, mappings: []}
          quoted: {type: float, initial_value: "2.5", mappings: []}
          size: {type: categorical, values: [small, large], initial_value: huge, mappings: []}
          paid: {type: bool, initial_value: "no", mappings: []}
          items: {type: list, initial_value: pen, mappings: []}
        """)
    project = load_project(root, strict=False)
    slots = project.domain.slots
    assert slots["amount"].initial_value is None  # a conversation never starts from "abc"
    assert slots["quoted"].initial_value == 2.5
    assert slots["paid"].initial_value is False and slots["items"].initial_value == ["pen"]
    messages = [p.message for p in project.problems if "initial_value" in p.message]
    assert messages == [
        "initial_value of float slot 'amount' must be a number, not 'abc'",
        # float slots range from 0 to 1 unless they say otherwise, as in Rasa
        "initial_value 2.5 of float slot 'quoted' is outside its range 0 to 1; the policies "
        "read it as 1",
        "initial_value 'huge' of categorical slot 'size' is not one of its values",
        "initial_value of slot 'paid' is the text 'no', read as false",
        "initial_value of list slot 'items' is not a list; read as a list of that one value",
    ]
    assert [p.severity for p in project.problems if "initial_value" in p.message] == [
        "error", "warning", "warning", "warning", "warning"]


def test_a_bool_slot_s_initial_value_is_read_as_rasa_reads_it(write_project) -> None:
    root = write_project(domain="""
        version: "3.1"
        intents: [greet]
        slots:
          one: {type: bool, initial_value: 1, mappings: []}
          quoted_one: {type: bool, initial_value: "1", mappings: []}
          shouted: {type: bool, initial_value: "TRUE", mappings: []}
          two: {type: bool, initial_value: 2, mappings: []}
          maybe: {type: bool, initial_value: maybe, mappings: []}
        """)
    project = load_project(root, strict=False)
    slots = project.domain.slots
    assert [slots[name].initial_value for name in ("one", "quoted_one", "shouted", "two")] \
        == [True, True, True, False]
    # no truth value: Rasa's policies see the slot as not set, so it starts empty
    assert slots["maybe"].initial_value is None
    found = [(p.severity, p.message, p.position.line) for p in project.problems
             if "initial_value" in p.message]
    assert found == [
        ("warning", "initial_value 2 of bool slot 'two' is read as false, as only 1 is true",
         7),
        ("warning", "initial_value of bool slot 'maybe' must be true or false, not 'maybe'; "
                    "the slot starts empty", 8),
    ]


def test_language_must_be_a_language_code(write_project) -> None:
    def problems(language: str) -> list:
        root = write_project(files={"config.yml": f"language: {language}\n"})
        project = load_project(root, strict=False)
        return project, [(p.severity, p.message, p.position.line) for p in project.problems
                         if "language" in p.message]

    for good in ("en", "de", "zh", "pt-BR", "zh_Hant", "xx"):
        project, found = problems(good)
        assert found == [] and project.config.language == good
    project, found = problems("english")
    assert found == [("warning", "language 'english' is not a language code", 1)]
    assert project.config.language == "english"  # kept: Rasa trains such a config
    project, found = problems("[en, de]")
    assert found == [("error", "language must be a language code, not ['en', 'de']", 1)]
    assert project.config.language == "en"


STEP_DOMAIN = """
version: "3.1"
intents: [greet, thanks]
entities: [city]
slots:
  time: {type: text, mappings: [{type: custom}]}
responses:
  utter_greet: [{text: Hi}]
  utter_noworries: [{text: Any time}]
forms:
  table_form: {required_slots: [time]}
"""


def loader_errors(project) -> list[tuple[int | None, str]]:
    return [(p.position.line, p.message) for p in project.problems if p.is_error]


def test_a_rule_condition_holds_only_loops_and_slots_else_the_rule_is_left_out(
        write_project) -> None:
    root = write_project(domain=STEP_DOMAIN, rules="""
        rules:
        - rule: c4
          condition:
          - or:
            - slot_was_set: [{time: null}]
            - active_loop: table_form
          steps: [{intent: greet}, {action: utter_greet}]
        - rule: c5
          condition:
          - intent: greet
          - action: utter_greet
          steps: [{intent: thanks}, {action: utter_noworries}]
        - rule: c2
          condition: {active_loop: table_form}
          steps: [{intent: thanks}, {action: utter_noworries}]
        - rule: c6
          condition:
          - active_loop
          steps: [{intent: thanks}, {action: utter_noworries}]
        - rule: fine
          condition:
          - active_loop: table_form
          - slot_was_set: [{time: null}]
          steps: [{intent: thanks}, {action: utter_noworries}]
        """)
    project = load_project(root, strict=False)
    only = ("a condition holds only `active_loop` and `slot_was_set` steps, so the rule "
            "is left out")
    assert loader_errors(project) == [
        (4, f"`or` in the condition of rule 'c4': {only}"),
        (10, f"`intent` in the condition of rule 'c5': {only}"),
        (11, f"`action` in the condition of rule 'c5': {only}"),
        # the field at fault is named: `condition`, not `steps`
        (14, "condition of rule 'c2' must be a list, not mapping"),
        (18, "a step of 'c6' must be a mapping, not text"),
    ]
    assert [p.position.file for p in project.problems] == [str(root / "data/rules.yml")] * 5
    # training never sees them, so it cannot crash on them
    [rule] = project.rules
    assert rule.name == "fine"
    assert [type(s) for s in rule.condition] == [ActiveLoopStep, SlotStep]


def test_a_step_of_two_kinds_or_with_an_empty_name_is_an_error(write_project) -> None:
    root = write_project(domain=STEP_DOMAIN, stories="""
        stories:
        - story: s
          steps:
          - intent: thanks
            action: utter_noworries
          - action: utter_greet
            bot: Hi
          - slot_was_set: [{time: "8"}]
            active_loop: table_form
          - action:
          - intent: ""
          - bot:
          - checkpoint:
          - user: hi [Oslo](city)
            intent: greet
            entities: [city]
          - checkpoint: joined
            slot_was_set: [{time: "8"}]
          - action: utter_greet
        """)
    project = load_project(root, strict=False)
    assert loader_errors(project) == [
        (4, "a step of 's' has `intent` and `action`, but one step is only one of them"),
        (6, "a step of 's' has `action` and `bot`, but one step is only one of them"),
        (8, "a step of 's' has `slot_was_set` and `active_loop`, but one step is only one of "
            "them"),
        (10, "a step of 's' has an empty `action`"),
        (11, "a step of 's' has an empty `intent`"),
        (12, "a step of 's' has an empty `bot`"),
        (13, "a step of 's' has an empty `checkpoint`"),
    ]
    [first] = [p for p in project.problems if p.position.line == 4]
    assert first.hint == "write one step for each: `- intent: ...`, then `- action: ...`"
    # an end-to-end user turn (intent, text and entities) and a checkpoint with its
    # slot conditions are one step each; nothing else is kept, so no action runs unnamed
    [story] = project.stories
    user, checkpoint, action = story.steps
    assert (user.intent, user.text) == ("greet", "hi Oslo")
    assert (checkpoint.name, checkpoint.slot_conditions) == ("joined", {"time": "8"})
    assert action.name == "utter_greet"


def test_a_checkpoint_in_a_rule_is_an_error(write_project) -> None:
    root = write_project(domain=STEP_DOMAIN, rules="""
        rules:
        - rule: r7
          steps:
          - intent: thanks
          - action: utter_noworries
          - checkpoint: later
        """)
    project = load_project(root, strict=False)
    assert loader_errors(project) == [(6, "rule 'r7' has a checkpoint, but rules cannot have any")]
    [rule] = project.rules
    assert not any(isinstance(s, CheckpointStep) for s in rule.steps)


def test_a_from_intent_mapping_with_value_null_is_kept_with_a_warning(write_project) -> None:
    root = write_project(domain="""
        version: "3.1"
        intents: [deny, affirm, book]
        slots:
          confirmed:
            type: any
            mappings:
            - type: from_intent
              intent: deny
              value: null
            - type: from_intent
              intent: affirm
              value: true
          city:
            type: any
            mappings:
            - type: from_trigger_intent
              intent: book
              value:
        forms:
          booking_form:
            required_slots: [city]
        """)
    project = load_project(root, strict=False)
    warnings = [(p.position.line, p.message) for p in project.problems
                if "value null" in p.message]
    assert warnings == [
        (9, "from_intent mapping of slot 'confirmed' has value null: it empties the slot; "
            "Rasa refuses a domain with this mapping"),
        (18, "from_trigger_intent mapping of slot 'city' has value null: it empties the slot; "
             "Rasa refuses a domain with this mapping"),
    ]
    found = [p for p in project.problems if "value null" in p.message]
    assert all(p.severity == "warning" and p.code == "DFL103" for p in found)
    assert all(str(p.position.file).endswith("domain.yml") for p in found)
    # `data validate` reports each once
    reported = [p for p in validate_project(project) if "value null" in p.message]
    assert len(reported) == 2
    # the mapping stays: it empties the slot
    mappings = project.domain.slots["confirmed"].mappings
    assert [m.value for m in mappings] == [None, True]


def test_a_from_intent_mapping_with_a_value_gives_no_warning(write_project) -> None:
    root = write_project(domain="""
        version: "3.1"
        intents: [affirm]
        slots:
          confirmed:
            type: bool
            mappings:
            - type: from_intent
              intent: affirm
              value: false
        """)
    project = load_project(root, strict=False)
    assert project.problems == []


def test_empty_steps_and_an_empty_or_are_warnings_not_silence(write_project) -> None:
    root = write_project(domain="""
        version: "3.1"
        intents: [greet]
        responses:
          utter_greet: [{text: hi}]
        """, stories="""
        version: "3.1"
        stories:
        - story: nothing
          steps: []
        - story: an empty choice
          steps:
          - intent: greet
          - or: []
          - action: utter_greet
        """)
    project = load_project(root, strict=False)
    messages = [(p.severity, p.position.line, p.message) for p in project.problems
                if "stories" in p.position.file]
    assert ("warning", 3, "story 'nothing' has no steps (`steps: []`), so it teaches "
                          "nothing") in messages
    assert ("warning", 8, "an 'or' step of 'an empty choice' has no alternatives, so it is "
                          "skipped") in messages


def test_each_bad_story_entity_is_reported_at_its_own_line(write_project) -> None:
    # before: every one pointed at the first entity's line
    root = write_project(domain="""
        version: "3.1"
        intents: [inform]
        entities: [time]
        """, stories="""
        version: "3.1"
        stories:
        - story: times
          steps:
          - intent: inform
            entities:
            - time: 7
            - [odd]
            - 42
        """)
    project = load_project(root, strict=False)
    found = [(p.position.line, p.message) for p in project.problems
             if "is not understood" in p.message]
    assert found == [(8, "entity ['odd'] in 'times' is not understood"),
                     (9, "entity 42 in 'times' is not understood")]


@pytest.mark.parametrize("name", ["faq/", "/ask_hours", "faq/ask/hours", "faq/ "])
def test_a_retrieval_intent_without_a_base_or_a_key_is_an_error(write_project, name) -> None:
    # before: reported only as a missing response `utter_faq/`, with that as the fix
    root = write_project(domain="""
        version: "3.1"
        intents: [faq]
        """, nlu=f"""
        version: "3.1"
        nlu:
        - intent: "{name}"
          examples: |
            - when are you open
        """)
    project = load_project(root, strict=False)
    [problem] = [p for p in project.problems if p.severity == "error"]
    assert problem.message == (f"intent '{name}' is no retrieval intent name: one base and one "
                               "key around a single `/`")
    assert project.nlu.examples == []


def test_an_empty_data_file_is_a_warning(write_project) -> None:
    root = write_project(domain='version: "3.1"\nintents: [greet]\n',
                         files={"data/extra.yml": "# to do\n"})
    problems = load_project(root, strict=False).problems
    # it said nothing, while an empty domain file is an error
    assert [(p.severity, p.message) for p in problems] == [
        ("warning", "the data file extra.yml is empty (or only comments), so it adds nothing")]
